"""Policy ``distributed``: look-ahead-billing solved by ADMM among the members' agents.

At each step the window problem of ``look-ahead-billing`` is split between the
battery members and the community manager: the only coupling is the community balance
``Σ_i (I_i − E_i) = 0`` of each window period. Each round, the battery members' agents
solve their own problems (battery plan and proposed net import, see
:mod:`agents.rec_keys`) on the engine, and the community manager agent updates the
keys and prices and the residuals; rounds stop at Boyd's test
(:mod:`dec.admm.convergence`) with residual balancing of ρ. Prices, proposals and ρ
are carried over from one step to the next (warm start).

Both solve the same window problem (LP meters, the same κ and idle tie-breaks). The
window problems are nearly flat: plans whose window objectives differ by 1e-8 relative
can have first actions 0.1 kWh apart, separated only by the tie-break κ, so the applied
action must be found to about 1e-6 kWh or the closed loops part. Plain ADMM moves along
such flat directions at a rate of about κ/ρ per round; here the rounds are
Anderson-accelerated (:mod:`dec.admm.anderson`, on the manager's allocations and scaled
duals) and stop at tight tolerances (1e-7 kWh absolute, 1e-6 relative), which brings the
closed-loop bill to within 1e-5 of the centralised look-ahead-billing on Cases 0, I and II
(tens of rounds per step). The run still compares itself with the centralised bill
(:func:`dec.reckeys.runner.run_policy`): a gap above 1e-4 marks it ``converged: false``
(exit 3) with a message. It needs the LP meter model (no binaries, see
:mod:`dec.reckeys.exactness`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from agents.rec_keys import (
    BatteryMessage,
    CommunityManagerAgent,
    battery_local_update,
    build_rec_model,
)
from dec.admm.anderson import AndersonAcceleration
from dec.admm.convergence import History, ResidualBalancing, Tolerances, thresholds
from dec.admm.engine import make_engine, split
from dec.errors import InputError
from dec.reckeys.battery_block import column_limits, smoothing_weights
from dec.reckeys.case import RecCase
from dec.reckeys.exactness import binary_members, selling_above_buying
from dec.reckeys.forecast import Forecaster
from dec.reckeys.member_qp import member_window
from dec.reckeys.policies import Decision, State
from dec.reckeys.window import SMOOTHING_EUR_PER_KWH, WindowInputs, window_inputs

#: Stopping tolerances of the distributed policy, kWh: tight, because the applied action
#: must match the window optimum along its flat directions (see the module docstring).
TOLERANCES = Tolerances(eps_abs=1e-7, eps_rel=1e-6, max_iter=1000)

#: Memory of the Anderson acceleration of the rounds.
ANDERSON_MEMORY = 5


def unsupported_reason(case: RecCase) -> str | None:
    """Return why the distributed policy cannot run on ``case``, or None if it can."""
    binary = binary_members(case)
    if not binary.any():
        return None
    names = ", ".join(case.member_ids[i] for i in case.battery_index[binary])
    return (
        "The distributed policy needs the LP meter model (ADMM needs convex member "
        f"problems), but battery member(s) {names} need binaries (see meter_model in the "
        "README)"
    )


def unsupported_remedy(case: RecCase) -> str:
    """Return what to do when the distributed policy cannot run on ``case`` (a sentence's end).

    The LP meter model (``meter_model: lp``) is suggested only when every member that needs
    binaries may use it: a battery member selling above its own buying price may not (its
    LP meters are unbounded, see :mod:`dec.reckeys.exactness`), so such a case needs a
    centralised policy.
    """
    binary = {case.member_ids[i] for i in case.battery_index[binary_members(case)]}
    above = [m for m in selling_above_buying(case) if m in binary]
    if not above:
        return "set 'meter_model: lp' to run it on the relaxation or choose a centralised policy."
    return (
        f"'meter_model: lp' cannot be used either, as battery member(s) {', '.join(above)} "
        "sell above their own buying price at some step ('selling_price_eur_per_kwh' > "
        "'buying_price_eur_per_kwh'), where the LP meters are unbounded; the distributed "
        "policy cannot run this case: choose a centralised policy (optimal, look-ahead, "
        "look-ahead-billing or look-ahead-decoupling)."
    )


class DistributedLookAheadBilling:
    """``look-ahead-billing`` with horizon K, solved each step by exchange ADMM.

    Parameters
    ----------
    horizon
        K, window length in steps.
    engine
        ``serial``, ``process`` or ``ray``: where the members' local updates run.
    tolerances
        Stopping tolerances and the round limit of each step.
    balancing
        Residual balancing of ρ (its spacing of changes restarts every step).
    rho
        Initial penalty ρ, EUR/kWh².
    anderson_memory
        Differences kept by the Anderson acceleration (0: plain ADMM).

    """

    name = "distributed"

    def __init__(
        self,
        horizon: int,
        engine: str = "serial",
        tolerances: Tolerances = TOLERANCES,
        balancing: ResidualBalancing | None = None,
        rho: float = 1.0,
        anderson_memory: int = ANDERSON_MEMORY,
    ):
        self.horizon = horizon
        self.engine_name = engine
        self.tolerances = tolerances
        self.balancing = balancing or ResidualBalancing()
        self.rho = rho
        self.anderson_memory = anderson_memory

    def start(self, case: RecCase, forecaster: Forecaster) -> None:
        """Check the case, create the agents and the engine."""
        reason = unsupported_reason(case)
        if reason:
            raise InputError(f"{reason}; {unsupported_remedy(case)}")
        self.case, self.forecaster = case, forecaster
        self.window = min(self.horizon, case.n_steps)
        self.model = build_rec_model(case.member_ids)
        self.manager: CommunityManagerAgent = self.model.agents_of("manager")[0]
        self.members = self.model.by_id()
        self.battery_ids = [case.member_ids[i] for i in case.battery_index]
        self.manager.state["rho"] = self.rho
        self.engine = make_engine(self.engine_name)
        self.limits = column_limits(case.battery_arrays())
        self.smoothing = smoothing_weights(self.limits, SMOOTHING_EUR_PER_KWH)
        self.chunks = split(len(case.battery_index), self.engine.n_workers)
        self.rows: list[dict] = []
        self.unconverged_steps = 0

    def _messages(self, x: WindowInputs, soc: np.ndarray, target: np.ndarray) -> list:
        rows = self.case.battery_index
        rho = self.manager.state["rho"]
        messages = []
        for number, chunk in enumerate(self.chunks):
            members = rows[chunk]
            window = member_window(x, members, soc[chunk])
            messages.append(
                BatteryMessage(
                    window_id=x.t,
                    chunk=number,
                    limits={k: v[chunk] for k, v in self.limits.items()},
                    smoothing={k: v[chunk] for k, v in self.smoothing.items()},
                    fee_eur_per_kwh=self.case.discharge_fee_eur_per_kwh,
                    window=window,
                    target=target[chunk],
                    rho=rho,
                )
            )
        return messages

    def act(self, state: State) -> Decision:
        """Run ADMM rounds on the window of ``state.t`` and return the first actions."""
        case, manager = self.case, self.manager
        battery, plain = case.battery_index, case.plain_index
        if not len(battery):
            return Decision(np.zeros(0), np.zeros(0), {"iterations": 0})
        x = window_inputs(
            case,
            self.forecaster,
            state.t,
            self.window,
            state.consumption_meter_kwh,
            state.production_meter_kwh,
            "all",
        )
        manager.start_window(
            x.periods,
            len(battery),
            {
                "consumption_meter_kwh": x.consumption_meter_kwh[plain],
                "production_meter_kwh": x.production_meter_kwh[plain],
                "buy_eur_per_kwh": x.buy_eur_per_kwh[plain],
                "sell_eur_per_kwh": x.sell_eur_per_kwh[plain],
                "cap_kwh": x.exchange_cap_kwh,
            },
        )
        n_coupled = len(battery) * len(x.periods)
        history = History()
        balancing = replace(self.balancing, changes=0, last_change=0)  # a new run each step
        anderson = AndersonAcceleration(self.anderson_memory)
        for _ in range(self.tolerances.max_iter):
            rho = manager.state["rho"]
            s_in = manager.vector()
            replies = self.engine.map(
                battery_local_update, self._messages(x, state.soc_kwh, manager.targets())
            )
            proposal = np.vstack([r["imports_kwh"] - r["exports_kwh"] for r in replies])
            res = manager.update(proposal)
            eps_pri, eps_dual = thresholds(
                n_coupled, n_coupled, self.tolerances, res["primal_scale"], res["dual_scale"]
            )
            history.record(res["r_norm"], res["s_norm"], eps_pri, eps_dual, rho, step=state.t)
            if history.converged:
                break
            factor = balancing.factor(res["r_norm"], res["s_norm"], history.iterations)
            s_out = manager.vector()
            manager.set_vector(
                anderson.next_point(s_in, s_out, np.ones_like(s_out), extrapolate=factor == 1.0)
            )
            if factor != 1.0:
                manager.rescale(factor)
        self.rows.extend(history.rows)
        self.unconverged_steps += not history.converged
        charge = np.vstack([r["charge_kwh"] for r in replies])[:, 0]
        discharge = np.vstack([r["discharge_kwh"] for r in replies])[:, 0]
        for row, agent_id in enumerate(self.battery_ids):
            self.members[agent_id].state.update(
                charge_kwh=charge[row],
                discharge_kwh=discharge[row],
                net_import_kwh=proposal[row, 0],
            )
        self.model.datacollector.collect(self.model)
        self.model.step()  # advances the model clock: the next collection is the next step
        return Decision(charge, discharge, {"iterations": history.iterations})

    def finish(self) -> dict:
        """Release the engine; return the run's ADMM facts (rounds, residuals, history).

        ``unconverged_steps`` counts the steps whose rounds stopped at the round limit
        before Boyd's test.
        """
        self.engine.close()
        last = self.rows[-1] if self.rows else {}
        return {
            "converged": self.unconverged_steps == 0,
            "unconverged_steps": self.unconverged_steps,
            "primal_residual": last.get("primal_residual"),
            "dual_residual": last.get("dual_residual"),
            "admm_history": self.rows,
        }
