from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from dec.run import main
from dec.schemas import validate_folder
from tests.community_cases import PROFILES, section


def scenario(tmp_path, **extra) -> str:
    path = tmp_path / "small.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "small", "mode": "community", "community": section(days=1, members=4, **extra)}
        )
    )
    return str(path)


def test_import_gap_above_tolerance_is_not_converged(tmp_path, monkeypatch, capsys):
    # mpc-distributed must match mpc within 1e-4 on import; a run whose gap exceeds the
    # tolerance says so (exit 3, "converged": false) even when every ADMM window converged.
    monkeypatch.setattr("dec.community.mode.MATCH_REL", -1.0)  # any gap is too large
    out = tmp_path / "out"
    args = [scenario(tmp_path), "--mechanisms", "mpc,mpc-distributed", "--steps", "24"]
    assert main([*args, "--out", str(out), "--no-plots"]) == 3
    summary = json.loads((out / "small" / "community" / "summary.json").read_text())
    assert summary["converged"] is False and summary["admm_windows_not_converged"] == 0
    assert summary["distributed_import_gap_rel"] >= 0
    assert "import is" in summary["message"] and "tolerance" in summary["message"]
    captured = capsys.readouterr()
    assert "import gap" in captured.out and summary["message"] in captured.err


def test_sweep_writes_valid_files(tmp_path):
    out = tmp_path / "out"
    code = main(
        [scenario(tmp_path), "--sweep-battery", "0.25,4", "--mechanisms", "all", "--out", str(out)]
    )
    assert code == 0
    folder = out / "small" / "community"
    validate_folder(folder, "community")
    sweep = pd.read_csv(folder / "sweep.csv")
    contract = "mechanism, battery_kwh, self_production_pct, self_sufficiency_pct, upper_bound_pct, cost_eur"
    assert list(sweep.columns[:6]) == contract.split(", ")
    assert len(sweep) == 8
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["converged"] is True
    assert 0 <= summary["distributed_import_gap_rel"] <= 1e-4
    assert summary["reference"] == {"mechanism": "mpc", "battery_kwh": 4.0}
    assert summary["objective"] == pytest.approx(
        sweep.query("mechanism == 'mpc' and battery_kwh == 4")["import_kwh"].item(), rel=1e-6
    )
    records = sorted((folder / "setpoints").glob("*.json"))
    assert len(records) == 5
    for path in records:
        record = json.loads(path.read_text())
        if record["agent_type"] == "household":
            assert len(record["soc_kwh"]) == summary["n_steps"] == 96
            assert record["time_step_h"] == 0.25
            # each house's battery state recomputed from its written output (discharge
            # positive, efficiencies 0.95, no simultaneous charge and discharge), to 1e-8 kWh
            p_kw = np.asarray(record["battery_kw"])
            stored_kwh = np.where(p_kw > 0, p_kw / 0.95, p_kw * 0.95) * record["time_step_h"]
            soc_kwh = record["soc_initial_kwh"] - np.cumsum(stored_kwh)
            np.testing.assert_allclose(record["soc_kwh"], soc_kwh, rtol=0, atol=1e-8)
    for name in ("self_production.png", "week.png"):
        assert (folder / name).stat().st_size > 10_000
    history = pd.read_csv(folder / "admm_history.csv")  # mpc-distributed's rounds per size
    assert sorted(history["battery_kwh"].unique()) == [0.25, 4.0]
    assert (history.groupby(["battery_kwh", "window_start"]).iteration.min() == 1).all()
    series = pd.read_csv(folder / "timeseries.csv")
    # community balance in the written table: pv + import - export = load - battery output
    lhs = series["pv_kw"] + series["import_kw"] - series["export_kw"]
    rhs = series["load_kw"] - series["battery_kw"]
    assert (lhs - rhs).abs().max() < 1e-8


