"""Figures of the ``community`` mode."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

import dec.plots  # noqa: F401  (selects the Agg backend)
from dec.community.battery import Schedule
from dec.community.data import CommunityData
from dec.community.metrics import flows

_STYLE = {"low-tech": "s-", "mpc": "o-", "mpc-distributed": "x--"}


def plot_sweep(table: pd.DataFrame, title: str):
    """Self-production vs battery size per mechanism, with no coordination and the upper bound.

    Parameters
    ----------
    table
        The sweep table (``mechanism``, ``battery_kwh``, ``self_production_pct``,
        ``upper_bound_pct``).
    title
        Figure title.

    """
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    none = table[table["mechanism"] == "none"]
    if not none.empty:
        ax.axhline(
            none["self_production_pct"].mean(), color="grey", ls=":", label="no coordination (none)"
        )
    ax.axhline(
        table["upper_bound_pct"].iloc[0], color="k", ls="-.", label="upper bound (Σ PV / Σ load)"
    )
    for mechanism, rows in table[table["mechanism"] != "none"].groupby("mechanism", sort=False):
        rows = rows.sort_values("battery_kwh")
        ax.plot(
            rows["battery_kwh"],
            rows["self_production_pct"],
            _STYLE.get(str(mechanism), "^-"),
            label=str(mechanism),
        )
    ax.set_xlabel("battery capacity per household (kWh)")
    ax.set_ylabel("self-production (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)  # the lines span the axes
    return fig


def sunniest_start(data: CommunityData, steps: int) -> int:
    """Return the first step of the ``steps``-long block, starting on a day boundary, with most PV."""
    per_day = data.steps(24.0)
    starts = range(0, max(1, data.n_steps - steps + 1), per_day)
    return max(starts, key=lambda k: float(data.pv_kw[k : k + steps].sum()))


def plot_week(data: CommunityData, schedule: Schedule, title: str, days: float = 7.0):
    """Community power and stored energy over the sunniest week of a run.

    Parameters
    ----------
    data
        The community.
    schedule
        Applied battery schedules.
    title
        Figure title.
    days
        Days shown.

    """
    steps = min(data.n_steps, data.steps(24 * days))
    part = slice(sunniest_start(data, steps), None)
    part = slice(part.start, part.start + steps)
    f = flows(data, schedule)
    times = data.times[part]
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(9, 5.5),
        sharex=True,
        gridspec_kw={"height_ratios": [2, 1]},
        layout="constrained",
    )
    top.fill_between(times, data.pv_kw[part], color="gold", alpha=0.5, label="community PV")
    top.plot(times, data.load_kw[:, part].sum(axis=0), color="grey", lw=0.8, label="household load")
    top.plot(times, f.community_kw[part], color="C0", lw=1.0, label="load incl. batteries")
    top.plot(times, f.import_kw[part], color="C3", lw=0.8, label="grid import")
    top.set_ylabel("power (kW)")
    top.set_title(title)
    fig.legend(fontsize=8, loc="outside lower center", ncol=4)  # the curves span the week
    bottom.plot(times, schedule.soc_kwh[:, part].sum(axis=0), color="C2")
    bottom.set_ylabel("stored energy (kWh)")
    bottom.ticklabel_format(axis="y", useOffset=False)
    bottom.set_xlabel("time")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig
