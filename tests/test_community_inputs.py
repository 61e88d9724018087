"""Community: bad profile values and scenario fields (exit 2), and members without a battery."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

import dec.community.mpc as mpc
from dec.community.config import parse_config
from dec.run import main
from tests.community_cases import PROFILES, section


def _write(tmp_path, community: dict) -> str:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump({"name": "case", "mode": "community", "community": community}))
    return str(path)


def _week_profiles(tmp_path) -> str:
    """Write the shipped profiles' first week to a file of its own; return its path."""
    path = tmp_path / "week.csv"
    pd.read_csv(PROFILES, nrows=96 * 7).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("column", "users"),
    [("H0-A", "member h01 in"), ("PV", "the community PV in")],
)
def test_negative_profile_value_names_file_column_row_and_value(tmp_path, capsys, column, users):
    profiles = tmp_path / "negative.csv"
    frame = pd.read_csv(PROFILES, nrows=96 * 2)
    frame.loc[[99, 120], column] = [-1.5, -2.0]  # data rows 100 and 121
    frame.to_csv(profiles, index=False)
    path = _write(tmp_path, section(days=2, members=4, profiles=str(profiles), period={}))
    out = tmp_path / "out"
    assert main([path, "--no-plots", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"Invalid input in {profiles}: Column '{column}' holds 2 negative value(s)" in err
    assert "the first at data row 100 (2016-01-02T00:45): -1.5" in err
    assert "must be zero or more; it is the profile of" in err and f"{users} {path})" in err
    assert "Traceback" not in err and not out.exists()


def _two_days(tmp_path, change) -> str:
    """Write the shipped profiles' first two days as text, changed by ``change``."""
    path = tmp_path / "profiles.csv"
    frame = pd.read_csv(PROFILES, nrows=96 * 2, dtype=str)
    path.write_text(change(frame).to_csv(index=False))
    return str(path)


def _profile_error(tmp_path, capsys, profiles: str) -> str:
    """Run the 4-household case on ``profiles``; return stderr (exit 2, nothing written)."""
    path = _write(tmp_path, section(days=2, members=4, profiles=profiles, period={}))
    out = tmp_path / "out"
    assert main([path, "--no-plots", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    assert len(err.strip().splitlines()) == 1
    return err


@pytest.mark.parametrize(
    ("text", "shown"),
    [("abc", ": 'abc'."), ("", ", which is empty."), ("NaN", ": 'NaN'."), ("inf", ": 'inf'.")],
)
def test_non_numeric_profile_value_is_shown_as_found(tmp_path, capsys, text, shown):
    def change(frame):
        frame.loc[[99, 120], "PV"] = text  # data rows 100 and 121
        return frame

    profiles = _two_days(tmp_path, change)
    err = _profile_error(tmp_path, capsys, profiles)
    assert (
        f"Invalid input in {profiles}: Column 'PV' holds 2 value(s) that are not finite "
        f"numbers, the first at data row 100 (2016-01-02T00:45){shown}\n" in err
    )


@pytest.mark.parametrize(("text", "shown"), [("", ", which is empty."), ("noon", ": 'noon'.")])
def test_bad_timestamp_is_shown_as_found(tmp_path, capsys, text, shown):
    def change(frame):
        frame.loc[5, "time"] = text
        return frame

    profiles = _two_days(tmp_path, change)
    err = _profile_error(tmp_path, capsys, profiles)
    assert (
        f"Invalid input in {profiles}: Column 'time' holds 1 value(s) that are not "
        f"timestamps, the first at data row 6{shown}\n" in err
    )
    assert ": nan" not in err


@pytest.mark.parametrize(
    ("dropped", "message"),
    [
        ([49], "1 timestamp is missing between 2016-01-01T12:00 and 2016-01-01T12:30."),
        (
            [49, 50, 70],
            "2 timestamps are missing between 2016-01-01T12:00 and 2016-01-01T12:45, and the "
            "spacing differs at 1 further place.",
        ),
    ],
)
def test_missing_timestamps_are_counted(tmp_path, capsys, dropped, message):
    profiles = _two_days(tmp_path, lambda frame: frame.drop(index=dropped))
    err = _profile_error(tmp_path, capsys, profiles)
    assert (
        f"Invalid input in {profiles}: Column 'time' is not evenly spaced at 15 min: {message}\n"
        in err
    )


def test_row_with_too_many_fields_is_one_line_naming_file_and_line(tmp_path, capsys):
    def change(frame):
        frame.loc[10, "PV"] = "0.5,7"  # written unquoted below: data row 11, line 12
        return frame

    path = tmp_path / "profiles.csv"
    path.write_text(Path(_two_days(tmp_path, change)).read_text().replace('"0.5,7"', "0.5,7"))
    columns = len(pd.read_csv(PROFILES, nrows=1).columns)
    err = _profile_error(tmp_path, capsys, str(path))
    assert (
        f"Invalid input in {path}: The profile file is not a readable CSV table: its line 12 "
        f"holds {columns + 1} fields, its header names {columns} columns (one value per column "
        "on every line).\n" in err
    )


def _battery_case(tmp_path, defaults: dict, members: dict) -> str:
    """Write the 4-household case with battery ``defaults`` and ``members`` (index: battery)."""
    community = section(days=1, members=4, battery=defaults)
    community["members"] = [dict(m) for m in community["members"]]
    for index, battery in members.items():
        community["members"][index]["battery"] = battery
    return _write(tmp_path, community)


@pytest.mark.parametrize(
    ("defaults", "members", "message"),
    [
        # the defaults' value, inherited by members giving other fields: reported once
        (
            {"e_kwh": -1},
            {0: {"p_kw": 2}, 1: {"eta_ch": 0.9}},
            "Field 'e_kwh' is negative (must be zero or more) for 1 battery: battery (-1).",
        ),
        # the same value given by two members: one sentence listing them
        (
            {"e_kwh": 4},
            {0: {"e_kwh": -2}, 2: {"e_kwh": -2, "p_kw": 1}},
            "Field 'e_kwh' is negative (must be zero or more) for 2 batteries: "
            "members.h01.battery (-2), members.h03.battery (-2).",
        ),
    ],
)
def test_negative_battery_size_is_reported_once(tmp_path, capsys, defaults, members, message):
    path = _battery_case(tmp_path, defaults, members)
    out = tmp_path / "out"
    assert main([path, "--no-plots", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"dec: error: Invalid input in {path}: {message}\n"
    assert not out.exists()


def test_low_tech_threshold_given_both_ways_exits_2(tmp_path, capsys):
    low_tech = {"threshold_kw": 8, "threshold_kw_per_kwp": 0.2, "no_pv_kw": 0}
    path = _write(tmp_path, section(days=1, members=4, low_tech=low_tech))
    out = tmp_path / "out"
    assert main([path, "--no-plots", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"dec: error: Invalid input in {path}: Give either 'low_tech.threshold_kw' or "
        "'low_tech.threshold_kw_per_kwp', not both (found 8 and 0.2).\n"
    )
    assert not out.exists()


def test_swept_battery_power_is_its_c_rate_times_the_size():
    # --sweep-battery: a member's given p_kw is not kept, its c_rate_per_h sets the power
    community = section(days=1, members=3)
    community["members"] = [dict(m) for m in community["members"]]
    community["members"][1]["battery"] = {"e_kwh": 2, "p_kw": 3}
    community["members"][2]["battery"] = {"e_kwh": 2, "p_kw": 3, "c_rate_per_h": 1.5}
    config = parse_config(community, "test")
    assert [m.battery.p_kw for m in config.members] == [2.0, 3.0, 3.0]
    swept = config.with_battery_kwh(4)
    assert [m.battery.p_kw for m in swept.members] == [2.0, 2.0, 6.0]
    assert [m.battery.e_kwh for m in swept.members] == [4.0, 4.0, 4.0]


def test_mechanism_listed_twice_in_the_file_exits_2(tmp_path, capsys):
    # as --mechanisms mpc,mpc: a mechanism runs once (no duplicate rows in sweep.csv)
    path = _write(tmp_path, section(days=1, members=4, mechanisms=["none", "mpc", "mpc"]))
    out = tmp_path / "out"
    assert main([path, "--no-plots", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        f"Invalid input in {path}: Field 'community.mechanisms' lists mpc more than once, in "
        "['none', 'mpc', 'mpc']" in err
    )
    assert not out.exists()


def _member_without_battery(tmp_path) -> str:
    """The 17 households over the first week with their own profile file, h01 without battery.

    Clarabel used to stop this case's window at step 480 "almost solved" (the idle battery's
    row has every variable pinned to a bound), with cvxpy's warning on stderr.
    """
    community = section(
        start="2016-01-01T00:00",
        days=7,
        members=17,
        profiles=_week_profiles(tmp_path),
        mpc={"window_h": 24, "apply_h": 12},
    )
    community["members"] = [dict(m) for m in community["members"]]
    community["members"][0]["battery"] = None
    return _write(tmp_path, community)


def test_member_without_battery_is_solved_accurately(tmp_path, capsys):
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cvxpy's "Solution may be inaccurate" fails the test
        assert main([_member_without_battery(tmp_path), "--no-plots", "--out", str(out)]) == 0
    assert "Warning" not in capsys.readouterr().err
    folder = out / "case" / "community"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["converged"] is True and summary["message"] is None
    sweep = pd.read_csv(folder / "sweep.csv").set_index("mechanism")
    # January: PV never exceeds the load, so the batteries can save nothing; mpc imports
    # what 'none' does plus the end-of-run margin its 16 batteries keep above their start
    margin_kwh = 16 * mpc.TERMINAL_MARGIN_KWH / 0.95
    imports = sweep["import_kwh"]
    assert imports["mpc"] <= (imports["none"] + margin_kwh) * (1 + 1e-9)
    assert imports["mpc"] >= imports["none"] - 1e-9 * imports["none"]


def test_window_solved_only_to_reduced_tolerances_is_reported(tmp_path, capsys, monkeypatch):
    # an "almost solved" window is used, said in summary.json and the console, not warned
    solve = mpc.solve_window
    monkeypatch.setattr(mpc, "solve_window", lambda problem, start: solve(problem, start) or True)
    path = _write(tmp_path, section(days=1, members=4))
    out = tmp_path / "out"
    assert main([path, "--mechanisms", "none,mpc", "--no-plots", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    summary = json.loads((out / "case" / "community" / "summary.json").read_text())
    assert summary["converged"] is True
    assert summary["message"].startswith(
        "Clarabel solved 2 mpc window(s) only to its reduced tolerances (1e-8, 'almost solved')"
    )
    assert "the first starting at step 0" in summary["message"]
    assert "note" in captured.out and "Warning" not in captured.err
