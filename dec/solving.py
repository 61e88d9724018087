"""Solves whose failure on valid input is reported as such (command-line exit code 3).

The inputs of ``rec-keys`` and ``community`` are checked before any solve (every number
within its documented range), and their window problems always have a solution (idle
batteries are feasible). A solver that raises, or ends without an optimal solution, has
therefore failed on valid data: :class:`~dec.errors.SolverFailed` names the problem, the
solver and what it reported, instead of a traceback or a message blaming the input.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import cvxpy as cp
import highspy
import numpy as np

from dec.errors import SolverFailed


def solve_checked(
    problem: cp.Problem, what: str, solver: str, accept: tuple[str, ...], **options: Any
) -> None:
    """Solve ``problem`` with ``solver``; raise :class:`SolverFailed` unless it is solved.

    Parameters
    ----------
    problem
        The cvxpy problem (its variables hold the solution afterwards).
    what
        The problem, named in the error.
    solver
        cvxpy solver name.
    accept
        The statuses that count as solved, e.g. ``(cp.OPTIMAL,)``.
    **options
        Solver options.

    Raises
    ------
    SolverFailed
        If the solver raises (cvxpy's ``SolverError``, or ``ValueError`` for data or a
        solution it cannot use), ends with another status, or returns a non-finite
        objective.

    """
    try:
        problem.solve(solver=solver, **options)
    except (cp.SolverError, ValueError) as err:
        raise SolverFailed(what, solver, f"{type(err).__name__}: {err}") from err
    if problem.status not in accept:
        raise SolverFailed(what, solver, f"status {problem.status}")
    if problem.value is None or not np.isfinite(problem.value):
        raise SolverFailed(what, solver, f"objective value {problem.value}")


@functools.cache
def silence_highs_banner() -> None:
    """Let HiGHS print its once-per-process banner to nowhere.

    highspy 1.16 writes "Running HiGHS ..." to the process's standard output the first time
    a solver object is made, whatever its ``output_flag``; that would precede the summary
    table of every run that uses HiGHS. The first object is made here with file
    descriptor 1 pointed at the null device, so later ones (cvxpy's and dec's) are silent.
    """
    sys.stdout.flush()
    saved_fd = os.dup(1)
    null_fd = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null_fd, 1)
        highspy.Highs()
    finally:
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
        os.close(null_fd)
