"""The open-loop problem of one window, and the data that fills it.

At step ``t`` a look-ahead policy with horizon K optimises the actions of steps
``t … t+K−1`` (K actions; the window ends at time ``T'(t) = min(t+K, T)``) and the
keys of the metering periods overlapping them. The window always has K steps: steps
past the horizon T are padding with no consumption, no production and zero prices (in
periods past T, which bill nothing and allow no exchange), where the fees and the idle
tie-break make idling optimal. Which window period a window step belongs to
depends only on the window's phase ``t mod Δm`` (its position in the metering period),
so one problem per phase, built once with the aggregation of steps into periods as a
sparse constant, serves every window of that phase with new parameter values (memory
linear in the window length; a dense period × step matrix grows as W²). It is compiled
once (cvxpy DPP) where that fits :data:`DPP_MAX_SQUARED_PARAMETER_SIZE`.

Which period bills enter the objective depends on the policy:

- ``ended``: periods that end inside the window (``look-ahead``);
- ``all``: every period overlapping the window; a period that ends after ``T'(t)``
  is billed on its meters up to ``T'(t)`` with virtual keys (``look-ahead-billing``,
  ``optimal``);
- ``own``: every period, with community exchanges forbidden (the first stage of
  ``look-ahead-decoupling``: each member faces its own tariff).

The price of a period is the mean of its steps' prices; for a period that ends after
``T'(t)``, the mean of the steps known at ``t`` (elapsed steps and window steps).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from dec.reckeys.battery_block import build_battery_members, column_limits, smoothing_weights
from dec.reckeys.case import RecCase
from dec.reckeys.exactness import binary_members
from dec.reckeys.forecast import Forecast, Forecaster
from dec.solving import solve_checked

#: Which metering periods a window bills (see the module docstring).
BillingRule = Literal["ended", "all", "own"]

#: Strength κ (EUR/kWh) of the strictly convex tie-break of the receding-horizon
#: policies: ``κ/2 · (charge²/charge_max + discharge²/discharge_max)`` per battery and
#: step (marginal cost κ at full power). Window LPs are degenerate (e.g. a discharge
#: can move between steps of one period at no cost) and the closed-loop bill depends
#: on which optimal plan is applied; with this term the plan is unique (the optimal
#: plan with the smoothest battery actions, up to near-ties below κ), so a policy is
#: well defined and its distributed solution applies the same actions. κ is 1 % of a
#: typical price spread, enough curvature for ADMM to find the plan to 1e-6 kWh in tens
#: of rounds (with 1e-4 it needed hundreds); plans whose bills differ by more than κ
#: times the energy moved are not affected.
SMOOTHING_EUR_PER_KWH = 1e-3

#: Clarabel tolerances of the QPs: near-ties at the scale of the fees (1e-6–1e-5 EUR/kWh)
#: are resolved only with tight tolerances (an interior point leaves a variable with
#: reduced cost r at about μ/r from its bound).
CLARABEL_OPTIONS = {
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-12,
    "tol_ktratio": 1e-10,
}

#: HiGHS options of the MILP variant: the default relative gap, 1e-4, is too coarse, and with
#: the default feasibility tolerances (1e-7) HiGHS returned a plan worth 2.4e-7 of idle
#: tie-break (a battery charging where no bill was at stake) as optimal.
MIP_OPTIONS = {
    "mip_rel_gap": 1e-9,
    "mip_abs_gap": 1e-9,
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
    "mip_feasibility_tolerance": 1e-10,
}

#: Cost per kWh charged and per kWh discharged added to every window objective (not to
#: the bills): among plans of equal bill, the policies prefer the one that moves least
#: energy, so a battery with no reason to act stays idle, also with a zero discharge
#: fee (without a cost at zero, an interior-point solver leaves such a battery at a few
#: 1e-6 kWh, which would be applied as real actions). Above the LP solver's optimality
#: tolerance (1e-7).
IDLE_TIE_BREAK_EUR_PER_KWH = 1e-6

#: Budget of cvxpy's compiled map from parameters to problem data (DPP), in the sum over
#: the parameters of their squared sizes: that map takes about 100 bytes per pair of a
#: parameter entry and a row of the expression it multiplies, quadratic in the window
#: (5e6: about 0.5 GB; Case I's whole horizon of 720 steps, 4.3e6). A window problem
#: over budget, or solved only once, is canonicalised anew at each solve instead, in
#: time and memory linear in its size (and faster than compiling for a single solve).
DPP_MAX_SQUARED_PARAMETER_SIZE = 5_000_000


def n_window_periods(n_steps: int, period_steps: int) -> int:
    """Return the most metering periods a window of ``n_steps`` steps can overlap."""
    return (period_steps - 1 + n_steps - 1) // period_steps + 1


def window_step_periods(phase: int, n_steps: int, period_steps: int) -> np.ndarray:
    """Return the window period of each step of a window starting at ``phase`` (W,).

    ``phase`` is the window's first step modulo the metering period (steps of the
    period that elapsed before the window).
    """
    return (phase + np.arange(n_steps)) // period_steps


def period_indicator(period: np.ndarray, n_periods: int) -> sp.csr_matrix:
    """Return the sparse 0/1 matrix (n, ``n_periods``) with a 1 at (k, ``period[k]``)."""
    n = len(period)
    return sp.csr_matrix((np.ones(n), (np.arange(n), period)), shape=(n, n_periods))


def period_sums(values: np.ndarray, period: np.ndarray, n_periods: int) -> np.ndarray:
    """Return the sums of the columns of ``values`` (N, n) per period (N, ``n_periods``).

    ``period`` (n,) gives the period of each column; time and memory are linear in n.
    """
    return np.asarray(values @ period_indicator(period, n_periods))


@dataclass
class WindowInputs:
    """Numbers of one window (N members, W steps, L window periods).

    Attributes
    ----------
    t
        First step of the window.
    net_kwh
        Forecast production − consumption per member and step, kWh (N, W); 0 past T.
    step_period
        Window period of each window step (W,), see :func:`window_step_periods`; steps
        past T fall in periods past T.
    consumption_meter_kwh, production_meter_kwh
        Meters of the plain members (without battery) per window period, elapsed
        part included (N, L); rows of battery members hold only the elapsed part.
    buy_eur_per_kwh, sell_eur_per_kwh
        Period prices, 0 for periods whose bill is not counted (N, L).
    exchange_cap_kwh
        Upper bound of every import and export of a period; 0 forbids exchanges (L,).
    periods
        Absolute index of each window period, −1 for padding (L,).

    """

    t: int
    net_kwh: np.ndarray
    step_period: np.ndarray
    consumption_meter_kwh: np.ndarray
    production_meter_kwh: np.ndarray
    buy_eur_per_kwh: np.ndarray
    sell_eur_per_kwh: np.ndarray
    exchange_cap_kwh: np.ndarray
    periods: np.ndarray


def window_inputs(
    case: RecCase,
    forecaster: Forecaster,
    t: int,
    n_steps: int,
    elapsed_consumption_kwh: np.ndarray,
    elapsed_production_kwh: np.ndarray,
    rule: BillingRule,
) -> WindowInputs:
    """Assemble the numbers of the window of ``n_steps`` steps starting at step ``t``.

    Parameters
    ----------
    case
        The decision process.
    forecaster
        Source of the exogenous values of steps ``t …``.
    t
        Current step.
    n_steps
        Window length W (the policy horizon K).
    elapsed_consumption_kwh, elapsed_production_kwh
        Meters of the current period before step t, kWh (N,).
    rule
        ``ended``, ``all`` or ``own`` (see the module docstring).

    """
    period_steps, horizon = case.metering_period_steps, case.n_steps
    n_periods = n_window_periods(n_steps, period_steps)
    forecast = forecaster.forecast(t, n_steps)
    known = forecast.n_steps
    net = np.zeros((case.n_members, n_steps))
    net[:, :known] = forecast.production_kwh - forecast.consumption_kwh

    first = t // period_steps
    periods = first + np.arange(n_periods)
    periods[periods * period_steps >= horizon] = -1
    step_period = window_step_periods(t - first * period_steps, n_steps, period_steps)

    buy, sell = _known_period_prices(case, forecast, t, n_periods)
    period_end = (periods + 1) * period_steps
    counted = periods >= 0
    if rule == "ended":
        counted &= period_end <= min(t + n_steps, horizon)
    buy[:, ~counted] = 0.0
    sell[:, ~counted] = 0.0

    cons = np.zeros((case.n_members, n_periods))
    prod = np.zeros((case.n_members, n_periods))
    cons[:, 0] = elapsed_consumption_kwh
    prod[:, 0] = elapsed_production_kwh
    plain = case.plain_index
    cons[plain] += period_sums(np.maximum(-net[plain], 0.0), step_period, n_periods)
    prod[plain] += period_sums(np.maximum(net[plain], 0.0), step_period, n_periods)

    # A bound no import or export can reach: every meter filled at full battery power.
    arrays = case.battery_arrays()
    battery_kwh = arrays["charge_max_kwh"].sum() + arrays["discharge_max_kwh"].sum()
    window_kwh = np.abs(net).sum(0) + battery_kwh
    bound = (
        cons.sum(0)
        + prod.sum(0)
        + np.bincount(step_period, weights=window_kwh, minlength=n_periods)
        + 1.0
    )
    cap = np.where(counted & (rule != "own"), bound, 0.0)
    return WindowInputs(t, net, step_period, cons, prod, buy, sell, cap, periods)


def _known_period_prices(
    case: RecCase, forecast: Forecast, t: int, n_periods: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the buying and selling prices of the periods of the window at ``t``, EUR/kWh (N, L).

    A period's price is the mean of its steps known at ``t``: the elapsed steps of the
    current period (history) and the forecast steps; 0 for a period with no known step
    (past the horizon).
    """
    start = t - t % case.metering_period_steps
    slot = (np.arange(start, t + forecast.n_steps) - start) // case.metering_period_steps
    count = np.bincount(slot, minlength=n_periods).astype(float)
    prices = []
    for history, ahead in (
        (case.buying_price_eur_per_kwh, forecast.buy_eur_per_kwh),
        (case.selling_price_eur_per_kwh, forecast.sell_eur_per_kwh),
    ):
        known = np.concatenate([history[:, start:t], ahead], axis=1)
        total = period_sums(known, slot, n_periods)
        prices.append(np.divide(total, count, out=np.zeros_like(total), where=count > 0))
    return prices[0], prices[1]


