"""What the curtailment report shows: console rows, and what its figures draw and label."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from dec.admm.convergence import Tolerances
from dec.curtail import plots
from dec.curtail.problem import CurtailSettings
from dec.curtail.report import build_result, summarise
from dec.curtail.simulate import read_shapes, run_series, run_snapshot


def _console(result) -> dict:
    return dict(result.console)


def test_reactive_power_is_shown_in_the_console_and_the_curtailment_figure(feeder_cache):
    # equal-kW with reactive power on cigre_lv: the inverters absorb reactive power and
    # nothing is curtailed (Jain's index 1 by convention, printed as such)
    run = run_snapshot(
        feeder_cache("cigre_lv"), CurtailSettings(fairness="equal-kw", reactive=True)
    )
    result = build_result(run, "admm", "serial")
    summary, console = result.summary, _console(result)
    assert summary["total_curtailment_kw"] == 0.0 and summary["jain_index"] == 1.0
    assert summary["total_q_kvar"] == pytest.approx(run.res_agent["q_setpoint_kvar"].sum())
    assert summary["total_q_kvar"] < -100.0
    assert console["reactive power (kvar, negative = absorbed)"] == summary["total_q_kvar"]
    assert console["Jain's index"] == "1 (nothing curtailed)"
    assert console["objective / centralized"].endswith("(PVs × common kW + reactive-power cost)")
    fig = result.figures["curtailment"]()
    try:
        *_, q_axis = fig.axes
        assert len(fig.axes) == 3 and "kvar, negative = absorbed" in q_axis.get_ylabel()
        drawn = q_axis.collections[0].get_paths()[0].vertices[:, 1]
        assert drawn.min() == pytest.approx(run.res_agent["q_setpoint_kvar"].min())
    finally:
        plt.close(fig)


def test_figures_of_a_series_name_the_reported_step(feeder_cache):
    load, pv = read_shapes(2, 53)
    settings = CurtailSettings(vmax_pu=1.035)
    feeder = feeder_cache("cigre_lv", load_scale=1.0, pv_scale=1.0)
    run = run_series(feeder, settings, load, pv, first_step=53)
    result = build_result(run, "admm", "serial")
    step = result.summary["reported_step"]
    assert step == run.reported_step() == 1 and result.summary["reported_time_h"] == 13.5
    for name in ("voltage_profile", "curtailment"):
        fig = result.figures[name]()
        try:
            assert "at 13:30 (step 1, most curtailment)" in fig.axes[0].get_title()
        finally:
            plt.close(fig)
    fig = result.figures["daily"]()
    try:
        marks = [line for line in fig.axes[1].get_lines() if line.get_label() == "reported step"]
        assert [line.get_xdata()[0] for line in marks] == [13.5]
    finally:
        plt.close(fig)


def test_voltage_profile_draws_the_tolerance_and_keeps_its_legend_off_the_data(feeder_cache):
    result = build_result(
        run_snapshot(feeder_cache("cigre_lv"), CurtailSettings()), "admm", "serial"
    )
    fig = result.figures["voltage_profile"]()
    try:
        ax = fig.axes[0]
        band = next(p for p in ax.patches if p.get_label() == "AC tolerance +0.0005 pu")
        _, y0, _, height = band.get_bbox().bounds
        assert (y0, y0 + height) == pytest.approx((1.05, 1.0505))
        fig.canvas.draw()
        legend, axes = ax.get_legend().get_window_extent(), ax.get_window_extent()
        assert legend.x0 >= axes.x1, "the legend lies right of the axes"
    finally:
        plt.close(fig)


def test_residuals_mark_each_new_step_and_re_linearisation():
    history = pd.DataFrame(
        {
            "step": [0, 0, 0, 0, 1, 1, 2],
            "linear_solve": [1, 1, 2, 2, 1, 1, 1],
            "primal_residual": 1e-3,
            "dual_residual": 1e-3,
            "eps_primal": 1e-6,
            "eps_dual": 1e-6,
        }
    )
    fig = plots.residuals(history, "t")
    try:
        vertical = [line for line in fig.axes[0].get_lines() if np.ptp(line.get_xdata()) == 0]
        # rounds 1..7: a re-linearisation starts at round 3, new steps at rounds 5 and 7
        solves = [line.get_xdata()[0] for line in vertical if line.get_linestyle() == ":"]
        steps = [line.get_xdata()[0] for line in vertical if line.get_linestyle() == "-"]
        assert solves == [2.5] and steps == [4.5, 6.5]
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert labels.count("new step") == 1 and labels.count("re-linearised") == 1
    finally:
        plt.close(fig)


def test_price_of_fairness_merges_the_names_of_schemes_at_one_point():
    # cigre_lv: feeder and transformer coincide, efficient and proportional tie to 1e-8 kW
    table = pd.DataFrame(
        {
            "fairness": ["feeder", "transformer", "equal-kw", "efficient", "proportional"],
            "total_curtailment_kw": [163.0, 163.0, 112.6, 66.39699, 66.39699 + 1e-8],
            "jain_index": [1.0, 1.0, 0.69, 0.47, 0.47],
        }
    )
    fig = plots.price_of_fairness(table, "t")
    try:
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == [
            "feeder = transformer (163 kW, 1.00)",
            "equal-kw (113 kW, 0.69)",
            "efficient = proportional (66 kW, 0.47)",
        ]
        assert not ax.texts, "no annotation can overlap another"
        points = np.concatenate([c.get_offsets() for c in ax.collections])
        assert len(points) == 3
    finally:
        plt.close(fig)


def test_a_run_stopped_by_the_ac_loop_says_so(feeder_cache):
    # ieee123 needs a second linear solve to meet the limit on the AC power flow
    run = run_snapshot(feeder_cache("ieee123"), CurtailSettings(max_relinearisations=1))
    summary = summarise(run, "admm", "serial")
    vm = run.solutions[0].vm_after_ac_pu
    assert summary["converged"] is False and vm.max() > 1.05 + 0.0005
    assert summary["message"] == (
        "The AC validation loop ran its largest number of linear solves (1), and an AC voltage "
        "is still more than 0.0005 pu outside the limits 0.95–1.05 pu (highest "
        f"{vm.max():.5f} pu, lowest {vm.min():.5f} pu)."
    )


def test_a_series_stopped_by_the_round_limit_names_the_step(feeder_cache):
    load, pv = read_shapes(2, 53)
    settings = CurtailSettings(vmax_pu=1.035, tolerances=Tolerances(1e-10, 1e-9, 1))
    feeder = feeder_cache("cigre_lv", load_scale=1.0, pv_scale=1.0)
    run = run_series(feeder, settings, load, pv, first_step=53)
    summary = summarise(run, "admm", "serial")
    n = run.solutions[0].linear_solves
    assert summary["converged"] is False
    assert summary["message"].startswith(
        "2 of the 2 solved steps did not converge; at the first, step 0 (13:15), the ADMM "
        "reached its round limit of 1 round (--max-iter, which applies to each linear solve of "
        f"each step) in linear solve {n} of {n} before its tolerances: primal residual "
    )
