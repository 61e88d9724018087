"""Build ``rec12_timeseries.csv``: one day of a 12-member REC at 15-minute steps.

Run from the repository root: ``python inputs/rec_pricing/make_rec12.py``. The output
is deterministic (seeded). See README.md in this folder for the sources and choices.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SOURCE = HERE / "source"
STEPS = 96
SEED = 2023


def hourly(name: str) -> dict[str, np.ndarray]:
    """Read a 24-row hourly profile table (kWh per hour) by column."""
    with open(SOURCE / name, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {col: np.array([float(r[col]) for r in rows]) for col in rows[0] if col != "Hour"}


def quarter_hourly(kwh_per_hour: np.ndarray) -> np.ndarray:
    """Interpolate an hourly profile to 96 quarter-hours and return kWh per quarter-hour."""
    hours = np.arange(STEPS) / 4
    return np.interp(hours, np.arange(25), np.append(kwh_per_hour, kwh_per_hour[0])) / 4


def main() -> None:
    """Write rec12_timeseries.csv next to this script."""
    rng = np.random.default_rng(SEED)
    homes, shops, solar = (
        hourly("cluster_medians.csv"),
        hourly("cluster_medians_com.csv"),
        hourly("cluster_medians_solar.csv"),
    )
    hours = np.arange(STEPS) / 4
    clouds = np.clip(1.0 - 0.25 * rng.random(STEPS) * (rng.random(STEPS) < 0.3), 0.6, 1.0)
    columns: dict[str, np.ndarray] = {}
    # households: three load clusters scaled to 7-11 kWh per day, PV of 0-6 kWp
    for i in range(8):
        shape = homes[list(homes)[i % 3]]
        daily = rng.uniform(7.0, 11.0)
        load = quarter_hourly(shape) * daily / shape.sum() * rng.uniform(0.9, 1.1, STEPS)
        columns[f"h{i + 1:02d}_load"] = load
    for name, kwp, cluster in (
        ("h01", 3.0, 0),
        ("h02", 4.5, 1),
        ("h03", 3.0, 2),
        ("h04", 6.0, 0),
        ("h05", 4.5, 1),
    ):
        pv = solar[list(solar)[cluster]]
        columns[f"{name}_pv"] = quarter_hourly(pv) * kwp / 3.0 * clouds
    # two shops (commercial clusters scaled to 25-35 kWh per day), one with 10 kWp
    for i, name in enumerate(("s01", "s02")):
        shape = shops[list(shops)[i]]
        daily = rng.uniform(25.0, 35.0)
        columns[f"{name}_load"] = quarter_hourly(shape) * daily / shape.sum()
    columns["s01_pv"] = quarter_hourly(solar[list(solar)[1]]) * 10.0 / 3.0 * clouds
    # a 15 kWp community PV plant with a small auxiliary load, a school with 8 kWp
    columns["c01_load"] = np.full(STEPS, 0.02)
    columns["c01_pv"] = quarter_hourly(solar[next(iter(solar))]) * 15.0 / 3.0 * clouds
    school = shops[list(shops)[1]] * (np.arange(24) >= 8) * (np.arange(24) < 18)
    columns["c02_load"] = quarter_hourly(school) * 20.0 / school.sum() + 0.05
    columns["c02_pv"] = quarter_hourly(solar[list(solar)[2]]) * 8.0 / 3.0 * clouds
    # tariffs, EUR/kWh: a three-period retail tariff and a flat one, feed-in, a day-ahead
    # market shape (cheap at midday) with supplier margins, and the grid-access tariff
    # of energy shared inside the community
    peak = ((hours >= 9) & (hours < 12)) | ((hours >= 18) & (hours < 21))
    off_peak = (hours < 8) | (hours >= 22)
    columns["retail_3p"] = np.where(peak, 0.22, np.where(off_peak, 0.12, 0.17))
    columns["retail_flat"] = np.full(STEPS, 0.165)
    columns["feed_in"] = np.full(STEPS, 0.045)
    spot = (
        0.08
        + 0.03 * np.cos((hours - 20) / 24 * 2 * np.pi)
        - 0.04 * np.exp(-(((hours - 13) / 3) ** 2))
    )
    columns["market_buy"] = spot + 0.05
    columns["market_sell"] = spot - 0.005
    columns["l_grid"] = np.where(peak, 0.025, 0.015)
    with open(HERE / "rec12_timeseries.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["step", "time_h", *columns])
        for t in range(STEPS):
            writer.writerow([t, f"{hours[t]:.2f}", *(f"{columns[c][t]:.4f}" for c in columns)])


if __name__ == "__main__":
    main()
