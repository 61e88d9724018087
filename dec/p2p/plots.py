"""Figures of a p2p run (matplotlib, Agg): load met by P2P vs. grid, prices, network state, residuals."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import dec.plots  # noqa: F401  (selects the Agg backend)
from dec.admm.convergence import History
from dec.p2p.settings import P2PSettings

#: Width of an hour's bar (h): the hourly blocks stay apart.
BAR_WIDTH = 0.8


def _hour_axis(ax, hours: np.ndarray) -> None:
    ax.set_xlabel("hourly block, starting at (h)")
    ax.set_xticks(hours if len(hours) <= 12 else hours[::2])
    ax.set_xlim(hours.min() - 0.5, hours.max() + 0.5)
    ax.grid(alpha=0.3)


def plot_stack(hourly: pd.DataFrame, title: str) -> Figure:
    """Load met by P2P trades stacked on load met by the grid, one bar per hourly block (kWh)."""
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    hours = hourly["hour"].to_numpy()
    p2p_kwh = hourly["p2p_kwh"].to_numpy()
    from_grid = hourly["load_kwh"].to_numpy() - p2p_kwh
    ax.bar(
        hours, from_grid, width=BAR_WIDTH, color="tab:blue", alpha=0.6, label="load met by the grid"
    )
    ax.bar(
        hours,
        p2p_kwh,
        width=BAR_WIDTH,
        bottom=from_grid,
        color="tab:red",
        alpha=0.6,
        label="load met by P2P trades (top of the bar: the hour's load)",
    )
    if (hourly["matched_kwh"] > hourly["p2p_kwh"] + 1e-9).any():
        ax.hlines(
            hourly["load_kwh"] - hourly["matched_kwh"],
            hours - BAR_WIDTH / 2,
            hours + BAR_WIDTH / 2,
            colors="k",
            linestyles="--",
            lw=1,
            label="grid/P2P boundary had every matched trade been executed",
        )
    ax.set_ylabel("energy per hour (kWh)")
    ax.set_title(f"{title}: load met by P2P trades and by the grid")
    _hour_axis(ax, hours)
    ax.set_ylim(bottom=0.0)
    ax.legend(loc="best", fontsize="small")
    return fig


def plot_prices(
    hourly: pd.DataFrame, trades: pd.DataFrame, settings: P2PSettings, pricing: str, title: str
) -> Figure:
    """Volume-weighted P2P price per hour, the range of trade prices, and retail/feed-in prices."""
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    hours = hourly["hour"].to_numpy()
    executed = trades[trades["p_kw"] > 1e-9]
    if len(executed):
        span = executed.groupby("hour")["price_eur_per_kwh"].agg(["min", "max"])
        ax.vlines(
            span.index,
            span["min"],
            span["max"],
            color="tab:red",
            alpha=0.4,
            lw=4,
            label="range of trade prices",
        )
    ax.plot(
        hours, hourly["price_eur_per_kwh"], "o-", color="tab:red", label="volume-weighted P2P price"
    )
    ax.axhline(settings.retail_price_eur_per_kwh, color="tab:blue", ls="--", label="retail price")
    ax.axhline(
        settings.feed_in_price_eur_per_kwh, color="tab:green", ls="--", label="feed-in price"
    )
    ax.set_ylabel("price (EUR/kWh)")
    ax.set_ylim(bottom=0.0)
    ax.set_title(f"{title}: P2P prices per hour ({settings.market}, {pricing})")
    _hour_axis(ax, hours)
    ax.legend(loc="best")
    return fig


def plot_network(hourly: pd.DataFrame, settings: P2PSettings, title: str) -> Figure:
    """AC voltage range and largest line/transformer loading per hour, with the limits."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, layout="constrained")
    hours = hourly["hour"].to_numpy()
    top.vlines(
        hours,
        hourly["vm_min_pu"],
        hourly["vm_max_pu"],
        color="tab:purple",
        alpha=0.5,
        lw=6,
        label="bus voltages of the hour (min to max)",
    )
    for limit in (settings.vm_min_pu, settings.vm_max_pu):
        top.axhline(limit, color="k", ls="--", lw=1)
    top.set_ylabel("voltage magnitude (pu)")
    top.set_title(f"{title}: AC power flow after the network checks")
    top.legend(loc="best")
    top.grid(alpha=0.3)
    bottom.plot(hours, hourly["max_line_loading_percent"], "o-", label="largest line loading (AC)")
    bottom.plot(
        hours, hourly["max_trafo_loading_percent"], "s-", label="largest transformer loading (AC)"
    )
    bottom.plot(
        hours,
        hourly["dc_max_loading_percent"],
        ":",
        color="0.4",
        label="largest branch loading (DC check)",
    )
    bottom.axhline(settings.max_loading_percent, color="k", ls="--", lw=1, label="loading limit")
    bottom.set_ylabel("loading (% of rating)")
    _hour_axis(bottom, hours)
    bottom.legend(loc="best")
    return fig


def plot_residuals(history: History, title: str) -> Figure:
    """ADMM primal and dual residuals per round, with their stopping thresholds (log scale)."""
    frame = history.frame()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    ax.semilogy(frame["iteration"], frame["primal_residual"], label="primal residual ‖r‖")
    ax.semilogy(frame["iteration"], frame["dual_residual"], label="dual residual ‖s‖")
    ax.semilogy(
        frame["iteration"], frame["eps_primal"], "--", color="tab:blue", lw=1, label="ε primal"
    )
    ax.semilogy(
        frame["iteration"], frame["eps_dual"], "--", color="tab:orange", lw=1, label="ε dual"
    )
    ax.set_xlabel("ADMM round")
    ax.set_ylabel("residual (primal: kW, dual: EUR/h)")
    ax.set_title(f"{title}: ADMM market convergence")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best")
    return fig
