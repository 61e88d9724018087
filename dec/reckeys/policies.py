"""Policies: map the state of the REC at step t to the battery actions of step t.

Every policy is receding horizon on :class:`~dec.reckeys.window.WindowLP` (built
once per phase of the metering period, re-solved each step with new parameters) and
applies the first action of its open-loop plan; the keys of a period are settled from
the realised meters when it ends (:mod:`dec.reckeys.keys`), which is the policies' own
key optimisation for the actions taken.

``optimal``
    One open-loop solve over the whole horizon at t = 0 with perfect information (the
    benchmark: it ignores the run's forecaster), then its plan is applied.
``look-ahead`` (K)
    Bills of the periods that end inside the window only.
``look-ahead-billing`` (K)
    Also the bill of the period cut by the window's end, with virtual keys.
``look-ahead-decoupling`` (K)
    Actions optimised for the members' own tariffs (community exchanges forbidden,
    every step of the window billed); keys optimised afterwards for those actions.
``distributed`` (K)
    ``look-ahead-billing`` solved by ADMM among the members (:mod:`dec.reckeys.admm`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from dec.reckeys.case import RecCase
from dec.reckeys.forecast import Forecaster, PerfectForecaster
from dec.reckeys.window import (
    SMOOTHING_EUR_PER_KWH,
    BillingRule,
    WindowLP,
    WindowPlan,
    window_inputs,
)


@dataclass
class State:
    """What a policy observes at step t.

    Attributes
    ----------
    t
        Current step.
    soc_kwh
        SoC of the battery members at the start of step t, kWh (B,).
    consumption_meter_kwh, production_meter_kwh
        Meters of the current period before step t, kWh (N,).

    """

    t: int
    soc_kwh: np.ndarray
    consumption_meter_kwh: np.ndarray
    production_meter_kwh: np.ndarray


@dataclass
class Decision:
    """Battery actions of one step, kWh (B,), and solver facts for the run summary."""

    charge_kwh: np.ndarray
    discharge_kwh: np.ndarray
    info: dict = field(default_factory=dict)


class Policy(Protocol):
    """A control policy of the REC."""

    name: str
    horizon: int

    def start(self, case: RecCase, forecaster: Forecaster) -> None:
        """Prepare for a run on ``case`` (compile problems, solve open loops)."""
        ...

    def act(self, state: State) -> Decision:
        """Return the battery actions of step ``state.t``."""
        ...


class LookAhead:
    """Receding-horizon policy on a window of ``horizon`` steps with a billing rule.

    Parameters
    ----------
    horizon
        K, window length in steps (capped at T).
    rule
        ``ended`` (look-ahead), ``all`` (look-ahead-billing) or ``own`` (the first
        stage of look-ahead-decoupling).
    name
        Policy name, for reports.

    """

    #: κ of the window problem's strictly convex tie-break (0 for a pure LP).
    smoothing = SMOOTHING_EUR_PER_KWH
    #: Whether each window problem is solved more than once (see WindowLP).
    resolved = True

    def __init__(self, horizon: int, rule: BillingRule, name: str):
        self.horizon = horizon
        self.rule = rule
        self.name = name

    def start(self, case: RecCase, forecaster: Forecaster) -> None:
        """Prepare the window problems (each compiled at its first use)."""
        self.case = case
        self.forecaster = forecaster
        self.window = min(self.horizon, case.n_steps)
        self.lps: dict[int, WindowLP] = {}

    def plan(self, state: State) -> WindowPlan:
        """Return the open-loop plan of the window starting at ``state.t``.

        ``self.lp`` is then the window problem solved (that of the window's phase).
        """
        phase = state.t % self.case.metering_period_steps
        if phase not in self.lps:
            self.lps[phase] = WindowLP(
                self.case, self.window, phase, self.smoothing, resolved=self.resolved
            )
        self.lp = self.lps[phase]
        x = window_inputs(
            self.case,
            self.forecaster,
            state.t,
            self.window,
            state.consumption_meter_kwh,
            state.production_meter_kwh,
            self.rule,
        )
        return self.lp.solve(x, state.soc_kwh)

    def act(self, state: State) -> Decision:
        """Solve the window and return its first action."""
        plan = self.plan(state)
        return Decision(
            plan.charge_kwh[:, 0],
            plan.discharge_kwh[:, 0],
            {
                "solves": 1,
                "inaccurate_solves": int(self.lp.inaccurate),
                "window_bill_eur": plan.bill_eur,
            },
        )


class Optimal(LookAhead):
    """One open-loop solve over the whole horizon with perfect information: a pure LP."""

    smoothing = 0.0
    resolved = False

    def __init__(self) -> None:
        super().__init__(horizon=0, rule="all", name="optimal")

    def start(self, case: RecCase, forecaster: Forecaster) -> None:
        """Solve the whole horizon once from the initial state (``forecaster`` unused).

        The benchmark of every policy is the optimum with perfect information, whatever
        the forecaster the other policies use.
        """
        self.horizon = case.n_steps
        super().start(case, PerfectForecaster(case))
        arrays = case.battery_arrays()
        zeros = np.zeros(case.n_members)
        self.open_loop = self.plan(State(0, arrays["soc_initial_kwh"], zeros, zeros))

    def act(self, state: State) -> Decision:
        """Return the open-loop action of step ``state.t``."""
        t = state.t
        info = (
            {
                "solves": 1,
                "inaccurate_solves": int(self.lp.inaccurate),
                "window_bill_eur": self.open_loop.bill_eur,
            }
            if t == 0
            else {}
        )
        return Decision(self.open_loop.charge_kwh[:, t], self.open_loop.discharge_kwh[:, t], info)


def make_policy(name: str, horizon: int, **options) -> Policy:
    """Return the policy called ``name`` with horizon K = ``horizon`` steps.

    ``options`` go to the distributed policy (engine, tolerances, round limit).
    """
    if name == "optimal":
        return Optimal()
    if name == "look-ahead":
        return LookAhead(horizon, "ended", name)
    if name == "look-ahead-billing":
        return LookAhead(horizon, "all", name)
    if name == "look-ahead-decoupling":
        return LookAhead(horizon, "own", name)
    if name == "distributed":
        from dec.reckeys.admm import DistributedLookAheadBilling

        return DistributedLookAheadBilling(horizon, **options)
    raise ValueError(f"unknown policy {name!r}")
