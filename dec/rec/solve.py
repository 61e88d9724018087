"""Solving the REC models with HiGHS: relax, round, verify; the MILP only when needed.

A :class:`ModelSolver` compiles one model once (cvxpy DPP: later solves only change
the LEM prices and the cost bounds) and solves, each LP warm-started from the last
basis (:mod:`dec.rec.highs`):

1. the LP relaxation: a lower bound L of the MILP optimum;
2. the LP with the binaries rounded from the relaxation (where a relaxed binary is
   fractional, from the continuous solution: charge if the battery charges more than
   it discharges, ...): a feasible solution of cost U;
3. if U <= L within :data:`MIP_REL_GAP`, that solution is optimal (L <= OPT <= U);
   otherwise a MILP with only the binaries free whose rounding conflicts with the
   relaxed solution (fractional, and their rounded constraints not met by it),
   accepted under the same test, and else the full MILP, started from the best
   solution found (or from the last solve's optimum, which HiGHS ignores if the new
   parameters make it infeasible); its binaries are then fixed in the LP.

A solve with the parameters of the last one returns its solution (a pricing loop's
last iteration repeats the prices of the one before).

The LP with fixed binaries is the one read for values and for the dual prices (the
shadow prices of the pool balance with the binaries at the optimum).
"""

from __future__ import annotations

import time
from typing import Any

import cvxpy as cp
import numpy as np

from dec.errors import InfeasibleError, SolverLimit
from dec.rec.data import RecData
from dec.rec.highs import OPTIMAL, TIME_LIMIT, HighsDriver
from dec.rec.model import Kind, RecModel, build_model

#: Relative optimality tolerance (HiGHS's MIP gap, and of the relax-round-verify proof).
MIP_REL_GAP = 1e-6
#: Solver values are rounded to this many decimals, which removes the 1e-12 noise of
#: the simplex (0.39999999999999997 -> 0.4) and keeps every meaningful digit.
DECIMALS = 9
#: Dual prices are rounded to this many decimals (EUR/kWh), below the effect of the
#: model's tie-break cost.
DUAL_DECIMALS = 5

#: Energies below this are zero when the relaxation is checked against rounded binaries, kWh.
_EPS_KWH = 1e-7


def clean(values: np.ndarray | None) -> np.ndarray:
    """Round solver values to :data:`DECIMALS` and turn -0.0 into 0.0."""
    return np.round(np.asarray(values, dtype=float), DECIMALS) + 0.0


def _binary_values(var: cp.Variable) -> np.ndarray:
    """Return a solved binary's values (zeros when it is in no constraint)."""
    if var.value is None:
        return np.zeros(var.shape)
    return np.asarray(var.value, dtype=float)


def read_values(model: RecModel) -> dict[str, np.ndarray]:
    """Return every variable's value (continuous cleaned, binaries 0.0/1.0) by name."""
    out = {
        name: clean(expr.value) if expr.value is not None else np.zeros(expr.shape)
        for name, expr in model.variables.items()
    }
    for name, var in model.binaries.variables.items():
        out[name] = np.round(_binary_values(var)) + 0.0
    return out


def member_exchange(model: RecModel, vals: dict[str, np.ndarray]) -> np.ndarray:
    """Net purchase of each meter in the community, ``e_pur - e_sale`` (N, T), kWh."""
    if model.kind == "pool":
        return vals["e_pur"] - vals["e_sale"]
    exchange = np.zeros(model.data.e_c.shape)
    if model.kind == "bilateral" and len(model.pairs):
        np.add.at(exchange, model.pairs.first, vals["e_pur"] - vals["e_sale"])
    return exchange


