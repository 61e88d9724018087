"""Plots of a REC pricing run: prices per step, community vs. retailer energy, member costs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import dec.plots  # noqa: F401  (selects the Agg backend)


def plot_prices(prices: pd.DataFrame, title: str) -> Figure:
    """LEM price per step against the retail, feed-in and market-indexed tariffs.

    The legend is below the axes: the curves span the whole day.
    """
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    t = prices["time_h"]
    ax.fill_between(
        t,
        prices["retail_buy_min_eur_per_kwh"],
        prices["retail_buy_max_eur_per_kwh"],
        step="post",
        alpha=0.2,
        color="tab:red",
        label="retail tariffs (min-max)",
    )
    lines = [
        ("retail_buy_mean_eur_per_kwh", "tab:red", "-", 1.5, "retail tariff (mean)"),
        ("feed_in_max_eur_per_kwh", "tab:green", "-", 1.5, "feed-in tariff (max)"),
        ("market_buy_eur_per_kwh", "tab:orange", "--", 1.5, "market-indexed buy"),
        ("market_sell_eur_per_kwh", "tab:olive", "--", 1.5, "market-indexed sell"),
        ("dual_price_eur_per_kwh", "tab:gray", ":", 1.5, "dual price of the pool balance"),
        ("lem_price_eur_per_kwh", "tab:blue", "-", 2.0, "LEM price"),
    ]
    for column, color, style, width, label in lines:
        if column in prices:
            ax.step(
                t,
                prices[column],
                where="post",
                color=color,
                linestyle=style,
                linewidth=width,
                label=label,
            )
    ax.set_xlabel("time (h)")
    ax.set_ylabel("price (EUR/kWh)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncol=4)
    return fig


def plot_energy(energy: pd.DataFrame, time_step_h: float, title: str) -> Figure:
    """Energy shared inside the community against energy bought from / sold to retailers.

    The legend is below the axes: the bars and the consumption span the whole day.
    """
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    t = energy["time_h"]
    width = 0.9 * time_step_h
    internal = energy["internal_kwh"]
    ax.bar(t, internal, width=width, align="edge", color="tab:blue", label="bought inside the REC")
    ax.bar(
        t,
        energy["retailer_import_kwh"],
        width=width,
        align="edge",
        bottom=internal,
        color="tab:red",
        alpha=0.7,
        label="bought from retailers / market",
    )
    ax.bar(
        t,
        -energy["retailer_export_kwh"],
        width=width,
        align="edge",
        color="tab:green",
        alpha=0.7,
        label="sold to retailers / market",
    )
    ax.step(
        t,
        energy["consumption_kwh"],
        where="post",
        color="black",
        linewidth=1,
        label="total consumption (own PV included)",
    )
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("energy per step (kWh)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncol=4)
    return fig


def plot_costs(members: pd.DataFrame, title: str) -> Figure:
    """Each member's cost alone and in the REC."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(members))
    ax.bar(x - 0.2, members["cost_alone_eur"], width=0.4, color="tab:gray", label="alone")
    ax.bar(x + 0.2, members["cost_rec_eur"], width=0.4, color="tab:blue", label="in the REC")
    ax.set_xticks(x, members["member"], rotation=45, ha="right")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("member")
    ax.set_ylabel("cost over the horizon (EUR)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
