"""``rec_op_lem_prices.optimization.helpers.general_helpers`` names: forecast-list helpers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any


def iter_dt(first: datetime, last: datetime, delta: timedelta) -> Iterator[datetime]:
    """Yield ``first``, ``first + delta``, ... up to ``last`` included."""
    current = first
    while current <= last:
        yield current
        current += delta


def remove_out_of_range(
    forecasts: list[Mapping[str, Any]] | None,
    start: datetime,
    end: datetime,
    dt_key: str = "datetime",
) -> list[Mapping[str, Any]] | None:
    """Prune ``forecasts`` in place to those whose ``dt_key`` lies in [start, end]; return it.

    As in rec_op_lem_prices, the caller's list itself is pruned (and returned).
    """
    if forecasts is None:
        return None
    forecasts[:] = [f for f in forecasts if start <= f[dt_key] <= end]
    return forecasts


def substitute_by_measure(
    forecasts_list: list[float],
    unique_id: str,
    input_data: Mapping[str, Any],
    substruct_key: str,
    measure_key: str,
) -> None:
    """Replace ``forecasts_list[0]`` in place by the first measure of ``unique_id``.

    ``input_data[substruct_key]`` is a list of measures identified by ``peer_id``
    (``substruct_key == 'peer_measures'``) or ``upac_id``; a missing or zero measure
    leaves the list unchanged.
    """
    id_key = "peer_id" if substruct_key == "peer_measures" else "upac_id"
    measures = [m for m in input_data.get(substruct_key) or [] if m.get(id_key) == unique_id]
    if measures and measures[0].get(measure_key):
        forecasts_list[0] = measures[0][measure_key]
