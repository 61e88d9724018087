"""Distributed look-ahead-billing (ADMM between battery members and the community manager).

References: the centralised look-ahead-billing of the same case and horizon. The issue
requires the closed-loop bills to agree within 1e-4 relative. The window problems are
nearly flat (plans 0.1 kWh apart can differ by 1e-8 relative in the window objective), so
the applied actions must match the centralised ones closely or the closed loops part;
measured: below 1e-7 on Case 0, 1e-7 on the first day of Case I, 1e-5 over all of Cases I
and II (see dec/reckeys/admm.py). Here: Case 0, and the first day of Cases I and II (the
whole cases run in benchmarks/, too slow for the suite). A run whose gap exceeds 1e-4
must say so: ``converged: false`` (exit 3) and a message. At a given state, the ADMM's
first action equals the centralised window plan's. The battery members' hand-built QP is
checked against the same model written with cvxpy.
"""

from __future__ import annotations

from pathlib import Path

import cvxpy as cp
import numpy as np
import pytest
import yaml

from dec.export import export_result
from dec.reckeys import load_case, make_policy, simulate
from dec.reckeys.admm import TOLERANCES
from dec.reckeys.battery_block import build_battery_members, column_limits, smoothing_weights
from dec.reckeys.forecast import PerfectForecaster
from dec.reckeys.member_qp import BatteryMemberQP, member_window
from dec.reckeys.policies import State
from dec.reckeys.runner import MATCH_REL, Settings, run_policy
from dec.reckeys.simulate import feasible_actions
from dec.reckeys.window import (
    CLARABEL_OPTIONS,
    IDLE_TIE_BREAK_EUR_PER_KWH,
    SMOOTHING_EUR_PER_KWH,
    period_indicator,
    window_inputs,
)
from dec.schemas import validate_folder

INPUTS = Path(__file__).parents[1] / "inputs" / "rec"


def load(name: str, steps: int | None = None):
    path = INPUTS / f"{name}.yaml"
    case = load_case(yaml.safe_load(path.read_text())["rec_keys"], name, str(path))
    return case.truncated(steps) if steps else case


@pytest.mark.parametrize(
    ("name", "steps", "horizon"),
    [("case0", None, 4), ("case0", None, 24), ("case1", 96, 48), ("case2", 96, 12)],
)
def test_distributed_matches_centralised_look_ahead_billing(name, steps, horizon):
    case = load(name, steps)
    central = simulate(case, make_policy("look-ahead-billing", horizon))
    distributed = simulate(case, make_policy("distributed", horizon))
    assert distributed.info["converged"]
    assert distributed.total_bill_eur == pytest.approx(central.total_bill_eur, rel=1e-4)
    history = distributed.info["admm_history"]
    last_rounds = {}
    for row in history:
        last_rounds[row["step"]] = row
    assert len(last_rounds) == case.n_steps
    for row in last_rounds.values():  # every step stopped on Boyd's test
        assert row["primal_residual"] <= row["eps_primal"]
        assert row["dual_residual"] <= row["eps_dual"]


def test_a_distributed_run_that_misses_the_centralised_bill_says_so():
    # Case II, first half day, K = 12, cut to 2 rounds per step: the bill misses.
    case = load("case2", 48)
    result = run_policy(case, "distributed", 12, Settings(max_iter=2))
    summary = result.summary
    gap = abs(summary["objective"] - summary["objective_centralized"]) / abs(
        summary["objective_centralized"]
    )
    assert summary["objective_gap_rel"] == pytest.approx(gap)
    assert gap > MATCH_REL
    assert summary["converged"] is False
    assert not result.converged  # exit 3
    assert "centralised look-ahead-billing" in summary["message"]
    assert any(label == "NOT CONVERGED" for label, _ in result.console)


def test_a_run_stopped_at_the_round_limit_says_so():
    # Case 0, K = 4, 5 rounds per step: some steps stop before Boyd's test; the bill
    # still matches, but the run is not converged and the message says why.
    summary = run_policy(load("case0"), "distributed", 4, Settings(max_iter=5)).summary
    assert summary["converged"] is False
    assert summary["objective_gap_rel"] <= MATCH_REL
    assert "round limit (5 rounds per step)" in summary["message"]
    assert "within" in summary["message"]


def test_a_matching_distributed_run_is_converged(tmp_path):
    result = run_policy(load("case0"), "distributed", 4)
    assert result.summary["objective_gap_rel"] <= MATCH_REL
    assert result.summary["converged"] is True
    assert result.summary["message"] is None
    folder = export_result(result, tmp_path, plots=False)
    assert (folder / "admm_history.csv").exists()
    validate_folder(folder, "rec-keys")


