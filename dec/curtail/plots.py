"""Figures of the curtailment mode (axes labelled with units)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import dec.plots  # noqa: F401  (Agg backend)

#: Colour of each phase code (0 balanced, 1–3 phase a–c).
PHASE_COLORS = {0: "tab:blue", 1: "tab:blue", 2: "tab:green", 3: "tab:purple"}
DISTANCE_LABEL = "electrical distance: path resistance from the substation (pu, 1 MVA base)"
#: Schemes whose points of the price of fairness differ by less than this fraction of each
#: axis' span (kW; Jain's index, whose axis spans 1) share one point.
SAME_POINT = 0.01
#: Markers of the points of the price of fairness, in turn.
MARKERS = ("o", "s", "^", "D", "v")


def _tolerance_band(ax: Axes, vmax_pu: float, ac_tol_pu: float) -> None:
    """Shade the AC tolerance above the upper voltage limit (pu)."""
    ax.axhspan(
        vmax_pu,
        vmax_pu + ac_tol_pu,
        color="tab:red",
        alpha=0.15,
        lw=0,
        label=f"AC tolerance +{ac_tol_pu:g} pu",
    )


def voltage_profile(voltages: pd.DataFrame, vmax_pu: float, ac_tol_pu: float, title: str) -> Figure:
    """Voltages against electrical distance, before and after curtailment, with the limit.

    ``voltages`` has one row per (bus, phase): ``electrical_distance_pu``, ``phase``,
    ``vm_pu_before``, ``vm_pu_after_linear``, ``vm_pu_after_ac``. On a three-phase feeder
    the after-curtailment AC voltages are coloured by phase. The band above the limit
    ``vmax_pu`` (pu) is the tolerance ``ac_tol_pu`` (pu) within which an AC voltage counts
    as within the limit. The legend sits outside the axes, so it hides no point.
    """
    fig, ax = plt.subplots(figsize=(11, 5), layout="constrained")
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
    _tolerance_band(ax, vmax_pu, ac_tol_pu)
    ax.set_xlabel(DISTANCE_LABEL)
    ax.set_ylabel("voltage magnitude (pu)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig


def curtailment_per_agent(res: pd.DataFrame, distance: pd.Series, title: str) -> Figure:
    """Available and curtailed power, curtailment ratio and reactive power of every PV agent.

    Panels: available and curtailed power (kW), curtailment ratio (% of available) and,
    when an agent absorbs reactive power (``q_setpoint_kvar`` below 0), its reactive
    power (kvar, negative = absorbed). Agents are sorted by electrical distance from the
    substation, so a location bias (far PVs curtailed more) shows as a rising ratio.
    """
    order = distance.reindex(res["agent_id"]).to_numpy().argsort(kind="stable")
    rows = res.iloc[order]
    pos = np.arange(len(rows))
    q_kvar = rows["q_setpoint_kvar"].to_numpy()
    reactive = bool((q_kvar < 0).any())
    fig, axes = plt.subplots(
        3 if reactive else 2,
        1,
        figsize=(10, 8.5 if reactive else 6.5),
        sharex=True,
        layout="constrained",
        height_ratios=(3, 2, 2) if reactive else (3, 2),
    )
    ax, bx = axes[:2]
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
    if reactive:
        axes[2].fill_between(pos, 0, q_kvar, step="mid", color="tab:blue")
        axes[2].set_ylabel("reactive power\n(kvar, negative = absorbed)")
    axes[-1].set_xlabel("PV agents, sorted by electrical distance from the substation (rank)")
    return fig


def residuals(history: pd.DataFrame, title: str) -> Figure:
    """Primal and dual residuals per ADMM round with their stopping thresholds.

    ``history`` is ``residuals.csv``: one row per round with its ``step`` and
    ``linear_solve``. A vertical line marks the first round of each new step (solid) and
    of each re-linearisation within a step (dotted), where the residuals start afresh.
    The legend sits outside the axes.
    """
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    rounds = np.arange(1, len(history) + 1)
    floor = 1e-16
    ax.semilogy(rounds, history["primal_residual"].clip(lower=floor), label="primal residual ‖r‖")
    ax.semilogy(rounds, history["dual_residual"].clip(lower=floor), label="dual residual ‖s‖")
    ax.semilogy(rounds, history["eps_primal"], "--", c="tab:blue", lw=0.8, label="ε primal")
    ax.semilogy(rounds, history["eps_dual"], "--", c="tab:orange", lw=0.8, label="ε dual")
    step, solve = history["step"].to_numpy(), history["linear_solve"].to_numpy()
    new_step = np.flatnonzero(np.diff(step) != 0) + 1
    new_solve = np.flatnonzero((np.diff(step) == 0) & (np.diff(solve) != 0)) + 1
    for starts, style, label in ((new_step, "-", "new step"), (new_solve, ":", "re-linearised")):
        for k, start in enumerate(starts):
            ax.axvline(rounds[start] - 0.5, c="0.4", ls=style, lw=0.7, label=None if k else label)
    ax.set_xlabel("ADMM round (all linearisations and steps)")
    ax.set_ylabel("residual (scaled curtailment fraction, weighted 2-norm)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig


def price_of_fairness(table: pd.DataFrame, title: str) -> Figure:
    """Total curtailment against Jain's index, one point per fairness scheme.

    Schemes that reach the same point (within :data:`SAME_POINT` of each axis' span) share
    one marker, named by one legend entry (``feeder = transformer``); the legend lies
    outside the axes, so no name overlaps another or a point.
    """
    fig, ax = plt.subplots(figsize=(8.5, 5), layout="constrained")
    kw, jain = table["total_curtailment_kw"].to_numpy(), table["jain_index"].to_numpy()
    span_kw = max(float(np.ptp(kw)), 1e-9)
    groups: list[list[int]] = []
    for k in range(len(table)):
        same = next(
            (
                g
                for g in groups
                if abs(kw[k] - kw[g[0]]) <= SAME_POINT * span_kw
                and abs(jain[k] - jain[g[0]]) <= SAME_POINT
            ),
            None,
        )
        if same is None:
            groups.append([k])
        else:
            same.append(k)
    names = table["fairness"].to_numpy()
    for k, g in enumerate(groups):
        ax.scatter(
            kw[g[0]],
            jain[g[0]],
            s=60,
            marker=MARKERS[k % len(MARKERS)],
            label=f"{' = '.join(names[g])} ({kw[g[0]]:,.0f} kW, {jain[g[0]]:.2f})",
        )
    ax.set_xlabel("total curtailment (kW)")
    ax.set_ylabel("Jain's fairness index of curtailment ratios (–)")
    ax.set_ylim(0, 1.08)
    ax.set_title(title)
    ax.legend(title="scheme (curtailment, index)", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def daily(
    series: pd.DataFrame, vmax_pu: float, ac_tol_pu: float, reported_h: float | None, title: str
) -> Figure:
    """Available and delivered PV power and maximum voltage over the steps of a day.

    The band above the limit ``vmax_pu`` (pu) is the AC tolerance ``ac_tol_pu`` (pu); a
    vertical line marks the reported step's time of day ``reported_h`` (h; none if None).
    """
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, layout="constrained")
    hours = series["time_h"]
    ax.fill_between(hours, series["p_available_kw"], color="tab:red", alpha=0.35, label="curtailed")
    ax.fill_between(hours, series["p_setpoint_kw"], color="tab:green", alpha=0.8, label="delivered")
    ax.set_ylabel("PV power (kW)")
    ax.legend(loc="upper left")
    bx.plot(hours, series["vmax_pu_before"], c="0.5", label="before (AC)")
    bx.plot(hours, series["vmax_pu_after_ac"], c="tab:blue", label="after (AC)")
    bx.axhline(vmax_pu, color="tab:red", ls="--", lw=1.0, label="limit")
    _tolerance_band(bx, vmax_pu, ac_tol_pu)
    if reported_h is not None:
        for axis in (ax, bx):
            axis.axvline(reported_h, c="0.3", ls=":", lw=1.0, label="reported step")
    bx.set_ylabel("max voltage (pu)")
    bx.set_xlabel("time of day (h)")
    bx.legend(loc="upper left")
    ax.set_title(title)
    return fig
