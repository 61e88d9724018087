"""The forecast-list helpers of the rec_op_lem_prices API (``optimization.helpers``).

References: hand-written cases; every expected value is written out below.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dec.rec.optimization.helpers.general_helpers import (
    iter_dt,
    remove_out_of_range,
    substitute_by_measure,
)

T0 = datetime(2024, 5, 1, 12, 0)
QUARTER = timedelta(minutes=15)


def test_iter_dt_includes_both_ends():
    assert list(iter_dt(T0, T0 + 2 * QUARTER, QUARTER)) == [T0, T0 + QUARTER, T0 + 2 * QUARTER]
    assert list(iter_dt(T0, T0 + QUARTER - timedelta(seconds=1), QUARTER)) == [T0]
    assert list(iter_dt(T0, T0 - QUARTER, QUARTER)) == []


def test_remove_out_of_range_prunes_the_list_to_the_closed_window():
    forecasts = [{"datetime": T0 + k * QUARTER, "value": k} for k in range(5)]
    kept = remove_out_of_range(forecasts, T0 + QUARTER, T0 + 3 * QUARTER)
    assert [f["value"] for f in kept] == [1, 2, 3]
    assert kept is forecasts  # pruned in place, as rec_op_lem_prices does
    shifted = [{"when": T0, "value": 0}, {"when": T0 + QUARTER, "value": 1}]
    second = shifted[1]
    assert remove_out_of_range(shifted, T0 + QUARTER, T0 + QUARTER, dt_key="when") == [second]
    assert remove_out_of_range(None, T0, T0) is None


def test_substitute_by_measure_replaces_the_first_value_by_the_first_measure():
    data = {
        "peer_measures": [
            {"peer_id": "p1", "e_c": 0.0},
            {"peer_id": "p2", "e_c": 1.5},
            {"peer_id": "p2", "e_c": 9.0},
        ],
        "upac_measures": [{"upac_id": "u1", "e_g": 2.25}],
    }
    values = [0.4, 0.5]
    substitute_by_measure(values, "p2", data, "peer_measures", "e_c")
    assert values == [1.5, 0.5]  # the first of p2's measures
    substitute_by_measure(values, "p1", data, "peer_measures", "e_c")
    assert values == [1.5, 0.5]  # a zero measure leaves the list unchanged
    substitute_by_measure(values, "p3", data, "peer_measures", "e_c")
    assert values == [1.5, 0.5]  # no measure of p3
    substitute_by_measure(values, "u1", data, "upac_measures", "e_g")
    assert values == [2.25, 0.5]  # UPAC measures are identified by upac_id
    substitute_by_measure(values, "u1", {}, "upac_measures", "e_g")
    assert values == [2.25, 0.5]  # no measures at all
