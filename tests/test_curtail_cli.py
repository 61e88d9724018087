"""The curtailment command line end to end: files, schemas, exit codes, AC check from the JSON alone."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

import feeders
from dec.run import main
from dec.schemas import validate, validate_folder

AC_LIMIT_PU = 1.05 + 1e-3


def _run(tmp_path: Path, *args: str) -> tuple[int, Path]:
    code = main([*args, "--out", str(tmp_path)])
    return code, tmp_path / args[0] / "curtail"


def _files(out: Path) -> tuple[dict, list[dict]]:
    summary = json.loads((out / "summary.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted((out / "setpoints").glob("*.json"))]
    return summary, records


def _ac_vmax_from_json(feeder_id: str, records: list[dict], knobs: dict) -> float:
    """Apply the written setpoints to a freshly built feeder and run the AC power flow.

    The feeder is rebuilt from its id and the knobs the summary records.
    """
    net = feeders.load(feeder_id, **knobs).net
    for rec in records:
        table, index = rec["element"]["table"], rec["element"]["index"]
        net[table].at[index, "p_mw"] = rec["p_setpoint_kw"] / 1000.0
        net[table].at[index, "q_mvar"] = rec["q_setpoint_kvar"] / 1000.0
    pp.runpp(net, numba=False)
    return float(net.res_bus["vm_pu"].max())


@pytest.mark.parametrize("feeder_id", ["ieee123", "cigre_lv", "village"])
def test_default_run_writes_valid_files_and_meets_the_limit(tmp_path, feeder_id):
    code, out = _run(tmp_path, feeder_id)
    assert code == 0
    validate_folder(out, "curtail")
    summary, records = _files(out)
    assert summary["n_agents"] == len(records) == len(feeders.load(feeder_id).agents_of_type("pv"))
    assert summary["converged"] and all(r["converged"] for r in records)
    assert summary["vmax_pu_before"] > 1.05
    assert summary["feeder_knobs"] == feeders.load(feeder_id).knobs
    assert _ac_vmax_from_json(feeder_id, records, summary["feeder_knobs"]) <= AC_LIMIT_PU
    # the written net at its setpoints reproduces the reported AC voltages
    net = pp.from_json(str(out / "net_after.json"))
    pp.runpp(net, numba=False)
    assert net.res_bus["vm_pu"].max() == pytest.approx(summary["vmax_pu_after_ac"], abs=1e-9)
    # per-agent files and summary agree
    assert sum(r["curtailment_kw"] for r in records) == pytest.approx(
        summary["total_curtailment_kw"], rel=1e-9
    )
    ratios = {round(r["curtailment_ratio"], 9) for r in records if r["p_available_kw"] > 0}
    assert ratios == {round(summary["alpha"], 9)}
    assert 1.0 - 1e-12 <= summary["jain_index"] <= 1.0  # village's formula rounds above 1
    # a single operating point: no reported step, and net_after.json is the run's point
    assert summary["reported_step"] is None and summary["reported_time_h"] is None
    assert summary["vmax_pu_after_ac_reported_step"] == summary["vmax_pu_after_ac"]
    assert summary["ac_tolerance_pu"] == 0.0005 and summary["message"] is None
    # linear solves: those residuals.csv numbers; re-linearisations: those after the first
    solves = pd.read_csv(out / "residuals.csv")["linear_solve"]
    assert summary["linear_solves"] == solves.nunique() == solves.max()
    assert summary["relinearisations"] == summary["linear_solves"] - 1
    assert summary["objective_gap_rel"] <= 1e-4
    for name in ("voltage_profile", "curtailment", "residuals"):
        assert (out / f"{name}.png").stat().st_size > 10_000
    cim = json.loads((out / "cim_difference.json").read_text())
    assert len(cim["messages"]) == len(records)
    first = cim["messages"][0]["input"]["message"]
    rec = next(r for r in records if r["agent_id"] == first["name"])
    assert first["forward_differences"][0]["value"] == pytest.approx(rec["p_setpoint_kw"] * 1000.0)
    assert first["reverse_differences"][0]["value"] == pytest.approx(rec["p_available_kw"] * 1000.0)
    if feeder_id == "ieee123":
        assert summary["iterations"] <= 40
        assert summary["vmax_pu_before"] >= 1.06
        assert summary["linear_solves"] == 2  # the AC check re-linearises once


def test_centralized_solver_gives_the_same_setpoints(tmp_path, capsys):
    _, out_admm = _run(tmp_path / "a", "cigre_lv", "--fairness", "proportional", "--no-plots")
    capsys.readouterr()
    code, out_c = _run(
        tmp_path / "c",
        "cigre_lv",
        "--fairness",
        "proportional",
        "--solver",
        "centralized",
        "--no-plots",
    )
    assert code == 0
    a = {r["agent_id"]: r["p_setpoint_kw"] for r in _files(out_admm)[1]}
    c = {r["agent_id"]: r["p_setpoint_kw"] for r in _files(out_c)[1]}
    assert a.keys() == c.keys()
    assert max(abs(a[k] - c[k]) for k in a) <= 1e-3
    assert _files(out_c)[0]["iterations"] is None
    console = capsys.readouterr().out  # what the summary does not define reads n/a, not blank
    assert re.search(r"ADMM rounds\s+n/a", console)
    assert re.search(r"common fraction alpha\s+n/a", console)


def test_not_converged_exits_3_and_still_writes(tmp_path, capsys):
    code, out = _run(
        tmp_path, "village", "--fairness", "efficient", "--max-iter", "2", "--no-plots"
    )
    assert code == 3
    validate_folder(out, "curtail")
    summary, records = _files(out)
    assert summary["converged"] is False
    assert records and all(r["converged"] is False for r in records)
    # the message names the limit reached, where, and the residuals against the tolerances
    residuals = pd.read_csv(out / "residuals.csv")
    last = residuals.iloc[-1]
    n = summary["linear_solves"]
    assert last["iteration"] == 2 and last["linear_solve"] == n
    message = summary["message"]
    assert message.startswith(
        "The ADMM reached its round limit of 2 rounds (--max-iter, which applies to each "
        f"linear solve of each step) in linear solve {n} of {n} before its tolerances: "
    )
    assert f"primal residual {last['primal_residual']:.3g} (tolerance " in message
    assert f"(tolerance {last['eps_dual']:.3g})." in message
    assert message in capsys.readouterr().err  # printed after NOT CONVERGED


def test_infeasible_limit_exits_2_naming_buses(tmp_path, capsys):
    code, out = _run(tmp_path, "village", "--vmax", "1.02")
    assert code == 2
    err = capsys.readouterr().err
    assert "fully curtailed" in err and "buses stay above the 1.02 pu limit" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps", "0"], "Option '--steps' must be from 1 to 96 (the quarter hours of the day"),
        (["--first-step", "90", "--steps", "7"], "from 1 to 6 (the quarter hours of the day from"),
        (["--first-step", "-3", "--steps", "2"], "Option '--first-step' must be from 0 to 95"),
        (["--first-step", "96", "--day"], "Option '--first-step' must be from 0 to 95"),
    ],
)
def test_series_options_outside_the_day_exit_2(tmp_path, capsys, options, message):
    code, out = _run(tmp_path, "cigre_lv", *options)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("dec: error: Invalid input in the command line: ")
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        # ADMM options are refused by a centralized run given at their default values too
        (["--solver", "centralized", "--anderson", "5"], "does not use --anderson (ADMM)"),
        (["--solver", "centralized", "--eps-abs", "1e-10"], "does not use --eps-abs (ADMM)"),
        (["--solver", "centralized", "--eps-rel", "1e-9"], "does not use --eps-rel (ADMM)"),
        (["--solver", "centralized", "--max-iter", "5000"], "does not use --max-iter (ADMM)"),
        (["--first-step", "0"], "Option --first-step 0 starts a time series; add --day"),
        (["--compare-fairness", "--day"], "--compare-fairness compares one operating point"),
        (["--anderson", "51"], "Field 'anderson' is outside [0, 50]"),
        (["--vmax", "0.9"], "lower voltage limit (0.95, the feeder's) must be below the upper "),
    ],
)
def test_option_errors_are_blamed_on_the_command_line(tmp_path, capsys, options, message):
    code, out = _run(tmp_path, "cigre_lv", *options)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("dec: error: Invalid input in the command line: ")
    assert message in err
    assert not out.exists()


def test_series_of_night_steps_has_nothing_to_solve(tmp_path):
    # quarter hours 0-1 have no PV output: no step is solved, every PV keeps its (zero) output
    # and reports the voltages of the loads' AC power flow, unchanged by the (empty) setpoints
    code, out = _run(tmp_path, "cigre_lv", "--steps", "2", "--no-plots")
    assert code == 0
    validate_folder(out, "curtail")  # setpoints.csv without linear-model voltages
    summary, records = _files(out)
    assert summary["n_steps"] == 2 and summary["iterations"] == 0
    # the shapes' multipliers (default 1), not the feeder's single-point knobs (0.2 / 1)
    assert summary["shape_scales"] == {"load_scale": 1.0, "pv_scale": 1.0}
    assert summary["total_curtailment_kw"] == 0.0 and summary["vmax_pu_after_linear"] is None
    assert summary["vmax_pu_before"] == summary["vmax_pu_after_ac"] < 1.05
    assert all(r["p_setpoint_kw"] == [0.0, 0.0] for r in records)
    assert all(r["voltage_pu_before"] == r["voltage_pu_after"] for r in records)
    assert all(0.9 < v < 1.05 for r in records for v in r["voltage_pu_after"])
    assert not (out / "residuals.csv").exists()


def test_bad_input_leaves_earlier_outputs_untouched(tmp_path):

    code, out = _run(tmp_path, "cigre_lv", "--no-plots")
    assert code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["cigre_lv", "--out", str(tmp_path), "--vmax", "0.9"]) == 2  # below vmin
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_process_engine_is_identical_to_serial(tmp_path):
    _, serial = _run(tmp_path / "s", "village", "--fairness", "efficient", "--no-plots")
    code, proc = _run(
        tmp_path / "p", "village", "--fairness", "efficient", "--engine", "process", "--no-plots"
    )
    assert code == 0
    s = {r["agent_id"]: r["p_setpoint_kw"] for r in _files(serial)[1]}
    p = {r["agent_id"]: r["p_setpoint_kw"] for r in _files(proc)[1]}
    assert s == p
    assert _files(serial)[0]["iterations"] == _files(proc)[0]["iterations"]


def test_time_series_writes_lists_and_meets_the_limit_every_step(tmp_path):
    code, out = _run(
        tmp_path, "cigre_lv", "--steps", "3", "--first-step", "47", "--vmax", "1.035", "--no-plots"
    )

    assert code == 0
    validate_folder(out, "curtail")
    summary, records = _files(out)
    assert summary["time_step_h"] == 0.25 and summary["n_steps"] == 3
    assert summary["first_step"] == 47
    for rec in records:
        assert rec["time_step_h"] == 0.25 and rec["start_time_h"] == 11.75
        assert len(rec["p_setpoint_kw"]) == 3
    steps = pd.read_csv(out / "steps.csv")
    assert steps["time_h"].tolist() == [11.75, 12.0, 12.25]  # quarter hours 47-49 of the day
    assert summary["total_curtailment_kwh"] == pytest.approx(
        steps["curtailment_kw"].sum() * 0.25, rel=1e-9
    )
    assert (steps["vmax_pu_before"] > 1.035).all(), "every step needs curtailment"
    assert (steps["vmax_pu_after_ac"] <= 1.035 + 1e-3).all()

    cim = json.loads((out / "cim_difference.json").read_text())
    # reverse differences chain: each step's reverse value is the previous step's setpoint
    agent = records[0]["agent_id"]
    msgs = [
        m["input"]["message"] for m in cim["messages"] if m["input"]["message"]["name"] == agent
    ]
    # timestamps: each step's start in seconds from midnight
    assert [m["timestamp"] for m in msgs] == [42300, 43200, 44100]
    for prev, cur in itertools.pairwise(msgs):
        assert cur["reverse_differences"][0]["value"] == pytest.approx(
            prev["forward_differences"][0]["value"]
        )


def test_series_reports_the_step_with_the_most_curtailment(tmp_path, capsys):
    # 13:15-14:00 with a 1.035 pu limit: the most curtailment is at 13:45 (step 2), the
    # highest AC voltage after at 14:00 (step 3, higher by 8e-8 pu)
    code, out = _run(
        tmp_path, "cigre_lv", "--steps", "4", "--first-step", "53", "--vmax", "1.035", "--no-plots"
    )
    assert code == 0
    validate_folder(out, "curtail")
    summary, records = _files(out)
    steps = pd.read_csv(out / "steps.csv")
    step = int(steps["curtailment_kw"].idxmax())
    assert summary["reported_step"] == step == 2
    assert summary["reported_time_h"] == steps.at[step, "time_h"] == 13.75
    assert summary["total_curtailment_kw"] == pytest.approx(steps.at[step, "curtailment_kw"])
    # 1e-12: pandas' fast CSV float parser may be one ulp off the written value
    assert summary["vmax_pu_after_ac"] == pytest.approx(steps["vmax_pu_after_ac"].max(), abs=1e-12)
    reported_vmax = summary["vmax_pu_after_ac_reported_step"]
    assert reported_vmax == pytest.approx(steps.at[step, "vmax_pu_after_ac"], abs=1e-12)
    assert reported_vmax < summary["vmax_pu_after_ac"] - 1e-8
    # net_after.json, voltages.csv and alpha are those of the reported step
    net = pp.from_json(str(out / "net_after.json"))
    pp.runpp(net, numba=False)
    assert net.res_bus["vm_pu"].max() == pytest.approx(reported_vmax, abs=1e-9)
    voltages = pd.read_csv(out / "voltages.csv")
    assert voltages["vm_pu_after_ac"].max() == pytest.approx(reported_vmax, abs=1e-12)
    ratios = {round(r["curtailment_ratio"][step], 9) for r in records}
    assert ratios == {round(summary["alpha"], 9)}
    # the console: the window, the energy, the reported step and what its rows are
    rows = capsys.readouterr().out
    assert re.search(r"time steps\s+4 quarter hours 13:15–14:15 \(4 with PV output\)", rows)
    assert re.search(r"reported step \(most curtailment\)\s+2, 13:45", rows)
    assert re.search(rf"curtailed energy \(kWh\)\s+{summary['total_curtailment_kwh']:.6g}\n", rows)
    assert re.search(r"curtailment at the reported step \(kW\)\s+162\.9", rows)
    assert "common fraction alpha (reported step)" in rows
    assert re.search(r"objective / centralized\s+[0-9.]+ / [0-9.]+ \(kW curtailed, summed", rows)


def test_scale_options_multiply_the_shapes_of_a_series(tmp_path):
    """A step's loads are shape × nominal × --load-scale, its PV shape × kWp × --pv-scale."""
    plain = _run(tmp_path / "a", "cigre_lv", "--steps", "1", "--first-step", "48", "--no-plots")
    scaled = _run(
        tmp_path / "b", "cigre_lv", "--steps", "1", "--first-step", "48", "--no-plots",
        "--pv-scale", "0.5", "--load-scale", "2",
    )  # fmt: skip
    assert plain[0] == scaled[0] == 0
    (s_plain, r_plain), (s_scaled, r_scaled) = _files(plain[1]), _files(scaled[1])
    assert s_scaled["total_available_kw"] == pytest.approx(0.5 * s_plain["total_available_kw"])
    for a, b in zip(r_plain, r_scaled, strict=True):
        assert b["p_available_kw"][0] == pytest.approx(0.5 * a["p_available_kw"][0])
    assert s_scaled["feeder_knobs"]["load_scale"] == 2.0
    assert s_scaled["vmax_pu_before"] < s_plain["vmax_pu_before"]


