"""Command line of mode rec-keys: files, schemas, bills recomputed from the exported data."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dec.run import main
from dec.schemas import validate_folder

CASE0 = Path(__file__).parents[1] / "inputs" / "rec" / "case0.yaml"


@pytest.fixture(scope="module")
def case0_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    code = main(
        [
            str(CASE0),
            "--mode",
            "rec-keys",
            "--policy",
            "look-ahead-billing",
            "--horizon",
            "4",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out / "case0" / "rec-keys"


def test_run_writes_every_file_and_they_satisfy_the_schemas(case0_run):
    names = {p.name for p in case0_run.iterdir()}
    assert {
        "summary.json",
        "steps.csv",
        "periods.csv",
        "soc.png",
        "community_coverage.png",
        "setpoints",
    } <= names
    validate_folder(case0_run, "rec-keys")
    summary = json.loads((case0_run / "summary.json").read_text())
    assert summary["policy"] == "look-ahead-billing" and summary["horizon_steps"] == 4
    for png in ("soc.png", "community_coverage.png"):
        assert (case0_run / png).stat().st_size > 10_000


def test_bills_recomputed_from_exported_per_step_data(case0_run):
    summary = json.loads((case0_run / "summary.json").read_text())
    fee = yaml.safe_load(CASE0.read_text())["rec_keys"]["discharge_fee_eur_per_kwh"]
    records = {p.stem: json.loads(p.read_text()) for p in (case0_run / "setpoints").glob("*.json")}
    total, imports, exports = 0.0, 0.0, 0.0
    for member_id, rec in records.items():
        net = np.array(rec["net_position_kwh"])
        production, consumption = np.array(rec["production_kwh"]), np.array(rec["consumption_kwh"])
        charge, discharge = np.array(rec["charge_kwh"]), np.array(rec["discharge_kwh"])
        assert net == pytest.approx(production - consumption + discharge - charge, abs=1e-15)
        if rec["battery"]:
            soc = np.concatenate([[rec["battery"]["soc_initial_kwh"]], rec["soc_kwh"]])
            assert np.diff(soc) == pytest.approx(charge - discharge, abs=1e-15)
        per = rec["periods"]
        dm = rec["metering_period_steps"]
        cons_meter = np.maximum(-net, 0).reshape(-1, dm).sum(1)
        prod_meter = np.maximum(net, 0).reshape(-1, dm).sum(1)
        assert cons_meter == pytest.approx(per["consumption_meter_kwh"], abs=1e-15)
        assert prod_meter == pytest.approx(per["production_meter_kwh"], abs=1e-15)
        imp, exp_ = np.array(per["import_kwh"]), np.array(per["export_kwh"])
        assert (imp <= cons_meter + 1e-15).all() and (exp_ <= prod_meter + 1e-15).all()
        bill = (
            np.array(per["buying_price_eur_per_kwh"]) * (cons_meter - imp)
            - np.array(per["selling_price_eur_per_kwh"]) * (prod_meter - exp_)
            + fee * discharge.reshape(-1, dm).sum(1)
        )
        assert bill == pytest.approx(per["bill_eur"], abs=1e-12)
        assert bill.sum() == pytest.approx(summary["bill_per_member"][member_id], abs=1e-12)
        total += bill.sum()
        imports, exports = imports + imp, exports + exp_
    assert total == pytest.approx(summary["total_bill"], abs=1e-12)
    assert imports == pytest.approx(exports, abs=1e-12)  # community balance per period


def test_tables_match_the_records(case0_run):
    periods = pd.read_csv(case0_run / "periods.csv")
    record = json.loads((case0_run / "setpoints" / "C.json").read_text())
    own = periods[periods["member_id"] == "C"]
    assert own["import_kwh"].to_numpy() == pytest.approx(record["periods"]["import_kwh"])
    assert own["import_key"].to_numpy() == pytest.approx(record["periods"]["import_key"])


def test_sweep_writes_the_comparison_table(tmp_path, capsys):
    code = main(
        [
            str(CASE0),
            "--mode",
            "rec-keys",
            "--sweep",
            "4,24",
            "--steps",
            "24",
            "--out",
            str(tmp_path),
            "--no-plots",
        ]
    )
    assert code == 0
    validate_folder(tmp_path / "case0" / "rec-keys", "rec-keys")
    table = pd.read_csv(tmp_path / "case0" / "rec-keys" / "sweep.csv")
    assert list(table.columns) == ["policy", "horizon", "total_bill", "gap_to_optimal", "runtime_s"]
    assert len(table) == 1 + 2 * 4
    optimal = table.loc[table["policy"] == "optimal", "total_bill"].item()
    assert (table["total_bill"] >= optimal - 1e-9).all()
    assert table["gap_to_optimal"].to_numpy() == pytest.approx(
        (table["total_bill"] - optimal).to_numpy()
    )
    full = table[(table["horizon"] == 24) & (table["policy"] != "look-ahead-decoupling")]
    assert full["total_bill"].to_numpy() == pytest.approx(optimal, rel=1e-6)
    summary = json.loads((tmp_path / "case0" / "rec-keys" / "summary.json").read_text())
    assert "look-ahead-decoupling K=4" in capsys.readouterr().out
    # The fields of every summary are there; the per-run ones are in the sweep records.
    for key in ("primal_residual", "dual_residual", "objective_centralized", "objective_gap_rel"):
        assert summary[key] is None
    records = {(r["policy"], r["horizon"]): r for r in summary["sweep"]}
    for horizon in (4, 24):
        run = records[("distributed", horizon)]
        central = records[("look-ahead-billing", horizon)]["total_bill"]
        assert run["objective_centralized"] == central
        assert run["objective_gap_rel"] == pytest.approx(abs(run["total_bill"] - central) / central)
        assert run["converged"] is True and run["iterations"] > 0
        assert run["primal_residual"] is not None and run["dual_residual"] is not None
        assert records[("look-ahead", horizon)]["objective_gap_rel"] is None
    assert summary["skipped_policies"] == {} and summary["message"] is None


def test_sweep_of_a_case_with_binary_meters_skips_distributed(tmp_path, capsys):
    # PVB buys below C's price: its meters need binaries, which ADMM cannot handle. The
    # centralised policies run; the sweep says why distributed did not.
    data = yaml.safe_load(CASE0.read_text())
    data["rec_keys"]["members"][1]["buying_price_eur_per_kwh"] = 0.5
    path = tmp_path / "milp.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main([str(path), "--sweep", "4", "--out", str(tmp_path), "--no-plots"]) == 0
    folder = tmp_path / "milp" / "rec-keys"
    validate_folder(folder, "rec-keys")
    table = pd.read_csv(folder / "sweep.csv")
    assert table["policy"].tolist() == [
        "optimal",
        "look-ahead",
        "look-ahead-billing",
        "look-ahead-decoupling",
    ]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["meter_model"] == "milp" and summary["converged"] is True
    reason = summary["skipped_policies"]["distributed"]
    assert "needs the LP meter model" in reason and "PVB" in reason
    assert "so the sweep skipped it" in summary["message"]
    assert "SKIPPED distributed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda s: s["members"][1]["battery"].update(soc_initial_kwh=2.0),
            "'battery.soc_initial_kwh' is outside [0.0, 1.0] (the SoC bounds, kWh) for member PVB",
        ),
        (
            lambda s: s["members"][0].update(buying_price_eur_per_kwh=[1.0] * 5),
            "'buying_price_eur_per_kwh' has the wrong length for 1 member",
        ),
        (
            lambda s: s["members"][0].update(
                buying_price_eur_per_kwh={
                    "generator": "time_of_use",
                    "price": 0.2,
                    "windows": [{"start_h": 25, "end_h": 3, "price": 0.3}],
                }
            ),
            "Field 'buying_price_eur_per_kwh' of member C has windows[0].start_h 25, outside "
            "[0, 24] (an hour of the day).",
        ),
        (
            lambda s: (
                s.update(policy="distributed")
                or s["members"][1].update(selling_price_eur_per_kwh=3.0)
            ),
            "the distributed policy cannot run this case: choose a centralised policy",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, edit, expected):
    data = yaml.safe_load(CASE0.read_text())
    edit(data["rec_keys"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and str(path) in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # a bad option value is blamed on the command line, not on the scenario file
        (["--steps", "10"], "Invalid input in the command line: Option '--steps' (10)"),
        (["--horizon", "0"], "Invalid input in the command line: Option '--horizon' must be"),
        (["--sweep", "a,b"], "Invalid input in the command line: Option '--sweep' must be"),
        (["--sweep", "4,4"], "Invalid input in the command line: Option '--sweep' lists 4"),
        (["--policy", "greedy"], "Invalid input in the command line: Option '--policy' has"),
        (
            ["--policy", "optimal", "--horizon", "4"],
            "policy is optimal, so it does not use --horizon",
        ),
        (["--load-scale", "5"], "does not use --load-scale 5.0"),
        (["--pv-scale", "2"], "does not use --pv-scale 2.0"),
    ],
)
def test_bad_options_exit_2(tmp_path, capsys, options, expected):
    assert main([str(CASE0), "--out", str(tmp_path), *options]) == 2
    assert expected in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_console_prints_money_with_fixed_decimals_and_no_negative_zero(tmp_path, capsys):
    # K >= T: the bill is the optimal one, up to a gap of solver round-off (-4e-16 EUR once
    # printed as -4.44089e-16); PVB's bill of a few micro-euros once printed as 4.63333e-06
    argv = [str(CASE0), "--horizon", "1000", "--out", str(tmp_path), "--no-plots"]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "case0" / "rec-keys" / "summary.json").read_text())
    assert abs(summary["gap_to_optimal"]) < 1e-9
    lines = capsys.readouterr().out.splitlines()[2:-1]  # below the heading, above "outputs"
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in lines)
    assert rows["gap to optimal (EUR)"] == "0.000000"
    for member, bill in summary["bill_per_member"].items():
        assert rows[f"bill of {member} (EUR)"] == f"{bill:.6f}"
    assert rows["total bill (EUR)"] == f"{summary['total_bill']:.6f}"


def test_soc_stays_within_its_bounds_exactly(tmp_path):
    """Case II, look-ahead-billing, K = 4, two days: the feasible actions emptied the
    long-term store to -3.5e-18 kWh by rounding, which failed the setpoint schema in the
    export (soc_kwh ≥ 0). The SoC is kept within [soc_min, soc_max] exactly."""
    case2 = CASE0.with_name("case2.yaml")
    args = ["--mode", "rec-keys", "--policy", "look-ahead-billing", "--horizon", "4"]
    code = main([str(case2), *args, "--steps", "48", "--no-plots", "--out", str(tmp_path)])
    assert code == 0
    for path in (tmp_path / "case2" / "rec-keys" / "setpoints").glob("*.json"):
        record = json.loads(path.read_text())
        if record["soc_kwh"] is not None:
            battery = record["battery"]
            assert min(record["soc_kwh"]) >= battery["soc_min_kwh"]
            assert max(record["soc_kwh"]) <= battery["soc_max_kwh"]


def test_standard_output_of_a_fresh_process_is_the_summary_alone(tmp_path):
    # highspy 1.16 prints a banner the first time a solver object is made; the command
    # line makes that first object with standard output pointed at the null device
    command = [sys.executable, "-m", "dec.run", str(CASE0), "--mode", "rec-keys"]
    run = subprocess.run(
        [*command, "--no-plots", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert lines[0] == "case0 / rec-keys"
    # the process leaves without finalising the interpreter: its output is flushed first
    assert lines[-1] == f"outputs: {tmp_path / 'case0' / 'rec-keys'}"
    assert "HiGHS" not in run.stdout


def test_ids_with_dollar_signs_are_plotted_as_text(tmp_path):
    # "$x^$" would be a malformed TeX formula for matplotlib's mathtext (it raised while
    # the figures were drawn, after the setpoints were written); labels show ids as text.
    scenario = tmp_path / "dollar.yaml"
    scenario.write_text(CASE0.read_text().replace("- id: PVB", "- id: $x^$"))
    assert main([str(scenario), "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out" / "dollar" / "rec-keys"
    assert (out / "setpoints" / "_x_.json").exists()
    assert all((out / name).stat().st_size > 0 for name in ("soc.png", "summary.json"))
