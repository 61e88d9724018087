"""Quarter hours of the ``--day`` series on which the centralized reference used to fail.

References:
- step 36 of the case A shapes on ``ieee123`` has no over-voltage: zero curtailment and no
  reactive power is feasible and every scheme's objective is zero there and non-negative
  elsewhere, so it is the optimum, exactly (Clarabel stalled on this degenerate problem);
- step 60 with proportional fairness: Clarabel stalls on its exponential cones and SCS
  takes over; its optimum must match the ADMM's within the issue's 1e-4 relative (measured
  4e-10);
- the fallback solvers themselves (Clarabel's ladder emptied): HiGHS on the LP of feeder
  fairness and SCS on proportional fairness reach Clarabel's own optimum on ``cigre_lv``
  within 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

import dec.curtail.centralized as centralized
import feeders
from dec.curtail.problem import CurtailProblem, CurtailSettings
from dec.curtail.simulate import read_shapes, run_series
from dec.curtail.solve import solve_curtailment


def _step(feeder_cache, t: int, settings: CurtailSettings):
    feeder = feeder_cache("ieee123", load_scale=1.0, pv_scale=1.0)
    load, pv = read_shapes(1, t)
    return run_series(feeder, settings, load, pv).solutions[0]


@pytest.mark.parametrize("scheme", ["feeder", "equal-kw", "proportional"])
def test_step_without_over_voltage_curtails_nothing(feeder_cache, scheme):
    solution = _step(feeder_cache, 36, CurtailSettings(fairness=scheme, reactive=True))
    assert solution.vm_before_pu.max() <= 1.05
    assert not solution.reference.y.any() and not solution.reference.b.any()
    assert solution.objective_centralized == 0.0
    assert solution.converged
    assert solution.objective == pytest.approx(0.0, abs=1e-9)
    assert np.abs(solution.curtailment_kw).max() <= 1e-3


def test_proportional_fairness_where_clarabel_stalls(feeder_cache):
    solution = _step(feeder_cache, 60, CurtailSettings(fairness="proportional"))
    assert solution.converged
    assert solution.objective == pytest.approx(solution.objective_centralized, rel=1e-4)


@pytest.mark.parametrize("scheme", ["feeder", "proportional"])
def test_fallback_solvers_reach_clarabels_optimum(feeder_cache, monkeypatch, scheme):
    problem = CurtailProblem.from_feeder(feeder_cache("cigre_lv"), CurtailSettings(fairness=scheme))
    clarabel = solve_curtailment(problem, "centralized").objective
    monkeypatch.setattr(centralized, "TOLERANCE_LADDER", ())
    fallback = solve_curtailment(problem, "centralized").objective
    assert fallback == pytest.approx(clarabel, rel=1e-6)


def test_night_step_reports_the_ac_voltages_of_its_loads(feeder_cache):
    # quarter hour 0 has no PV output: nothing is solved, and the voltages reported are those
    # of pandapower's power flow on the feeder at the step's load multiplier without PV
    load, pv = read_shapes(1, 0)
    assert pv[0] == 0.0
    run = run_series(
        feeder_cache("cigre_lv", load_scale=1.0, pv_scale=1.0), CurtailSettings(), load, pv
    )
    assert not run.solutions
    reference = feeders.load("cigre_lv", load_scale=float(load[0]), pv_scale=0.0).net
    pp.runpp(reference)
    records = run.res_agent.set_index("agent_id")
    buses = [a.bus for a in feeder_cache("cigre_lv").agents_of_type("pv")]
    expected = reference.res_bus.vm_pu.loc[buses].to_numpy()
    ids = [a.agent_id for a in feeder_cache("cigre_lv").agents_of_type("pv")]
    np.testing.assert_allclose(records.loc[ids, "voltage_pu_before"], expected, atol=1e-9)
    np.testing.assert_allclose(records.loc[ids, "voltage_pu_after"], expected, atol=1e-9)
    extremes = run.ac_extremes.iloc[0]
    assert extremes["vmin_pu_after_ac"] == pytest.approx(reference.res_bus.vm_pu.min(), abs=1e-9)
    assert extremes["vmax_pu_before"] == pytest.approx(reference.res_bus.vm_pu.max(), abs=1e-9)


def test_night_steps_below_the_lower_limit_are_noted_not_failed(feeder_cache):
    # curtailment cannot raise a voltage: steps without PV output whose loads take buses
    # below the lower limit are named in a note (like the nodes of a solved step already
    # below it without curtailment) and do not count against ac_within_limit; the note's
    # lowest voltage is that step's AC minimum
    from dec.curtail.report import build_result

    load = np.array([0.2, 2.0, 0.2, 0.2])
    pv = np.zeros(4)
    run = run_series(
        feeder_cache("cigre_lv", load_scale=1.0, pv_scale=1.0), CurtailSettings(), load, pv
    )
    vmin_pu = run.ac_extremes["vmin_pu_after_ac"].to_numpy()
    assert vmin_pu[1] < 0.95 and (np.delete(vmin_pu, 1) > 0.95).all()
    summary = build_result(run, solver="admm", engine="serial").summary
    assert summary["notes"] == [
        "At 1 step(s) without PV output (nothing to curtail), the AC voltages are below the "
        f"0.95 pu lower limit, down to {vmin_pu[1]:.4f} pu at 00:15 (step 1); curtailment "
        "cannot raise voltages."
    ]
    assert summary["ac_within_limit"] is True
