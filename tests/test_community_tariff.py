from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from dec.community.tariff import TwoPeriodTariff


def tariff(start="22:00", end="06:00", export=0.0):
    return TwoPeriodTariff(
        0.20, 0.10, dt.time.fromisoformat(start), dt.time.fromisoformat(end), export
    )


def test_offpeak_window_across_midnight_applies():
    times = pd.date_range("2016-01-01T20:00", periods=12, freq="h")  # 20:00 .. 07:00
    offpeak = tariff().is_offpeak(times)
    # 20, 21 peak; 22, 23, 0, 1, 2, 3, 4, 5 off-peak; 6, 7 peak (end excluded)
    assert offpeak.tolist() == [False, False] + [True] * 8 + [False, False]


def test_offpeak_window_within_a_day():
    times = pd.date_range("2016-01-01T00:00", periods=24, freq="h")
    offpeak = tariff("12:00", "14:00").is_offpeak(times)
    assert np.flatnonzero(offpeak).tolist() == [12, 13]


def test_cost_hand_computed():
    # 4 half-hour steps from 21:00: 21:00, 21:30 peak (0.20), 22:00, 22:30 off-peak (0.10).
    times = pd.date_range("2016-01-01T21:00", periods=4, freq="30min")
    import_kw = np.array([2.0, 4.0, 6.0, 8.0])
    export_kw = np.array([1.0, 0.0, 0.0, 3.0])
    # import: 0.5 h × (0.2·(2+4) + 0.1·(6+8)) = 0.5 × 2.6 = 1.3 EUR; export credit 0.5 × 4 × 0.05
    cost = tariff(export=0.05).cost_eur(times, import_kw, export_kw, 0.5)
    assert cost == pytest.approx(1.3 - 0.1, abs=1e-12)
