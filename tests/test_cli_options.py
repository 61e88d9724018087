"""Options a run would ignore are refused, and outputs never overwrite each other.

References: the option map of every mode (``SHARED_OPTIONS`` of its options module,
checked here against what the mode reads) and the file-name rule of the exporter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from dec.export import export_result, safe_file_stem
from dec.modes import MODES, load_options
from dec.result import RunResult
from dec.run import MIN_VALUE_WIDTH, SHARED_DEFAULTS, TABLE_WIDTH, main, print_summary

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "curtail": "cigre_lv",
    "inspect": "village",
    "p2p": "cigre_lv",
    "rec-pricing": f"{ROOT}/inputs/rec_pricing/rec12.yaml",
    "rec-keys": f"{ROOT}/inputs/rec/case0.yaml",
    "community": f"{ROOT}/inputs/community/community.yaml",
}
VALUES = {
    "solver": "centralized",
    "engine": "process",
    "seed": "3",
    "load_scale": "1.1",
    "pv_scale": "0.9",
    "max_iter": "7",
    "horizon": "4",
    "policy": "optimal",
    "steps": "2",
}
UNUSED = [
    (mode, dest)
    for mode in sorted(MODES)
    for dest in SHARED_DEFAULTS
    if dest not in load_options(mode).SHARED_OPTIONS
]


def test_every_mode_declares_only_shared_options():
    for mode in MODES:
        assert load_options(mode).SHARED_OPTIONS <= set(SHARED_DEFAULTS), mode


@pytest.mark.parametrize(("mode", "dest"), UNUSED, ids=[f"{m}-{d}" for m, d in UNUSED])
def test_a_shared_option_the_mode_does_not_use_exits_2(tmp_path, capsys, mode, dest):
    option = f"--{dest.replace('_', '-')}"
    argv = [EXAMPLES[mode], "--mode", mode, option, VALUES[dest], "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"This run is mode {mode}, so it does not use {option} " in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir()), "nothing is written"


def test_first_step_without_a_series_exits_2(tmp_path, capsys):
    assert main(["cigre_lv", "--first-step", "40", "--out", str(tmp_path)]) == 2
    assert "Option --first-step 40 starts a time series" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--anderson", "100000"], "Field 'anderson' is outside [0, 50]"),
    (["--out", ""], "Option --out is empty"),
    (["--vmax", "0.9"], "The lower voltage limit (0.95, the feeder's) must be below the upper "
                        "limit (--vmax 0.9)"),
])  # fmt: skip
def test_out_of_range_options_exit_2(tmp_path, capsys, argv, message):
    assert (
        main(["cigre_lv", *argv] + (["--out", str(tmp_path)] if "--out" not in argv else [])) == 2
    )
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("out", ["", "a_file"])
def test_an_output_folder_that_cannot_be_one_is_blamed_on_the_command_line(tmp_path, capsys, out):
    (tmp_path / "a_file").write_text("")
    assert main(["cigre_lv", "--mode", "inspect", "--out", out and str(tmp_path / out)]) == 2
    assert capsys.readouterr().err.startswith(
        "dec: error: Invalid input in the command line: Option --out "
    )


def test_outputs_that_cannot_be_written_are_blamed_on_the_command_line(
    tmp_path, capsys, monkeypatch
):
    # the folder passes the checks before the run, and writing fails all the same
    def refuse(*args, **kwargs):
        raise PermissionError("[Errno 13] Permission denied")

    monkeypatch.setattr("dec.export.export_result", refuse)
    assert main(["cigre_lv", "--mode", "inspect", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"dec: error: Invalid input in the command line: Option --out {str(tmp_path)!r}: the "
        "outputs cannot be written ([Errno 13] Permission denied).\n"
    )


REC12 = f"{ROOT}/inputs/rec_pricing/rec12.yaml"


@pytest.mark.parametrize(("target", "option", "value", "must"), [
    ("cigre_lv", "--vmax", "1.6", "a number from 0.5 to 1.5"),
    ("cigre_lv", "--vmax", "nan", "a number from 0.5 to 1.5"),
    ("cigre_lv", "--eps-abs", "-1", "a number above 0 and at most 0.1"),
    ("cigre_lv", "--eps-abs", "1e300", "a number above 0 and at most 0.1"),
    ("cigre_lv", "--eps-rel", "0", "a number above 0 and at most 0.1"),
    (REC12, "--lem-divider", "2", "a number from 0 to 1"),
    (REC12, "--lem-compensation", "1.5", "a number from 0 to 1"),
    (REC12, "--lem-mip-gap", "0", "a number between 0 and 1, both excluded"),
    (REC12, "--lem-mip-gap", "2", "a number between 0 and 1, both excluded"),
    (REC12, "--lem-time-limit", "-1", "a finite number above 0"),
])  # fmt: skip
def test_option_values_are_refused_by_the_parser(capsys, target, option, value, must):
    # a bad option value is blamed on the command line, not on a scenario file
    with pytest.raises(SystemExit) as exit_:
        main([target, option, value])
    assert exit_.value.code == 2
    assert f"argument {option}: must be {must}; found {value!r}" in capsys.readouterr().err


def test_dual_prices_of_a_bilateral_market_are_blamed_on_the_command_line(tmp_path, capsys):
    argv = [REC12, "--lem-mechanism", "dual", "--lem-market", "bilateral", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Invalid input in the command line: Mechanism 'dual' needs market 'pool'" in err
    assert "--lem-mechanism dual, --lem-market bilateral" in err


def test_a_long_text_value_is_wrapped_to_the_tables_width(capsys):
    # a 300-character note made the whole table 300 characters wide
    note = " ".join(["The AC power flow of the setpoints reaches 1.0507 pu."] * 6)
    result = RunResult(
        scenario="s",
        mode="curtail",
        summary={"converged": True},
        console=[("max voltage after (AC, pu)", 1.0507), ("note", note)],
    )
    print_summary(result, "out", "s")
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= max(
        TABLE_WIDTH, len("max voltage after (AC, pu)") + 2 + MIN_VALUE_WIDTH
    )
    table = lines[2:-1]  # below the heading, above "outputs: out"
    assert table[0].split() == ["max", "voltage", "after", "(AC,", "pu)", "1.0507"]
    start = table[0].index("1.0507")  # the value column's
    assert len(table) > 2 and " ".join(line[start:] for line in table[1:]) == note


def test_file_names_keep_letters_of_any_script():
    assert safe_file_stem("Maison é") == "Maison_é"
    assert safe_file_stem("Maison è") != safe_file_stem("Maison é")
    assert safe_file_stem("../a/b") == "_a_b"
    assert safe_file_stem("...") == "_"


def test_ids_with_the_same_file_name_are_refused_before_writing(tmp_path):
    result = RunResult(
        scenario="s",
        mode="inspect",
        summary={"scenario": "s", "mode": "inspect", "n_agents": 2, "converged": True},
        agents=[{"agent_id": "a/b"}, {"agent_id": "a_b"}],
    )
    with pytest.raises(ValueError, match=r"'a/b', 'a_b' -> a_b.json"):
        export_result(result, tmp_path, plots=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("target", "argv", "message"), [
    (f"{ROOT}/inputs/community/community.yaml", ["--sweep-battery", "2,2"], "lists 2 more than once"),
    (f"{ROOT}/inputs/community/community.yaml", ["--sweep-battery", "1,,2"], "has an empty item"),
    (f"{ROOT}/inputs/community/community.yaml", ["--mechanisms", "mpc,mpc"], "lists mpc more than once"),
    (f"{ROOT}/inputs/rec/case0.yaml", ["--sweep", "4,4"], "Option '--sweep' lists 4 more than once"),
])  # fmt: skip
def test_list_options_exit_2(tmp_path, capsys, target, argv, message):
    assert main([target, *argv, "--no-plots", "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


P2P_PLACEMENT = """
mode: p2p
feeder: cigre_lv
p2p:
  households: {buses: [12, 17, 19, 35, 37, 41], profile: Cluster_0}
  pv: {buses: [16, 18, 22, 36, 40, 42], profile: Cluster_1}
  hours: [10, 11, 12]
