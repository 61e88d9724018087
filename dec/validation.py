"""Reusable input-validation rules.

Each rule inspects one field over a group of elements and returns a list of
problem sentences (empty when all is well), naming the field, the element kind,
the offending ids and values, and what is allowed, e.g.::

    Field 'e_bn_kwh' is not greater than zero for 2 batteries: b3 (-1.0), b7 (0.0).

A :class:`Problems` collector gathers the sentences of many rules so that every
problem of an input is reported at once, then raises one :class:`~dec.errors.InputError`.
"""

from __future__ import annotations

import math
import reprlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from numbers import Real
from typing import Any

from dec.errors import InputError

MAX_LISTED = 5

# Plausible magnitudes of the modes' numeric inputs, shared by their checks. They are far
# wider than any household, REC or feeder data, and keep every coefficient of the LPs and
# MILPs well inside what the solvers handle (HiGHS reads 1e20 and more as infinite; 1e308
# overflows to inf in the models' arithmetic).

#: Energies per step and stored energies, kWh: 1 GWh, a 100 MW site over a 10-hour step.
MAX_KWH = 1e6
#: Powers, kW: 1 GW.
MAX_KW = 1e6
#: Prices and tariffs in absolute value, EUR/kWh: 100 times the EU intraday price cap of
#: 9,999 EUR/MWh (a price in EUR/MWh typed as EUR/kWh still passes).
MAX_EUR_PER_KWH = 1e3
#: Round limits of the iterative algorithms (ADMM rounds, market rounds): a million rounds
#: of the largest case take days; a larger limit is a typo.
MAX_ROUNDS = 1_000_000
#: Multipliers of a feeder's nominal loads and PV (``load_scale``, ``pv_scale``, the options
#: ``--load-scale`` and ``--pv-scale``): a million times a feeder's own load is far past any
#: power flow that converges, and 1e308 would overflow to inf in the feeder's arithmetic.
MAX_SCALE = 1e6

#: Longest a value is repeated in a message, characters: a longer one is shown by its start,
#: ``...`` and its end (a list given where a number belongs may hold millions of items).
MAX_SHOWN = 200


class _MessageRepr(reprlib.Repr):
    """``repr`` with bounded work and length: a short value reads exactly as its ``repr``.

    Lists, tuples and mappings show up to 24 items (an hourly series in full) at up to
    three levels of nesting; mappings keep their order (reprlib sorts their keys).
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = 24
        self.maxdict = 24
        self.maxstring = self.maxlong = self.maxother = MAX_SHOWN

    def repr_dict(self, x: dict, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{" + self.fillvalue + "}"
        pieces = [
            f"{self.repr1(key, level - 1)}: {self.repr1(value, level - 1)}"
            for key, value in list(x.items())[: self.maxdict]
        ]
        if len(x) > self.maxdict:
            pieces.append(self.fillvalue)
        return "{" + ", ".join(pieces) + "}"

    def repr_int(self, x: int, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # more digits than Python converts to text (sys.int_info)
            return f"<a whole number of more than {sys.get_int_max_str_digits()} digits>"


_MESSAGE_REPR = _MessageRepr()


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """Return ``text``, or its start, ``...`` and its end if it is longer than ``limit``."""
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return f"{text[:head]}...{text[len(text) - (limit - 3 - head) :]}"


def shown(value: Any) -> str:
    """Return ``repr(value)`` for a message, shortened to at most :data:`MAX_SHOWN` characters.

    A value found in the input is repeated in its message; this keeps the message one
    readable paragraph whatever the value's size (e.g. ``[1.0, 2.0, ..., 9.0]``).
    """
    return clip(_MESSAGE_REPR.repr(value))


def interval(low: float, high: float) -> str:
    """Return the closed interval [low, high] as text, numbers in the shortest form (1e+06)."""
    return f"[{low:g}, {high:g}]"


def _listing(
    items: Sequence[tuple[Any, Any]], show_value: bool = True, template: str = "{key} ({value})"
) -> str:
    """List ``(key, value)`` pairs as ``template`` says (keys only without values)."""
    listed = [
        template.format(key=clip(str(key)), value=shown(value)) if show_value else clip(str(key))
        for key, value in items[:MAX_LISTED]
    ]
    more = len(items) - MAX_LISTED
    return ", ".join(listed) + (f" and {more} more" if more > 0 else "")


def _plural(n: int, kind: str) -> str:
    if n == 1:
        return f"{n} {kind}"
    if kind.endswith("y") and kind[-2:-1] not in "aeiou":
        return f"{n} {kind[:-1]}ies"
    return f"{n} {kind}es" if kind.endswith(("s", "x", "ch", "sh")) else f"{n} {kind}s"


def _rule(
    values: Mapping[Any, Any], field: str, kind: str, failed: Callable[[Any], bool], what: str
) -> list[str]:
    bad = [(key, value) for key, value in values.items() if failed(value)]
    if not bad:
        return []
    return [f"Field '{field}' {what} for {_plural(len(bad), kind)}: {_listing(bad)}."]


def is_number(value: Any) -> bool:
    """Return True for a real number that is not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """Return True for a real, finite number that is not a bool."""
    return is_number(value) and math.isfinite(float(value))