def test_console_names_the_battery_size_with_its_unit(tmp_path, capsys):
    # a run at the scenario's batteries says their size; a sweep's rows say kWh
    out = str(tmp_path / "out")
    argv = [scenario(tmp_path), "--mechanisms", "none,mpc", "--steps", "24", "--no-plots"]
    assert main([*argv, "--out", out]) == 0
    printed = capsys.readouterr().out.splitlines()  # the shipped batteries: 4 kWh each
    assert [line.split() for line in printed if line.startswith("battery")] == [
        ["battery", "per", "household", "(kWh)", "4"]
    ]
    assert main([*argv, "--sweep-battery", "0.25,2", "--out", out]) == 0
    rows = dict(
        line.split("  ", 1) for line in capsys.readouterr().out.splitlines() if "  " in line
    )
    assert rows["mechanisms"].strip() == "none / mpc"
    sweep = pd.read_csv(f"{out}/small/community/sweep.csv").set_index(["mechanism", "battery_kwh"])
    for size in (0.25, 2):  # one row per size, the mechanisms' values in the header's order
        printed = rows[f"self-production (%), {size:g} kWh"].strip()
        expected = [sweep.loc[(m, size), "self_production_pct"] for m in ("none", "mpc")]
        assert printed == " / ".join(f"{v:.2f}" for v in expected)
    assert not any(label.startswith("battery per household") for label in rows)


def test_scale_options_it_would_ignore_exit_2(tmp_path, capsys):
    assert main([scenario(tmp_path), "--load-scale", "5", "--out", str(tmp_path / "o")]) == 2
    assert "does not use --load-scale 5.0" in capsys.readouterr().err