"""


@pytest.mark.parametrize(("example", "section", "field"), [
    (f"{ROOT}/inputs/community/community.yaml", "community", "profiles"),
    (f"{ROOT}/inputs/rec_pricing/rec12.yaml", "rec_pricing", "timeseries"),
    (P2P_PLACEMENT, "p2p", "profiles.load"),
])  # fmt: skip
def test_a_data_file_that_is_a_directory_is_named_as_such(
    tmp_path, capsys, example, section, field
):
    # p2p named the folder as the file it blamed ("Invalid input in data: The load profile
    # file 'data' is a directory")
    scenario = yaml.safe_load(example if "\n" in example else Path(example).read_text())
    (tmp_path / "data").mkdir()
    *parents, key = field.split(".")
    mapping = scenario[section]
    for parent in parents:
        mapping = mapping.setdefault(parent, {})
    mapping[key] = "data"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    assert main([str(path), "--no-plots", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    # the scenario file is blamed, and the message names the folder as a folder
    assert err.startswith(f"dec: error: Invalid input in {path}: The ")
    assert f" file '{tmp_path / 'data'}' is a directory, not a file: give the path of a " in err
    assert "not of a folder" in err


REC12 = f"{ROOT}/inputs/rec_pricing/rec12.yaml"
CASE0 = f"{ROOT}/inputs/rec/case0.yaml"
COMMUNITY = f"{ROOT}/inputs/community/community.yaml"
P2P = ["cigre_lv", "--mode", "p2p"]


@pytest.mark.parametrize(("argv", "message"), [
    # p2p: the published case is an auction priced pay-as-ask
    ([*P2P, "--auction-k", "0.3"],
     "market auction priced pay-as-ask, so it does not use --auction-k (uniform auction)"),
    ([*P2P, "--market", "admm", "--auction-pricing", "uniform"],
     "market admm, so it does not use --auction-pricing (market auction)"),
    ([*P2P, "--p2p-network-charge", "0.01"], "does not use --p2p-network-charge (market admm)"),
    ([*P2P, "--market", "admm", "--solver", "centralized", "--max-iter", "9"],
     "does not use --max-iter (market admm, --solver admm)"),
    ([*P2P, "--solver", "admm"], "so it does not use --solver (market admm)"),
    ([*P2P, "--engine", "process"], "so it does not use --engine (market admm, --solver admm)"),
    # rec-pricing: the file's mechanism is mmr
    ([REC12, "--lem-mechanism", "sdr", "--lem-divider", "0.3"],
     "mechanism sdr, so it does not use --lem-divider (mechanism mmr)"),
    ([REC12, "--lem-compensation", "0.2"],
     "mechanism mmr, so it does not use --lem-compensation (mechanism sdr)"),
    ([REC12, "--lem-mechanism", "dual", "--lem-unpruned"],
     "mechanism dual, so it does not use --lem-unpruned (mechanism mmr or sdr)"),
    ([REC12, "--lem-timeframe", "post", "--max-iter", "3"],
     "This run is post-delivery (two passes, no loop), so it does not use --max-iter"),
    ([REC12, "--lem-mechanism", "dual", "--max-iter", "3"],
     "dual prices (one MILP, no loop), so it does not use --max-iter (the price loop)"),
    ([REC12, "--lem-timeframe", "post", "--engine", "ray"],
     "post-delivery (two passes, no loop), so it does not use --engine (pre-delivery)"),
    # rec-keys: the file's policy is look-ahead-billing
    ([CASE0, "--sweep", "4", "--policy", "optimal"],
     "This run is a sweep (--sweep: every policy for each of its horizons), so it does not use "
     "--policy; remove the option."),
    ([CASE0, "--sweep", "4", "--horizon", "3"], "so it does not use --horizon; remove the option."),
    ([CASE0, "--max-iter", "5"],
     "This run's policy is look-ahead-billing, so it does not use --max-iter (policy "
     "distributed)"),
    ([CASE0, "--engine", "process"],
     "policy is look-ahead-billing, so it does not use --engine (policy distributed)"),
    # curtail
    (["cigre_lv", "--solver", "centralized", "--eps-abs", "1e-6", "--anderson", "0"],
     "This run is solved centrally (--solver centralized), so it does not use --eps-abs (ADMM), "
     "--anderson (ADMM); remove the option"),
    (["cigre_lv", "--solver", "centralized", "--engine", "process"],
     "solved centrally (--solver centralized), so it does not use --engine (ADMM)"),
    # community: the file runs none, low-tech and mpc at one battery size
    ([COMMUNITY, "--max-iter", "5"],
     "This run's mechanisms are none, low-tech, mpc, so it does not use --max-iter "
     "(mpc-distributed)"),
    ([COMMUNITY, "--mechanisms", "none,low-tech", "--horizon", "96"],
     "This run's mechanisms are none, low-tech, so it does not use --horizon (mpc or "
     "mpc-distributed)"),
    ([COMMUNITY, "--engine", "process"],
     "so it does not use --engine (mpc-distributed, or two battery sizes or more)"),
])  # fmt: skip
def test_an_option_the_run_would_ignore_exits_2(tmp_path, capsys, argv, message):
    # another market, mechanism, policy or solver than the run's; --engine and --solver
    # have defaults filled in before a mode runs, so the mode asks whether they were given
    assert main([*argv, "--no-plots", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Invalid input in the command line" in err and message in err
    assert not any(tmp_path.iterdir())


def test_a_rerun_removes_the_outputs_of_the_earlier_run_only(tmp_path):
    # the folder never mixes two runs: the ADMM history and the plots of a first run that
    # the second (auction, --no-plots) does not write are removed; a user's notes are kept
    argv = ["cigre_lv", "--mode", "p2p", "--steps", "11", "--out", str(tmp_path)]  # 4 trade
    assert main([*argv, "--market", "admm"]) == 0
    folder = tmp_path / "cigre_lv" / "p2p"
    (folder / "notes.txt").write_text("mine")
    assert {"admm_history.csv", "convergence.png"} <= {p.name for p in folder.iterdir()}
    n_setpoints = len(list((folder / "setpoints").iterdir()))
    assert main([*argv, "--no-plots"]) == 0
    names = {p.name for p in folder.iterdir()}
    assert "notes.txt" in names and "trades.csv" in names and "summary.json" in names
    assert not {"admm_history.csv"} & names and not [n for n in names if n.endswith(".png")]
    assert len(list((folder / "setpoints").iterdir())) == n_setpoints


@pytest.mark.parametrize("target", ["cigre_lv", f"{ROOT}/inputs/rec/case0.yaml"])
def test_engine_ray_without_ray_is_blamed_on_the_option(tmp_path, capsys, monkeypatch, target):
    # it was "Invalid input in cigre_lv: The Ray engine needs the 'ray' extra ..."
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    argv = [target, "--engine", "ray", "--no-plots", "--out", str(tmp_path)]
    if "case0" in target:
        argv += ["--policy", "distributed", "--steps", "4"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "dec: error: Invalid input in the command line: Option --engine ray needs Ray, which is "
        "not installed: install the 'ray' extra (pip install -e \".[ray]\") or choose --engine "
        "serial or process.\n"
    )
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("mode", ["curtail", "inspect"])
@pytest.mark.parametrize(
    ("option", "value"),
    [("--pv-scale", "1e308"), ("--load-scale", "2e6")],
)
def test_a_scale_above_a_million_is_blamed_on_the_option_before_any_work(
    tmp_path, capsys, monkeypatch, mode, option, value
):
    # 1e308 overflowed to inf in the feeder builder: a dozen RuntimeWarnings, then "the AC
    # power flow did not converge"; p2p gives the same message for the same bound
    monkeypatch.setattr("feeders.load", pytest.fail)  # refused before the feeder is built
    argv = ["cigre_lv", "--mode", mode, option, value, "--no-plots", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        f"dec: error: Invalid input in the command line: argument {option}: must be a number "
        f"from 0 to 1e+06; found {value!r}. See python -m dec.run --help.\n"
    )
    assert not any(tmp_path.iterdir())


def test_a_long_option_value_is_shortened_in_its_message(capsys):
    value = "9" * 5000 + "x"
    with pytest.raises(SystemExit) as exit_:
        main(["cigre_lv", "--pv-scale", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --pv-scale: must be a number from 0 to 1e+06; found '99999" in err
    assert "...999" in err and "9x'. See python -m dec.run --help." in err and len(err) < 400


@pytest.mark.parametrize("where", ["scenario", "out"])
def test_a_path_the_system_cannot_check_exits_2_naming_it(tmp_path, capsys, where):
    # A name longer than the file system's 255 bytes makes even os.stat fail (OSError 36).
    long_name = "x" * 300
    scenario, out = ("cigre_lv", tmp_path / long_name)
    if where == "scenario":
        scenario, out = str(tmp_path / f"{long_name}.yaml"), tmp_path
    assert main([scenario, "--mode", "inspect", "--no-plots", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "File name too long" in err and "xxx...xxx" in err and "Traceback" not in err
    assert len(err) < 1000
