"""Two-period (peak / off-peak) import tariff of the community."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TwoPeriodTariff:
    """Peak and off-peak import prices; off-peak from ``offpeak_start`` to ``offpeak_end``.

    The off-peak window is read on the clock of the profile timestamps. When
    ``offpeak_start`` is later than ``offpeak_end`` (e.g. 22:00 to 06:00) the window runs
    across midnight. A step belongs to the period in force at its start.

    Attributes
    ----------
    peak_eur_per_kwh, offpeak_eur_per_kwh
        Import prices, EUR/kWh.
    offpeak_start, offpeak_end
        Start (included) and end (excluded) of the off-peak window, local time of day.
    export_eur_per_kwh
        Price paid for the community's export, EUR/kWh (0: export is not paid).

    """

    peak_eur_per_kwh: float
    offpeak_eur_per_kwh: float
    offpeak_start: dt.time
    offpeak_end: dt.time
    export_eur_per_kwh: float = 0.0

    def is_offpeak(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Return a boolean per timestamp: True in the off-peak window."""
        minute = times.hour.to_numpy() * 60 + times.minute.to_numpy()
        start = self.offpeak_start.hour * 60 + self.offpeak_start.minute
        end = self.offpeak_end.hour * 60 + self.offpeak_end.minute
        if start <= end:
            return (minute >= start) & (minute < end)
        return (minute >= start) | (minute < end)

    def import_price(self, times: pd.DatetimeIndex) -> np.ndarray:
        """Return the import price of every step, EUR/kWh."""
        return np.where(self.is_offpeak(times), self.offpeak_eur_per_kwh, self.peak_eur_per_kwh)

    def cost_eur(
        self,
        times: pd.DatetimeIndex,
        import_kw: np.ndarray,
        export_kw: np.ndarray,
        time_step_h: float,
    ) -> float:
        """Return the community's bill over the steps, EUR (import paid, export credited)."""
        paid = float(np.sum(self.import_price(times) * import_kw) * time_step_h)
        credited = float(np.sum(export_kw) * time_step_h * self.export_eur_per_kwh)
        return paid - credited


def parse_time_of_day(text: str) -> dt.time | None:
    """Return the time of day written ``HH:MM``, or None if ``text`` is not one."""
    try:
        return dt.datetime.strptime(str(text), "%H:%M").time()
    except ValueError:
        return None