@pytest.mark.parametrize("sizes", ["1,-2", "-1,2"])
def test_negative_battery_size_exits_2(tmp_path, capsys, sizes):
    assert main([scenario(tmp_path), "--sweep-battery", sizes, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        f"Option '--sweep-battery' needs battery sizes from 0 to 100000 kWh, found '{sizes}'" in err
    )


def test_negative_battery_in_file_exits_2(tmp_path, capsys):
    path = scenario(tmp_path, battery={"e_kwh": -4})
    assert main([path, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "e_kwh" in err and "-4" in err


def _write_profiles(path, times, columns):
    frame = pd.DataFrame({"time": times, **columns})
    frame.to_csv(path, index=False)


def test_profiles_of_different_lengths_exit_2(tmp_path, capsys):
    full = pd.read_csv(PROFILES, nrows=200)
    _write_profiles(tmp_path / "pv.csv", full["time"][:150], {"PV": full["PV"][:150]})
    path = scenario(tmp_path, pv={"kwp": 10, "column": "PV", "file": str(tmp_path / "pv.csv")})
    doc = yaml.safe_load((tmp_path / "small.yaml").read_text())
    doc["community"]["period"] = {}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(doc))
    assert main([path, "--out", str(tmp_path)]) == 2
    assert "different lengths" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"profiles": "nowhere.csv"}, "profiles"),
        ({"pv": {"kwp": 10, "column": "PV", "file": "nowhere.csv"}}, "pv.file"),
    ],
)
def test_missing_profile_file_is_named_by_its_field(tmp_path, capsys, extra, field):
    path = scenario(tmp_path)
    doc = yaml.safe_load((tmp_path / "small.yaml").read_text())
    doc["community"].update(extra)
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(doc))
    assert main([path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"Field '{field}' names the profile file 'nowhere.csv', which does not exist" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_offpeak_window_of_equal_start_and_end_exits_2(tmp_path, capsys):
    # 22:00 to 22:00 would bill every step at the peak price: the window must apply
    path = scenario(tmp_path, tariff={"offpeak_start": "22:00", "offpeak_end": "22:00"})
    assert main([path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "'tariff.offpeak_start' and 'tariff.offpeak_end' are equal ('22:00')" in err
    assert not (tmp_path / "out").exists()


def _scenario_on_profiles(tmp_path, profiles: pd.DataFrame, name: str) -> str:
    """Write ``profiles`` as ``name`` and a small scenario reading all of them; return its path."""
    profiles.to_csv(tmp_path / name, index=False)
    path = scenario(tmp_path)
    doc = yaml.safe_load((tmp_path / "small.yaml").read_text())
    doc["community"]["profiles"] = str(tmp_path / name)
    doc["community"]["period"] = {}
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(doc))
    return path


def test_missing_timestamps_exit_2(tmp_path, capsys):
    with gzip.open(PROFILES, "rt") as handle:
        full = pd.read_csv(handle, nrows=300)
    path = _scenario_on_profiles(tmp_path, full.drop(index=range(100, 104)), "gappy.csv")
    assert main([path, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "missing between 2016-01-02T00:45 and 2016-01-02T02:00" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("offset", ["+01:00", "+0100", "Z"])
def test_timestamps_with_utc_offsets_exit_2(tmp_path, capsys, offset):
    # e.g. local time across a daylight-saving change, 01:45+01:00 then 03:00+02:00: the
    # tariff window and the period are read on the timestamps' clock, which needs none
    with gzip.open(PROFILES, "rt") as handle:
        full = pd.read_csv(handle, nrows=200)
    full.loc[5:, "time"] = full.loc[5:, "time"] + offset
    path = _scenario_on_profiles(tmp_path, full, "zoned.csv")
    assert main([path, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "UTC offset" in err and "data row 6" in err and "zoned.csv" in err


def test_profile_column_named_twice_exits_2(tmp_path, capsys):
    # pandas would rename the second 'PV' to 'PV.1' and the run would use the first
    full = pd.read_csv(PROFILES, nrows=200)
    lines = full[["time", "PV", "PV"]].to_csv(index=False)
    (tmp_path / "pv.csv").write_text(lines)
    path = scenario(tmp_path, pv={"kwp": 10, "column": "PV", "file": str(tmp_path / "pv.csv")})
    assert main([path, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"Invalid input in {tmp_path / 'pv.csv'}: The profile file names the column(s)" in err
    assert "['PV'] more than once" in err
    assert not (tmp_path / "out").exists()


def test_group_identical_must_be_a_boolean(tmp_path, capsys):
    path = scenario(tmp_path, mpc={"window_h": 36, "apply_h": 12, "group_identical": "yes"})
    assert main([path, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "mpc.group_identical" in err and "'yes'" in err


def test_admm_round_limits_must_be_whole_numbers(tmp_path, capsys):
    path = scenario(tmp_path, admm={"max_iter": 2.5})
    assert main([path, "--out", str(tmp_path)]) == 2
    assert "Field 'admm.max_iter' must be a whole number, found 2.5" in capsys.readouterr().err


def test_mechanism_names_of_the_wrong_type_exit_2(tmp_path, capsys):
    assert main([scenario(tmp_path, mechanisms=[["mpc"]]), "--out", str(tmp_path)]) == 2
    assert "Field 'mechanisms' must list mechanism names" in capsys.readouterr().err


@pytest.mark.parametrize("member_id", [[], None, ""])
def test_member_ids_of_the_wrong_type_exit_2(tmp_path, capsys, member_id):
    path = scenario(tmp_path)
    doc = yaml.safe_load((tmp_path / "small.yaml").read_text())
    doc["community"]["members"][0]["id"] = member_id
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(doc))
    assert main([path, "--out", str(tmp_path)]) == 2
    assert f"Field 'id' of member 1 must be a name or a whole number, found {member_id!r}" in (
        capsys.readouterr().err
    )


def test_window_longer_than_the_run_is_the_whole_run(tmp_path):
    # a window past the data's end only pads idle steps: 1e9 h plans the day in one window
    runs = {}
    for window_h in (1e9, 24):
        path = scenario(tmp_path, mpc={"window_h": window_h, "apply_h": window_h})
        out = tmp_path / str(window_h)
        assert main([path, "--out", str(out), "--mechanisms", "mpc", "--no-plots"]) == 0
        runs[window_h] = pd.read_csv(out / "small" / "community" / "sweep.csv")
    assert runs[1e9]["import_kwh"].item() == pytest.approx(runs[24]["import_kwh"].item(), rel=1e-9)


def _with(tmp_path, **changes) -> str:
    """Return the small scenario with fields of its community section replaced."""
    path = scenario(tmp_path)
    doc = yaml.safe_load((tmp_path / "small.yaml").read_text())
    doc["community"].update(changes)
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(doc))
    return path


def test_truncated_compressed_profiles_exit_2(tmp_path, capsys):
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(PROFILES.read_bytes()[:200_000])  # ends mid-stream
    assert main([_with(tmp_path, profiles=str(cut)), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{cut}: The profile file is not a readable CSV table" in err
    assert "Traceback" not in err


def test_period_shorter_than_one_step_exits_2(tmp_path, capsys):
    path = _with(tmp_path, period={"start": "2016-06-06T00:00", "days": 0.001})
    assert main([path, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Field 'period.days' (0.001) is shorter than one profile step (15 min)" in err


def test_period_without_load_exits_2(tmp_path, capsys):
    # the metrics are shares of the load: a period with none has no self-production
    with gzip.open(PROFILES, "rt") as handle:
        frame = pd.read_csv(handle, nrows=200)
    loads = [c for c in frame.columns if c not in ("time", "PV")]
    frame[loads] = 0.0
    frame.to_csv(tmp_path / "idle.csv", index=False)
    path = _with(tmp_path, profiles=str(tmp_path / "idle.csv"), period={})
    assert main([path, "--out", str(tmp_path / "o")]) == 2
    assert "The members' load is 0 kWh over the simulated period" in capsys.readouterr().err


def test_start_option_equals_a_period_starting_there(tmp_path):
    # --start S --steps N runs the steps of a scenario whose period starts at S for N steps
    # (reference: the same scenario with its period edited); the timestamps follow
    runs = {}
    for name, edit, options in (
        ("option", {}, ["--start", "2016-06-06T06:00", "--steps", "48"]),
        ("period", {"period": {"start": "2016-06-06T06:00", "days": 0.5}}, []),
    ):
        out = tmp_path / name
        (tmp_path / name).mkdir()
        path = _with(tmp_path / name, **edit) if edit else scenario(tmp_path / name)
        argv = [path, *options, "--mechanisms", "low-tech,mpc", "--no-plots", "--out", str(out)]
        assert main(argv) == 0
        folder = out / "small" / "community"
        runs[name] = (
            pd.read_csv(folder / "sweep.csv"),
            json.loads((folder / "summary.json").read_text()),
        )
    (by_option, summary), (by_period, reference) = runs["option"], runs["period"]
    assert summary["start_time"] == reference["start_time"] == "2016-06-06T06:00:00"
    assert summary["n_steps"] == reference["n_steps"] == 48
    columns = ["self_production_pct", "self_sufficiency_pct", "upper_bound_pct", "cost_eur"]
    pd.testing.assert_frame_equal(by_option[columns], by_period[columns], rtol=1e-12)
    assert by_option["upper_bound_pct"].gt(0).all(), "a June morning has PV"


@pytest.mark.parametrize(
    ("start", "words"),
    [
        ("2016-06-06T00:07", "is not the start of a step of the scenario's period"),
        ("2016-06-09T00:00", "is not the start of a step of the scenario's period"),
    ],
)
def test_start_outside_the_period_exits_2(tmp_path, capsys, start, words):
    code = main([scenario(tmp_path), "--start", start, "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "Invalid input in the command line" in err and words in err


@pytest.mark.parametrize(
    ("start", "words"),
    [
        ("2016-13-06", "must be an ISO 8601 date or date-time"),
        ("2016-06-06T00:00+02:00", "without a UTC offset"),
    ],
)
def test_malformed_start_exits_2(tmp_path, capsys, start, words):
    with pytest.raises(SystemExit) as exit_:  # the parser's refusal
        main([scenario(tmp_path), "--start", start, "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Invalid input in the command line" in err and words in err


def test_steps_past_the_period_after_start_exit_2(tmp_path, capsys):
    argv = [scenario(tmp_path), "--start", "2016-06-06T06:00", "--steps", "73"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "must be between 1 and 72" in capsys.readouterr().err
