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
    expected = f"argument {option}: must be a finite number, 0 or more; found {value!r}"
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--mode", "inspect", "--fairness", "efficient"], "--fairness (mode curtail)"),
        (["--market", "admm"], "--market (mode p2p)"),  # default mode curtail
        (["--mode", "p2p", "--sweep", "1,2"], "--sweep (mode rec-keys)"),
    ],
)
def test_an_option_of_another_mode_is_refused(tmp_path, capsys, args, named):
    # silently ignoring it would run a different study than the one asked for
    code = main(["cigre_lv", *args, "--no-plots", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert named in err and "choose its mode with --mode" in err
    assert not any(tmp_path.iterdir())
