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


@pytest.mark.parametrize(("field", "edit"), [
    ("profiles.load", {"profiles": {"load": "nothere.csv"}}),
    ("profiles.pv", {"profiles": {"pv": "nothere.csv"}}),
    ("reference", {"reference": "nothere.csv"}),
])  # fmt: skip
def test_a_missing_file_is_blamed_on_the_scenario_field_that_names_it(
    tmp_path, capsys, field, edit
):
    # it was blamed on the missing file itself, without the field or where it was looked for
    scenario = _scenario()
    scenario["p2p"].update(edit)
    path = _write(tmp_path, scenario)
    code, err = _run(tmp_path, path, capsys)
    assert code == 2
    assert err == (
        f"dec: error: Invalid input in {path}: Field 'p2p.{field}' names 'nothere.csv', which "
        f"does not exist (looked for {str(tmp_path / 'nothere.csv')!r}; a relative path is "
        "relative to the scenario file).\n"
    )


def test_profile_column_named_twice(tmp_path, capsys):
    loads = pd.read_csv(INPUT_DIR / "cluster_medians.csv")
    loads.columns = ["Hour", "Cluster_0", "Cluster_0", "Cluster_1"]
    code, err = _run(tmp_path, _write(tmp_path, _scenario(), loads), capsys)
    assert code == 2
    assert "loads.csv: The load profile file names the column(s) ['Cluster_0'] more" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("kind", "table", "column", "hour"),
    [
        ("load", "cluster_medians.csv", "Cluster_0", 5),
        ("pv", "cluster_medians_solar.csv", "Cluster_1", 12),
    ],
)
@pytest.mark.parametrize("value", [-1.5, 2e6, 1e300])
def test_a_profile_value_outside_zero_to_the_maximum_energy(
    tmp_path, capsys, kind, table, column, hour, value
):
    # 1e300 kWh once reached the power flow, which diverged with RuntimeWarnings
    profiles = pd.read_csv(INPUT_DIR / table)
    profiles.loc[hour, column] = value
    profiles.to_csv(tmp_path / "table.csv", index=False)
    scenario = _scenario()
    scenario["p2p"]["profiles"] = {kind: "table.csv"}
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2
    assert err == (
        f"dec: error: Invalid input in {tmp_path / 'table.csv'}: Column '{column}' holds {kind} "
        f"values outside [0, 1e+06] kWh per hour at hours [{hour}]: [{value!r}].\n"
    )
    assert not (tmp_path / "out").exists()


def _write_text_profile(tmp_path, text: str):
    (tmp_path / "loads.csv").write_text(text)
    scenario = _scenario()
    scenario["p2p"]["profiles"] = {"load": "loads.csv"}
    return _write(tmp_path, scenario)


def _shipped_load_lines(separator: str = ",", decimal: str = ".") -> list[str]:
    lines = (INPUT_DIR / "cluster_medians.csv").read_text().splitlines()
    return [line.replace(",", separator).replace(".", decimal) for line in lines]


@pytest.mark.parametrize(("separator", "decimal"), [(";", "."), (";", ",")])
def test_a_profile_file_not_separated_by_commas_gets_a_hint(tmp_path, capsys, separator, decimal):
    text = "\n".join(_shipped_load_lines(separator, decimal)) + "\n"
    code, err = _run(tmp_path, _write_text_profile(tmp_path, text), capsys)
    assert code == 2
    assert (
        "loads.csv: Column 'Hour' is missing; found columns ['Hour;Cluster_0;Cluster_2;"
        "Cluster_1']. The file must be comma-separated, with '.' as the decimal mark." in err
    )


def test_profile_names_are_quoted_so_that_spaces_show(tmp_path, capsys):
    # "Hour, Cluster_0, ..." names the column ' Cluster_0'; names are matched exactly
    header, *rows = _shipped_load_lines()
    text = "\n".join([header.replace(",", ", "), *rows]) + "\n"
    code, err = _run(tmp_path, _write_text_profile(tmp_path, text), capsys)
    assert code == 2
    assert (
        "loads.csv: The load profile 'Cluster_0' is not a column of the profile table; "
        "available: ' Cluster_0', ' Cluster_2', ' Cluster_1' (names are matched exactly, "
        "spaces included)." in err
    )


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