@dataclass
class WindowPlan:
    """Solution of a window problem.

    Attributes
    ----------
    charge_kwh, discharge_kwh, soc_kwh
        Battery plans (B, W); the SoC at the end of each step.
    imports_kwh, exports_kwh
        Keys as energies per member and window period (N, L).
    bill_eur
        Sum of the counted bills (fees included, tie-breaks excluded), EUR.

    """

    charge_kwh: np.ndarray
    discharge_kwh: np.ndarray
    soc_kwh: np.ndarray
    imports_kwh: np.ndarray
    exports_kwh: np.ndarray
    bill_eur: float


class WindowLP:
    """The window problem of a case at one phase, built once and re-solved per step.

    Parameters
    ----------
    case
        The decision process (its batteries' limits are compiled in as constants).
    n_steps
        Window length W.
    phase
        ``t mod Δm`` of the windows it solves (steps of the metering period elapsed
        before the window); the aggregation of window steps into periods is a constant.
    smoothing_eur_per_kwh
        κ of the strictly convex tie-break; 0 keeps the problem a linear program. It is
        ignored when the meters need binaries (HiGHS solves MILPs, not MIQPs).
    solver
        cvxpy solver name; default HiGHS for LPs and MILPs, Clarabel for QPs.
    resolved
        Whether it is solved more than once: it is then compiled once with parameters
        (cvxpy DPP) if that fits :data:`DPP_MAX_SQUARED_PARAMETER_SIZE`.

    """

    def __init__(
        self,
        case: RecCase,
        n_steps: int,
        phase: int,
        smoothing_eur_per_kwh: float = 0.0,
        solver: str | None = None,
        resolved: bool = True,
    ):
        self.case = case
        self.smoothing = smoothing_eur_per_kwh
        self.n_steps = n_steps
        self.phase = phase
        self.n_periods = n_window_periods(n_steps, case.metering_period_steps)
        self.battery = case.battery_index
        self.plain = case.plain_index
        self.binary = binary_members(case)
        if self.binary.any():  # a MILP: HiGHS, no quadratic tie-break, tight MIP gap
            self.smoothing = 0.0
        self.solver = solver or (cp.CLARABEL if self.smoothing else cp.HIGHS)
        self.solver_options = (
            CLARABEL_OPTIONS
            if self.solver == cp.CLARABEL
            else MIP_OPTIONS
            if self.binary.any()
            else {}
        )
        self._build()
        squared_size = sum(p.size**2 for p in self.problem.parameters())
        self.dpp = resolved and squared_size <= DPP_MAX_SQUARED_PARAMETER_SIZE

    def _build(self) -> None:
        case, W, L = self.case, self.n_steps, self.n_periods
        nb, npl = len(self.battery), len(self.plain)
        step_period = window_step_periods(self.phase, W, case.metering_period_steps)
        membership = period_indicator(step_period, L).T.tocsr()  # (L, W)
        self.cap = cp.Parameter(L, nonneg=True, name="exchange_cap_kwh")
        objective, constraints, balance = 0, [], 0
        if nb:
            limits = column_limits(case.battery_arrays())
            n_bin = int(self.binary.sum())
            if n_bin:
                self.g_plus_max = cp.Parameter((n_bin, W), nonneg=True)
                self.g_minus_max = cp.Parameter((n_bin, W), nonneg=True)
                limits["g_plus_max_kwh"] = self.g_plus_max
                limits["g_minus_max_kwh"] = self.g_minus_max
            smoothing = smoothing_weights(limits, self.smoothing) if self.smoothing else None
            self.smoothing_weights = smoothing
            self.members = build_battery_members(
                nb,
                W,
                L,
                limits,
                membership,
                self.cap,
                case.discharge_fee_eur_per_kwh,
                IDLE_TIE_BREAK_EUR_PER_KWH,
                self.binary,
                smoothing,
            )
            objective += self.members.objective
            constraints += self.members.constraints
            balance += cp.sum(self.members.imports - self.members.exports, axis=0)
        if npl:
            self.p_cons = cp.Parameter((npl, L), nonneg=True, name="plain_consumption_kwh")
            self.p_prod = cp.Parameter((npl, L), nonneg=True, name="plain_production_kwh")
            self.p_buy = cp.Parameter((npl, L), name="plain_buy_eur_per_kwh")
            self.p_sell = cp.Parameter((npl, L), name="plain_sell_eur_per_kwh")
            self.p_imports = cp.Variable((npl, L), nonneg=True)
            self.p_exports = cp.Variable((npl, L), nonneg=True)
            cap_rows = np.ones((npl, 1)) @ cp.reshape(self.cap, (1, L), order="C")
            constraints += [
                self.p_imports <= self.p_cons,
                self.p_exports <= self.p_prod,
                self.p_imports <= cap_rows,
                self.p_exports <= cap_rows,
            ]
            objective += -cp.sum(cp.multiply(self.p_buy, self.p_imports)) + cp.sum(
                cp.multiply(self.p_sell, self.p_exports)
            )
            balance += cp.sum(self.p_imports - self.p_exports, axis=0)
        self.balance = balance == 0
        constraints.append(self.balance)
        self.problem = cp.Problem(cp.Minimize(objective), constraints)

    def _set(self, x: WindowInputs) -> float:
        """Set the parameters from ``x``; return the constant part of the bill, EUR."""
        self.cap.value = x.exchange_cap_kwh
        constant = 0.0
        if len(self.battery):
            rows = self.battery
            constant += self.members.set(
                x.net_kwh[rows],
                x.step_period,
                x.consumption_meter_kwh[rows],
                x.production_meter_kwh[rows],
                x.buy_eur_per_kwh[rows],
                x.sell_eur_per_kwh[rows],
            )
            if self.binary.any():
                arrays = self.case.battery_arrays()
                bin_rows = rows[self.binary]
                self.g_plus_max.value = (
                    np.maximum(x.net_kwh[bin_rows], 0.0)
                    + arrays["discharge_max_kwh"][self.binary, None]
                )
                self.g_minus_max.value = (
                    np.maximum(-x.net_kwh[bin_rows], 0.0)
                    + arrays["charge_max_kwh"][self.binary, None]
                )
        if len(self.plain):
            rows = self.plain
            self.p_cons.value = x.consumption_meter_kwh[rows]
            self.p_prod.value = x.production_meter_kwh[rows]
            self.p_buy.value = x.buy_eur_per_kwh[rows]
            self.p_sell.value = x.sell_eur_per_kwh[rows]
            constant += float(
                np.sum(x.buy_eur_per_kwh[rows] * x.consumption_meter_kwh[rows])
                - np.sum(x.sell_eur_per_kwh[rows] * x.production_meter_kwh[rows])
            )
        return constant

    def set_soc(self, soc_kwh: np.ndarray) -> None:
        """Set the SoC of the battery members at the start of the window, kWh (B,)."""
        if len(self.battery):
            self.members.block.soc_initial.value = np.asarray(soc_kwh, dtype=float)[:, None]

    def solve(self, x: WindowInputs, soc_kwh: np.ndarray) -> WindowPlan:
        """Solve the window problem for the inputs ``x`` and initial SoC ``soc_kwh`` (B,).

        Raises
        ------
        SolverFailed
            If the solver fails or does not report an optimal solution (the window
            problem of valid input always has one: idle batteries are feasible).
        ValueError
            If the window of ``x`` does not start at this problem's phase.

        """
        if x.t % self.case.metering_period_steps != self.phase:
            raise ValueError(f"the window at step {x.t} is not of phase {self.phase}")
        constant = self._set(x)
        self.set_soc(soc_kwh)
        with warnings.catch_warnings():
            # Clarabel's "almost solved" (reduced tolerances, ~1e-8) is accepted and
            # counted in the run's facts rather than warned about.
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            solve_checked(
                self.problem,
                f"the window problem at step {x.t}",
                self.solver,
                (cp.OPTIMAL, cp.OPTIMAL_INACCURATE),
                ignore_dpp=not self.dpp,
                **self.solver_options,
            )
        self.inaccurate = self.problem.status == cp.OPTIMAL_INACCURATE
        n, nb = self.case.n_members, len(self.battery)
        W, L = self.n_steps, self.n_periods
        imports, exports = np.zeros((n, L)), np.zeros((n, L))
        charge = discharge = soc = np.zeros((nb, W))
        tie = 0.0
        if nb:
            b = self.members.block
            charge, discharge, soc = b.charge.value, b.discharge.value, b.soc.value
            imports[self.battery] = self.members.imports.value
            exports[self.battery] = self.members.exports.value
            tie = IDLE_TIE_BREAK_EUR_PER_KWH * float(charge.sum() + discharge.sum())
            if self.smoothing_weights is not None:
                w = self.smoothing_weights
                tie += float(
                    np.sum(w["charge"] * charge**2) + np.sum(w["discharge"] * discharge**2)
                )
        if len(self.plain):
            imports[self.plain], exports[self.plain] = self.p_imports.value, self.p_exports.value
        return WindowPlan(
            charge_kwh=np.maximum(charge, 0.0),
            discharge_kwh=np.maximum(discharge, 0.0),
            soc_kwh=soc,
            imports_kwh=imports,
            exports_kwh=exports,
            bill_eur=float(self.problem.value) - tie + constant,
        )
