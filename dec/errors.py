"""Typed exceptions of dec.

``DecError`` is the root. ``InputError`` (a ``ValueError``) is raised for bad input
before any work starts; the command line turns it into exit code 2 with its message
and no traceback. A distributed run that stops at its round limit is not an error: it
writes its outputs marked ``"converged": false`` (exit code 3). ``SubproblemInfeasible``
names the agent or coordinator whose local problem has no solution. ``SolverLimit`` says that
a solver stopped at its time limit before it proved an optimum, ``SolverFailed`` that
it failed numerically on valid input (both exit code 3).

Every error pickles exactly (same type, attributes and message), so an error raised in a
``process`` or ``ray`` worker reaches the command line as it was raised.
"""

from __future__ import annotations

import copyreg
from collections.abc import Sequence


class DecError(Exception):
    """Root of every error dec raises on purpose."""

    def __reduce__(self) -> tuple:
        """Pickle as the message and the attributes, without calling ``__init__`` again.

        The default (``type(self)(*self.args)``) would pass the finished message to an
        ``__init__`` that builds it from its parts: a second prefix, a lost ``source``, or a
        missing argument. ``copyreg.__newobj__`` restores ``args`` and the attributes as they are.
        """
        return copyreg.__newobj__, (type(self), *self.args), self.__dict__


class InputError(DecError, ValueError):
    """Bad user input: a file, field or value that dec cannot use.

    Parameters
    ----------
    problems
        One or more complete sentences, each naming what is wrong, where (file,
        field, element ids) and what is allowed.
    source
        The file or object the problems were found in, if any.

    """

    def __init__(self, problems: str | Sequence[str], source: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"Invalid input in {source}: " if source else "Invalid input: "
        super().__init__(head + " ".join(self.problems))


class InfeasibleError(InputError):
    """The input is well formed but the requested problem has no solution."""


class SubproblemInfeasible(DecError):
    """A local subproblem (an agent's or the coordinator's) could not be solved."""

    def __init__(self, owner: str, status: str):
        self.owner = owner
        self.status = status
        super().__init__(
            f"The subproblem of {owner} could not be solved (solver status: {status})."
        )


class SolverLimit(DecError):
    """A solver reached its time limit before proving an optimum: the input is valid."""


class SolverFailed(DecError):
    """A solver failed on a problem of valid input (it raised, or ended without an optimum).

    The input is within its documented ranges, so the failure is numerical; the run stops
    without output (exit code 3).

    Parameters
    ----------
    what
        The problem, e.g. "the window problem at step 12".
    solver
        The solver's name.
    detail
        What the solver reported (its status, or the error it raised).

    """

    def __init__(self, what: str, solver: str, detail: str):
        self.what = what
        self.solver = solver
        self.detail = detail
        super().__init__(
            f"{solver} could not solve {what} ({detail}). The input is within the documented "
            "ranges, so this is a numerical failure of the solver, not an input error; "
            "rescaling the data (e.g. fewer extreme values) may avoid it."
        )