@pytest.mark.parametrize(("change", "message"), [
    # null (or an empty 'buses:') once put households on every leaf bus
    ({"households": {"buses": None}},
     "Field 'p2p.households.buses' must be a non-empty list of pandapower bus indices or "
     "'leaves', found None."),
    ({"households": {"buses": []}},
     "Field 'p2p.households.buses' must be a non-empty list of pandapower bus indices or "
     "'leaves', found []."),
    ({"households": {"buses": [12], "profile": ["Cluster_0"]}},
     "Field 'p2p.households.profile' must be a column name of the load profile table (text, "
     "e.g. Cluster_0), found ['Cluster_0']."),
    ({"pv": {"buses": [16], "profile": 1}},
     "Field 'p2p.pv.profile' must be a column name of the PV profile table (text, e.g. "
     "Cluster_0), found 1."),
    # 1e30 rounds once overflowed the progress bar
    ({"market": "admm", "admm": {"max_iter": 1e30}},
     "Field 'admm.max_iter' must be a whole number from 1 to 1,000,000, found 1e+30."),
    ({"market": "admm", "admm": {"max_iter": 1_000_001}},
     "Field 'admm.max_iter' must be a whole number from 1 to 1,000,000, found 1000001."),
    ({"market": "admm", "admm": {"max_iter": 0}},
     "Field 'admm.max_iter' must be a whole number from 1 to 1,000,000, found 0."),
    ({"market": "admm", "admm": {"max_iter": 2.5}},
     "Field 'admm.max_iter' must be a whole number from 1 to 1,000,000, found 2.5."),
    # a tie-break of 1e60 once crashed the centralized solve (traceback), a penalty of 1e300
    # "converged" in one round with no trade
    ({"market": "admm", "admm": {"tie_break": 1e60}},
     "Field 'admm.tie_break' is outside [1e-06, 0.01] for 1 setting: tie_break (1e+60)."),
    ({"market": "admm", "admm": {"rho": 1e300}},
     "Field 'admm.rho' is outside [1e-06, 1000] for 1 setting: rho (1e+300)."),
    ({"market": "admm", "admm": {"eps_abs": 0}},
     "Field 'admm.eps_abs' is outside [1e-12, 1] for 1 setting: eps_abs (0)."),
    ({"market": "admm", "admm": {"eps_rel": float("inf")}},
     "Field 'admm.eps_rel' is not a finite number for 1 setting: eps_rel (inf)."),
    ({"market": "admm", "admm": {"gamma_eur_per_kwh2": 0.01}},
     "Unknown field(s) gamma_eur_per_kwh2 in 'p2p.admm'; allowed: tie_break, rho, max_iter, "
     "eps_abs, eps_rel."),
])  # fmt: skip
def test_bad_section_values_exact_message(tmp_path, capsys, change, message):
    scenario = _scenario()
    scenario["p2p"].update(change)
    path = _write(tmp_path, scenario)
    code, err = _run(tmp_path, path, capsys)
    assert code == 2
    assert err == f"dec: error: Invalid input in {path}: {message}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("section", [None, {}])
def test_an_empty_p2p_section_is_named_empty(tmp_path, capsys, section):
    # 'p2p:' with nothing under it was reported as missing
    path = _write(tmp_path, _scenario() | {"p2p": section})
    code, err = _run(tmp_path, path, capsys)
    assert code == 2
    assert f"Invalid input in {path}: Section 'p2p' is empty. The p2p mode needs a placement" in err


def test_feeder_knobs_that_p2p_would_ignore(tmp_path, capsys):
    scenario = _scenario() | {"knobs": {"load_scale": 3.0}}
    code, err = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 2 and "load_scale" in err and "'p2p' section" in err


