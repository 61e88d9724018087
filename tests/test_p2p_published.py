"""The published cases of the reference study, run through the command line.

Reference: ``inputs/p2p/slack_power_adjustments_p2p_trades_{44,80}.csv`` (MWh per hour):
grid import = column 2, P2P energy = column 3 − column 2, load = column 4. The acceptance
tolerance is 0.1 % on the 24-hour totals; the hourly values are checked within 1e-6 kWh.
Every file the runs write is validated against its JSON Schema.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dec.p2p.settings import INPUT_DIR
from dec.run import main
from dec.schemas import validate, validate_folder

CASES = {
    "cigre_lv": ("slack_power_adjustments_p2p_trades_44.csv", 6, 6),
    "village": ("slack_power_adjustments_p2p_trades_80.csv", 40, 20),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("p2p_published")
    codes = {}
    for feeder_id in CASES:
        plots = [] if feeder_id == "cigre_lv" else ["--no-plots"]
        codes[feeder_id] = main([feeder_id, "--mode", "p2p", "--out", str(out), *plots])
    return out, codes


def _published(name: str) -> pd.DataFrame:
    frame = pd.read_csv(INPUT_DIR / name)
    return pd.DataFrame(
        {
            "grid_kwh": 1000 * frame.iloc[:, 1],
            "p2p_kwh": 1000 * (frame.iloc[:, 2] - frame.iloc[:, 1]),
            "load_kwh": 1000 * frame.iloc[:, 3],
        }
    )


@pytest.mark.parametrize("feeder_id", list(CASES))
def test_published_totals_are_reproduced(runs, feeder_id):
    out, codes = runs
    assert codes[feeder_id] == 0
    folder = out / feeder_id / "p2p"
    summary = json.loads((folder / "summary.json").read_text())
    published = _published(CASES[feeder_id][0])
    assert summary["p2p_energy_kwh"] == pytest.approx(published["p2p_kwh"].sum(), rel=1e-3)
    assert summary["grid_import_kwh"] == pytest.approx(published["grid_kwh"].sum(), rel=1e-3)
    assert summary["daily_load_kwh"] == pytest.approx(published["load_kwh"].sum(), rel=1e-3)
    assert summary["reference"]["p2p_energy_error_rel"] < 1e-3
    assert summary["reference"]["grid_import_error_rel"] < 1e-3
    hourly = pd.read_csv(folder / "hourly.csv")
    assert np.allclose(hourly["p2p_kwh"], published["p2p_kwh"], rtol=0, atol=1e-6)
    assert np.allclose(hourly["grid_import_kwh"], published["grid_kwh"], rtol=0, atol=1e-6)
    # The study's network check executed every trade; so do the DC and AC checks here.
    assert summary["curtailed_trades"] == 0
    assert (summary["n_households"], summary["n_pv"]) == CASES[feeder_id][1:]
    assert summary["hours_with_trades"] == int((published["p2p_kwh"] > 1e-6).sum())
    assert 0.9 <= summary["vmin_pu"] <= summary["vmax_pu"] <= 1.1
    assert (
        summary["max_line_loading_percent"] <= 100 and summary["max_trafo_loading_percent"] <= 100
    )
    # The auction is efficient: its welfare equals the welfare LP's (the centralized reference).
    assert summary["objective_gap_rel"] < 1e-9
    assert summary["executed_welfare_eur"] == pytest.approx(summary["objective"], rel=1e-12)
    # Pay-as-ask with fixed prices (the study): buyers save retail - feed-in on every kWh.
    assert summary["buyer_savings_eur"] == pytest.approx(
        0.15 * summary["p2p_energy_kwh"], rel=1e-12
    )
    assert summary["seller_savings_eur"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("feeder_id", list(CASES))
def test_outputs_follow_the_schemas_and_balance(runs, feeder_id):
    out, _ = runs
    folder = out / feeder_id / "p2p"
    validate_folder(folder, "p2p")
    summary = json.loads((folder / "summary.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted((folder / "setpoints").glob("*.json"))]
    assert len(records) == summary["n_agents"]
    for record in records:
        lists = [v for v in record.values() if isinstance(v, list)]
        assert all(len(v) == 24 for v in lists)
        # A trader's purchases plus grid import cover its deficit; sales plus export its surplus.
        net = np.array(record["pv_kw"]) - np.array(record["load_kw"])
        assert np.allclose(
            np.array(record["bought_kw"]) + record["grid_import_kw"], np.maximum(-net, 0), atol=1e-6
        )
        assert np.allclose(
            np.array(record["sold_kw"]) + record["grid_export_kw"], np.maximum(net, 0), atol=1e-6
        )
    trades = pd.read_csv(folder / "trades.csv")
    assert list(trades.columns[:5]) == ["hour", "buyer", "seller", "buyer_bus", "seller_bus"]
    bought = sum(np.array(r["bought_kw"]) for r in records)
    sold = sum(np.array(r["sold_kw"]) for r in records)
    assert np.allclose(bought, sold, atol=1e-9)  # budget balance of energy, every hour
    assert trades["p_kw"].sum() == pytest.approx(summary["p2p_energy_kwh"], rel=1e-12)
    if feeder_id == "cigre_lv":
        for name in ("p2p_stack", "prices", "network"):
            assert (folder / f"{name}.png").stat().st_size > 20_000


def test_a_night_hour_alone_has_no_relative_error_to_report(tmp_path, capsys):
    # hour 0: no PV, so no P2P energy published or traded; its relative error is undefined
    assert (
        main(["cigre_lv", "--mode", "p2p", "--steps", "1", "--out", str(tmp_path), "--no-plots"])
        == 0
    )
    summary = json.loads((tmp_path / "cigre_lv" / "p2p" / "summary.json").read_text())
    validate(summary, "summary", "p2p")
    assert summary["reference"]["p2p_energy_kwh"] == 0.0
    assert summary["reference"]["p2p_energy_error_rel"] is None
    assert summary["p2p_energy_kwh"] == 0.0
    assert "n/a / " in capsys.readouterr().out
