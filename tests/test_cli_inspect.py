from __future__ import annotations

import json

import pandapower as pp
import pytest

import feeders
from dec.run import main
from dec.schemas import validate


@pytest.mark.parametrize("feeder_id", ["cigre_lv", "village"])
def test_inspect_writes_summary_and_plot(tmp_path, feeder_id, capsys):
    assert main([feeder_id, "--mode", "inspect", "--out", str(tmp_path)]) == 0
    out = tmp_path / feeder_id / "inspect"
    summary = json.loads((out / "summary.json").read_text())
    validate(summary, "summary", "inspect")
    assert summary["n_buses"] == {"cigre_lv": 44, "village": 80}[feeder_id]
    assert summary["vmax_pu"] > 1.05, "the default scenario is an over-voltage case"
    assert (out / "feeder.png").stat().st_size > 10_000
    # reference: pandapower's AC power flow of the same feeder
    net = feeders.load(feeder_id).net
    pp.runpp(net)
    assert summary["vmax_pu"] == pytest.approx(net.res_bus.vm_pu.max(), abs=1e-9)
    assert summary["vmax_bus"] == net.res_bus.vm_pu.idxmax()
    assert summary["vmin_bus"] == net.res_bus.vm_pu.idxmin()
    name = net.bus.at[summary["vmax_bus"], "name"]
    assert f"at bus {summary['vmax_bus']} ({name})" in capsys.readouterr().out