def test_distributed_window_solutions_are_centrally_optimal():
    case = load("case2", 96)
    forecaster = PerfectForecaster(case)
    central = make_policy("look-ahead-billing", 16)
    central.start(case, forecaster)
    distributed = make_policy("distributed", 16)
    distributed.start(case, forecaster)
    arrays = case.battery_arrays()
    soc = arrays["soc_initial_kwh"].copy()
    cons_meter, prod_meter = np.zeros(case.n_members), np.zeros(case.n_members)
    for t in range(8):  # states along the centralised trajectory (two metering periods)
        if t % case.metering_period_steps == 0:
            cons_meter[:], prod_meter[:] = 0.0, 0.0
        state = State(t, soc.copy(), cons_meter.copy(), prod_meter.copy())
        plan = central.plan(state)
        block = central.lp.members.block  # the problem of this window's phase
        best = central.lp.problem.value
        decision = distributed.act(state)
        fixed = cp.Problem(
            central.lp.problem.objective,
            [
                *central.lp.problem.constraints,
                block.charge[:, 0] == decision.charge_kwh,
                block.discharge[:, 0] == decision.discharge_kwh,
            ],
        )
        fixed.solve(solver=cp.CLARABEL)
        assert fixed.value - best <= TOLERANCES.eps_rel * abs(best), t
        # the first action itself, not only its cost, to 0.1 Wh (measured: 2e-5 kWh);
        # with the former tolerances and κ = 1e-4 it was up to 0.1 kWh off
        np.testing.assert_allclose(decision.charge_kwh, plan.charge_kwh[:, 0], atol=1e-4)
        np.testing.assert_allclose(decision.discharge_kwh, plan.discharge_kwh[:, 0], atol=1e-4)
        charge, discharge = feasible_actions(
            case, soc, plan.charge_kwh[:, 0], plan.discharge_kwh[:, 0]
        )
        soc += arrays["charge_efficiency"] * charge - discharge / arrays["discharge_efficiency"]
        net = case.production_kwh[:, t] - case.consumption_kwh[:, t]
        net[case.battery_index] += discharge - charge
        cons_meter += np.maximum(-net, 0.0)
        prod_meter += np.maximum(net, 0.0)
    distributed.finish()


def test_serial_and_process_engines_agree():
    case = load("case0", 8)
    serial = simulate(case, make_policy("distributed", 4, engine="serial"))
    process = simulate(case, make_policy("distributed", 4, engine="process"))
    assert np.array_equal(serial.charge_kwh, process.charge_kwh)
    assert np.array_equal(serial.discharge_kwh, process.discharge_kwh)
    assert serial.total_bill_eur == process.total_bill_eur


def test_member_qp_equals_the_cvxpy_model():
    case = load("case2")
    rows = case.battery_index
    limits = column_limits(case.battery_arrays())
    smoothing = smoothing_weights(limits, SMOOTHING_EUR_PER_KWH)
    rng = np.random.default_rng(3)
    for t in (0, 37, 700):
        x = window_inputs(case, PerfectForecaster(case), t, 24, rng.random(6), rng.random(6), "all")
        n_periods = len(x.periods)
        soc = np.array([1.0, 30.0])
        target, rho = rng.normal(size=(2, n_periods)), 0.7
        window = member_window(x, rows, soc)
        fee = case.discharge_fee_eur_per_kwh
        mine = BatteryMemberQP(
            limits, smoothing, fee, IDLE_TIE_BREAK_EUR_PER_KWH, window, CLARABEL_OPTIONS
        ).solve(target, rho)

        membership = period_indicator(x.step_period, n_periods).T.tocsr()
        cap = cp.Parameter(n_periods, value=x.exchange_cap_kwh)
        model = build_battery_members(
            2,
            24,
            n_periods,
            limits,
            membership,
            cap,
            fee,
            IDLE_TIE_BREAK_EUR_PER_KWH,
            smoothing=smoothing,
        )
        model.block.soc_initial.value = soc[:, None]
        constant = model.set(
            window["net_kwh"],
            x.step_period,
            window["consumption_meter_kwh"],
            window["production_meter_kwh"],
            window["buy_eur_per_kwh"],
            window["sell_eur_per_kwh"],
        )
        prox = rho / 2 * cp.sum_squares(model.imports - model.exports - target)
        problem = cp.Problem(cp.Minimize(model.objective + prox), model.constraints)
        problem.solve(solver=cp.CLARABEL, **CLARABEL_OPTIONS)
        assert constant == pytest.approx(
            np.sum(window["buy_eur_per_kwh"] * window["consumption_meter_kwh"])
            - np.sum(window["sell_eur_per_kwh"] * window["production_meter_kwh"])
        )
        exchange = mine["imports_kwh"] - mine["exports_kwh"]
        assert exchange == pytest.approx(model.imports.value - model.exports.value, abs=1e-6)
        assert mine["charge_kwh"] == pytest.approx(model.block.charge.value, abs=1e-6)
        assert mine["discharge_kwh"] == pytest.approx(model.block.discharge.value, abs=1e-6)


def test_member_agents_record_their_applied_actions():
    case = load("case0", 8)
    policy = make_policy("distributed", 4)
    tr = simulate(case, policy)
    table = policy.model.datacollector.get_agent_vars_dataframe()
    pvb = next(a.unique_id for a in policy.model.agents if a.agent_id == "PVB")
    own = table.xs(pvb, level="AgentID")
    assert own["charge_kwh"].to_numpy() == pytest.approx(tr.charge_kwh[0], abs=1e-6)
    assert own["discharge_kwh"].to_numpy() == pytest.approx(tr.discharge_kwh[0], abs=1e-6)
