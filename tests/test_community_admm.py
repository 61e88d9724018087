from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest

from agents.community import build_community_model
from dec.admm.engine import ProcessEngine, SerialEngine
from dec.community.config import parse_config
from dec.community.data import build_community
from dec.community.mode import import_gaps
from dec.community.mpc import CentralPlanner, smooth_weights, windows_of
from dec.community.sweep import Case, Runner
from tests.community_cases import check_physics, community, section


def _mpc_and_distributed(config, data, battery_kwh: float | None) -> tuple[Case, Case]:
    """Run mpc and mpc-distributed; check the ADMM converged, its physics and its import.

    The import must match mpc's within the issue's 1e-4 relative.
    """
    model = build_community_model(data.member_ids)
    runner = Runner(config, data, SerialEngine(), model.agents_of("community")[0])
    central = runner.run("mpc", battery_kwh)
    distributed = runner.run("mpc-distributed", battery_kwh)
    assert all(s.converged for s in distributed.admm)
    check_physics(distributed.data, distributed.schedule)
    imports = central.metrics["import_kwh"], distributed.metrics["import_kwh"]
    assert imports[1] == pytest.approx(imports[0], rel=1e-4)
    return central, distributed


@pytest.mark.parametrize(
    ("battery_kwh", "start"),
    [(2.0, "2016-06-06T00:00"), (10.0, "2016-06-06T00:00"), (40.0, "2016-06-01T00:00")],
)
def test_distributed_matches_centralized_mpc(battery_kwh, start):
    # Same window problem (unique optimum thanks to the quadratic tie-break), solved
    # centrally (Clarabel) and by ADMM between house agents and the community agent.
    config, data = community(battery_kwh=battery_kwh, start=start, days=2)
    central, distributed = _mpc_and_distributed(config, data, battery_kwh)
    assert distributed.metrics["self_production_pct"] == pytest.approx(
        central.metrics["self_production_pct"], rel=1e-4
    )
    # The applied schedules themselves coincide: every window starts from the same SoC.
    # (Matching each window's import is not enough: the import optimum is degenerate, and
    # with a weaker tie-break and looser ADMM tolerances the SoCs of the 40 kWh case were
    # 0.3 kWh apart after two days, 1.2 kWh after three, and over a week the import
    # differed by 19 %.)
    np.testing.assert_allclose(
        distributed.schedule.soc_kwh, central.schedule.soc_kwh, rtol=0, atol=1e-3
    )


@pytest.mark.parametrize(
    ("battery_kwh", "members", "only_first", "first_day"),
    [(40.0, 6, False, "2016-06-01T00:00"), (150.0, 17, True, "2016-09-07T00:00")],
)
def test_large_battery_window_import_is_the_lp_optimum(battery_kwh, members, only_first, first_day):
    # The tie-breaks (quadratic smoothing, terminal value, throughput cost) must not change
    # a window's import: the MPC's window import equals the pure LP's (HiGHS), here with
    # 40 kWh batteries in every house, and one 150 kWh (75 kW) community-scale battery
    # with the study's 40 kWp (the tie-breaks weigh most against the import for large
    # powers; with a smoothing weight that did not shrink above 10 kW, that battery
    # charged at 15.8 kW instead of 16.8 kW and the import was 0.4 % above the LP's).
    _, data = community(battery_kwh=battery_kwh, start=first_day, days=3, members=members)
    if only_first:
        b = data.batteries
        keep = np.arange(b.n) == 0
        data = data.with_batteries(
            replace(
                b, e_kwh=b.e_kwh * keep, p_kw=b.p_kw * keep, e_initial_kwh=b.e_initial_kwh * keep
            )
        )
    b, dt_h = data.batteries, data.time_step_h
    steps = data.n_steps
    planner = CentralPlanner(b.eta_ch, b.eta_dis, steps, dt_h, smooth_weights(b.p_kw))
    for start, e_start in ((0, b.e_initial_kwh), (0, 0.1 * b.e_kwh), (0, b.e_kwh)):
        window = windows_of(data, steps, e_start.copy(), start)
        ch_kw, dis_kw = planner(window)
        consumption = window.load_kw.sum(axis=0) + (ch_kw - dis_kw).sum(axis=0)
        planned = dt_h * np.maximum(consumption - window.pv_kw, 0).sum()
        ch = cp.Variable(ch_kw.shape, nonneg=True)
        dis = cp.Variable(ch_kw.shape, nonneg=True)
        e = cp.Variable(ch_kw.shape, nonneg=True)
        imp = cp.Variable(steps, nonneg=True)
        before = cp.hstack([cp.reshape(window.e_start_kwh, (b.n, 1), order="C"), e[:, :-1]])
        lp = cp.Problem(
            cp.Minimize(dt_h * cp.sum(imp)),
            [
                e == before + dt_h * (np.diag(b.eta_ch) @ ch - np.diag(1 / b.eta_dis) @ dis),
                ch <= window.p_max_kw,
                dis <= window.p_max_kw,
                e <= np.outer(window.e_max_kwh, np.ones(steps)),
                e[:, -1] >= window.e_end_min_kwh,
                imp >= window.load_kw.sum(axis=0) + cp.sum(ch - dis, axis=0) - window.pv_kw,
            ],
        )
        lp.solve(solver=cp.HIGHS)
        assert lp.status == cp.OPTIMAL
        assert planned == pytest.approx(lp.value, abs=1e-6), (start, e_start)


