"""Figures of a rec-keys run: batteries' SoC, and consumption covered by the community."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import dec.plots  # noqa: F401  (selects the Agg backend)


def _finish(fig: Figure, ax, xlabel: str, ylabel: str, title: str, legend: dict) -> Figure:
    """Label the axes and put the legend below them (inside, it hid peaks of the data)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    handles = ax.get_legend_handles_labels()[0]
    if handles:
        fig.legend(loc="outside lower center", ncol=min(4, len(handles)), **legend)
    ax.grid(alpha=0.3)
    return fig


def plot_soc(steps: pd.DataFrame, initial_kwh: dict[str, float], title: str) -> Figure:
    """SoC of every battery member over time (kWh), starting from its initial SoC.

    Parameters
    ----------
    steps
        The step table (``member_id``, ``time_h``, ``soc_kwh`` at the end of each step).
    initial_kwh
        Initial SoC of each battery member, kWh.
    title
        Figure title.

    """
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    dt = float(steps["time_h"].drop_duplicates().diff().dropna().min()) if len(steps) > 1 else 1
    for member_id, soc0 in initial_kwh.items():
        own = steps[steps["member_id"] == member_id]
        time_h = np.concatenate([[0.0], own["time_h"].to_numpy() + dt])
        ax.step(
            time_h,
            np.concatenate([[soc0], own["soc_kwh"].to_numpy()]),
            where="post",
            label=member_id,
        )
    return _finish(fig, ax, "time (h)", "state of charge (kWh)", title, {"title": "battery of"})


def plot_community_coverage(periods: pd.DataFrame, period_h: float, title: str) -> Figure:
    """Per metering period: metered consumption and the part covered by the community surplus.

    Bars stack each member's import (kWh, its consumption covered by the community
    surplus); the line is the community's total metered consumption.
    """
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    imports = periods.pivot(index="period", columns="member_id", values="import_kwh")
    start_h = imports.index.to_numpy() * period_h
    bottom = np.zeros(len(imports))
    for member_id in imports.columns:
        values = imports[member_id].to_numpy()
        if values.any():
            ax.bar(
                start_h,
                values,
                width=period_h,
                bottom=bottom,
                align="edge",
                label=f"{member_id} (covered)",
            )
            bottom += values
    consumption = periods.groupby("period")["consumption_meter_kwh"].sum().to_numpy()
    ax.step(
        np.append(start_h, start_h[-1] + period_h),
        np.append(consumption, consumption[-1]),
        where="post",
        color="black",
        label="metered consumption",
    )
    return _finish(
        fig, ax, "time (h)", "energy per metering period (kWh)", title, {"fontsize": "small"}
    )


def plot_sweep(table: pd.DataFrame, title: str) -> Figure:
    """Total bill of every policy against the policy horizon K (EUR)."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for policy, rows in table.groupby("policy", sort=False):
        rows = rows.sort_values("horizon")
        if policy == "optimal":
            ax.axhline(rows["total_bill"].iloc[0], color="black", linestyle="--", label=policy)
        else:
            style = ":x" if policy == "distributed" else "-o"
            ax.plot(rows["horizon"], rows["total_bill"], style, label=policy, markersize=7)
    return _finish(
        fig,
        ax,
        "policy horizon K (steps)",
        "total bill of the members (EUR)",
        title,
        {"fontsize": "small"},
    )
