"""The rec-pricing mode on the shipped example: files, schemas, invariants, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import dec.rec as rec
from dec.errors import SolverLimit
from dec.options.rec_pricing import MODE_MIP_REL_GAP
from dec.rec.scenario import read_section
from dec.run import build_parser, main
from dec.scenario import load_scenario
from dec.schemas import validate, validate_folder

EXAMPLE = Path(__file__).parents[1] / "inputs" / "rec_pricing" / "rec12.yaml"


def run(tmp_path: Path, *options: str) -> tuple[int, Path]:
    code = main([str(EXAMPLE), "--out", str(tmp_path), *options])
    return code, tmp_path / "rec12" / "rec-pricing"


def members(out: Path) -> dict[str, dict]:
    records = {}
    for path in sorted((out / "setpoints").glob("*.json")):
        record = json.loads(path.read_text())
        validate(record, "setpoint", "rec-pricing")
        records[record["agent_id"]] = record
    return records


def check_invariants(out: Path, n_steps: int) -> dict:
    validate_folder(out, "rec-pricing")
    summary = json.loads((out / "summary.json").read_text())
    records = members(out)
    assert summary["n_agents"] == len(records) == 12
    bought = np.zeros(n_steps)
    sold = np.zeros(n_steps)
    for record in records.values():
        assert record["agent_type"] == "member" and record["bus"] is None
        assert len(record["net_load_kwh"]) == n_steps
        # meter balance: retail and market exchanges plus community trades = net load
        balance = (
            np.array(record["supply_retail_kwh"])
            + record["supply_market_kwh"]
            - np.array(record["surplus_retail_kwh"])
            - record["surplus_market_kwh"]
            + record["bought_in_rec_kwh"]
            - np.array(record["sold_in_rec_kwh"])
        )
        assert balance == pytest.approx(record["net_load_kwh"], abs=1e-6)
        # power convention: generation (export) positive
        assert record["p_setpoint_kw"] == pytest.approx(
            -np.array(record["net_load_kwh"]) / record["time_step_h"], abs=1e-9
        )
        # two-stage guarantee: nobody pays more than alone (bounds rounded up to 0.001 EUR)
        assert record["cost_rec_total_eur"] <= record["cost_alone_total_eur"] + 1e-3 + 1e-9
        assert sum(record["cost_rec_eur"]) == pytest.approx(record["cost_rec_total_eur"])
        bought += record["bought_in_rec_kwh"]
        sold += record["sold_in_rec_kwh"]
    assert bought == pytest.approx(sold, abs=1e-6)  # what is bought in the REC is sold in it
    table = pd.read_csv(out / "members.csv").set_index("member")
    assert table.loc[list(records), "cost_rec_eur"].to_numpy() == pytest.approx(
        [r["cost_rec_total_eur"] for r in records.values()]
    )
    assert summary["total_cost_rec_eur"] == pytest.approx(table["cost_rec_eur"].sum())
    assert summary["community_benefit_eur"] == pytest.approx(table["savings_eur"].sum())
    energy = pd.read_csv(out / "energy.csv")
    assert energy["internal_kwh"].to_numpy() == pytest.approx(bought, abs=1e-6)
    assert summary["members_worse_off"] == 0
    return summary


def test_pre_delivery_pool_mmr(tmp_path, capsys):
    code, out = run(tmp_path, "--steps", "48")
    assert code == 0
    summary = check_invariants(out, 48)
    assert summary["converged"] and summary["stop_criterion"] == 0.0
    assert summary["iterations"] >= 2
    # the two-stage community cost is never below the single-stage optimum of the same prices,
    # both being optimal within the mode's relative MIP tolerance
    assert summary["mip_rel_gap"] == MODE_MIP_REL_GAP
    tolerance = MODE_MIP_REL_GAP * abs(summary["objective_centralized"])
    assert summary["objective"] >= summary["objective_centralized"] - tolerance
    assert summary["community_benefit_eur"] > 0
    for name in ("prices", "energy", "costs"):
        assert (out / f"{name}.png").stat().st_size > 20_000
    iterations = pd.read_csv(out / "iterations.csv")
    assert len(iterations) == summary["iterations"]
    printed = capsys.readouterr().out.splitlines()
    stop = next(line for line in printed if line.startswith("price change at stop (EUR/kWh)"))
    assert stop.endswith(" 0.000 (Euclidean distance; stops below 0.01)")
    # a member's costs alone, in the REC and its saving are columns, aligned in every row
    rows = [line for line in printed if line.startswith(("h04: cost (EUR)", "TOTAL: cost (EUR)"))]
    assert len(rows) == 2
    columns = {(row.index("alone"), row.index("in REC"), row.index("saving")) for row in rows}
    assert len(columns) == 1
    assert f"saving {summary['community_benefit_eur']:7.3f}" in rows[1]


def test_post_delivery_bilateral_sdr(tmp_path, capsys):
    code, out = run(
        tmp_path,
        "--steps",
        "16",
        "--no-plots",
        "--lem-timeframe",
        "post",
        "--lem-market",
        "bilateral",
        "--lem-mechanism",
        "sdr",
        "--lem-compensation",
        "0.5",
    )
    assert code == 0
    summary = check_invariants(out, 16)
    assert (summary["timeframe"], summary["market"], summary["iterations"]) == (
        "post",
        "bilateral",
        1,
    )
    # no storage acts after delivery
    assert all(r["soc_kwh"] is None for r in members(out).values())
    # two passes, no loop: no stop criterion (it once printed Python's None)
    printed = capsys.readouterr().out
    assert "None" not in printed
    stop = [line for line in printed.splitlines() if line.startswith("price change at stop")]
    assert len(stop) == 1 and stop[0].endswith(" n/a (single pass)")


def test_dual_prices_are_those_of_dual_pre_pool(tmp_path):
    # At the API's MIP gap (1e-6): with the mode's 1e-3 the MILP may stop at other
    # binaries, whose LP has other (equally valid) shadow prices at degenerate steps.
    code, out = run(
        tmp_path, "--steps", "16", "--no-plots", "--lem-mechanism", "dual", "--lem-mip-gap", "1e-6"
    )
    assert code == 0
    summary = check_invariants(out, 16)
    backpack, _ = read_section(load_scenario(str(EXAMPLE)), steps=16)
    prices, _ = rec.dual_pre_pool(backpack)
    assert summary["lem_price_eur_per_kwh"] == pytest.approx(prices, abs=1e-5)


def test_crossing_value_is_spelt_with_a_hyphen_or_the_references_underscore(tmp_path):
    # crossing-value, as equal-kw and pay-as-ask, on the command line and in a scenario file;
    # crossing_value, rec_op_lem_prices's name, stays accepted and names it in the summary
    variant = write_variant(tmp_path, lambda s: s.update(mechanism="crossing-value"))
    runs = {
        "crossing-value": [str(EXAMPLE), "--lem-mechanism", "crossing-value"],
        "crossing_value": [str(EXAMPLE), "--lem-mechanism", "crossing_value"],
        "file": [str(variant)],
        "mmr": [str(EXAMPLE)],  # the example's own mechanism
    }
    summaries = {}
    for name, argv in runs.items():
        assert main([*argv, "--steps", "16", "--no-plots", "--out", str(tmp_path / name)]) == 0
        (path,) = (tmp_path / name).glob("*/rec-pricing/summary.json")
        summaries[name] = json.loads(path.read_text())
    prices = {name: summary["lem_price_eur_per_kwh"] for name, summary in summaries.items()}
    assert prices["crossing-value"] == prices["crossing_value"] == prices["file"]
    assert prices["crossing-value"] != prices["mmr"]
    assert {summaries[name]["mechanism"] for name in ("crossing-value", "file")} == {
        "crossing_value"
    }


def test_iteration_limit_reports_not_converged(tmp_path, capsys):
    code, out = run(tmp_path, "--steps", "16", "--no-plots", "--max-iter", "1")
    assert code == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["converged"] is False and summary["stop_criterion"] is None
    assert all(r["converged"] is False for r in members(out).values())
    # the summary and the console say why: the loop's iteration limit, --max-iter
    assert summary["message"].startswith(
        "The pre-delivery loop reached its iteration limit of 1 iteration (--max-iter, "
        "default 20) before the prices repeated within 0.01 EUR/kWh"
    )
    assert "Raise --max-iter" in summary["message"]
    error = capsys.readouterr().err
    assert "NOT CONVERGED" in error and "iteration limit of 1 iteration (--max-iter" in error


def test_a_converged_run_has_no_message(tmp_path):
    code, out = run(tmp_path, "--steps", "8", "--no-plots", "--lem-mechanism", "dual")
    assert code == 0
    assert json.loads((out / "summary.json").read_text())["message"] is None


def write_variant(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["rec_pricing"]["timeseries"] = str(EXAMPLE.parent / "rec12_timeseries.csv")
    edit(data["rec_pricing"])
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["meters"]["h06"].update(e_g=[0.0] * 95),
            ("Field 'e_g' has the wrong length for 1 meter", "expected 96 values", "h06", "95"),
        ),
        (
            lambda s: s["meters"]["h01"].update(e_c="no_such_column"),
            "names the column 'no_such_column'",
        ),
        (
            lambda s: s["meters"]["h02"]["btm_storage"]["b1"].update(soc_min=99.0),
            "Field 'soc_min' exceeds 'soc_max' for 1 storage(s): h02/b1",
        ),
        (lambda s: s.update(mechanism="lowest"), "Field 'mechanism' has the value 'lowest'"),
        (lambda s: s.update(l_extra=float("nan")), "Field 'l_extra' is not a finite number"),
        (lambda s: s.update(timeseries=7), "Field 'timeseries' must be a file name, found 7"),
        (
            lambda s: s.update(strict_pos_coeffs=None),
            "Field 'rec_pricing.strict_pos_coeffs' must be true or false, found None",
        ),
        (
            lambda s: s.pop("l_grid"),
            "Field 'rec_pricing.l_grid' is missing or empty; give a number, a list of one "
            "value per step or the name of a column of the timeseries file.",
        ),
        (
            lambda s: s["meters"]["h06"].update(e_g=None),
            "Field 'rec_pricing.meters.h06.e_g' is missing or empty",
        ),
        (
            lambda s: s["meters"]["h02"].update(e_c=[0.5] * 95 + [-1.0]),
            "Field 'e_c' is negative (must be zero or more) for 1 meter: h02 (-1.0)",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_field(tmp_path, capsys, edit, message):
    path = write_variant(tmp_path, edit)
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    # a tuple: key words (the shared wrong-length wording of dec.validation may change)
    words = message if isinstance(message, tuple) else (message,)
    assert all(word in error for word in words), error
    assert str(path) in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["meters"]["h06"].update(e_g=[0.0] * 8),
            "Field 'rec_pricing.meters.h06.e_g' has 8 values; the horizon needs one per step: "
            "96 (whatever --steps).",
        ),
        (
            lambda s: s["meters"]["h06"].update(e_g=[0.0] * 90 + [float("nan")] + [0.0] * 5),
            "Field 'rec_pricing.meters.h06.e_g' holds values that are not numbers in "
            "[0, 1e+06] at steps [90]: [nan] (after the run's first 8 steps).",
        ),
        (
            lambda s: s.update(horizon=24.1),
            "Field 'horizon' (24.1 h) is not a whole number of steps of 'delta_t' (0.25 h): "
            "96.4 steps.",
        ),
    ],
)
def test_a_file_is_refused_whatever_steps(tmp_path, capsys, edit, message):
    # a list given in the file is checked over the whole horizon, like a timeseries column:
    # with --steps 8, its length and its later values used to go unchecked (and a horizon
    # that is not a whole number of steps was cut short)
    path = write_variant(tmp_path, edit)
    assert main([str(path), "--steps", "8", "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    assert capsys.readouterr().err == f"dec: error: Invalid input in {path}: {message}\n"
    assert not (tmp_path / "out").exists()


def test_help_lists_the_mode_options():
    text = build_parser().format_help()
    for option in ("--lem-timeframe", "--lem-market", "--lem-mechanism", "--lem-mip-gap"):
        assert option in text


def test_readme_python_example_runs(capsys):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### rec-pricing")[1]
    block = section.split("```python")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    # tests/test_rec_loops.py: pruned MMR 0.125; A sells its kWh in the pool at that price
    assert namespace["prices"] == pytest.approx([0.125])
    assert namespace["stage2"]["c_ind2pool"]["A"] == pytest.approx(-0.125)
    assert "0.18" in capsys.readouterr().out  # the dual price (tests/test_rec_milp.py)


def _broken_timeseries(tmp_path: Path, edit) -> Path:
    table = pd.read_csv(EXAMPLE.parent / "rec12_timeseries.csv", dtype=object)
    table = edit(table)
    table.to_csv(tmp_path / "broken.csv", index=False)
    return write_variant(tmp_path, lambda s: s.update(timeseries=str(tmp_path / "broken.csv")))


def _set(table: pd.DataFrame, row: int, column: str, value: str) -> pd.DataFrame:
    table.loc[row, column] = value
    return table


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: _set(t, 3, "h01_load", "abc"),
            "Column 'h01_load' of the timeseries file '{csv}' (field "
            "'rec_pricing.meters.h01.e_c') holds text that is not a number at rows [3]: ['abc']",
        ),
        (
            lambda t: _set(t, 5, "h01_load", ""),
            "Column 'h01_load' of the timeseries file '{csv}' (field "
            "'rec_pricing.meters.h01.e_c') has empty or non-finite cells at rows [5]: [nan]",
        ),
        (
            lambda t: _set(t, 7, "h02_load", "inf"),
            "Column 'h02_load' of the timeseries file '{csv}' (field "
            "'rec_pricing.meters.h02.e_c') has empty or non-finite cells at rows [7]",
        ),
        (
            lambda t: _set(t, 39, "h01_load", "-1"),
            "Column 'h01_load' of the timeseries file '{csv}' (field "
            "'rec_pricing.meters.h01.e_c') holds negative values at rows [39]: [-1.0]; energies "
            "must be from 0 to 1e+06 kWh per step.",
        ),
        (
            lambda t: _set(_set(t, 39, "h01_load", "1e9"), 50, "h01_load", "2e9"),
            "Column 'h01_load' of the timeseries file '{csv}' (field "
            "'rec_pricing.meters.h01.e_c') holds values outside [0, 1e+06] kWh per step at rows "
            "[39, 50]: [1000000000.0, 2000000000.0].",
        ),
        (  # reported once, naming the first field using the column (the file's keys sorted)
            lambda t: _set(t, 60, "retail_3p", "5000"),
            "Column 'retail_3p' of the timeseries file '{csv}' (field "
            "'rec_pricing.meters.c02.l_buy') holds values outside [-1000, 1000] EUR/kWh at rows "
            "[60]: [5000.0].",
        ),
        (
            lambda t: t.iloc[:95],
            "The timeseries file '{csv}' has 95 rows; 'horizon' (24 h) over 'delta_t' "
            "(0.25 h) needs one row per step: 96",
        ),
    ],
)
def test_broken_timeseries_file_exits_2(tmp_path, capsys, edit, message):
    path = _broken_timeseries(tmp_path, edit)
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    assert message.format(csv=tmp_path / "broken.csv") in error, error
    assert error.count("\n") == 1 and "Traceback" not in error  # one paragraph
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("nan", "has empty or non-finite cells at rows [39]: [nan]"),
        ("inf", "has empty or non-finite cells at rows [39]: [inf]"),
        ("", "has empty or non-finite cells at rows [39]: [nan]"),
        ("-1", "holds negative values at rows [39]: [-1.0]"),
        ("1e9", "holds values outside [0, 1e+06] kWh per step at rows [39]: [1000000000.0]"),
    ],
)
def test_damaged_cell_after_the_steps_run_is_refused_too(tmp_path, capsys, cell, words):
    # the whole file is checked whatever --steps: the same file is refused with and without it
    path = _broken_timeseries(tmp_path, lambda t: _set(t, 39, "h01_load", cell))
    for steps in ([], ["--steps", "8"]):
        out = tmp_path / f"out{len(steps)}"
        assert main([str(path), "--out", str(out), "--no-plots", *steps]) == 2
        error = capsys.readouterr().err
        assert "Column 'h01_load' of the timeseries file" in error and "broken.csv" in error
        assert words in error and str(path) in error
        assert not out.exists()


def test_a_semicolon_separated_timeseries_says_the_file_must_be_comma_separated(tmp_path, capsys):
    table = pd.read_csv(EXAMPLE.parent / "rec12_timeseries.csv")
    table.to_csv(tmp_path / "semi.csv", index=False, sep=";")
    path = write_variant(tmp_path, lambda s: s.update(timeseries=str(tmp_path / "semi.csv")))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    assert f"The timeseries file {str(tmp_path / 'semi.csv')!r} has a single column" in error
    assert "the file must be comma-separated, with '.' as the decimal mark" in error
    assert "h01_load;h02_load" in error and len(error) < 600, error
    assert "does not have" not in error and not (tmp_path / "out").exists()


def test_many_missing_columns_are_named_briefly(tmp_path, capsys):
    # a header whose names start with a blank: every column is missing; the message names
    # the first five fields and how many more, not all 47
    table = pd.read_csv(EXAMPLE.parent / "rec12_timeseries.csv")
    table.columns = [f" {c}" for c in table.columns]
    table.to_csv(tmp_path / "blank.csv", index=False)
    path = write_variant(tmp_path, lambda s: s.update(timeseries=str(tmp_path / "blank.csv")))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    assert "47 fields name columns that the timeseries file" in error
    assert "'rec_pricing.l_market_buy' ('market_buy')" in error and "and 42 more" in error
    assert "' h01_load'" in error and "(28 in all)" in error and len(error) < 1200, error
    assert "'rec_pricing.meters.c02.e_c'" not in error


def test_one_missing_column_names_the_field_and_the_file(tmp_path, capsys):
    path = write_variant(tmp_path, lambda s: s["meters"]["h01"].update(e_c="no_such_column"))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    assert (
        "Field 'rec_pricing.meters.h01.e_c' names the column 'no_such_column', which the "
        "timeseries file"
        in error
        and "rec12_timeseries.csv' does not have." in error
    )


@pytest.mark.parametrize(
    ("key", "shown", "position"),
    [("", "''", 13), (None, "None", 13), ("  ", "'  '", 13), (True, "True", 13)],
)
def test_a_meter_without_an_id_is_refused_before_any_solve(
    tmp_path, capsys, monkeypatch, key, shown, position
):
    # an empty id ran the whole solve and crashed at export; a YAML key ~ became "None"
    from dec.rec.stages import CollectiveSolver

    def refuse(*args, **kwargs):
        raise AssertionError("a solve started before the input was validated")

    monkeypatch.setattr(CollectiveSolver, "__init__", refuse)
    data = yaml.safe_load(EXAMPLE.read_text())
    data["rec_pricing"]["timeseries"] = str(EXAMPLE.parent / "rec12_timeseries.csv")
    data["rec_pricing"]["meters"][key] = dict(data["rec_pricing"]["meters"]["h03"])
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots", "--steps", "8"]) == 2
    error = capsys.readouterr().err
    assert (
        f"Field 'rec_pricing.meters' has a meter whose id is {shown} (meter number {position}); "
        "a meter id must be a non-empty text"
    ) in error and str(path) in error
    assert "Traceback" not in error and not (tmp_path / "out").exists()


def test_meter_ids_with_the_same_text_are_refused(tmp_path, capsys):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["rec_pricing"]["timeseries"] = str(EXAMPLE.parent / "rec12_timeseries.csv")
    meters = data["rec_pricing"]["meters"]
    meters[1], meters["1"] = dict(meters["h03"]), dict(meters["h05"])
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots", "--steps", "8"]) == 2
    error = capsys.readouterr().err
    assert "Field 'rec_pricing.meters' names the meter(s) '1' twice" in error


@pytest.mark.parametrize(
    ("edit", "option", "value", "words"),
    [
        (
            lambda s: s["meters"]["h01"].update(e_c=10.0),  # 10 kWh per step
            "--load-scale",
            "2e5",
            "Option --load-scale 200000 makes the consumption 'e_c' of 1 meter exceed 1e+06 kWh "
            "per step, the most allowed: h01 (10 kWh at step 0 becomes 2e+06); with this "
            "scenario's data --load-scale can be at most 100000.",
        ),
        (
            lambda s: None,
            "--pv-scale",
            "9e5",
            "Option --pv-scale 900000 makes the generation 'e_g' of 2 meters exceed 1e+06 kWh "
            "per step, the most allowed: c01 (",
        ),
    ],
)
def test_a_scale_option_that_makes_energies_too_large_is_blamed_on_the_command_line(
    tmp_path, capsys, edit, option, value, words
):
    # the file is fine: the option is at fault (it was reported as the file's field 'e_c')
    import warnings

    path = write_variant(tmp_path, edit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning on stderr
        code = main([str(path), "--out", str(tmp_path / "out"), "--no-plots", option, value])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("dec: error: Invalid input in the command line: ")
    assert words in error and f"{option} can be at most " in error
    assert str(path) not in error and "Field 'e_" not in error
    assert not (tmp_path / "out").exists()


def test_timeseries_column_named_twice_exits_2(tmp_path, capsys):
    table = pd.read_csv(EXAMPLE.parent / "rec12_timeseries.csv")
    columns = list(table.columns)
    columns[3] = columns[2]  # h01_load twice, h02_load's values under its name
    table.set_axis(columns, axis=1).to_csv(tmp_path / "twice.csv", index=False)
    path = write_variant(tmp_path, lambda s: s.update(timeseries=str(tmp_path / "twice.csv")))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    assert f"The timeseries file {str(tmp_path / 'twice.csv')!r} names the column(s)" in error
    assert "['h01_load'] more than once" in error and str(path) in error
    assert not (tmp_path / "out").exists()


def test_timeseries_rows_out_of_order_exit_2(tmp_path, capsys):
    # the rows are the steps: two swapped rows would swap two steps' loads and prices
    table = pd.read_csv(EXAMPLE.parent / "rec12_timeseries.csv")
    table.iloc[[10, 11]] = table.iloc[[11, 10]].to_numpy()
    table.to_csv(tmp_path / "swapped.csv", index=False)
    path = write_variant(tmp_path, lambda s: s.update(timeseries=str(tmp_path / "swapped.csv")))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    error = capsys.readouterr().err
    assert "Column 'step' of the timeseries file" in error
    assert "rows [10, 11] hold [11, 10] (expected [10, 11])" in error
    assert "Column 'time_h'" in error and "rows [10, 11] hold [2.75, 2.5]" in error
    assert not (tmp_path / "out").exists()


def test_time_step_that_does_not_fit_the_timeseries_exits_2(tmp_path, capsys):
    path = write_variant(tmp_path, lambda s: s.update(delta_t=1.0))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    assert "has 96 rows; 'horizon' (24 h) over 'delta_t' (1.0 h) needs" in capsys.readouterr().err


def test_milps_stop_at_the_modes_time_limit(tmp_path, capsys, monkeypatch):
    # a free market price makes the MILPs degenerate: HiGHS searched them for minutes; the
    # mode's default time limit per MILP (here shortened) stops a stage-1 MILP, whose cost
    # would bound its member's in stage 2, with exit 3 and a message that blames no input
    monkeypatch.setattr("dec.rec.mode.MODE_TIME_LIMIT_S", 0.2)
    path = write_variant(tmp_path, lambda s: s.update(l_market_buy=0.0))
    assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots", "--steps", "16"]) == 3
    error = capsys.readouterr().err
    assert "The stage 1 (meter " in error and "MILP reached the time limit of 0.2 s" in error
    assert "The input is valid" in error and "Invalid input" not in error
    assert "No output was written." in error
    assert not (tmp_path / "out").exists()


@pytest.fixture
def stage2_at_time_limit(monkeypatch):
    """Every stage-2 MILP of a two-stage run ends as at HiGHS's time limit, 0.4 % open.

    Its relax-and-round proof is skipped, and the full MILP's status is reported as
    ``kTimeLimit`` with the solution HiGHS proved optimal: the kept "incumbent" is then
    known, and the plumbing of a time-limited MILP is tested without a race against
    the clock.
    """
    from dec.rec.highs import HighsDriver
    from dec.rec.solve import ModelSolver

    relax_and_round, solve = ModelSolver._relax_and_round, HighsDriver.solve

    def no_proof(self, what, options):
        if not self.bounded:
            return relax_and_round(self, what, options)
        self.driver.at_time_limit = True
        return False, None

    def at_time_limit(self, mode, fixed=None, options=None, start=None):
        status = solve(self, mode, fixed, options, start)
        if mode == "milp" and getattr(self, "at_time_limit", False) and status == "kOptimal":
            self.mip_gap = 0.004
            return "kTimeLimit"
        return status

    monkeypatch.setattr(ModelSolver, "_relax_and_round", no_proof)
    monkeypatch.setattr(HighsDriver, "solve", at_time_limit)


def test_stage2_milp_at_its_time_limit_ends_the_loop_with_its_solution(
    tmp_path, capsys, monkeypatch, stage2_at_time_limit
):
    # the kept solution is a feasible two-stage schedule: the loop ends after the MILP,
    # the run says it is not proven optimal (exit 3) and writes every output
    code, out = run(tmp_path / "limit", "--steps", "16", "--no-plots")
    assert code == 3
    summary = check_invariants(out, 16)
    assert summary["converged"] is False and summary["stop_criterion"] is None
    assert summary["iterations"] == 1
    assert (
        "The stage 2 (pool) MILP reached the time limit of 120 s" in summary["time_limit_reached"]
    )
    assert "0.4 % above the proven bound" in summary["time_limit_reached"]
    assert all(record["converged"] is False for record in members(out).values())
    assert "NOT PROVEN OPTIMAL" in capsys.readouterr().out
    # the first iteration of an unhindered loop: the same prices (they come from the
    # forecasts) and the same optimum within the MIP gap (both are MILP solutions at
    # that gap, not necessarily the same one)
    monkeypatch.undo()
    code, first = run(tmp_path / "first", "--steps", "16", "--no-plots", "--max-iter", "1")
    reference = json.loads((first / "summary.json").read_text())
    assert summary["lem_price_eur_per_kwh"] == reference["lem_price_eur_per_kwh"]
    assert summary["objective"] == pytest.approx(reference["objective"], rel=MODE_MIP_REL_GAP)


def test_stage2_milp_at_its_time_limit_raises_in_the_api(stage2_at_time_limit):
    # dec.rec keeps the reference's contract: a MILP is 'Optimal' or raises
    with pytest.raises(SolverLimit, match=r"stage 2 \(pool\) MILP reached the time limit of 5 s"):
        backpack, _ = read_section(load_scenario(str(EXAMPLE)), steps=16)
        rec.loop_pre_pool_mmr(backpack, timeout=5)


def test_time_limit_bounds_the_whole_solve_of_a_milp(monkeypatch):
    # the relaxation and the restricted MILP come out of the time limit: the full MILP
    # gets what is left, so a MILP solve ends after the limit, not after twice the limit
    import time

    from dec.rec.data import parse_collective
    from dec.rec.highs import HighsDriver
    from dec.rec.solve import ModelSolver

    backpack, _ = read_section(load_scenario(str(EXAMPLE)), steps=16)
    solver = ModelSolver(parse_collective(backpack, "pool"), "pool", time_limit_s=5.0)
    limits, solve = [], HighsDriver.solve

    def slow_proof(self, what, options):
        time.sleep(1.0)
        return False, None

    def recorded(self, mode, fixed=None, options=None, start=None):
        limits.append((mode, (options or {}).get("time_limit")))
        return solve(self, mode, fixed, options, start)

    monkeypatch.setattr(ModelSolver, "_relax_and_round", slow_proof)
    monkeypatch.setattr(HighsDriver, "solve", recorded)
    solver.solve("stage 2 (pool)", np.zeros(16))
    milp_limits = [limit for mode, limit in limits if mode == "milp"]
    assert len(milp_limits) == 1 and 0.0 < milp_limits[0] <= 4.0
