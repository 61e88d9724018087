"""The parser: ``--help`` lists every mode's options without loading any mode's code.

Reference: the registry (:data:`dec.modes.MODES`) for the groups, and the modules a fresh
interpreter holds after building the parser: none of the heavy dependencies (pandapower,
cvxpy, mesa, matplotlib) and no mode implementation may be imported by it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dec.modes import MODES
from dec.run import main

HEAVY = ("pandapower", "cvxpy", "mesa", "matplotlib", "scipy")


def test_help_lists_every_mode_and_exits_0(capsys):
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    text = capsys.readouterr().out
    for name in MODES:
        assert f"mode {name}:" in text
    for option in ("--fairness", "--sweep-battery", "--market", "--sweep", "--lem-mechanism"):
        assert option in text
    # a default of 0 is shown too (0 == False once hid it)
    first_step_help = text.split("--first-step FIRST_STEP")[-1].split("--")[0]  # after usage
    assert "(default: 0)" in first_step_help

    assert "ADMM absolute tolerance (curtail) (default: 1e-10)" in text


def test_parser_imports_no_mode_and_no_heavy_dependency():
    probe = (
        "import sys; from dec.run import build_parser; build_parser(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
        f"or m in {sorted(MODES.values())!r}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_negative_seed_is_refused_by_the_parser(capsys):
    # numpy and Mesa refuse negative seeds; every mode gets a checked one
    with pytest.raises(SystemExit) as exit_:
        main(["inputs/community/community.yaml", "--seed", "-1"])
    assert exit_.value.code == 2
    assert (
        "argument --seed: must be a whole number, 0 or more; found '-1'" in capsys.readouterr().err
    )


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e400", "two"])
@pytest.mark.parametrize("option", ["--load-scale", "--pv-scale"])
def test_a_scale_that_is_not_a_finite_number_from_zero_is_refused_by_the_parser(
    capsys, option, value
):
    # every mode multiplies loads or PV by it; a negative or infinite scale is no scenario
    with pytest.raises(SystemExit) as exit_:
        main(["cigre_lv", option, value])
    assert exit_.value.code == 2
    expected = f"argument {option}: must be a number from 0 to 1e+06; found {value!r}"
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "found"),
    [("0", "'0'"), ("-3", "'-3'"), ("1000001", "'1000001'"), ("1e3", "'1e3'"),
     ("100000000000000000000", "'100000000000000000000'")],
)  # fmt: skip
def test_a_round_limit_outside_1_to_a_million_is_refused_by_the_parser(capsys, value, found):
    # 1e20 rounds once overflowed the progress bar (OverflowError traceback)
    with pytest.raises(SystemExit) as exit_:
        main(["cigre_lv", "--mode", "p2p", "--market", "admm", f"--max-iter={value}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "dec: error: Invalid input in the command line: argument --max-iter: must be a whole "
        f"number from 1 to 1,000,000; found {found}. See python -m dec.run --help.\n"
    )


@pytest.mark.parametrize(("argv", "message"), [
    (["ieee123", "--fairness", "equal_kw"], "argument --fairness: invalid choice: 'equal_kw' "
                                            "(choose from 'feeder', 'transformer', 'equal-kw', "
                                            "'efficient', 'proportional')"),
    (["ieee123", "--load-scale", "abc"], "argument --load-scale: must be a number from 0 to "
                                         "1e+06; found 'abc'"),
    (["ieee123", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    # abbreviations are refused: a new option could silently change what they mean
    (["ieee123", "--fair", "feeder"], "unrecognized arguments: --fair feeder"),
    ([], "the following arguments are required: SCENARIO"),
])  # fmt: skip
def test_a_command_line_argparse_refuses_is_one_paragraph(capsys, argv, message):
    # like any other bad input: no usage dump, the same prefix, blamed on the command line
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.strip()] == [
        f"dec: error: Invalid input in the command line: {message}. See python -m dec.run --help."
    ]


@pytest.mark.parametrize(("args", "mode", "named"), [
    (["--mode", "inspect", "--fairness", "efficient"], "inspect", "--fairness (mode curtail)"),
    (["--market", "admm"], "curtail", "--market (mode p2p)"),  # the default mode
    (["--mode", "p2p", "--sweep", "1,2"], "p2p", "--sweep (mode rec-keys)"),
    # given at their default values: given all the same (they were let through)
    (["--mode", "p2p", "--fairness", "feeder"], "p2p", "--fairness (mode curtail)"),
    (["--mode", "p2p", "--first-step", "0"], "p2p", "--first-step (mode curtail)"),
    (["--mode", "inspect", "--eps-abs=1e-10", "--anderson", "5"], "inspect",
     "--eps-abs (mode curtail), --anderson (mode curtail)"),
])  # fmt: skip
def test_an_option_of_another_mode_is_refused(tmp_path, capsys, args, mode, named):
    # silently ignoring it would run a different study than the one asked for
    code = main(["cigre_lv", *args, "--no-plots", "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"dec: error: Invalid input in the command line: This run is mode {mode}, so it does "
        f"not use {named}; remove the option or choose its mode with --mode.\n"
    )
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("scenario", "option"),
    [("inputs/rec/case0.yaml", "--policy"), ("inputs/community/community.yaml", "--sweep-battery")],
)
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_text_option_is_refused_by_the_parser(capsys, scenario, option, value):
    # an empty value is no choice: it must not run the scenario's own as if nothing was given
    with pytest.raises(SystemExit) as exit_:
        main([scenario, f"{option}={value}"])
    assert exit_.value.code == 2
    assert (
        f"argument {option}: must be a non-empty text; found {value!r}" in capsys.readouterr().err
    )


@pytest.mark.parametrize(("argv", "expected"), [
    (["cigre_lv", "--load-scale", "-1e3"], "argument --load-scale: must be a number from 0 "
                                           "to 1e+06; found '-1e3'"),
    (["cigre_lv", "--vmax", "-.5"], "argument --vmax: must be a number from 0.5 to 1.5; "
                                    "found '-.5'"),
])  # fmt: skip
def test_a_value_that_starts_with_a_minus_reaches_its_options_parser(capsys, argv, expected):
    # argparse alone reads '-1e3' or '-1,2' as an option ("expected one argument")
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err
