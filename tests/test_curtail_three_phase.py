"""Fair curtailment per phase: the GridAPPS-D cases, ADMM vs centralized, AC validation.

References and tolerances:
- ``gridappsd_a``/``gridappsd_b`` feeder fairness: α against an independent cvxpy
  formulation of the coordinator's three-phase LinDistFlow problem written below from the
  raw data files (node-branch form with squared voltages, not dec's tree operators), to
  1e-6 (the issue asks 1e-3), for the centralized and the distributed solve;
- ADMM vs centralized per phase: objective 1e-4 relative, α 1e-3, setpoints 1e-3 kW
  (issue 4/9 acceptance), all five fairness schemes;
- ``ieee123_3ph``: AC validation by pandapower's runpp_3ph meets 1.05 + 0.001 pu after the
  run, and per phase the feeder needs more curtailment than its balanced equivalent.
"""

from __future__ import annotations

import json
from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest

from dec.curtail.problem import SCHEMES, CurtailProblem, CurtailSettings
from dec.curtail.simulate import run_series
from dec.curtail.solve import solve_curtailment
from dec.run import main
from dec.schemas import validate

DATA = Path(__file__).resolve().parents[1] / "inputs" / "ieee123"
CASES = {"gridappsd_a": ("case_a", 0.432, 0.786621), "gridappsd_b": ("case_b", 0.37, 0.88)}


def reference_alpha(case: str, load_mult: float, pv_mult: float) -> float:
    """The coordinator's centralized problem, written independently from the data files.

    Variables per bus and phase: squared voltage U; per branch and phase: flows P, Q (from
    bus to bus, consumption positive, per unit of 100/3 MVA per phase, Z in units of
    4.16²/100 ohm); one curtailment fraction α. Every bus but the source: flows in − flows
    out = load − (1 − α)·PV, per phase. Every branch, phase φ:
    U_to,φ = U_from,φ − Σ_ψ 2 Re(Z_φψ e^{−j(θφ−θψ)}) P_ψ + 2 Im(Z_φψ e^{−j(θφ−θψ)}) Q_ψ with
    θ = 0, −120°, 120°. U_source = 1.0475² on every phase; 0.95² ≤ U ≤ 1.05² on every bus
    and phase (absent phases carry no flow, so theirs repeat their upstream bus's).
    Switches sw7, sw8 open; regulators at zero impedance. Minimise α.
    """
    buses = json.loads((DATA / case / "bus_info_ieee123_pri.json").read_text())
    branches = json.loads((DATA / case / "branch_sw_xfmr_ieee123_pri.json").read_text())
    branches = {k: v for k, v in branches.items() if k not in ("sw7", "sw8")}
    names = list(buses)
    pos = {n: i for i, n in enumerate(names)}
    s_base, z_base = 100e6 / 3, 4.16**2 / 100
    load = np.array([[ph[0] for ph in buses[n]["pq"]] for n in names]) * load_mult / s_base
    load_q = np.array([[ph[1] for ph in buses[n]["pq"]] for n in names]) * load_mult / s_base
    pv = np.array([[ph[0] for ph in buses[n]["pv"]] for n in names]) * pv_mult / s_base
    u = cp.Variable((len(names), 3))
    p = cp.Variable((len(branches), 3))
    q = cp.Variable((len(branches), 3))
    alpha = cp.Variable()
    fr = np.array([pos[b["fr_bus"]] for b in branches.values()])
    to = np.array([pos[b["to_bus"]] for b in branches.values()])
    cons = [u[pos["150"], :] == 1.0475**2, alpha >= 0, alpha <= 1]
    cons += [u <= 1.05**2, u >= 0.95**2]
    for j, name in enumerate(names):
        if name == "150":
            continue
        into, out = np.flatnonzero(to == j), np.flatnonzero(fr == j)
        cons.append(
            cp.sum(p[into], axis=0) - cp.sum(p[out], axis=0) == load[j] - pv[j] * (1 - alpha)
        )
        cons.append(cp.sum(q[into], axis=0) - cp.sum(q[out], axis=0) == load_q[j])
    theta = np.array([0.0, -2 * np.pi / 3, 2 * np.pi / 3])
    for e, br in enumerate(branches.values()):
        z = np.array(br["zprim"], dtype=float)
        z = (z[..., 0] + 1j * z[..., 1]) / z_base
        w = z * np.exp(-1j * (theta[:, None] - theta[None, :]))
        drop = 2 * (w.real @ p[e] + w.imag @ q[e])
        cons.append(u[to[e]] == u[fr[e]] - drop)
    cp.Problem(cp.Minimize(alpha), cons).solve(solver=cp.CLARABEL)
    return float(alpha.value)


