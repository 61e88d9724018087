from __future__ import annotations

import json

import pytest

from dec.run import main
from dec.schemas import validate


@pytest.mark.parametrize("feeder_id", ["cigre_lv", "village"])
def test_inspect_writes_summary_and_plot(tmp_path, feeder_id):
    assert main([feeder_id, "--mode", "inspect", "--out", str(tmp_path)]) == 0
    out = tmp_path / feeder_id / "inspect"
    summary = json.loads((out / "summary.json").read_text())
    validate(summary, "summary", "inspect")
    assert summary["n_buses"] == {"cigre_lv": 44, "village": 80}[feeder_id]
    assert summary["vmax_pu"] > 1.05, "the default scenario is an over-voltage case"
    assert (out / "feeder.png").stat().st_size > 10_000
