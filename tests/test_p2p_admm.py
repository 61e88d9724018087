"""Bilateral ADMM market against its centralized solve (welfare within 1e-4 relative on both
networks), a hand-derived market, the closed-form local update, and engines."""

from __future__ import annotations

import json

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from dec.admm.convergence import Tolerances
from dec.admm.engine import ProcessEngine
from dec.network.ptdf import build_ptdf
from dec.p2p import admm_market
from dec.p2p.admm_market import build_market, project_capped, solve_admm, solve_centralized
from dec.p2p.case import build_case
from dec.p2p.mode import network_charges
from dec.p2p.orders import BIDDING, Tariff, make_orders
from dec.p2p.settings import settings_from
from dec.run import build_parser, main
from dec.scenario import load_scenario

WELFARE_TOL_REL = 1e-4
GAMMA = 0.01
RHO = 0.05
TOL = Tolerances(eps_abs=1e-7, eps_rel=1e-6, max_iter=5000)

TARIFF = Tariff(retail_eur_per_kwh=0.20, feed_in_eur_per_kwh=0.05)


def _args(*options: str):
    return build_parser().parse_args(["-", *options])


@pytest.fixture(scope="module")
def cases():
    out = {}
    for feeder_id in ("cigre_lv", "village"):
        scenario = load_scenario(feeder_id)
        settings = settings_from(scenario, _args())
        out[feeder_id] = build_case(scenario.require_feeder(), settings)
    return out


def _book(case, bidding: str, seed: int = 3):
    prices = BIDDING[bidding].limit_prices(case.net_kw, TARIFF, np.random.default_rng(seed))
    return make_orders(case.net_kw, prices, 1e-6)


