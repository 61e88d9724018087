"""Command-line options of every mode, and the names they accept.

One module per mode (``-`` in a mode's name is ``_`` here), each with ``HELP`` (one line
describing the mode), ``SHARED_OPTIONS`` (the options of :mod:`dec.run` shared by
several modes that it uses) and ``add_arguments(group)``. A leaf package: it imports nothing of
the modes (no solvers, no pandapower), so the parser and ``python -m dec.run --help``
build in a fraction of a second; the modes import the names they accept from here.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dec.errors import InputError
from dec.validation import MAX_ROUNDS, shown


def _checked(
    text: str, convert: Callable[[str], float], accept: Callable[[float], bool], allowed: str
) -> Any:
    """Return ``convert(text)`` if ``accept`` takes it, else raise the parser's error.

    Raises
    ------
    argparse.ArgumentTypeError
        ``must be <allowed>; found '<text>'``, which argparse prints after the option's name.

    """
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"must be {allowed}; found {shown(text)}")
    return value


def non_empty_text(text: str) -> str:
    """Parse an option that takes a text with more than blanks (e.g. ``--policy``), stripped."""
    return _checked(text, str.strip, bool, "a non-empty text")


def whole_number(text: str) -> int:
    """Parse an option that takes a whole number, 0 or more (e.g. ``--seed``)."""
    return _checked(text, int, lambda v: v >= 0, "a whole number, 0 or more")


def positive_number(text: str) -> float:
    """Parse an option that takes a finite number above 0 (e.g. ``--eps-abs``)."""
    return _checked(text, float, lambda v: 0.0 < v < math.inf, "a finite number above 0")


#: Largest ADMM stopping tolerance of an option (``--eps-abs``, ``--eps-rel``): the
#: residuals are in units of curtailment fractions, so a larger one stops the rounds
#: before they mean anything (``--eps-abs 1e300`` reported a 4 % gap as converged).
MAX_TOLERANCE = 0.1


def tolerance(text: str) -> float:
    """Parse an ADMM stopping tolerance: a number above 0 and at most :data:`MAX_TOLERANCE`."""
    return _checked(
        text,
        float,
        lambda v: 0.0 < v <= MAX_TOLERANCE,
        f"a number above 0 and at most {MAX_TOLERANCE:g}",
    )


def round_limit(text: str) -> int:
    """Parse a round limit (``--max-iter``): a whole number from 1 to :data:`MAX_ROUNDS`."""
    return _checked(
        text, int, lambda v: 1 <= v <= MAX_ROUNDS, f"a whole number from 1 to {MAX_ROUNDS:,}"
    )


def number_from(low: float, high: float) -> Callable[[str], float]:
    """Return the parser of an option that takes a number from ``low`` to ``high`` (both included).

    Parameters
    ----------
    low, high
        The range, in the option's unit (e.g. EUR per kWh and km); NaN and infinities are
        outside it.

    """

    def parse(text: str) -> float:
        return _checked(
            text, float, lambda v: low <= v <= high, f"a number from {low:g} to {high:g}"
        )

    return parse


def open_fraction(text: str) -> float:
    """Parse an option that takes a number between 0 and 1, both excluded (e.g. a MIP gap)."""
    return _checked(text, float, lambda v: 0 < v < 1, "a number between 0 and 1, both excluded")


def local_time(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time without a UTC offset (``2016-06-06T00:00``)."""
    value = _checked(text, datetime.fromisoformat, lambda _: True, "an ISO 8601 date or date-time")
    if value.tzinfo is not None:
        raise argparse.ArgumentTypeError(
            "must be a local time without a UTC offset, as the profiles' timestamps; found "
            f"{shown(text)}"
        )
    return value


def comma_items(text: str, option: str) -> list[str]:
    """Split a comma-separated option value (``--sweep 4,8``) into its stripped items.

    Raises
    ------
    InputError
        Blamed on the command line, if an item is empty (``1,,2``, a trailing comma) or
        given twice.

    """
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise InputError(
            f"Option '{option}' has an empty item in {shown(text)}; separate values by one comma.",
            COMMAND_LINE,
        )
    twice = sorted({item for item in items if items.count(item) > 1})
    if twice:
        raise InputError(
            f"Option '{option}' lists {', '.join(twice)} more than once, in {shown(text)}.",
            COMMAND_LINE,
        )
    return items


#: The ``source`` of an InputError about an option value: the message says "Invalid input in
#: the command line: ..." rather than blaming the scenario file.
COMMAND_LINE = "the command line"


def was_given(args: argparse.Namespace, dest: str) -> bool:
    """Whether the option ``dest`` (e.g. ``"engine"``) was given on the command line.

    ``dest`` is a shared option or one of the run's mode. Its default is filled in before
    the mode runs, so its value alone cannot tell (it may be given at its default value).
    """
    return dest in getattr(args, "given", ())


def given_options(args: argparse.Namespace, *dests: str) -> list[str]:
    """Return the options among ``dests`` given on the command line, as ``--name``."""
    return [f"--{dest.replace('_', '-')}" for dest in dests if was_given(args, dest)]


def refuse_ignored(ignored: list[str], run: str, remedy: str) -> None:
    """Raise an InputError naming the command-line options this run would ignore.

    Parameters
    ----------
    ignored
        The options given that the run does not use, each with what uses it, e.g.
        ``"--auction-k (uniform auction)"``; nothing is raised when empty.
    run
        What the run is, e.g. ``"This run is market admm"`` (the message goes on with
        ", so it does not use ...").
    remedy
        How to resolve it, e.g. ``"remove the option or choose its market with --market"``.

    """
    if ignored:
        raise InputError(f"{run}, so it does not use {', '.join(ignored)}; {remedy}.", COMMAND_LINE)
