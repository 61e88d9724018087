"""The README stays true: its two commands, its command lines and its Python example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from dec.run import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
RUN_LINES = [
    shlex.split(line.split(" #")[0])[3:]
    for line in re.findall(r"^python -m dec\.run .*$", README, flags=re.MULTILINE)
    if "SCENARIO" not in line  # the synopsis
]


def _block_after(marker: str, language: str) -> str:
    return README.split(marker)[1].split(f"```{language}")[1].split("```")[0].strip()


def test_two_commands():
    main = _block_after("<!-- main-command -->", "bash")
    test = _block_after("<!-- test-command -->", "bash")
    assert main.endswith("pip install -e . && python -m dec.run ieee123")
    assert test.endswith('pip install -e ".[test]" && python -m pytest')
    assert main.startswith("python3.11 -m venv .venv") and test.startswith(
        "python3.11 -m venv .venv"
    )


@pytest.mark.parametrize("argv", RUN_LINES, ids=" ".join)
def test_every_documented_command_line_parses(argv):
    assert argv, "a documented command needs a scenario"
    build_parser().parse_args(argv)


def test_python_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_block_after("<!-- python-api -->", "python"), "README.md", "exec"), {})
    q_kvar, vmax = map(float, capsys.readouterr().out.split())
    assert q_kvar < 0, "the inverters absorb reactive power"
    assert vmax <= 1.05 + 1e-3

    assert (tmp_path / "outputs" / "cigre_lv" / "curtail" / "summary.json").exists()