@pytest.mark.parametrize("feeder_id", sorted(CASES))
def test_gridappsd_alpha_matches_the_independent_formulation(feeder_cache, feeder_id):
    expected = reference_alpha(*CASES[feeder_id])
    problem = CurtailProblem.from_feeder(feeder_cache(feeder_id), CurtailSettings())
    for solver in ("centralized", "admm"):
        solution = solve_curtailment(problem, solver)
        assert solution.decision.y[0] == pytest.approx(expected, abs=1e-6), solver
    assert problem.n_agents == {"gridappsd_a": 94, "gridappsd_b": 90}[feeder_id]


@pytest.mark.parametrize("solver", ["admm", "centralized"])
def test_gridappsd_a_cli_reports_alpha_and_phases(tmp_path, solver):
    code = main(["gridappsd_a", "--solver", solver, "--no-plots", "--out", str(tmp_path)])
    assert code == 0
    out = tmp_path / "gridappsd_a" / "curtail"
    summary = json.loads((out / "summary.json").read_text())
    validate(summary, "summary", "curtail")
    assert summary["alpha"] == pytest.approx(0.661223, abs=1e-6)
    assert summary["three_phase"] and summary["operating_point"] == "lindistflow"
    assert summary["vmax_pu_after_linear"] == pytest.approx(1.05, abs=1e-9)
    records = [json.loads(p.read_text()) for p in (out / "setpoints").glob("*.json")]
    for rec in records:
        validate(rec, "setpoint", "curtail")
    assert {r["phase"] for r in records} == {1, 2, 3}
    # per phase in kW: the data's 3,470 kW of PV (W in the files) at the 12:00 multiplier
    assert summary["total_available_kw"] == pytest.approx(3470.0 * 0.786621, rel=1e-9)
    assert sum(r["curtailment_kw"] for r in records) == pytest.approx(
        summary["alpha"] * summary["total_available_kw"], rel=1e-9
    )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_admm_matches_centralized_per_phase(feeder_cache, scheme):
    reactive = scheme in ("efficient", "proportional")
    problem = CurtailProblem.from_feeder(
        feeder_cache("gridappsd_b"), CurtailSettings(fairness=scheme, reactive=reactive)
    )
    solution = solve_curtailment(problem, "admm")
    ref = solution.reference
    assert solution.admm_converged
    assert solution.objective == pytest.approx(solution.objective_centralized, rel=1e-4)
    c_ref = problem.curtailment_kw(ref.a, ref.theta)
    assert np.max(np.abs(solution.curtailment_kw - c_ref)) <= 1e-3
    assert np.max(np.abs(solution.decision.y - ref.y)) <= 1e-3
    assert np.max(np.abs(solution.q_setpoint_kvar - problem.s_kva * ref.b)) <= 1e-2
    assert solution.vm_after_linear_pu.max() <= problem.vmax_pu + 1e-8


@pytest.mark.parametrize("scheme", ["transformer", "efficient"])
def test_centralized_setpoints_are_accurate_where_the_optimum_is_flat(feeder_cache, scheme):
    # gridappsd_a's QPs are nearly flat along some setpoints (unique through the small
    # regularisation only): the centralized solve must still give the setpoints of the
    # optimum, which the ADMM reaches, within the 1e-3 kW (it ended 5e-3 kW away
    # when Clarabel stopped at a 1e-10 gap).
    problem = CurtailProblem.from_feeder(feeder_cache("gridappsd_a"), CurtailSettings(scheme))
    solution = solve_curtailment(problem, "admm")
    assert solution.admm_converged
    ref = solution.reference
    c_ref = problem.curtailment_kw(ref.a, ref.theta)
    assert np.max(np.abs(solution.curtailment_kw - c_ref)) <= 1e-3


