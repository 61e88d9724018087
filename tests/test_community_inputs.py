"""Community: bad profile values and scenario fields (exit 2), and members without a battery."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
import yaml

import dec.community.mpc as mpc
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
