"""Forecasters: what a policy believes about the exogenous values of the coming steps.

A forecaster is any object with a ``forecast(t, n_steps) -> Forecast`` method
returning the values of steps ``t … min(t + n_steps, T) − 1``; the simulator always
meters the actual values. Two are provided:

``perfect`` (default)
    The actual values (the paper's setting).
``persistence``
    Consumption and production of step ``t`` are known (as in the paper, the policy
    observes ``e_t``); a later step repeats the value observed one day earlier at the
    same time of day (or the value of step ``t`` when there is no such history).
    Tariffs are known in advance, so prices are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dec.reckeys.case import RecCase


@dataclass
class Forecast:
    """Exogenous values of a window, each (N, n_steps)."""

    consumption_kwh: np.ndarray
    production_kwh: np.ndarray
    buy_eur_per_kwh: np.ndarray
    sell_eur_per_kwh: np.ndarray

    @property
    def n_steps(self) -> int:
        """Number of steps forecast (may be fewer than asked at the end of the horizon)."""
        return self.consumption_kwh.shape[1]


class Forecaster(Protocol):
    """Predicts the exogenous values of steps ``t … t + n_steps − 1`` (clipped to T)."""

    def forecast(self, t: int, n_steps: int) -> Forecast:
        """Return the forecast made at step ``t``."""
        ...


class PerfectForecaster:
    """Returns the actual values."""

    def __init__(self, case: RecCase):
        self.case = case

    def forecast(self, t: int, n_steps: int) -> Forecast:
        """Return the actual values of steps ``t … min(t + n_steps, T) − 1``."""
        window = slice(t, min(t + n_steps, self.case.n_steps))
        return Forecast(
            self.case.consumption_kwh[:, window],
            self.case.production_kwh[:, window],
            self.case.buying_price_eur_per_kwh[:, window],
            self.case.selling_price_eur_per_kwh[:, window],
        )


class PersistenceForecaster(PerfectForecaster):
    """Day-ahead persistence of consumption and production; exact prices."""

    def forecast(self, t: int, n_steps: int) -> Forecast:
        """Return the current values, then the values observed one day earlier."""
        actual = super().forecast(t, n_steps)
        day = max(1, round(24.0 / self.case.time_step_h))
        steps = t + np.arange(actual.n_steps)
        lag = day * np.ceil((steps - t) / day).astype(int)
        source = np.where(steps - lag >= 0, steps - lag, t)
        source[0] = t
        return Forecast(
            self.case.consumption_kwh[:, source],
            self.case.production_kwh[:, source],
            actual.buy_eur_per_kwh,
            actual.sell_eur_per_kwh,
        )


FORECASTERS = {"perfect": PerfectForecaster, "persistence": PersistenceForecaster}


def make_forecaster(name: str, case: RecCase) -> Forecaster:
    """Return the forecaster called ``name`` for ``case``."""
    return FORECASTERS[name](case)