def test_time_series_at_noon_is_the_reference_point(feeder_cache):
    """Step 48 of the case A shapes is the coordinator's 12:00 case (load 0.432, PV 0.786621)."""
    feeder = feeder_cache("gridappsd_a", load_scale=1.0, pv_scale=1.0)
    run = run_series(
        feeder, CurtailSettings(), np.array([0.4824, 0.432]), np.array([0.752015, 0.786621])
    )
    assert run.solutions[1].decision.y[0] == pytest.approx(
        reference_alpha(*CASES["gridappsd_a"]), abs=1e-6
    )
    assert run.solutions[0].decision.y[0] < run.solutions[1].decision.y[0]


@pytest.fixture(scope="module")
def ieee123_runs(feeder_cache):
    out = {}
    for feeder_id in ("ieee123", "ieee123_3ph"):
        problem = CurtailProblem.from_feeder(feeder_cache(feeder_id), CurtailSettings())
        out[feeder_id] = solve_curtailment(problem, "admm")
    return out


def test_ieee123_per_phase_is_validated_on_unbalanced_ac(ieee123_runs):
    solution = ieee123_runs["ieee123_3ph"]
    assert solution.converged and solution.linear_solves >= 2
    assert solution.vm_before_pu.max() > 1.07
    assert solution.vm_after_ac_pu.max() <= 1.05 + 1e-3
    assert set(solution.vm_after_ac_pu.index.get_level_values("phase")) == {1, 2, 3}
    assert solution.objective == pytest.approx(solution.objective_centralized, rel=1e-4)
    assert solution.decision.y[0] == pytest.approx(solution.reference.y[0], abs=1e-3)
    # linear model at the final linearisation vs the AC result of the same setpoints
    vm_linear = solution.vm_after_linear_pu
    assert np.max(np.abs(vm_linear - solution.vm_after_ac_pu.reindex(vm_linear.index))) <= 0.005


def test_unbalance_needs_more_curtailment_than_the_balanced_equivalent(ieee123_runs):
    """Phase c of the per-phase feeder rises above what its balanced equivalent shows."""
    balanced, per_phase = ieee123_runs["ieee123"], ieee123_runs["ieee123_3ph"]
    assert per_phase.vm_before_pu.max() > balanced.vm_before_pu.max() + 0.005
    assert per_phase.decision.y[0] > balanced.decision.y[0] + 0.05
    assert per_phase.problem.agent_ids == balanced.problem.agent_ids


def test_equal_kw_per_phase_meets_the_ac_limit(feeder_cache):
    """Per phase, a PV curtails at most the common kW; curtailing the full share everywhere
    would raise other phases (negative mutual sensitivities), so some curtail less."""
    problem = CurtailProblem.from_feeder(
        feeder_cache("ieee123_3ph"), CurtailSettings(fairness="equal-kw")
    )
    solution = solve_curtailment(problem, "centralized")
    share_kw = problem.p_mean_kw * solution.decision.theta
    assert solution.converged
    assert solution.vm_after_ac_pu.max() <= problem.vmax_pu + 1e-3
    assert np.all(solution.curtailment_kw <= np.minimum(share_kw, problem.p_kw) + 1e-6)
    less = solution.curtailment_kw < np.minimum(share_kw, problem.p_kw) - 1e-3
    assert 0 < less.mean() < 0.5


def test_infeasible_limit_names_the_bus_phases(tmp_path, capsys):
    code = main(["gridappsd_a", "--vmax", "1.04", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "bus phases stay above the 1.04 pu limit" in err and "(1, phase b, " in err
    assert not (tmp_path / "gridappsd_a").exists()


def test_bus_phases_just_below_the_lower_limit_are_not_imposed(tmp_path):
    # ieee123_3ph at 20:45 (load shape 0.837, PV 0.5 %) with nominal loads: no over-voltage
    # (1.035 pu at most) and 79 bus phases below 0.95 pu, 9 of them by less than 5e-4 pu
    # (the AC tolerance). Those 9 used to keep their lower limit, which zero curtailment
    # already violates: the linear problem was infeasible. Now none is curtailed.
    args = ["ieee123_3ph", "--steps", "1", "--first-step", "83", "--load-scale", "1"]
    code = main([*args, "--pv-scale", "1", "--no-plots", "--out", str(tmp_path)])
    assert code == 0
    summary = json.loads((tmp_path / "ieee123_3ph" / "curtail" / "summary.json").read_text())
    assert summary["vmax_pu_before"] < 1.05
    assert summary["total_curtailment_kw"] == 0.0
    [note] = summary["notes"]
    assert note.startswith("Without any curtailment, 79 bus phases are below the 0.95 pu")