def test_hand_derived_market():
    # One buyer (2 kW at 0.20), sellers of 1.5 kW at 0.05 and 0.10, gamma = 0.01 EUR/kWh².
    # KKT (derivation in the docstring of dec.p2p.admm_market): seller 1's limit and the buyer's
    # limit bind, t = (1.5, 0.5); buyer's dual 0.10 - 2·0.01·0.5 = 0.09; prices
    # 0.20 - 0.01·t - 0.09 = (0.095, 0.105); welfare 0.15·1.5 + 0.10·0.5 - 0.01·(1.5² + 0.5²) = 0.25.
    net_kw = np.array([[-2.0, 1.5, 1.5]])
    prices = np.array([[0.20, 0.05, 0.10]])
    market = build_market(make_orders(net_kw, prices, 1e-6), None, GAMMA)
    for solution in (solve_centralized(market), solve_admm(market, RHO, TOL)):
        assert solution.t_kw == pytest.approx([1.5, 0.5], abs=1e-4)
        assert solution.price_eur_per_kwh == pytest.approx([0.095, 0.105], abs=1e-4)
        assert solution.welfare_eur == pytest.approx(0.25, abs=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_local_update_is_the_exact_projection(seed):
    rng = np.random.default_rng(seed)
    group = np.sort(rng.integers(0, 6, size=40))
    group = np.searchsorted(np.unique(group), group)
    target = rng.normal(0.5, 1.0, size=40)
    cap = rng.uniform(0.2, 3.0, size=group.max() + 1)
    x = project_capped(target, group, cap)
    for g in range(len(cap)):
        xg, tg = x[group == g], target[group == g]
        # Optimality (KKT) of the projection: x = max(t - theta, 0) for one theta >= 0, with
        # theta = 0 if the positive parts fit under the cap, else sum(x) = cap. Exact to rounding.
        theta = np.max(tg - xg) if np.any(xg > 0) else 0.0
        assert xg == pytest.approx(np.maximum(tg - theta, 0.0), abs=1e-12)
        if theta > 1e-12:
            assert xg.sum() == pytest.approx(cap[g], abs=1e-12)
        else:
            assert xg.sum() <= cap[g] + 1e-12
        # And the same projection solved as a QP (Clarabel, interior point: ~1e-6 accurate).
        v = cp.Variable(len(tg))
        cp.Problem(cp.Minimize(cp.sum_squares(v - tg)), [v >= 0, cp.sum(v) <= cap[g]]).solve(
            solver=cp.CLARABEL
        )
        assert xg == pytest.approx(v.value, abs=1e-5)


@pytest.mark.parametrize("feeder_id", ["cigre_lv", "village"])
@pytest.mark.parametrize("bidding", ["fixed", "valuation"])
def test_admm_reaches_the_centralized_welfare(cases, feeder_id, bidding):
    market = build_market(_book(cases[feeder_id], bidding), None, GAMMA)
    central = solve_centralized(market)
    admm = solve_admm(market, RHO, TOL)
    assert admm.history.converged
    assert abs(admm.welfare_eur - central.welfare_eur) <= WELFARE_TOL_REL * abs(central.welfare_eur)
    # Strictly convex: the trades are unique and agree; so do the prices of the pairs that trade.
    assert np.max(np.abs(admm.t_kw - central.t_kw)) < 1e-2
    trading = central.t_kw > 1e-2
    assert np.max(np.abs(admm.price_eur_per_kwh - central.price_eur_per_kwh)[trading]) < 1e-3
    # No agent exceeds its order; prices are individually rational.
    bought = np.bincount(market.pair_bid, admm.t_kw, minlength=len(market.bids))
    assert np.all(bought <= market.bids.quantity_kw + 1e-9)
    assert np.all(
        np.bincount(market.pair_ask, admm.t_kw, minlength=len(market.asks))
        <= market.asks.quantity_kw + 1e-9
    )
    p = admm.price_eur_per_kwh[trading]
    assert np.all(p <= market.utility_eur_per_kwh[trading] + 1e-6)
    assert np.all(p >= market.cost_eur_per_kwh[trading] - 1e-6)


def test_network_charge_moves_trades_to_nearer_sellers(cases):
    case = cases["cigre_lv"]
    book = _book(case, "valuation")
    ptdf = build_ptdf(case.net)
    distance = network_charges(case, ptdf, 1.0)  # EUR/kWh per km = the path length in km
    mean_km = {}
    for rate in (0.0, 0.2):
        market = build_market(book, network_charges(case, ptdf, rate), GAMMA)
        central = solve_centralized(market)
        admm = solve_admm(market, RHO, TOL)
        assert abs(admm.welfare_eur - central.welfare_eur) <= WELFARE_TOL_REL * abs(
            central.welfare_eur
        )
        km = distance[market.bids.trader[market.pair_bid], market.asks.trader[market.pair_ask]]
        mean_km[rate] = float(np.sum(km * admm.t_kw) / np.sum(admm.t_kw))
    assert mean_km[0.2] < 0.8 * mean_km[0.0]


def test_process_engine_gives_the_serial_result(cases, monkeypatch):
    # Small chunks, so that the village's agents are split over several messages and workers.
    monkeypatch.setattr(admm_market, "AGENTS_PER_CHUNK", 64)
    market = build_market(_book(cases["village"], "valuation"), None, GAMMA)
    tol = Tolerances(eps_abs=1e-7, eps_rel=1e-6, max_iter=40)
    serial = solve_admm(market, RHO, tol)
    engine = ProcessEngine(2)
    try:
        parallel = solve_admm(market, RHO, tol, engine)
    finally:
        engine.close()
    assert parallel.history.iterations == serial.history.iterations == 40
    assert np.array_equal(parallel.t_kw, serial.t_kw)
    assert np.array_equal(parallel.price_eur_per_kwh, serial.price_eur_per_kwh)


ADMM_CLI = ["cigre_lv", "--mode", "p2p", "--market", "admm"]


def test_cli_admm_market_reports_rounds_and_residuals(tmp_path):
    assert main([*ADMM_CLI, "--bidding", "valuation", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "cigre_lv" / "p2p"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["converged"] and summary["objective_gap_rel"] < WELFARE_TOL_REL
    history = pd.read_csv(folder / "admm_history.csv")
    assert len(history) == summary["iterations"]
    last = history.iloc[-1]
    assert last["primal_residual"] <= last["eps_primal"]
    assert last["dual_residual"] <= last["eps_dual"]
    assert summary["primal_residual"] == pytest.approx(last["primal_residual"])
    assert (folder / "convergence.png").stat().st_size > 20_000
    central_cli = [*ADMM_CLI, "--bidding", "valuation", "--solver", "centralized", "--no-plots"]
    assert main([*central_cli, "--out", str(tmp_path)]) == 0
    central = json.loads((folder / "summary.json").read_text())
    assert central["iterations"] is None and central["objective_gap_rel"] == 0.0
    assert summary["objective"] == pytest.approx(central["objective"], rel=WELFARE_TOL_REL)


def test_admm_round_limit_exits_3_with_outputs(tmp_path):
    assert main([*ADMM_CLI, "--max-iter", "3", "--out", str(tmp_path), "--no-plots"]) == 3
    summary = json.loads((tmp_path / "cigre_lv" / "p2p" / "summary.json").read_text())
    assert summary["converged"] is False and summary["iterations"] == 3
    record = json.loads((tmp_path / "cigre_lv" / "p2p" / "setpoints" / "h12.json").read_text())
    assert record["converged"] is False


def test_hours_without_pairs_to_trade_need_no_round(tmp_path):
    # the first two hours have no PV output, so no seller: the market has no pair and is
    # solved as it stands (0 rounds, converged); no history table or plot is written
    assert main([*ADMM_CLI, "--steps", "2", "--out", str(tmp_path)]) == 0
    folder = tmp_path / "cigre_lv" / "p2p"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["converged"] is True and summary["iterations"] == 0
    assert summary["p2p_energy_kwh"] == 0.0
    assert not (folder / "admm_history.csv").exists()
    assert not (folder / "convergence.png").exists()
