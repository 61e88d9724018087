"""The pre- and post-delivery pricing loops of dec.rec on cases followed by hand."""

from __future__ import annotations

import pytest
from rec_cases import random_community, two_members

import dec.rec as rec
import dec.rec.loops as loops
from dec.admm.engine import ProcessEngine
from dec.rec.data import parse_collective
from dec.rec.stages import solve_stage_one

# Two members, one step (tests/test_rec_milp.py): A has 1 kWh of surplus (feed-in 0.05),
# B needs 2 kWh (retail 0.2, market-indexed 0.3). Offers: A sells 1 kWh at 0.05, B buys
# 2 kWh at 0.2. No battery, so every MILP keeps the net loads and the offers repeat: the
# first price vector [10] is replaced by the mechanism's price p, the second iteration
# finds p again, and the loop stops at the top of the third pass with distance 0 after
# 2 MILPs.


def test_loop_pre_pool_mmr_by_hand():
    # pruned MMR: A's sell and B's buy are both accepted; 0.05 + (0.2 - 0.05) * 0.5 = 0.125
    prices, criterion, iterations, (stage2, stage1) = rec.loop_pre_pool_mmr(two_members(None))
    assert prices == pytest.approx([0.125])
    assert (criterion, iterations) == (0.0, 2)
    assert stage2["obj_value"] == pytest.approx(0.22)
    assert stage2["c_ind2pool"]["A"] == pytest.approx(-0.125)
    assert [s["meter_id"] for s in stage1] == ["A", "B"]


def test_loop_pre_pool_sdr_by_hand():
    # E = 1, D = 2, SDR = 0.5: 0.2 * 0.05 / ((0.2 - 0.05) * 0.5 + 0.05) = 0.08
    prices, criterion, iterations, _ = rec.loop_pre_pool_sdr(two_members(None))
    assert prices == pytest.approx([0.08])
    assert (criterion, iterations) == (0.0, 2)


def test_loop_pre_pool_crossing_value_by_hand():
    # sell 0.05 < buy 0.2; cumulative demand 2 > supply 1 -> price 0.2, sellers exhausted
    prices, criterion, iterations, (stage2, _) = rec.loop_pre_pool_crossing_value(two_members(None))
    assert prices == pytest.approx([0.2])
    assert (criterion, iterations) == (0.0, 2)
    # at 0.2 + 0.02 B gains nothing: its bound round_up(0.4) = 0.401 lets it buy 0.001/0.02
    assert stage2["e_pur_pool"]["B"] == pytest.approx([0.05], abs=1e-7)


def test_loop_pre_bilateral_mmr_by_hand():
    backpack = two_members(None)
    backpack["l_grid"] = {"A": {"B": [0.02]}, "B": {"A": [0.02]}}
    prices, criterion, iterations, (stage2, _) = rec.loop_pre_bilateral_mmr(backpack)
    assert prices == pytest.approx([0.125])
    assert (criterion, iterations) == (0.0, 2)
    assert stage2["e_pur_bilateral"]["B"]["A"] == pytest.approx([1.0])


def test_loop_stops_at_the_iteration_limit():
    prices, criterion, iterations, _ = loops.pre_delivery_loop(
        two_members(None), "pool", loops.pricing_function("mmr"), max_iterations=1
    )
    assert prices == pytest.approx([0.125])
    assert (criterion, iterations) == (None, 1)


def test_loop_post_pool_by_hand():
    backpack = two_members(None)
    prices, (stage2, stage1) = rec.loop_post_pool_mmr(backpack)
    assert prices == pytest.approx([0.125])
    assert [s["c_ind"] for s in stage1] == pytest.approx([-0.05, 0.4])
    assert "e_bat" not in stage2


def test_stage_one_is_solved_once_per_loop(monkeypatch):
    calls = []
    monkeypatch.setattr(
        loops, "solve_stage_one", lambda *a, **k: calls.append(1) or solve_stage_one(*a, **k)
    )
    trace = loops.LoopTrace()
    result = loops.pre_delivery_loop(
        random_community(4), "pool", loops.pricing_function("mmr"), trace=trace
    )
    assert len(calls) == 1
    assert len(trace.objectives) == result[2]
    # the best iteration is returned, and no member pays more than alone
    stage2, stage1 = result[3]
    assert stage2["obj_value"] == pytest.approx(min(trace.objectives))
    for s in stage1:
        assert stage2["c_ind2pool"][s["meter_id"]] <= s["c_ind"] + 1e-3


def test_stage_one_on_process_engine_matches_serial():
    data = parse_collective(random_community(5, n=4), "pool")
    serial = solve_stage_one(data)
    engine = ProcessEngine(2)
    try:
        parallel = solve_stage_one(data, engine)
    finally:
        engine.close()
    assert [s["c_ind"] for s in parallel] == [s["c_ind"] for s in serial]
    assert [s["e_cmet"] for s in parallel] == [s["e_cmet"] for s in serial]


@pytest.mark.parametrize("loop", [rec.loop_pre_pool_mmr, rec.loop_post_pool_sdr])
def test_loop_mip_gap_reaches_the_solver(monkeypatch, loop):
    """``mipgap`` and ``timeout`` go to every MILP; the objective stays within the gap of
    the default (1e-6) solve."""
    from dec.rec import solve

    seen = []
    original = solve.ModelSolver.__init__

    def spy(self, *args, **kwargs):
        seen.append((kwargs.get("mip_rel_gap"), kwargs.get("time_limit_s")))
        original(self, *args, **kwargs)

    backpack = random_community(4)
    exact = loop(backpack)[-1][0]["obj_value"]
    monkeypatch.setattr(solve.ModelSolver, "__init__", spy)
    loose = loop(backpack, mipgap=1e-3, timeout=60.0)[-1][0]["obj_value"]
    assert seen and set(seen) == {(1e-3, 60.0)}
    assert loose == pytest.approx(exact, rel=1e-3, abs=1e-3)