def test_compare_fairness_table_and_price_of_fairness(tmp_path):
    code, out = _run(tmp_path, "cigre_lv", "--compare-fairness")
    assert code == 0
    validate_folder(out, "curtail")
    table = pd.read_csv(out / "fairness_comparison.csv").set_index("fairness")
    assert set(table.index) == {"feeder", "transformer", "equal-kw", "efficient", "proportional"}
    # efficient curtails the least; on cigre_lv proportional ties with it (66.39699 kW both,
    # equal to 1e-8 kW), so the comparison allows the solvers' 1e-6 kW accuracy

    total_kw = table["total_curtailment_kw"]
    assert total_kw["efficient"] <= total_kw.min() + 1e-6

    assert table.at["feeder", "jain_index"] == pytest.approx(1.0)
    assert np.all(table["vmax_pu_after_ac"] <= AC_LIMIT_PU)
    assert (out / "price_of_fairness.png").stat().st_size > 10_000


def test_operating_point_where_the_ac_power_flow_diverges_exits_2(tmp_path, capsys):
    # 1000 x the PV's rated output: no AC solution exists; one clear message, nothing written
    code, out = _run(tmp_path, "cigre_lv", "--pv-scale", "1000")
    assert code == 2
    err = capsys.readouterr().err
    assert "AC power flow did not converge" in err and "Traceback" not in err
    assert err.startswith("dec: error in cigre_lv:")
    assert "and the command line's --pv-scale 1000;" in err
    assert not out.exists()


