"""The grouped MPC planner (identical batteries as one row) against the per-battery problem.

Reference: :class:`dec.community.mpc.CentralPlanner` with one row per battery, the
window problem as written. The grouping is exact (the optimum is unique and symmetric in
identical batteries), so per window the objective and the community import agree to the
solver tolerance (1e-6 relative), and every battery's schedule to 1e-2 kW: the smoothing
tie-break (1e-3 kWh per kW²h) makes the optimum unique only weakly, so a 1e-3 kW change of
one step's power moves the objective by ~1e-10 kWh, below the solver's tolerance.
"""

from __future__ import annotations

from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest

from agents.community import build_community_model
from dec.admm.engine import SerialEngine
from dec.community.battery import Batteries
from dec.community.config import BatteryConfig
from dec.community.mpc import (
    CentralPlanner,
    GroupedPlanner,
    identical_groups,
    smooth_weights,
    windows_of,
)
from dec.community.sweep import Runner
from tests.community_cases import community

SCHEDULE_TOL_KW = 1e-2


def _import_kwh(data, window, ch, dis) -> float:
    consumption = window.load_kw + ch - dis
    return data.time_step_h * np.maximum(consumption.sum(axis=0) - window.pv_kw, 0).sum()


def _mixed(data):
    """Return the data with three batteries alike, two others, and a house without battery."""
    big = BatteryConfig(6.0, 3.0, 0.95, 0.95, soc_initial_frac=0.5, c_rate_per_h=0.5)
    small = BatteryConfig(2.0, 1.0, 0.9, 0.9, soc_initial_frac=0.5, c_rate_per_h=0.5)
    odd = BatteryConfig(2.0, 1.0, 0.9, 0.9, soc_initial_frac=0.2, c_rate_per_h=0.5)
    configs = [big, big, small, None, big, odd]
    return data.with_batteries(Batteries.from_configs(configs))


def _with_and_without_grouping(config, data, mechanism, battery_kwh) -> dict:
    """Return the runs of ``mechanism`` keyed by ``group_identical`` (True, False)."""
    community_agent = build_community_model(data.member_ids).agents_of("community")[0]
    return {
        grouped: Runner(
            replace(config, group_identical=grouped), data, SerialEngine(), community_agent
        ).run(mechanism, battery_kwh)
        for grouped in (True, False)
    }


@pytest.mark.parametrize("case", ["uniform", "mixed"])
def test_grouped_window_equals_the_per_battery_problem(case):
    _, data = community(battery_kwh=4.0, start="2016-06-06T00:00", days=2, members=6)
    if case == "mixed":
        data = _mixed(data)
    steps = data.steps(36)
    b = data.batteries
    grouped = GroupedPlanner(b, steps, data.time_step_h)
    single = CentralPlanner(b.eta_ch, b.eta_dis, steps, data.time_step_h, smooth_weights(b.p_kw))
    window = windows_of(data, steps, b.e_initial_kwh.copy(), 0)
    first, label, count = identical_groups(b, window)
    assert len(first) == {"uniform": 1, "mixed": 4}[case]
    np.testing.assert_array_equal(np.bincount(label), count)
    ch_g, dis_g = grouped(window)
    objective_g = grouped._planner.problem.value
    ch_s, dis_s = single(window)
    assert single.problem.status == cp.OPTIMAL
    assert objective_g == pytest.approx(single.problem.value, rel=1e-6)
    assert _import_kwh(data, window, ch_g, dis_g) == pytest.approx(
        _import_kwh(data, window, ch_s, dis_s), rel=1e-6
    )
    assert np.abs(ch_g - ch_s).max() <= SCHEDULE_TOL_KW
    assert np.abs(dis_g - dis_s).max() <= SCHEDULE_TOL_KW
    # members of a group get the same schedule
    for g in range(len(first)):
        rows = np.flatnonzero(label == g)
        np.testing.assert_array_equal(ch_g[rows], np.repeat(ch_g[rows[:1]], len(rows), axis=0))


def test_receding_horizon_runs_agree_with_and_without_grouping():
    # A two-day run (36 h windows applying 12 h): grouping changes neither the import (the
    # objective's quantity, 1e-6 relative) nor the applied schedules beyond the tolerance
    # above, window after window.
    config, data = community(battery_kwh=4.0, start="2016-06-06T00:00", days=2, members=6)
    cases = _with_and_without_grouping(config, data, "mpc", 4.0)
    assert cases[True].metrics["import_kwh"] == pytest.approx(
        cases[False].metrics["import_kwh"], rel=1e-6
    )
    gap_kw = np.abs(cases[True].schedule.battery_kw - cases[False].schedule.battery_kw).max()
    assert gap_kw <= SCHEDULE_TOL_KW


def test_distributed_runs_agree_with_and_without_grouping():
    # mpc-distributed with one house solving for each group of interchangeable batteries
    # (their local problems do not involve their loads, so they get the same messages)
    # against every house solving its own, on the mixed batteries (four groups of six
    # houses): the same applied schedules to the ADMM's accuracy (SoC 1e-3 kWh, as
    # distributed against centralized) and the same import (1e-6 relative).
    config, data = community(battery_kwh=4.0, start="2016-06-06T00:00", days=1, members=6)
    data = _mixed(data)
    cases = _with_and_without_grouping(config, data, "mpc-distributed", None)
    assert all(s.converged for case in cases.values() for s in case.admm)
    assert cases[True].metrics["import_kwh"] == pytest.approx(
        cases[False].metrics["import_kwh"], rel=1e-6
    )
    np.testing.assert_allclose(
        cases[True].schedule.soc_kwh, cases[False].schedule.soc_kwh, rtol=0, atol=1e-3
    )
