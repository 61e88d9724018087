"""Bad p2p inputs exit with code 2 and a message naming the file, field and value, before any
output is written (through ``dec.run.main``)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from dec.p2p.settings import INPUT_DIR
from dec.run import main

BASE = {
    "name": "bad",
    "mode": "p2p",
    "feeder": "cigre_lv",
    "p2p": {
        "households": {"buses": [12, 17], "profile": "Cluster_0"},
        "pv": {"buses": [16], "profile": "Cluster_1"},
        "hours": [11, 12],
    },
}


def _write(tmp_path, scenario: dict, load_csv: pd.DataFrame | None = None):
    if load_csv is not None:
        load_csv.to_csv(tmp_path / "loads.csv", index=False)
        scenario["p2p"]["profiles"] = {"load": "loads.csv"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


def _run(tmp_path, path, capsys, *extra):
    code = main([str(path), "--out", str(tmp_path / "out"), "--no-plots", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _scenario() -> dict:
    return yaml.safe_load(yaml.safe_dump(BASE))


def test_profile_with_23_rows(tmp_path, capsys):
    loads = pd.read_csv(INPUT_DIR / "cluster_medians.csv").iloc[:23]
    code, err = _run(tmp_path, _write(tmp_path, _scenario(), loads), capsys)
    assert code == 2
    assert "loads.csv" in err and "24 hourly rows" in err and "found 23" in err
    assert not (tmp_path / "out").exists()


def test_profile_column_named_twice(tmp_path, capsys):
    loads = pd.read_csv(INPUT_DIR / "cluster_medians.csv")
    loads.columns = ["Hour", "Cluster_0", "Cluster_0", "Cluster_1"]
    code, err = _run(tmp_path, _write(tmp_path, _scenario(), loads), capsys)
    assert code == 2
    assert "loads.csv: The load profile file names the column(s) ['Cluster_0'] more" in err
    assert not (tmp_path / "out").exists()


def test_negative_load(tmp_path, capsys):
    loads = pd.read_csv(INPUT_DIR / "cluster_medians.csv")
    loads.loc[5, "Cluster_0"] = -1.5
    code, err = _run(tmp_path, _write(tmp_path, _scenario(), loads), capsys)
    assert code == 2
    assert "Cluster_0" in err and "negative" in err and "[5]" in err and "-1.5" in err
    assert not (tmp_path / "out").exists()


def test_unknown_bus_in_placement(tmp_path, capsys):
    scenario = _scenario()
    scenario["p2p"]["households"]["buses"] = [12, 999]
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2
    assert "p2p.households.buses" in err and "999" in err and "bad.yaml" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"pricing": "vickrey"}, ["pricing", "vickrey"]),
        ({"k": 1.5}, ["'k'", "1.5"]),
        ({"hours": [12, 11]}, ["hours", "[12, 11]"]),
        (
            {"retail_price_eur_per_kwh": 0.01},
            ["feed_in_price_eur_per_kwh", "retail_price_eur_per_kwh"],
        ),
        ({"colour": "red"}, ["Unknown field", "colour"]),
        ({"pv": {"buses": [16], "penetration": 0.3}}, ["pv.buses", "pv.penetration"]),
        ({"households": {"buses": [12], "profile": "Cluster_9"}}, ["Cluster_9", "Cluster_0"]),
        ({"pv": {"buses": [18], "owned": True}}, ["p2p.pv.owned", "18"]),
        ({"profiles": {"load": 5}}, ["Field 'profiles.load' must be a file name, found 5"]),
        ({"reference": ["x.csv"]}, ["Field 'reference' must be a file name, found ['x.csv']"]),
        ({"vm_ext_pu": 1.5}, ["Field 'vm_ext_pu' is outside [0.8, 1.2]", "1.5"]),
        ({"pv": {"buses": None, "penetration": "abc"}}, ["pv.penetration", "'abc'"]),
    ],
)
def test_bad_section_values(tmp_path, capsys, change, words):
    scenario = _scenario()
    scenario["p2p"].update(change)
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2
    assert all(w in err for w in words), err


def test_feeder_knobs_that_p2p_would_ignore(tmp_path, capsys):
    scenario = _scenario() | {"knobs": {"load_scale": 3.0}}
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2 and "load_scale" in err and "'p2p' section" in err


@pytest.mark.parametrize(
    ("option", "words"),
    [(["--auction-k", "2"], "k (2.0)"), (["--seed", "99999999999999999999999"], "'seed'")],
)
def test_bad_option_values_are_blamed_on_the_command_line(tmp_path, capsys, option, words):
    """Not on the scenario file (here the shipped published scenario) whose values are fine."""
    code, err = _run(tmp_path, "cigre_lv", capsys, "--mode", "p2p", *option)
    assert code == 2 and "Invalid input in the command line:" in err and words in err


def test_feeder_without_placement(tmp_path, capsys):
    net = tmp_path / "net.json"
    import pandapower as pp
    import pandapower.networks as pn

    pp.to_json(pn.create_cigre_network_lv(), str(net))
    code, err = _run(tmp_path, net, capsys, "--mode", "p2p")
    assert code == 2 and "--pv-penetration" in err


def test_too_many_steps(tmp_path, capsys):
    code, err = _run(tmp_path, _write(tmp_path, _scenario()), capsys, "--steps", "3")
    assert code == 2 and "--steps" in err and "from 1 to 2" in err


def test_bad_reference_file(tmp_path, capsys):
    scenario = _scenario()
    shutil.copy(INPUT_DIR / "cluster_medians.csv", tmp_path / "ref.csv")
    scenario["p2p"]["reference"] = "ref.csv"
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2 and "ref.csv" in err and "Inverted Slack Power Adjustments" in err


def test_reference_that_is_a_directory(tmp_path, capsys):
    scenario = _scenario()
    (tmp_path / "ref").mkdir()
    scenario["p2p"]["reference"] = "ref"
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2 and "is a directory, not a file" in err


@pytest.mark.parametrize(
    ("row", "column", "value", "words"),
    [
        (3, "Top Line of Stack (P2P trades)", "abc", ["not finite numbers", "[3]", "'abc'"]),
        (3, "Total Load (MWh)", "inf", ["not finite numbers", "[3]"]),
        (4, "Hour", 3, ["hours 0 to 23 in order"]),
        (4, "Hour", "xyz", ["hours 0 to 23 in order", "'xyz'"]),
    ],
)
def test_broken_published_reference(tmp_path, capsys, row, column, value, words):
    reference = pd.read_csv(INPUT_DIR / "slack_power_adjustments_p2p_trades_44.csv", dtype=object)
    reference.loc[row, column] = value
    reference.to_csv(tmp_path / "ref.csv", index=False)
    scenario = _scenario()
    scenario["p2p"]["reference"] = "ref.csv"
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2 and "ref.csv" in err
    assert all(w in err for w in words), err