@pytest.mark.parametrize(("option", "message"), [
    (["--seed", "99999999999999999999999"],
     "Field 'seed' must be a whole number from 0 to 2**32 - 1, found 99999999999999999999999."),
])  # fmt: skip
def test_bad_option_values_are_blamed_on_the_command_line(tmp_path, capsys, option, message):
    """Not on the scenario file (here the shipped published scenario) whose values are fine."""
    code, err = _run(tmp_path, "cigre_lv", capsys, "--mode", "p2p", *option)
    assert code == 2
    assert err == f"dec: error: Invalid input in the command line: {message}\n"


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("--pv-penetration", "-0.1", "a number from 0 to 1"),
    ("--pv-penetration", "100", "a number from 0 to 1"),
    ("--pv-penetration", "nan", "a number from 0 to 1"),
    ("--auction-k", "2", "a number from 0 to 1"),
    ("--auction-k", "inf", "a number from 0 to 1"),
    ("--p2p-network-charge", "-0.1", "a number from 0 to 1000"),
    ("--p2p-network-charge", "1e4", "a number from 0 to 1000"),
    ("--p2p-network-charge", "cheap", "a number from 0 to 1000"),
    ("--load-scale", "1e7", "a number from 0 to 1e+06"),
])  # fmt: skip
def test_p2p_option_values_out_of_range_are_refused_by_the_parser(
    tmp_path, capsys, option, value, allowed
):
    # they were blamed on the shipped published scenario ("Field 'pv.penetration' ...")
    with pytest.raises(SystemExit) as exit_:
        main(["cigre_lv", "--mode", "p2p", option, value, "--out", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        f"dec: error: Invalid input in the command line: argument {option}: must be {allowed}; "
        f"found {value!r}. See python -m dec.run --help.\n"
    )
    assert not any(tmp_path.iterdir())


def test_feeder_without_placement(tmp_path, capsys):
    net = tmp_path / "net.json"
    import pandapower as pp
    import pandapower.networks as pn

    pp.to_json(pn.create_cigre_network_lv(), str(net))
    code, err = _run(tmp_path, net, capsys, "--mode", "p2p")
    assert code == 2 and "--pv-penetration" in err


@pytest.mark.parametrize("steps", ["0", "3", "-1"])
def test_steps_out_of_range_are_blamed_on_the_command_line(tmp_path, capsys, steps):
    # they were blamed on the scenario file, which holds no steps
    code, err = _run(tmp_path, _write(tmp_path, _scenario()), capsys, "--steps", steps)
    assert code == 2
    assert err == (
        "dec: error: Invalid input in the command line: argument --steps: must be a whole "
        f"number from 1 to 2 (the hours of the scenario), found {steps}.\n"
    )
    assert not (tmp_path / "out").exists()


def test_help_states_the_defaults_of_the_p2p_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "number of time steps to run, the first N (default: all of the scenario's: p2p its " in text
    )
    assert "e.g. 0.1, 0.3, 0.5 (default: not set, the scenario's placement)" in text


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


@pytest.mark.parametrize(("market", "extra", "chosen"), [
    (None, [], ""),  # the default market is the auction
    ("auction", [], ""),
    ("admm", ["--market", "auction"], " (--market auction)"),
])  # fmt: skip
def test_network_charge_in_the_file_with_the_auction_exits_2(
    tmp_path, capsys, market, extra, chosen
):
    # the auction has no network charge: the field was ignored without notice, while
    # --p2p-network-charge with the auction is refused
    scenario = _scenario()
    scenario["p2p"]["network_charge_eur_per_kwh_km"] = 0.1
    if market is not None:
        scenario["p2p"]["market"] = market
    path = _write(tmp_path, scenario)
    code, err = _run(tmp_path, path, capsys, *extra)
    assert code == 2
    assert err == (
        f"dec: error: Invalid input in {path}: Field 'p2p.network_charge_eur_per_kwh_km' (0.1) "
        f"is a charge of the ADMM market, but this run's market is auction{chosen}, which does "
        "not use it; remove the field or choose the ADMM market (market: admm, or --market "
        "admm).\n"
    )
    assert not (tmp_path / "out").exists()


def test_network_charge_in_the_file_with_the_admm_market_is_used(tmp_path, capsys):
    scenario = _scenario()
    scenario["p2p"].update(market="admm", network_charge_eur_per_kwh_km=0.1)
    code, _ = _run(tmp_path, _write(tmp_path, scenario), capsys)
    assert code == 0
    trades = pd.read_csv(tmp_path / "out" / "bad" / "p2p" / "trades.csv")
    assert (trades["charge_eur_per_kwh"] > 0).all()


def test_max_iter_with_the_centralized_admm_market_says_why_it_is_unused(tmp_path, capsys):
    # it said "This run is market admm, so it does not use --max-iter (market admm, --solver
    # admm)", which contradicts itself: --solver centralized is the reason
    code, err = _run(
        tmp_path, "cigre_lv", capsys, "--mode", "p2p", "--market", "admm",
        "--solver", "centralized", "--max-iter", "5",
    )  # fmt: skip
    assert code == 2
    assert err == (
        "dec: error: Invalid input in the command line: This run is market admm solved "
        "directly (--solver centralized: one QP, no ADMM rounds), so it does not use "
        "--max-iter (market admm, --solver admm); remove the option or choose what uses it "
        "(--market, --solver, --auction-pricing).\n"
    )
    assert not (tmp_path / "out").exists()
