"""REC MILPs of dec.rec on small cases whose optimum is derived by hand, and against a
plain HiGHS MILP solve of the same cvxpy model (the centralized reference)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest
from rec_cases import STORAGE, battery_meter, random_community, two_members

import dec.rec as rec
from dec.rec.data import parse_collective
from dec.rec.model import build_model, round_up
from dec.rec.optimization.module.IndividualCost import calculate_individual_cost
from dec.rec.optimization.module.StageOneMILP import StageOneMILP
from dec.rec.optimization.module.StageTwoMILPPool import StageTwoMILPPool
from dec.rec.solve import ModelSolver


def test_stage_one_battery_limited_by_power():
    # Charging 1 kWh at t0 (p_max = 1 kW) stores 0.9 kWh; at t1 at most 0.81 kWh reach the
    # load. Each charged kWh costs 0.1 and saves 0.81 * (0.3 - 0.01) = 0.2349 at t1, so the
    # battery charges fully: c = 0.1 * 1 + 0.3 * (1 - 0.81) + 0.01 * 0.81 = 0.1651 EUR.
    out = rec.run_pre_individual_milp(battery_meter())
    assert out["milp_status"] == "Optimal"
    assert out["c_ind"] == pytest.approx(0.1651, abs=1e-9)
    assert out["deg_cost"] == pytest.approx(0.0081, abs=1e-9)
    assert out["c_ind_without_deg"] == pytest.approx(0.157, abs=1e-9)
    assert out["e_bc"]["b1"] == pytest.approx([1.0, 0.0])
    assert out["e_bd"]["b1"] == pytest.approx([0.0, 0.81])
    assert out["soc_bat"]["b1"] == pytest.approx([45.0, 0.0])
    assert out["e_cmet"] == pytest.approx([1.0, 0.19])
    assert out["e_sup_retail"] == pytest.approx([1.0, 0.19])


def test_stage_one_extra_power_penalty():
    # 7 kWh in one hour with max_p = 5 kW: 2 kW beyond the limit at 10 EUR/kW; energy 7 * 0.1
    meter = battery_meter() | {
        "btm_storage": None,
        "horizon": 1.0,
        "e_c": [7.0],
        "e_g": [0.0],
        "l_buy": [0.1],
        "l_sell": [0.0],
        "l_market_buy": [1.0],
        "l_market_sell": [0.0],
    }
    milp = StageOneMILP(meter)
    milp.solve_milp()
    out = milp.generate_outputs()
    assert milp.status == "Optimal"
    assert out["p_extra"] == pytest.approx([2.0])
    assert out["c_ind"] == pytest.approx(20.7)
    assert out["c_ind_without_p_extra"] == pytest.approx(0.7)


def test_pool_two_members_by_hand():
    # A's 1 kWh goes to B through the pool (grid tariff 0.02) instead of A selling at 0.05
    # and B buying at 0.2; B buys its other kWh at 0.2: community cost 0.02 + 0.2 = 0.22.
    # LEM 0.1: A earns 0.1; B pays 0.1 + 0.02 + 0.2 = 0.32.
    out = rec.run_pre_single_stage_collective_pool_milp(two_members())
    assert out["obj_value"] == pytest.approx(0.22)
    assert out["c_ind2pool"]["A"] == pytest.approx(-0.1)
    assert out["c_ind2pool"]["B"] == pytest.approx(0.32)
    assert out["e_sale_pool"]["A"] == pytest.approx([1.0])
    assert out["e_pur_pool"]["B"] == pytest.approx([1.0])
    assert out["e_slc_pool"]["B"] == pytest.approx([1.0])
    # One more kWh in the pool would replace a retail kWh of B: 0.2 - 0.02 = 0.18 EUR/kWh.
    assert out["dual_prices"] == pytest.approx([0.18])


@pytest.mark.parametrize(("scale", "l_extra"), [(1000.0, 10.0), (5e5, 1000.0)])
def test_pool_with_loads_far_above_the_reference_big_m(scale, l_extra):
    # The same community scaled (max_p 5 kW stays): the reference's big-M of 10 * max_p =
    # 50 kWh is below what A exports and would cut off every schedule. The optimum scales:
    # scale * 0.22 plus the power penalty l_extra EUR/kW beyond max_p, (scale - 5) for A
    # and (2 scale - 5) for B. At 5e5 kWh and 1000 EUR/kW the costs pass 1e9 EUR (B alone:
    # 1.0002e9 EUR), inside the documented ranges; the stage-2 bound must still hold.
    backpack = two_members()
    backpack["l_extra"] = l_extra
    for meter in backpack["meters"].values():
        meter["e_c"] = [scale * meter["e_c"][0]]
        meter["e_g"] = [scale * meter["e_g"][0]]
    optimum = scale * 0.22 + l_extra * ((scale - 5) + (2 * scale - 5))
    out = rec.run_pre_single_stage_collective_pool_milp(backpack)
    assert out["obj_value"] == pytest.approx(optimum, rel=1e-9)
    assert out["e_sale_pool"]["A"] == pytest.approx([scale])
    assert out["e_slc_pool"]["B"] == pytest.approx([scale])
    stage2, stage1 = rec.run_pre_two_stage_collective_pool_milp(backpack)
    c_ind = [-0.05 * scale + l_extra * (scale - 5), 0.4 * scale + l_extra * (2 * scale - 5)]
    assert [s["c_ind"] for s in stage1] == pytest.approx(c_ind, rel=1e-9)
    assert stage2["obj_value"] == pytest.approx(optimum, rel=1e-9)


def test_dual_pre_pool_by_hand():
    prices, outputs = rec.dual_pre_pool(two_members(l_lem=None))
    assert prices == pytest.approx([0.18])
    assert outputs["obj_value"] == pytest.approx(0.22)


def test_bilateral_two_members_by_hand():
    backpack = two_members()
    backpack["l_grid"] = {"A": {"B": [0.02]}, "B": {"A": [0.02]}}
    out = rec.run_pre_single_stage_collective_bilateral_milp(backpack)
    assert out["obj_value"] == pytest.approx(0.22)
    assert out["e_sale_bilateral"]["A"]["B"] == pytest.approx([1.0])
    assert out["e_pur_bilateral"]["B"]["A"] == pytest.approx([1.0])
    assert out["c_ind2bilateral"] == pytest.approx({"A": -0.1, "B": 0.32})
    assert "dual_prices" not in out


@pytest.mark.parametrize("grid_key", [int, str], ids=["int-keys", "text-keys"])
def test_bilateral_meters_with_integer_ids_match_by_text(grid_key):
    """Meters 1 and 2 (ints) with l_grid keyed by ints or by text: the hand case above."""
    backpack = two_members()
    backpack["meters"] = {1: backpack["meters"]["A"], 2: backpack["meters"]["B"]}
    backpack["l_grid"] = {grid_key(1): {grid_key(2): [0.02]}, grid_key(2): {grid_key(1): [0.02]}}
    out = rec.run_pre_single_stage_collective_bilateral_milp(backpack)
    assert out["obj_value"] == pytest.approx(0.22)
    assert out["e_sale_bilateral"]["1"]["2"] == pytest.approx([1.0])


def test_bilateral_grid_naming_a_meter_twice_is_refused(no_solve):
    backpack = two_members()
    backpack["meters"] = {1: backpack["meters"]["A"], 2: backpack["meters"]["B"]}
    backpack["l_grid"] = {1: {2: [0.01]}, 2: {1: [0.01]}, "2": {"1": [0.02]}}
    with pytest.raises(
        ValueError, match=r"names a meter twice, as a number and as text: l_grid\[2\]"
    ):
        rec.run_pre_single_stage_collective_bilateral_milp(backpack)


def test_two_stage_pool_by_hand():
    # alone: A sells at 0.05 (-0.05), B buys 2 kWh at 0.2 (0.4); with LEM 0.1 both gain, so
    # the second stage keeps the single-stage schedule. As in rec_op_lem_prices, a cost is
    # reported minus its bound's rounding headroom: B's bound is round(0.4 + 0.0005, 3) =
    # 0.401 (0.4005 is stored just above 0.4005), so B is reported 0.32 - 0.001 = 0.319;
    # A's bound round(-0.05 + 0.0005, 3) = -0.05 has no headroom.
    stage2, stage1 = rec.run_pre_two_stage_collective_pool_milp(two_members(), for_testing=True)
    assert [s["c_ind"] for s in stage1] == pytest.approx([-0.05, 0.4])
    assert stage2["obj_value"] == pytest.approx(0.22)
    assert stage2["c_ind2pool"] == pytest.approx({"A": -0.1, "B": 0.319})


def test_two_stage_bound_binds():
    # LEM 0.25: each kWh B buys in the pool costs it 0.25 + 0.02 instead of 0.2, i.e. 0.07
    # more; B's bound is 0.401 (see above), so B buys 0.001 / 0.07 = 1/70 kWh. Each such kWh
    # replaces A's retail sale at 0.05 and B's retail purchase at 0.2 by the grid tariff
    # 0.02: the community cost is 0.35 - (0.2 - 0.05 - 0.02) / 70.
    stage2, _ = rec.run_pre_two_stage_collective_pool_milp(two_members(0.25))
    assert stage2["e_pur_pool"]["B"] == pytest.approx([1 / 70], abs=1e-7)
    assert stage2["obj_value"] == pytest.approx(0.35 - 0.13 / 70, abs=1e-9)
    # B pays exactly its bound 0.401, reported minus the headroom 0.001
    assert stage2["c_ind2pool"]["B"] == pytest.approx(0.4, abs=1e-7)


def test_post_individual_cost_by_hand():
    # t0: import 2 kWh, market-indexed (0.2 > 0.15): 0.3, and 1 kW above max_p: 10;
    # t1: export 1 kWh to the market (0.06 > 0.05): -0.06. Total 10.24 EUR.
    backpack = {
        "id": "m",
        "delta_t": 1.0,
        "e_met": [2.0, -1.0],
        "l_buy": [0.2, 0.2],
        "l_sell": [0.05, 0.05],
        "l_market_buy": [0.15, 0.3],
        "l_market_sell": [0.04, 0.06],
        "l_extra": 10.0,
        "max_p": 1.0,
    }
    out = calculate_individual_cost(backpack)
    assert out["c_ind"] == pytest.approx(10.24)
    assert out["e_sup_market"] == [2.0, 0.0]
    assert out["e_sur_market"] == [0.0, 1.0]
    assert out["p_extra"] == pytest.approx([1.0, 0.0])


def test_post_two_stage_pool_by_hand():
    backpack = two_members()
    for meter in backpack["meters"].values():
        meter.pop("btm_storage")
    stage2, stage1 = rec.run_post_two_stage_collective_pool_milp(backpack)
    assert [s["c_ind"] for s in stage1] == pytest.approx([-0.05, 0.4])
    assert stage2["obj_value"] == pytest.approx(0.22)
    assert "e_bat" not in stage2 and "deg_cost2pool" not in stage2


def test_round_up():
    assert round_up(3.123) == 3.124  # exact thousandths gain one more
    assert round_up(3.1231) == 3.124
    assert round_up(0.6000000000000001) == 0.601
    assert round_up(0.6000000000000001, numpy_halves=True) == 0.6
    assert round_up(val=2.5, decimals=0) == 3.0  # the reference's parameter names


def test_output_keys_like_the_reference():
    individual = rec.run_pre_individual_milp(battery_meter())
    assert set(individual) == {
        "meter_id",
        "obj_value",
        "milp_status",
        "e_sup_retail",
        "e_sur_retail",
        "e_sup_market",
        "e_sur_market",
        "delta_sup",
        "e_cmet",
        "p_extra",
        "e_bat",
        "soc_bat",
        "e_bc",
        "e_bd",
        "delta_bc",
        "deg_cost",
        "p_extra_cost",
        "c_ind",
        "c_ind_without_deg",
        "c_ind_without_p_extra",
        "c_ind_without_deg_and_p_extra",
    }
    pool = rec.run_pre_single_stage_collective_pool_milp(two_members())
    assert set(pool) == {
        "obj_value",
        "milp_status",
        "e_sup_retail",
        "e_sur_retail",
        "e_sup_market",
        "e_sur_market",
        "delta_sup",
        "e_pur_pool",
        "e_sale_pool",
        "e_cmet",
        "e_slc_pool",
        "e_consumed",
        "e_alc",
        "delta_slc",
        "delta_cmet",
        "delta_alc",
        "p_extra",
        "e_bat",
        "soc_bat",
        "e_bc",
        "e_bd",
        "delta_bc",
        "delta_coeff",
        "c_ind2pool",
        "c_ind2pool_without_deg",
        "c_ind2pool_without_deg_and_p_extra",
        "c_ind2pool_without_p_extra",
        "deg_cost2pool",
        "p_extra_cost2pool",
        "dual_prices",
    }
    assert pool["e_bat"] == {"A": {}, "B": {}}


def test_stage_two_class_with_second_stage_bounds():
    backpack = two_members()
    backpack["second_stage"] = True
    backpack["meters"]["A"]["c_ind"] = -0.05
    backpack["meters"]["B"]["c_ind"] = 0.4
    milp = StageTwoMILPPool(backpack)
    milp.solve_milp()
    assert milp.status == "Optimal"
    assert milp.obj_value == pytest.approx(0.22)


# --- exactness of the relax-round-verify path against a plain MILP solve -----------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("bounded", [False, True])
def test_solve_path_matches_plain_milp(seed, bounded):
    data = parse_collective(random_community(seed), "pool")
    l_lem = np.full(data.n_steps, 0.1)
    bound = None
    if bounded:
        # bounds from the stage-1 costs, every one enforced
        stage1 = [
            rec.run_pre_individual_milp(
                {
                    "id": m,
                    "delta_t": 0.5,
                    "horizon": data.n_steps * 0.5,
                    "l_extra": 10.0,
                    "l_market_buy": data.l_market_buy.tolist(),
                    "l_market_sell": data.l_market_sell.tolist(),
                    **random_community(seed)["meters"][m],
                }
            )
            for m in data.meter_ids
        ]
        bound = np.array([round_up(s["c_ind"]) for s in stage1])
    solver = ModelSolver(data, "pool", bounded=bounded)
    model = solver.solve("test", l_lem, bound)
    ours = model.problem.value
    reference = build_model(data, "pool", bounded=bounded)
    reference.l_lem.value = l_lem
    if bounded:
        reference.bound.value = bound
    reference.problem.solve(solver=cp.HIGHS, mip_rel_gap=1e-9)
    assert reference.problem.status == cp.OPTIMAL
    assert ours == pytest.approx(reference.problem.value, rel=1e-6, abs=1e-7)


def test_resolves_with_new_prices_match_plain_milp_and_repeats_are_not_solved(monkeypatch):
    """A pricing loop re-solves one model: each new price vector gives the plain MILP's
    optimum (the last optimum is only a MILP start), and the same prices again return
    the last solution without a solve."""
    data = parse_collective(random_community(2), "pool")
    solver = ModelSolver(data, "pool", bounded=True)
    bound = np.full(data.n_meters, 0.05)
    reference = build_model(data, "pool", bounded=True)
    reference.bound.value = bound
    for price in (0.05, 0.2, 0.12):
        l_lem = np.full(data.n_steps, price)
        ours = solver.solve("test", l_lem, bound).problem.value
        reference.l_lem.value = l_lem
        reference.problem.solve(solver=cp.HIGHS, mip_rel_gap=1e-9)
        assert ours == pytest.approx(reference.problem.value, rel=1e-6, abs=1e-7)
    monkeypatch.setattr(solver.driver, "solve", lambda *a, **k: pytest.fail("solved again"))
    assert solver.solve("test", l_lem, bound).problem.value == ours


# --- inputs: validated before any solve, never modified ----------------------------------------


@pytest.fixture
def no_solve(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a solve started before the input was validated")

    monkeypatch.setattr(ModelSolver, "solve", refuse)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b["meters"]["A"].pop("e_c"), "Field 'e_c' is missing for 1 meter: A"),
        (
            lambda b: b["meters"]["B"].update(e_g=[0.0, 0.0]),
            # key words only: dec.validation's shared wording of the lengths may change
            r"Field 'e_g' has the wrong length for 1 meter .*expected 1 value.*\bB\b\D*2\b",
        ),
        (
            lambda b: b["meters"]["A"].update(l_buy=[float("nan")]),
            "'l_buy' holds a value that is not",
        ),
        (
            lambda b: b["meters"]["A"].update(btm_storage={"b1": dict(STORAGE, e_bn=-1.0)}),
            "Field 'e_bn' is not greater than zero for 1 storage: A/b1",
        ),
        (
            lambda b: b["meters"]["A"].update(
                btm_storage={"b1": dict(STORAGE, soc_min=90.0, soc_max=20.0)}
            ),
            "Field 'soc_min' exceeds 'soc_max' for 1 storage",
        ),
        (
            lambda b: b.update(l_market_buy=[0.3, 0.3]),
            "Field 'l_market_buy' has 2 values; expected 1",
        ),
        (lambda b: b.pop("l_grid"), "Missing field"),
        (lambda b: b["meters"]["B"].update(e_g=[-0.5]), "Field 'e_g' is negative"),
        (lambda b: b["meters"]["B"].update(max_p=0.0), "Field 'max_p' is not greater than zero"),
        (lambda b: b.update(horizon=1e300), r"give \d+ steps; at most 1,000,000 are allowed"),
        (
            lambda b: b["meters"].update({1: b["meters"]["A"], "1": b["meters"]["B"]}),
            "Meter ids 1 are given twice",
        ),
    ],
)
def test_bad_input_raises_before_any_solve(no_solve, edit, message):
    backpack = two_members()
    edit(backpack)
    with pytest.raises(ValueError, match=message):
        rec.run_pre_two_stage_collective_pool_milp(backpack)


def test_negative_capacity_is_reported_once(no_solve):
    # A negative e_bn is the one problem; init_e = 0 exceeds it but is not reported as well.
    backpack = two_members()
    backpack["meters"]["A"].update(btm_storage={"b1": dict(STORAGE, e_bn=-1.0)})
    with pytest.raises(ValueError) as raised:
        rec.run_pre_two_stage_collective_pool_milp(backpack)
    assert "e_bn" in str(raised.value) and "init_e" not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [(float("nan"), "is not a finite number"), (0.0, "is not greater than zero")],
)
def test_bad_efficiency_is_reported_once(no_solve, value, problem):
    # the range check and the positivity check both used to report a NaN
    backpack = two_members()
    backpack["meters"]["A"].update(btm_storage={"b1": dict(STORAGE, eff_bc=value)})
    with pytest.raises(ValueError) as raised:
        rec.run_pre_two_stage_collective_pool_milp(backpack)
    assert str(raised.value).count("'eff_bc'") == 1
    assert f"Field 'eff_bc' {problem} for 1 storage: A/b1" in str(raised.value)


def test_individual_backpack_names_the_meter(no_solve):

    meter = battery_meter()
    meter["e_c"] = [1.0]
    with pytest.raises(ValueError, match=r"'e_c' has the wrong length for 1 meter .*m1\b\D*1\b"):
        rec.run_pre_individual_milp(meter)


def test_infinite_horizon_is_refused(no_solve):
    meter = battery_meter()
    meter["horizon"] = float("inf")
    with pytest.raises(ValueError, match=r"Field 'horizon' is not a finite number \(found inf\)"):
        rec.run_pre_individual_milp(meter)


def test_bilateral_grid_naming_unknown_meters_is_refused(no_solve):
    backpack = two_members()
    backpack["l_grid"] = {"A": {"B": [0.01], "Z": [0.01]}, "B": {"A": [0.01]}}
    with pytest.raises(ValueError, match="'l_grid' names meters that are not in 'meters': Z"):
        rec.run_pre_single_stage_collective_bilateral_milp(backpack)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": "abc"}, "Option 'timeout' must be a positive number"),
        ({"mipgap": 2.0}, "Option 'mipgap' must be a number from 0 to 1"),
        ({"engine": "abc"}, "Option 'engine' must be an engine"),
    ],
)
def test_bad_solver_options_raise_before_any_solve(no_solve, options, message):
    with pytest.raises(ValueError, match=message):
        rec.loop_pre_pool_mmr(two_members(l_lem=None), **options)


@pytest.mark.parametrize("backpack", [None, "abc", [1, 2]])
def test_stage_two_class_needs_a_dictionary(backpack):
    with pytest.raises(ValueError, match="The input must be a dictionary"):
        StageTwoMILPPool(backpack)


def test_second_stage_flag_must_be_boolean():
    backpack = dict(two_members(), second_stage="no")
    with pytest.raises(ValueError, match="Field 'second_stage' must be true or false"):
        StageTwoMILPPool(backpack)


def test_individual_missing_field_names_the_meter(no_solve):
    meter = battery_meter()
    del meter["e_c"]
    with pytest.raises(ValueError, match=r"Missing field\(s\) of meter m1: 'e_c'"):
        rec.run_pre_individual_milp(meter)


def test_callers_dictionaries_are_not_modified():

    for function, backpack in (
        (rec.run_pre_individual_milp, battery_meter()),
        (rec.run_pre_single_stage_collective_pool_milp, two_members()),
        (rec.run_pre_two_stage_collective_pool_milp, two_members()),
        (rec.dual_pre_pool, two_members(None)),
        (rec.loop_pre_pool_mmr, two_members(None)),
        (rec.loop_post_pool_sdr, two_members(None)),
    ):
        snapshot = copy.deepcopy(backpack)
        function(backpack)
        assert backpack == snapshot, function.__name__


def test_vehicle_fields_are_cross_checked(no_solve):
    backpack = two_members()
    backpack["l_grid"] = {"A": {"B": [0.02]}, "B": {"A": [0.02]}}
    ev = {
        "trip_ev": [-0.5],
        "min_energy_storage_ev": 0.1,
        "battery_capacity_ev": 1.0,
        "eff_bc_ev": 0.9,
        "eff_bd_ev": 0.9,
        "init_e_ev": 2.0,
        "pmax_c_ev": 1.0,
        "pmax_d_ev": 1.0,
        "bin_ev": [2],
    }
    backpack["meters"]["A"]["btm_evs"] = {"ev1": ev}
    with pytest.raises(ValueError) as raised:
        rec.run_pre_single_stage_collective_bilateral_milp(backpack)
    message = str(raised.value)
    assert "Field 'init_e_ev' exceeds 'battery_capacity_ev' for 1 vehicle(s): A/ev1" in message
    assert "Field 'trip_ev' is negative for vehicle(s) A/ev1" in message
    assert "Field 'bin_ev' must hold 0 (away) or 1 (plugged in) for vehicle(s) A/ev1" in message


def test_post_delivery_list_of_the_wrong_length_is_named():
    backpack = {
        "id": "m1",
        "delta_t": 1.0,
        "e_met": [1.0, -0.5, 0.2],
        "l_buy": [0.2, 0.2],
        "l_sell": [0.05] * 3,
        "l_extra": 10.0,
        "l_market_buy": [0.15] * 3,
        "l_market_sell": [0.04] * 3,
        "max_p": 5.0,
    }
    with pytest.raises(ValueError, match=r"Field 'l_buy' has the wrong length .*m1\b\D*2\b"):
        rec.run_post_individual_cost(backpack)


def test_the_api_prints_nothing_in_a_fresh_process():
    # highspy 1.16 prints a banner the first time a solver object is made; dec.rec makes
    # that first object quietly (a drop-in for a library that prints nothing)
    probe = (
        "import dec.rec as rec; from rec_cases import two_members; "
        "rec.run_pre_single_stage_collective_pool_milp(two_members())"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    assert run.stdout == ""


def test_reference_big_m_caps_a_cheap_meters_supply_in_a_community():
    # 15 members with max_p 6.9 kW: the reference's M = 10 * 6.9 = 69 kWh caps every
    # meter's retail supply, even where no supply/surplus binary is needed. h00 buys at
    # 0.12 EUR/kWh, the others at 0.165; the pool charges l_grid 0.015 per kWh bought.
    # By hand, t0 (75 kWh of load): h00 supplies 69 kWh at 0.12 (8.28), 6 kWh are bought
    # at 0.165 (0.99), 64 kWh pass through the pool (0.96): 10.23; t1 (15 kWh): 15 * 0.12
    # + 14 * 0.015 = 2.01. Total 12.24 (rec_op_lem_prices gives the same); with M raised
    # to the community's 75 kWh it would be 12.06.
    def meter(l_buy: float) -> dict:
        return {
            "btm_storage": None,
            "e_c": [5.0, 1.0],
            "e_g": [0.0, 0.0],
            "l_buy": [l_buy] * 2,
            "l_sell": [0.045] * 2,
            "max_p": 6.9,
        }

    backpack = {
        "delta_t": 1.0,
        "horizon": 2.0,
        "l_extra": 10.0,
        "l_grid": [0.015] * 2,
        "l_lem": [0.14] * 2,
        "l_market_buy": [0.2] * 2,
        "l_market_sell": [0.03] * 2,
        "meters": {"h00": meter(0.12), **{f"h{i:02d}": meter(0.165) for i in range(1, 15)}},
        "strict_pos_coeffs": False,
        "total_share_coeffs": False,
    }
    out = rec.run_pre_single_stage_collective_pool_milp(backpack)
    assert out["obj_value"] == pytest.approx(12.24, abs=1e-9)
    assert out["e_sup_retail"]["h00"] == pytest.approx([69.0, 15.0])
    stage2, _ = rec.run_pre_two_stage_collective_pool_milp(backpack)
    assert stage2["obj_value"] == pytest.approx(12.24, abs=1e-9)


def test_a_trade_equally_cheap_at_several_steps_goes_to_the_earliest():
    # A stores its 0.5 kWh of surplus of step 0 (efficiency 1) to sell it to B, who needs
    # 1 kWh at step 1 and at step 2; prices are the same at both, so selling at step 1, at
    # step 2 or part at each costs the same. By hand: B pays 0.2 retail for 1.5 kWh plus 0.1
    # pool price and 0.02 grid fee for 0.5 kWh (0.36); A earns 0.05 less 0.005 of
    # degradation (-0.045): 0.315. The tie-break on internal trading grows over the
    # horizon, so the trade goes to the earliest step, as the reference's solver (CBC)
    # chooses on its published loop cases (the step a trade gets sets the loop's next
    # prices); with a flat tie-break HiGHS sells at step 2 here.
    def meter(e_c, e_g, storage=None):
        return {
            "e_c": e_c,
            "e_g": e_g,
            "l_buy": [0.2] * 3,
            "l_sell": [0.0] * 3,
            "max_p": 5.0,
            "btm_storage": storage,
        }

    battery = {"b": dict(STORAGE, eff_bc=1.0, eff_bd=1.0)}
    backpack = {
        "meters": {"A": meter([0, 0, 0], [0.5, 0, 0], battery), "B": meter([0, 1, 1], [0, 0, 0])},
        "delta_t": 1.0,
        "horizon": 3.0,
        "l_extra": 10.0,
        "l_grid": [0.02] * 3,
        "l_market_buy": [0.3] * 3,
        "l_market_sell": [0.0] * 3,
        "l_lem": [0.1] * 3,
        "strict_pos_coeffs": True,
        "total_share_coeffs": False,
    }
    out = rec.run_pre_single_stage_collective_pool_milp(backpack)
    assert out["obj_value"] == pytest.approx(0.315, abs=1e-6)
    assert out["c_ind2pool"] == pytest.approx({"A": -0.045, "B": 0.36}, abs=1e-6)
    assert out["e_sale_pool"]["A"] == pytest.approx([0.0, 0.5, 0.0], abs=1e-6)
    assert out["e_pur_pool"]["B"] == pytest.approx([0.0, 0.5, 0.0], abs=1e-6)
