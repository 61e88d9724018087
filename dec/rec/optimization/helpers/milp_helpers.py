"""``rec_op_lem_prices.optimization.helpers.milp_helpers`` names."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dec.rec.model import round_up


def none_lists(m_dims: int) -> list[float]:
    """Return a list of ``m_dims`` NaN."""
    return [math.nan] * m_dims


def dict_none_lists(m_dim: int, designations: Sequence[str]) -> dict[str, list[float]]:
    """Return ``{key: list of m_dim NaN}`` for every key of ``designations``."""
    return {key: none_lists(m_dim) for key in designations}


def dict_per_param(meters: Mapping[str, Mapping[str, Any]], values_id: str) -> dict[str, Any]:
    """Return ``{meter_id: meter[values_id]}`` (None where a meter lacks the key)."""
    return {key: value.get(values_id) for key, value in meters.items()}


def time_intervals(horizon: float, delta_t: float, func: str = "int") -> int:
    """Return the number of ``delta_t``-hour steps in ``horizon`` hours, rounded by ``func``.

    Raises
    ------
    ValueError
        For another ``func``.

    """
    ratio = horizon / delta_t
    rounding = {"ceil": math.ceil, "floor": math.floor, "int": int}
    if func not in rounding:
        raise ValueError(f"func must be one of ceil, floor, int (found {func!r}).")
    return int(rounding[func](ratio))


__all__ = ["dict_none_lists", "dict_per_param", "none_lists", "round_up", "time_intervals"]
