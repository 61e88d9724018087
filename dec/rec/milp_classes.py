"""The MILP classes of rec_op_lem_prices: StageOneMILP, StageTwoMILPPool, StageTwoMILPBilateral.

Build one from a backpack, call ``solve_milp()``, read ``status`` and ``obj_value``,
then ``generate_outputs()``.

The backpack is validated when the object is created (``ValueError`` naming the
meter and field). ``solve_milp`` raises :class:`~dec.errors.InfeasibleError` (a
``ValueError``) when the problem has no solution, and :class:`~dec.errors.SolverLimit`
when HiGHS reaches ``timeout`` before proving an optimum, instead of leaving an empty
output. ``solver`` is ignored (HiGHS); ``timeout`` (s) and ``mipgap`` go to HiGHS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dec.errors import InputError
from dec.rec.checks import check_run_options
from dec.rec.data import parse_collective, parse_individual
from dec.rec.pricing import check_flag
from dec.rec.stages import CollectiveSolver, solve_individual


class _Milp:
    """Common protocol: ``solve_milp``, ``status``, ``obj_value``, ``generate_outputs``."""

    def __init__(
        self,
        backpack: Mapping[str, Any],
        solver: str = "CBC",
        timeout: float | None = None,
        mipgap: float | None = None,
    ):
        check_run_options(mipgap, timeout)
        self.solver_options = {"time_limit_s": timeout, "mip_rel_gap": mipgap}
        self.status: str | None = None
        self.obj_value: float | None = None
        self._outputs: dict[str, Any] = {}
        self._read(backpack)

    def _read(self, backpack: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _solve(self) -> dict[str, Any]:
        raise NotImplementedError

    def solve_milp(self) -> None:
        """Solve the MILP with HiGHS; sets ``status`` ('Optimal') and ``obj_value`` (EUR)."""
        self._outputs = self._solve()
        self.status = self._outputs["milp_status"]
        self.obj_value = self._outputs["obj_value"]

    def generate_outputs(self) -> dict[str, Any]:
        """Return the output dictionary of the solved MILP (empty before ``solve_milp``)."""
        return dict(self._outputs)


class StageOneMILP(_Milp):
    """One meter's individual MILP (see :func:`dec.rec.run_pre_individual_milp`)."""

    def _read(self, backpack: Mapping[str, Any]) -> None:
        self.data = parse_individual(backpack)
        self.meter_id = self.data.meter_ids[0]

    def _solve(self) -> dict[str, Any]:
        return solve_individual(self.data, **self.solver_options)


class _StageTwo(_Milp):
    kind = ""

    def _read(self, backpack: Mapping[str, Any]) -> None:
        if not isinstance(backpack, Mapping):
            raise InputError(f"The input must be a dictionary (found {type(backpack).__name__}).")
        self.second_stage = backpack.get("second_stage", False)
        check_flag(self.second_stage, "second_stage")
        self.data = parse_collective(
            backpack, self.kind, need_l_lem=True, need_c_ind=self.second_stage
        )

    def _solve(self) -> dict[str, Any]:
        solver = CollectiveSolver(
            self.data, self.kind, bounded=self.second_stage, **self.solver_options
        )
        return solver.solve(self.data.l_lem, self.data.c_ind)


class StageTwoMILPPool(_StageTwo):
    """The collective pool MILP of a backpack with ``l_lem``.

    Each meter's ``c_ind`` bounds its cost when ``second_stage`` is true.
    """

    kind = "pool"


class StageTwoMILPBilateral(_StageTwo):
    """The collective bilateral MILP of a backpack with ``l_lem``.

    Each meter's ``c_ind`` bounds its cost when ``second_stage`` is true.
    """

    kind = "bilateral"
