"""HiGHS on a compiled cvxpy MILP, as an LP relaxation, with binaries fixed, or as a MILP.

cvxpy builds and compiles the model once (DPP: later compilations only apply new
parameter values); this driver passes the compiled matrices to HiGHS itself so that
one compiled problem serves three solves and every LP starts from the last optimal
basis (a warm start cvxpy's own HiGHS interface does not give). Solutions are handed
back to cvxpy with :meth:`cvxpy.Problem.unpack_results`, so variable values and
constraint duals are read as usual.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Literal

import cvxpy as cp
import cvxpy.settings as s
import highspy
import numpy as np
from cvxpy.reductions.solvers.conic_solvers.highs_conif import dims_to_solver_dict

from dec.solving import silence_highs_banner

Mode = Literal["relaxed", "fixed", "milp"]

#: HiGHS model status names :meth:`HighsDriver.solve` returns.
OPTIMAL, TIME_LIMIT = "kOptimal", "kTimeLimit"
_FEASIBLE = int(highspy.SolutionStatus.kSolutionStatusFeasible)


class HighsDriver:
    """Solves one cvxpy problem with boolean variables in three ways.

    Parameters
    ----------
    problem
        A DPP problem whose boolean variables are the on/off decisions.

    Attributes
    ----------
    mip_gap
        Relative gap between the best solution and the bound of the last MILP solve
        (HiGHS's ``mip_gap``; infinite without a solution), None before any.

    """

    def __init__(self, problem: cp.Problem):
        self.problem = problem
        self._basis: Any = None
        self._shape: tuple[int, int] | None = None
        self._x: np.ndarray | None = None
        self._offsets: dict[int, int] = {}
        self.mip_gap: float | None = None

    @property
    def last_solution(self) -> np.ndarray | None:
        """The last optimal solution, in HiGHS's column order."""
        return self._x

    def raw_value(self, var: cp.Variable) -> np.ndarray | None:
        """Return ``var``'s value in the last solution as HiGHS found it.

        cvxpy rounds boolean variables when it unpacks a solution; the relaxation's
        fractional values are read here (None if ``var`` is in no constraint).
        """
        if self._x is None or var.id not in self._offsets:
            return None
        start = self._offsets[var.id]
        return self._x[start : start + var.size].reshape(var.shape, order="F")

    def solve(
        self,
        mode: Mode,
        fixed: dict[cp.Variable, np.ndarray] | None = None,
        options: dict[str, Any] | None = None,
        start: np.ndarray | None = None,
    ) -> str:
        """Solve and unpack the solution into the problem's variables and constraints.

        Parameters
        ----------
        mode
            ``relaxed`` (booleans continuous in [0, 1]), ``fixed`` (booleans fixed to
            ``fixed``, an LP) or ``milp`` (booleans not in ``fixed`` are integer).
        fixed
            Values of boolean variables (every one in mode ``fixed``; in mode ``milp``
            entries may be NaN, meaning free).
        options
            HiGHS options (e.g. ``mip_rel_gap``, ``time_limit``).
        start
            A feasible solution (as :attr:`last_solution`) to start a MILP from.

        Returns
        -------
        str
            HiGHS's model status name (``"kOptimal"`` when solved). A MILP stopped at
            its time limit (``"kTimeLimit"``) with a solution is unpacked too.

        """
        data, chain, inverse = self.problem.get_problem_data(cp.HIGHS)
        lp = self._lp(data, mode, fixed)
        silence_highs_banner()  # the API is as quiet as the command line
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        for name, value in (options or {}).items():
            highs.setOptionValue(name, value)
        highs.passModel(lp)
        shape = (lp.num_row_, lp.num_col_)
        if mode != "milp" and self._basis is not None and self._shape == shape:
            highs.setBasis(self._basis)
        if mode == "milp" and start is not None and start.size == lp.num_col_:
            solution = highspy.HighsSolution()
            solution.col_value = start.tolist()
            highs.setSolution(solution)
        start = time.perf_counter()
        highs.run()
        status = highs.getModelStatus().name
        found = highs.getInfo().primal_solution_status == _FEASIBLE
        if mode == "milp":
            self.mip_gap = float(highs.getInfo().mip_gap) if found else np.inf
        incumbent = mode == "milp" and status == TIME_LIMIT and found
        if status != OPTIMAL and not incumbent:
            return status
        if mode != "milp":
            self._basis, self._shape = highs.getBasis(), shape
        self._x = np.array(highs.getSolution().col_value)
        self._offsets = data[s.PARAM_PROB].var_id_to_col
        inverse[-1].inverse_data["is_mip"] = mode == "milp"
        results = {
            "solution": highs.getSolution(),
            "basis": highs.getBasis(),
            "info": highs.getInfo(),
            "model_status": status,
            "run_time": time.perf_counter() - start,
        }
        with warnings.catch_warnings():
            # cvxpy warns that a solution at a time limit "may be inaccurate": the
            # caller knows (the status it gets back) and reports it
            warnings.simplefilter("ignore", UserWarning)
            self.problem.unpack_results(results, chain, inverse)
        return status

    def _lp(self, data: dict, mode: Mode, fixed: dict | None) -> highspy.HighsLp:
        """Return the compiled problem as a HiGHS model (as cvxpy's interface builds it)."""
        inf = highspy.kHighsInf
        dims = dims_to_solver_dict(data[s.DIMS])
        a = data[s.A].tocsc()
        b = data[s.B]
        n_eq, n_leq = dims[s.EQ_DIM], dims[s.LEQ_DIM]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = data[s.C]
        lp.row_lower_ = np.concatenate([b[:n_eq], np.full(n_leq, -inf)])
        lp.row_upper_ = b
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        lower = data[s.LOWER_BOUNDS]
        upper = data[s.UPPER_BOUNDS]
        lower = np.full(a.shape[1], -inf) if lower is None else lower.copy()
        upper = np.full(a.shape[1], inf) if upper is None else upper.copy()
        booleans = np.asarray(data[s.BOOL_IDX], dtype=int)
        lower[booleans] = np.maximum(lower[booleans], 0.0)
        upper[booleans] = np.minimum(upper[booleans], 1.0)
        offsets = data[s.PARAM_PROB].var_id_to_col
        for var, value in (fixed or {}).items():
            if var.id in offsets:
                cols = offsets[var.id] + np.arange(var.size)
                flat = np.asarray(value, dtype=float).ravel(order="F")
                known = ~np.isnan(flat)
                lower[cols[known]] = flat[known]
                upper[cols[known]] = flat[known]
        lp.col_lower_ = lower
        lp.col_upper_ = upper
        if mode == "milp" and booleans.size:
            integrality = [highspy.HighsVarType.kContinuous] * a.shape[1]
            for index in booleans:
                integrality[index] = highspy.HighsVarType.kInteger
            lp.integrality_ = integrality
        return lp
