"""Figures of the curtailment mode (axes labelled with units)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import dec.plots  # noqa: F401  (Agg backend)

#: Colour of each phase code (0 balanced, 1–3 phase a–c).
PHASE_COLORS = {0: "tab:blue", 1: "tab:blue", 2: "tab:green", 3: "tab:purple"}
DISTANCE_LABEL = "electrical distance: path resistance from the substation (pu, 1 MVA base)"


def voltage_profile(voltages: pd.DataFrame, vmax_pu: float, title: str) -> Figure:
    """Voltages against electrical distance, before and after curtailment, with the limit.

    ``voltages`` has one row per (bus, phase): ``electrical_distance_pu``, ``phase``,
    ``vm_pu_before``, ``vm_pu_after_linear``, ``vm_pu_after_ac``. On a three-phase feeder
    the after-curtailment AC voltages are coloured by phase.
    """
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    x = voltages["electrical_distance_pu"]
    ax.scatter(x, voltages["vm_pu_before"], s=8, c="0.6", label="before (AC)")
    ax.scatter(
        x,
        voltages["vm_pu_after_linear"],
        s=14,
        marker="x",
        c="tab:orange",
        linewidths=0.6,
        label="after (linear model)",
    )
    for phase, rows in voltages.groupby("phase"):
        label = "after (AC)" if phase == 0 else f"after (AC), phase {'abc'[phase - 1]}"
        color = PHASE_COLORS[phase]
        ax.scatter(
            rows["electrical_distance_pu"], rows["vm_pu_after_ac"], s=8, c=color, label=label
        )
    ax.axhline(vmax_pu, color="tab:red", ls="--", lw=1.2, label=f"limit {vmax_pu:.3f} pu")
    ax.set_xlabel(DISTANCE_LABEL)
    ax.set_ylabel("voltage magnitude (pu)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def curtailment_per_agent(res: pd.DataFrame, distance: pd.Series, title: str) -> Figure:
    """Available and curtailed power (top) and curtailment ratio (bottom) of every PV agent.

    Agents are sorted by electrical distance from the substation, so a location bias
    (far PVs curtailed more) shows as a rising ratio.
    """
    order = distance.reindex(res["agent_id"]).to_numpy().argsort(kind="stable")
    rows = res.iloc[order]
    pos = np.arange(len(rows))
    fig, (ax, bx) = plt.subplots(
        2, 1, figsize=(10, 6.5), sharex=True, layout="constrained", height_ratios=(3, 2)
    )
    available = rows["p_available_kw"].to_numpy()
    curtailed = rows["curtailment_kw"].to_numpy()
    ax.fill_between(pos, 0, available, step="mid", color="0.75", label="available")
    ax.fill_between(pos, 0, curtailed, step="mid", color="tab:red", label="curtailed")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylabel("power (kW, log above 1)")
    ax.legend(loc="upper right")
    ax.set_title(title)
    bx.plot(pos, 100.0 * rows["curtailment_ratio"].to_numpy(), ".", ms=3, c="tab:red")
    bx.set_ylim(-2, 102)
    bx.set_ylabel("curtailment (% of available)")
    bx.set_xlabel("PV agents, sorted by electrical distance from the substation (rank)")
    return fig


def residuals(history: pd.DataFrame, title: str) -> Figure:
    """Primal and dual residuals per ADMM round with their stopping thresholds."""
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    rounds = np.arange(1, len(history) + 1)
    floor = 1e-16
    ax.semilogy(rounds, history["primal_residual"].clip(lower=floor), label="primal residual ‖r‖")
    ax.semilogy(rounds, history["dual_residual"].clip(lower=floor), label="dual residual ‖s‖")
    ax.semilogy(rounds, history["eps_primal"], "--", c="tab:blue", lw=0.8, label="ε primal")
    ax.semilogy(rounds, history["eps_dual"], "--", c="tab:orange", lw=0.8, label="ε dual")
    ax.set_xlabel("ADMM round (all linearisations and steps)")
    ax.set_ylabel("residual (scaled curtailment fraction, weighted 2-norm)")
    ax.set_title(title)
    ax.legend()
    return fig


def price_of_fairness(table: pd.DataFrame, title: str) -> Figure:
    """Total curtailment against Jain's index, one point per fairness scheme."""
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    ax.scatter(table["total_curtailment_kw"], table["jain_index"], s=40, c="tab:purple")
    for row in table.itertuples():
        ax.annotate(
            row.fairness,
            (row.total_curtailment_kw, row.jain_index),
            textcoords="offset points",
            xytext=(6, 4),
        )
    ax.set_xlabel("total curtailment (kW)")
    ax.set_ylabel("Jain's fairness index of curtailment ratios (–)")
    ax.set_ylim(0, 1.08)
    ax.set_title(title)
    return fig


def daily(series: pd.DataFrame, vmax_pu: float, title: str) -> Figure:
    """Available and delivered PV power and maximum voltage over the steps of a day."""
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, layout="constrained")
    hours = series["time_h"]
    ax.fill_between(hours, series["p_available_kw"], color="tab:red", alpha=0.35, label="curtailed")
    ax.fill_between(hours, series["p_setpoint_kw"], color="tab:green", alpha=0.8, label="delivered")
    ax.set_ylabel("PV power (kW)")
    ax.legend(loc="upper left")
    bx.plot(hours, series["vmax_pu_before"], c="0.5", label="before (AC)")
    bx.plot(hours, series["vmax_pu_after_ac"], c="tab:blue", label="after (AC)")
    bx.axhline(vmax_pu, color="tab:red", ls="--", lw=1.0, label="limit")
    bx.set_ylabel("max voltage (pu)")
    bx.set_xlabel("time of day (h)")
    bx.legend(loc="upper left")
    ax.set_title(title)
    return fig