def numbers(values: Mapping[Any, Any], field: str, kind: str) -> list[str]:
    """Every value is a finite real number."""
    return _rule(values, field, kind, lambda v: not is_finite_number(v), "is not a finite number")


def positive(values: Mapping[Any, Any], field: str, kind: str) -> list[str]:
    """Every value is a finite number greater than zero."""
    return numbers(values, field, kind) or _rule(
        values, field, kind, lambda v: v <= 0, "is not greater than zero"
    )


def non_negative(values: Mapping[Any, Any], field: str, kind: str) -> list[str]:
    """Every value is a finite number at least zero."""
    return numbers(values, field, kind) or _rule(
        values, field, kind, lambda v: v < 0, "is negative (must be zero or more)"
    )


def within(values: Mapping[Any, Any], field: str, kind: str, low: float, high: float) -> list[str]:
    """Every value is a finite number in the closed interval [low, high]."""
    return numbers(values, field, kind) or _rule(
        values, field, kind, lambda v: not low <= v <= high, f"is outside {interval(low, high)}"
    )


def one_of(values: Mapping[Any, Any], field: str, kind: str, allowed: Iterable[Any]) -> list[str]:
    """Every value is one of ``allowed``."""
    allowed = list(allowed)
    return _rule(
        values,
        field,
        kind,
        lambda v: v not in allowed,
        f"is not one of {', '.join(map(str, allowed))}",
    )


def series(
    values: Mapping[Any, Any], field: str, kind: str, length: int | None = None
) -> list[str]:
    """Every value is a list of finite numbers, of ``length`` items when given."""
    not_list = _rule(
        values, field, kind, lambda v: not isinstance(v, (list, tuple)), "is not a list of numbers"
    )
    if not_list:
        return not_list
    bad_items = [
        (key, next(x for x in v if not is_finite_number(x)))
        for key, v in values.items()
        if any(not is_finite_number(x) for x in v)
    ]
    problems = []
    if bad_items:
        problems.append(
            f"Field '{field}' holds a value that is not a finite number for "
            f"{_plural(len(bad_items), kind)}: {_listing(bad_items)}."
        )
    if length is not None:
        wrong = [(key, len(v)) for key, v in values.items() if len(v) != length]
        if wrong:
            problems.append(
                f"Field '{field}' has the wrong length for {_plural(len(wrong), kind)} "
                f"(expected {_plural(length, 'value')}): "
                f"{_listing(wrong, template='{key} has {value}')}."
            )
    return problems


def required(records: Mapping[Any, Mapping], fields: Iterable[str], kind: str) -> list[str]:
    """Every record holds every one of ``fields``."""
    problems = []
    for field in fields:
        missing = [(key, None) for key, rec in records.items() if field not in rec]
        if missing:
            problems.append(
                f"Field '{field}' is missing for {_plural(len(missing), kind)}: "
                f"{_listing(missing, show_value=False)}."
            )
    return problems


def known(values: Mapping[Any, Any], field: str, kind: str, allowed: Iterable[Any]) -> list[str]:
    """Every value is a known id (e.g. an existing bus)."""
    allowed = set(allowed)
    return _rule(values, field, kind, lambda v: v not in allowed, "refers to an unknown id")


class Problems:
    """Collect problem sentences from many rules and raise them together.

    Parameters
    ----------
    source
        The file or object being validated, named in the error message.

    """

    def __init__(self, source: str | None = None):
        self.source = source
        self.items: list[str] = []

    def extend(self, problems: Iterable[str]) -> None:
        """Add the sentences returned by a rule."""
        self.items.extend(problems)

    def add(self, problem: str) -> None:
        """Add one sentence."""
        self.items.append(problem)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise one :class:`~dec.errors.InputError` listing every problem, if any."""
        if self.items:
            raise InputError(self.items, self.source)