def test_distributed_matches_mpc_with_one_large_battery_among_small_ones():
    # A 150 kWh (75 kW) battery among 2 to 10 kWh ones and a house without: with inexact
    # (50-iteration OSQP) local solves only, the ADMM of the window starting on day 3 stalled
    # with residuals of 0.05 to 0.2 for 20,000 rounds and missed mpc's import by 0.7 %; the
    # planner now solves the local problems exactly once the rounds stop making progress.
    members = [
        {"id": "a", "profile": "H0-A", "annual_kwh": 3400, "battery": {"e_kwh": 10}},
        {"id": "b", "profile": "H0-B", "annual_kwh": 2600, "battery": None},
        {"id": "c", "profile": "H0-C", "annual_kwh": 4100, "battery": {"e_kwh": 2, "p_kw": 3}},
        {
            "id": "d",
            "profile": "H0-G",
            "annual_kwh": 3000,
            "battery": {"e_kwh": 150, "p_kw": 75, "soc_initial_frac": 0.2},
        },
        {"id": "e", "profile": "H0-L", "annual_kwh": 2300, "shift_days": 7},
    ]
    extra = {"pv": {"kwp": 10, "column": "PV"}, "mpc": {"window_h": 72, "apply_h": 24}}
    config = parse_config(section(days=5, **extra) | {"members": members}, "test")
    _mpc_and_distributed(config, build_community(config, Path, "test"), None)


def test_import_gap_is_relative_to_mpc():
    # relative to mpc's import, or to 1 % of the households' load (100 kWh here) if larger
    def case(mechanism, size, import_kwh):
        return Case(mechanism, size, None, None, {"import_kwh": import_kwh, "load_kwh": 100.0}, 0.0)

    cases = [
        case("mpc", 2.0, 10.0),
        case("mpc-distributed", 2.0, 10.002),
        case("mpc", 40.0, 0.0),
        case("mpc-distributed", 40.0, 0.001),
        case("mpc", 4.0, 5.0),  # no distributed run at 4 kWh: no gap
    ]
    assert import_gaps(cases) == pytest.approx({2.0: 2e-4, 40.0: 1e-3})


def test_import_target_closed_form():
    # N = 2 houses, ρ = 1: shift N/ρ = 2 kW.  pv = 3 kW.
    #  a = N (x̄ + u) = 2, 4, 9  →  A = 2 (below pv), 3 (pv < a ≤ pv + 2), 7 (a - 2)
    model = build_community_model(["a", "b"])
    agent = model.agents_of("community")[0]
    z_bar = agent.update_target(np.array([1.0, 2.0, 4.5]), np.zeros(3), 1.0, np.full(3, 3.0), 2)
    np.testing.assert_allclose(z_bar * 2, [2.0, 3.0, 7.0])


def test_process_engine_matches_centralized_mpc():
    # The house chunks' local updates in a process pool (two chunks, one per worker, every
    # house solving its own problem): plain messages, a solver cache per process; the
    # result is the same optimum within tolerance.
    config, data = community(battery_kwh=4.0, start="2016-06-06T00:00", days=1, members=4)
    model = build_community_model(data.member_ids)
    engine = ProcessEngine(n_workers=2)
    try:
        runner = Runner(
            replace(config, group_identical=False), data, engine, model.agents_of("community")[0]
        )
        central = runner.run("mpc", 4.0)
        distributed = runner.run("mpc-distributed", 4.0)
    finally:
        engine.close()
    assert all(s.converged for s in distributed.admm)
    check_physics(distributed.data, distributed.schedule)
    assert distributed.metrics["import_kwh"] == pytest.approx(
        central.metrics["import_kwh"], rel=1e-4
    )
