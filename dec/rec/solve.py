"""Solving the REC models with HiGHS, reading cleaned values and the pool's dual prices."""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from dec.errors import InfeasibleError
from dec.rec.model import RecModel, build_model

#: Relative MIP gap given to HiGHS (rec_op_lem_prices gives CBC 1e-3).
MIP_REL_GAP = 1e-7
#: Solver values are rounded to this many decimals, which removes the 1e-12 noise of
#: the simplex (0.39999999999999997 -> 0.4) and keeps every meaningful digit.
DECIMALS = 9

_STATUS = {
    cp.OPTIMAL: "Optimal",
    cp.OPTIMAL_INACCURATE: "Optimal",
    cp.INFEASIBLE: "Infeasible",
    cp.INFEASIBLE_INACCURATE: "Infeasible",
    cp.UNBOUNDED: "Unbounded",
    cp.UNBOUNDED_INACCURATE: "Unbounded",
}


def clean(values: np.ndarray | None) -> np.ndarray:
    """Round solver values to :data:`DECIMALS` and turn -0.0 into 0.0."""
    return np.round(np.asarray(values, dtype=float), DECIMALS) + 0.0


def solve_model(
    model: RecModel,
    what: str,
    time_limit_s: float | None = None,
    mip_rel_gap: float | None = None,
) -> str:
    """Solve ``model`` with HiGHS and return the rec_op_lem_prices status string.

    Parameters
    ----------
    model
        A built model with its parameters set.
    what
        Names the problem in the error message (e.g. ``"stage 2 (pool)"``).
    time_limit_s
        HiGHS time limit; None for none.
    mip_rel_gap
        Relative MIP gap; None for :data:`MIP_REL_GAP`.

    Returns
    -------
    str
        ``"Optimal"``.

    Raises
    ------
    InfeasibleError
        If HiGHS does not prove optimality (infeasible, unbounded, time limit).

    """
    gap = MIP_REL_GAP if mip_rel_gap is None else float(mip_rel_gap)
    options = {"mip_rel_gap": gap} if not model.binaries.fixed else {}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    try:
        model.problem.solve(solver=cp.HIGHS, **options)
    except cp.error.SolverError as err:
        raise InfeasibleError(f"The {what} MILP could not be solved: {err}.") from None
    status = _STATUS.get(model.problem.status, "Not Solved")
    if status != "Optimal":
        raise InfeasibleError(
            f"The {what} MILP was not solved to optimality (milp_status = {status}); check "
            "the meters' data (power limits, storage limits and initial energy)."
        )
    return status


def binary_values(var: cp.Variable) -> np.ndarray:
    """Return a solved binary's 0.0/1.0 values (zeros when it is in no constraint)."""
    if var.value is None:
        return np.zeros(var.shape)
    return np.round(np.asarray(var.value, dtype=float)) + 0.0


def read_values(model: RecModel) -> dict[str, np.ndarray]:
    """Return every variable's value (continuous cleaned, binaries 0.0/1.0) by name."""
    out = {
        name: clean(expr.value) if expr.value is not None else np.zeros(expr.shape)
        for name, expr in model.variables.items()
    }
    for name, var in model.binaries.variables.items():
        out[name] = binary_values(var)
    return out


def dual_prices(milp: RecModel, lp: RecModel | None = None) -> np.ndarray:
    """Return |dual| of the per-step pool balance with the binaries fixed at the MILP optimum.

    Parameters
    ----------
    milp
        A solved pool model.
    lp
        The fixed-binary LP of the same data (built when None); pass one to reuse it.

    Returns
    -------
    numpy.ndarray
        Shadow prices of the pool balance, EUR/kWh, shape (T,).

    """
    if lp is None:
        lp = build_model(milp.data, "pool", bounded=milp.bound is not None, fixed=True)
    for name, var in milp.binaries.variables.items():
        lp.binaries.values[name].value = binary_values(var)
    lp.l_lem.value = milp.l_lem.value
    if milp.bound is not None:
        lp.bound.value = milp.bound.value
    solve_model(lp, "fixed-binary LP of the pool")
    return clean(np.abs(lp.balance.dual_value))