def _rounded_binaries(
    model: RecModel, driver: HighsDriver
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Binaries for the LP relaxation's solution: its values where integral, else by rule.

    Returns the binaries and, for each, where the relaxation was fractional and its
    solution does not already satisfy the constraints of the rounded value (a battery
    that only charges satisfies those of ``delta_bc = 1`` whatever the relaxed value):
    only there can a different value do better.
    """
    vals = read_values(model)
    cmet = vals["e_cmet"]
    exchange = member_exchange(model, vals)
    rules = {
        "delta_sup": vals["supply"] >= vals["surplus"],
        "delta_bc": vals.get("e_bc", 0.0) >= vals.get("e_bd", 0.0),
        "delta_slc": np.maximum(cmet, 0.0) <= np.maximum(exchange, 0.0),
        "delta_cmet": cmet <= 0,
        "delta_alc": exchange <= 0,
        "delta_coeff": cmet > 0,
        "delta_meter_balance": cmet < 0,
        "delta_rec_balance": cmet.sum(axis=0) < 0,
    }
    net_sale = -exchange
    satisfied = {
        "delta_sup": np.minimum(vals["supply"], vals["surplus"]) <= _EPS_KWH,
        "delta_bc": np.minimum(vals.get("e_bc", 0.0), vals.get("e_bd", 0.0)) <= _EPS_KWH,
        "delta_coeff": np.where(rules["delta_coeff"], net_sale, net_sale + cmet) <= _EPS_KWH,
    }
    guess, conflicts = {}, {}
    for name, var in model.binaries.variables.items():
        relaxed = driver.raw_value(var)
        relaxed = np.zeros(var.shape) if relaxed is None else relaxed
        nearest = np.round(relaxed)
        is_fractional = np.abs(relaxed - nearest) > 1e-6
        guess[name] = np.where(is_fractional, np.asarray(rules[name], dtype=float), nearest)
        conflicts[name] = is_fractional & ~satisfied.get(name, False)
        guess[name] = guess[name] + 0.0
    return guess, conflicts


class ModelSolver:
    """Solves one REC model exactly, re-using its compiled problem and warm starts.

    Parameters
    ----------
    data
        Validated data.
    kind
        ``individual``, ``pool`` or ``bilateral``.
    bounded
        With the per-meter cost bounds of a two-stage second stage.
    time_limit_s
        Time limit of a MILP solve, s: its LPs and MILPs together (None: none).
    mip_rel_gap
        Relative optimality tolerance (None: :data:`MIP_REL_GAP`).
    keep_incumbent
        A MILP that reaches the time limit with a solution keeps it (its binaries fixed
        in the LP, the reason in :attr:`time_limit_reached`) instead of raising
        :class:`~dec.errors.SolverLimit`.

    Attributes
    ----------
    time_limit_reached
        Why the last solve's values are not proven optimal (a MILP kept at its time
        limit), else None.

    """

    def __init__(
        self,
        data: RecData,
        kind: Kind,
        bounded: bool = False,
        time_limit_s: float | None = None,
        mip_rel_gap: float | None = None,
        keep_incumbent: bool = False,
    ):
        self.data = data
        self.keep_incumbent = keep_incumbent
        self.time_limit_reached: str | None = None
        self.kind = kind
        self.bounded = bounded
        self.gap = MIP_REL_GAP if mip_rel_gap is None else float(mip_rel_gap)
        self.time_limit_s = time_limit_s
        self.model = build_model(data, kind, bounded=bounded)
        self.driver = HighsDriver(self.model.problem)
        self._last_parameters: tuple[bytes, bytes] | None = None

    def solve(
        self, what: str, l_lem: np.ndarray | None = None, bound: np.ndarray | None = None
    ) -> RecModel:
        """Solve with LEM prices ``l_lem`` (T,) and cost bounds ``bound`` (N,).

        Parameters
        ----------
        what
            Names the problem in error messages (e.g. ``"stage 2 (pool)"``).
        l_lem, bound
            Parameter values (None where the model has none).

        Returns
        -------
        RecModel
            The model, holding the values of the LP with the optimal binaries fixed
            (and its duals).

        Raises
        ------
        InfeasibleError
            If the problem is infeasible or HiGHS does not reach optimality.
        SolverLimit
            If the MILP reaches the time limit before HiGHS proves an optimum.

        """
        model = self.model
        if model.l_lem is not None:
            model.l_lem.value = np.zeros(self.data.n_steps) if l_lem is None else l_lem
        if model.bound is not None:
            model.bound.value = bound
        parameters = tuple(
            np.asarray(p.value if p is not None else [], dtype=float).tobytes()
            for p in (model.l_lem, model.bound)
        )
        if parameters == self._last_parameters:
            return model
        self._last_parameters = None
        self.time_limit_reached = None
        self._solve(what)
        self._last_parameters = parameters
        return model

    def _solve(self, what: str) -> None:
        """Solve with the current parameter values (see :meth:`solve`)."""
        model = self.model
        previous = self.driver.last_solution
        options: dict[str, Any] = {"mip_rel_gap": self.gap}
        if self.time_limit_s is not None:
            options["time_limit"] = float(self.time_limit_s)
        began = time.perf_counter()
        proved, start = self._relax_and_round(what, options)
        if proved:
            return
        if self.time_limit_s is not None:  # the limit is for the whole solve
            options["time_limit"] = max(0.0, self.time_limit_s - (time.perf_counter() - began))
        start = previous if start is None else start
        status = self.driver.solve("milp", options=options, start=start)
        if status == "kInfeasible":
            raise InfeasibleError(
                f"The {what} MILP has no solution; check the meters' data (power limits, "
                "storage limits and initial energy)."
            )
        if status == TIME_LIMIT:
            if not (self.keep_incumbent and np.isfinite(self.driver.mip_gap)):
                raise SolverLimit(self._limit_message(what))
            self.time_limit_reached = self._limit_message(what)
        if status not in (OPTIMAL, TIME_LIMIT) or not self._fixed(
            _rounded_binaries(model, self.driver)[0]
        ):
            raise InfeasibleError(
                f"The {what} MILP was not solved to optimality (HiGHS status {status}); "
                "check the meters' data or allow more time."
            )

    def _limit_message(self, what: str) -> str:
        """Say that the ``what`` MILP stopped at the time limit, and how far it got."""
        gap = self.driver.mip_gap
        found = (
            f"its best solution was {100 * gap:.3g} % above the proven bound"
            if gap is not None and np.isfinite(gap)
            else "it had found no solution yet"
        )
        return (
            f"The {what} MILP reached the time limit of {self.time_limit_s:g} s before "
            f"HiGHS proved an optimum within the relative gap {self.gap:g} ({found}). "
            "The input is valid: allow more time or a larger gap (the rec-pricing "
            "options --lem-time-limit and --lem-mip-gap; timeout and mipgap in dec.rec)."
        )

    def _relax_and_round(self, what: str, options: dict) -> tuple[bool, np.ndarray | None]:
        """Try to prove an optimum from the LP relaxation (steps 1-3 of the module).

        Returns whether it did (the model then holds it) and the best feasible solution
        found otherwise (a start for the MILP), or None.
        """
        model = self.model
        status = self.driver.solve("relaxed")
        if status != OPTIMAL:
            raise InfeasibleError(
                f"The {what} MILP has no solution (its LP relaxation ended with {status}); "
                "check the meters' data (power limits, storage limits and initial energy)."
            )
        lower = model.problem.value
        tolerance = self.gap * max(1.0, abs(lower))
        guess, conflicts = _rounded_binaries(model, self.driver)
        start = None
        if self._fixed(guess):
            if model.problem.value <= lower + tolerance:
                return True, None
            start = self.driver.last_solution
        if not any(free.any() for free in conflicts.values()):
            return False, start
        status = self.driver.solve("milp", self._free(guess, conflicts), options, start)
        if status == OPTIMAL:
            start = self.driver.last_solution
            if (
                self._fixed(_rounded_binaries(model, self.driver)[0])
                and model.problem.value <= lower + tolerance
            ):
                return True, None
        elif status == TIME_LIMIT and np.isfinite(self.driver.mip_gap):
            start = self.driver.last_solution  # its best solution, feasible for the MILP
        return False, start

    def _free(self, guess: dict[str, np.ndarray], free: dict[str, np.ndarray]) -> dict:
        """Binaries fixed to ``guess`` except where ``free`` holds (NaN: free)."""
        out = {}
        for name, value in guess.items():
            value = value.astype(float)
            value[free[name]] = np.nan
            out[self.model.binaries.variables[name]] = value
        return out

    def _fixed(self, binaries: dict[str, np.ndarray]) -> bool:
        """Solve the LP with the binaries fixed; True when it is solved to optimality."""
        values = {self.model.binaries.variables[k]: v for k, v in binaries.items()}
        return self.driver.solve("fixed", values) == OPTIMAL


def dual_prices(model: RecModel) -> np.ndarray:
    """Return |dual| of the per-step pool balance of a solved fixed-binary LP, EUR/kWh."""
    return np.round(np.abs(model.balance.dual_value), DUAL_DECIMALS) + 0.0
