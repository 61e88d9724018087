"""The README's p2p commands run (those not already run by the other p2p tests, without plots)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from dec.run import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCK = README[README.index("### p2p") :].split("```bash")[1].split("```")[0]
COMMANDS = [shlex.split(line.split("#")[0])[3:] for line in BLOCK.strip().splitlines()]
#: Run with the same arguments by test_p2p_published.py and test_p2p_network.py.
COVERED = [
    ["cigre_lv", "--mode", "p2p"],
    ["village", "--mode", "p2p"],
    ["inputs/p2p/cigre_lv_stress.yaml"],
]


def test_the_readme_lists_the_covered_commands():
    assert all(c in COMMANDS for c in COVERED)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in COVERED], ids=" ".join)
def test_readme_command_runs(tmp_path, command):
    assert main([*command, "--out", str(tmp_path), "--no-plots"]) == 0
    summary = json.loads(next(tmp_path.glob("*/p2p/summary.json")).read_text())
    assert summary["converged"] and summary["p2p_energy_kwh"] > 0
    assert 0.9 <= summary["vmin_pu"] and summary["vmax_pu"] <= 1.1
    if "--pv-penetration" in command:
        assert summary["n_pv"] == 4 and summary["n_households"] == 13  # 0.3 x 13 leaves
        assert "reference" not in summary  # another placement than the published case's
    assert re.fullmatch(r"[a-z_]+", summary["scenario"])