@pytest.mark.parametrize("vm", ["0.5", "1.0e+9"])
def test_source_voltage_outside_the_distribution_range_exits_2(tmp_path, capsys, vm):
    path = tmp_path / "s.yaml"
    path.write_text(f"feeder: cigre_lv\nknobs:\n  vm_ext_pu: {vm}\n")
    assert main([str(path), "--out", str(tmp_path)]) == 2
    message = "Field 'knobs.vm_ext_pu' (the source voltage) must be a number in [0.8, 1.2] pu"
    assert message in capsys.readouterr().err


def test_under_voltage_that_curtailment_cannot_fix_is_reported_not_imposed(tmp_path):
    # nominal CIGRE loads and twice the rooftop PV: the residential PV raises voltages above
    # 1.05 pu while 12 commercial buses are below 0.95 pu without any curtailment.
    # Curtailing only lowers voltages, so their lower limit is left out and reported; the
    # over-voltage is still removed.
    args = ["--load-scale", "1", "--pv-scale", "2"]
    code, out = _run(tmp_path, "cigre_lv", *args, "--no-plots")
    assert code == 0
    summary, _ = _files(out)
    assert summary["vmax_pu_before"] > 1.051 and summary["vmax_pu_after_ac"] <= AC_LIMIT_PU
    assert summary["total_curtailment_kw"] > 0
    [note] = summary["notes"]
    assert note.startswith("Without any curtailment, 12 buses are below the 0.95 pu lower limit")
    assert "35 (Bus C12, 0.9343 pu)" in note


@pytest.mark.parametrize(("vm_ext_pu", "within"), [(1.02, True), (1.06, False)])
def test_an_operating_point_without_pv_output_has_nothing_to_curtail(tmp_path, vm_ext_pu, within):
    # no PV output: no solve, every setpoint 0, voltages of the AC power flow as they are
    # (reference: pandapower runpp of the same feeder); a source above the limit is reported
    # as not within it (curtailment cannot lower it)
    path = tmp_path / "dark.yaml"
    path.write_text(f"feeder: cigre_lv\nknobs:\n  vm_ext_pu: {vm_ext_pu}\n  pv_scale: 0\n")
    code = main([str(path), "--out", str(tmp_path)])  # with plots: there are none to draw
    assert code == 0
    assert not list((tmp_path / "dark" / "curtail").glob("*.png"))
    summary, records = _files(tmp_path / "dark" / "curtail")
    validate(summary, "summary", "curtail")
    assert summary["iterations"] == 0 and summary["converged"] is True
    assert summary["total_curtailment_kw"] == 0.0 and summary["alpha"] is None
    assert all(r["p_setpoint_kw"] == 0.0 == r["curtailment_kw"] for r in records)
    net = feeders.load("cigre_lv", vm_ext_pu=vm_ext_pu, pv_scale=0.0).net
    pp.runpp(net)
    assert summary["vmax_pu_after_ac"] == pytest.approx(net.res_bus.vm_pu.max(), abs=1e-9)
    assert summary["vmax_pu_before"] == summary["vmax_pu_after_ac"]
    assert summary["vmax_limit_pu"] == 1.05 and summary["ac_within_limit"] is within


def test_command_line_fairness_overrides_the_scenario_file_at_its_default_too(tmp_path):
    # --fairness feeder (the default value) given on the command line still wins
    spec = tmp_path / "efficient.yaml"
    spec.write_text("feeder: cigre_lv\ncurtail: {fairness: efficient}\n")
    for argv, expected in (([], "efficient"), (["--fairness", "feeder"], "feeder")):
        out = tmp_path / "out"
        assert main([str(spec), *argv, "--out", str(out), "--no-plots"]) == 0
        summary = json.loads((out / "efficient" / "curtail" / "summary.json").read_text())
        assert summary["fairness"] == expected


def test_lower_limit_above_the_feeders_upper_limit_exits_2(tmp_path, capsys):
    spec = tmp_path / "high_floor.yaml"
    spec.write_text("feeder: cigre_lv\ncurtail: {vmin_pu: 1.2}\n")
    assert main([str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "The lower voltage limit (field 'vmin_pu' 1.2) must be below the upper limit " in err
    assert "(1.05, the feeder's)" in err
