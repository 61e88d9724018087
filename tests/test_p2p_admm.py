"""Bilateral ADMM market against its centralized solve (welfare within 1e-4 relative on both
networks), against the double auction (same traded energy: the tie-break does not cap trades),
a hand-derived market, the closed-form local update, engines, and what the run reports."""

from __future__ import annotations

import json

import cvxpy as cp
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from dec.admm.convergence import History, Tolerances
from dec.admm.engine import ProcessEngine
from dec.network.ptdf import build_ptdf
from dec.p2p import admm_market
from dec.p2p.admm_market import build_market, project_capped, solve_admm, solve_centralized
from dec.p2p.case import build_case
from dec.p2p.mode import network_charges, run_market
from dec.p2p.orders import BIDDING, Tariff, make_orders
from dec.p2p.report import MarketOutcome
from dec.p2p.settings import INPUT_DIR, settings_from
from dec.run import build_parser, main
from dec.scenario import load_scenario
from dec.schemas import validate_folder

WELFARE_TOL_REL = 1e-4
#: Traded energy of the ADMM market against the auction's, relative: the ADMM tolerances (the
#: tie-break's bound, its default 1e-3 of the energy with one margin for all, is not reached).
ENERGY_TOL_REL = 1e-5
TIE_BREAK = 1e-3
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
    # One buyer (2 kW at 0.20), sellers of 1.5 kW at 0.05 and 0.10. Scale: M = 0.15 EUR/kWh (the
    # largest margin), Q = 2 kW (the largest order), so gamma = 1e-3 · 0.15 / 2 = 7.5e-5 EUR/kWh².
    # KKT of max 0.15 t1 + 0.10 t2 - gamma (t1² + t2²): seller 1's limit and the buyer's limit
    # bind, t = (1.5, 0.5), as in the LP without tie-break; the buyer's dual is
    # 0.10 - 2 gamma 0.5 = 0.10 - gamma; prices 0.20 - gamma t - (0.10 - gamma) =
    # (0.10 - gamma/2, 0.10 + gamma/2): the marginal seller's ask; welfare 0.15·1.5 + 0.10·0.5.
    net_kw = np.array([[-2.0, 1.5, 1.5]])
    prices = np.array([[0.20, 0.05, 0.10]])
    market = build_market(make_orders(net_kw, prices, 1e-6), None, TIE_BREAK)
    gamma = 7.5e-5
    assert market.gamma_eur_per_kwh2 == pytest.approx(gamma, rel=1e-12)
    for solution in (solve_centralized(market), solve_admm(market, RHO, TOL)):
        assert solution.t_kw == pytest.approx([1.5, 0.5], abs=1e-5)
        assert solution.price_eur_per_kwh == pytest.approx(
            [0.10 - gamma / 2, 0.10 + gamma / 2], abs=1e-6
        )
        assert solution.welfare_eur == pytest.approx(0.275, abs=1e-6)


def test_the_tie_break_does_not_depend_on_the_unit_of_power():
    # The same market in W instead of kW: the same trades, x 1000 (the tie-break scales with
    # the orders; a fixed gamma capped every pair at margin / (2 gamma) kW).
    net_kw = np.array([[-2.0, -3.0, 1.5, 1.5, 4.0]])
    prices = np.array([[0.20, 0.18, 0.05, 0.10, 0.07]])
    kw = solve_centralized(build_market(make_orders(net_kw, prices, 1e-6), None, TIE_BREAK))
    w = solve_centralized(build_market(make_orders(1e3 * net_kw, prices, 1e-6), None, TIE_BREAK))
    assert w.t_kw == pytest.approx(1e3 * kw.t_kw, rel=1e-6, abs=1e-6)
    assert w.price_eur_per_kwh == pytest.approx(kw.price_eur_per_kwh, abs=1e-9)


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
    market = build_market(_book(cases[feeder_id], bidding), None, TIE_BREAK)
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


@pytest.mark.parametrize("feeder", ["cigre_lv", "village"])
def test_network_charge_distance_is_the_radial_path_length(cases, feeder):
    # Reference: networkx shortest paths on the in-service lines (length_km), transformers
    # and closed bus-bus switches (0 km) of the radial feeder; PTDF-based lengths to 1e-9 km.
    case = cases[feeder]
    net = case.net
    graph = nx.Graph()
    for line in net.line[net.line["in_service"]].itertuples():
        graph.add_edge(line.from_bus, line.to_bus, weight=line.length_km)
    for trafo in net.trafo[net.trafo["in_service"]].itertuples():
        graph.add_edge(trafo.hv_bus, trafo.lv_bus, weight=0.0)
    closed = net.switch[(net.switch["et"] == "b") & net.switch["closed"]]
    graph.add_edges_from(zip(closed["bus"], closed["element"], strict=True), weight=0.0)
    charge = network_charges(case, build_ptdf(net), 1.0)
    for i in range(0, case.n_traders, 3):
        lengths = nx.single_source_dijkstra_path_length(graph, int(case.bus[i]))
        expected = [lengths[int(b)] for b in case.bus]
        assert charge[i] == pytest.approx(expected, abs=1e-9)


def test_network_charge_moves_trades_to_nearer_sellers(cases):
    case = cases["cigre_lv"]
    book = _book(case, "valuation")
    ptdf = build_ptdf(case.net)
    distance = network_charges(case, ptdf, 1.0)  # EUR/kWh per km = the path length in km
    mean_km = {}
    for rate in (0.0, 0.2):
        market = build_market(book, network_charges(case, ptdf, rate), TIE_BREAK)
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
    market = build_market(_book(cases["village"], "valuation"), None, TIE_BREAK)
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
    validate_folder(folder, "p2p")
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


def test_network_charges_are_written_with_the_trades(tmp_path, cases):
    # trades.csv carries each pair's charge (reference: network_charges of the same case, the
    # path length in km × the rate), so the reported welfare is recomputable from the file:
    # objective = Σ (bid − ask − charge) × matched kW, executed welfare the same on p_kw
    rate = 0.05
    argv = [*ADMM_CLI, "--bidding", "valuation", "--p2p-network-charge", str(rate), "--no-plots"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    folder = tmp_path / "cigre_lv" / "p2p"
    validate_folder(folder, "p2p")
    summary = json.loads((folder / "summary.json").read_text())
    trades = pd.read_csv(folder / "trades.csv")
    case = cases["cigre_lv"]
    charges = network_charges(case, build_ptdf(case.net), rate)
    index = {agent_id: k for k, agent_id in enumerate(case.agent_ids)}
    expected = charges[trades["buyer"].map(index), trades["seller"].map(index)]
    np.testing.assert_allclose(trades["charge_eur_per_kwh"], expected, rtol=1e-12)
    assert (trades["charge_eur_per_kwh"] > 0).all()
    margin = trades["bid_eur_per_kwh"] - trades["ask_eur_per_kwh"] - trades["charge_eur_per_kwh"]
    assert summary["objective"] == pytest.approx(float((margin * trades["matched_kw"]).sum()))
    assert summary["executed_welfare_eur"] == pytest.approx(float((margin * trades["p_kw"]).sum()))
    # money: each side pays half the charge to the operator, so Σ paid by buyers = Σ received
    # by sellers + the charges, and the savings against retail and feed-in add up to the
    # executed welfare (with fixed tariffs as limit prices)
    charged_eur = float((trades["charge_eur_per_kwh"] * trades["p_kw"]).sum())
    assert summary["network_charge_eur"] == pytest.approx(charged_eur, rel=1e-12)
    paid_eur = received_eur = 0.0
    for path in (folder / "setpoints").glob("*.json"):
        record = json.loads(path.read_text())
        for kw, price in zip(record["bought_kw"], record["price_paid_eur_per_kwh"], strict=True):
            paid_eur += kw * price if kw > 0 else 0.0
        for kw, price in zip(record["sold_kw"], record["price_received_eur_per_kwh"], strict=True):
            received_eur += kw * price if kw > 0 else 0.0
    assert paid_eur == pytest.approx(received_eur + charged_eur, rel=1e-9)
    price = trades["price_eur_per_kwh"]
    half = 0.5 * trades["charge_eur_per_kwh"]
    buyer_eur = float((trades["p_kw"] * (summary["retail_price_eur_per_kwh"] - price - half)).sum())
    assert summary["buyer_savings_eur"] == pytest.approx(buyer_eur, rel=1e-12)


def test_network_charge_savings_add_up_to_the_welfare(tmp_path):
    # with fixed bidding the limit prices are the retail and feed-in tariffs, so the savings of
    # buyers and sellers net of their halves of the charge are exactly the executed welfare
    argv = [*ADMM_CLI, "--p2p-network-charge", "0.5", "--no-plots", "--out", str(tmp_path)]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "cigre_lv" / "p2p" / "summary.json").read_text())
    assert summary["network_charge_eur"] > 0
    savings_eur = summary["buyer_savings_eur"] + summary["seller_savings_eur"]
    assert savings_eur == pytest.approx(summary["executed_welfare_eur"], rel=1e-9)


def test_admm_round_limit_exits_3_with_outputs(tmp_path, capsys):
    assert main([*ADMM_CLI, "--max-iter", "3", "--out", str(tmp_path), "--no-plots"]) == 3
    summary = json.loads((tmp_path / "cigre_lv" / "p2p" / "summary.json").read_text())
    assert summary["converged"] is False and summary["iterations"] == 3
    # the round limit is the cause: more rounds help, tighter tolerances would not
    message = summary["message"]
    assert message.startswith("The ADMM market stopped at its round limit (3: --max-iter")
    assert message.endswith("; raise --max-iter (or admm.max_iter).")
    assert "tighten" not in message and message in capsys.readouterr().err
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


def _market(scenario: str, *options: str):
    """Run the market of a fixed-price scenario (no network check): (outcome, matched kWh)."""
    loaded = load_scenario(scenario)
    settings = settings_from(loaded, _args(*options))
    case = build_case(loaded.require_feeder(), settings)
    prices = BIDDING["fixed"].limit_prices(case.net_kw, TARIFF, None)
    book = make_orders(case.net_kw, prices, settings.min_order_kw)
    outcome = run_market(book, case, build_ptdf(case.net), settings, "serial")
    return outcome, float(outcome.trades.quantity_kw.sum())


def test_admm_trades_what_the_auction_trades_in_the_stress_case():
    # A fixed trading cost of 0.01 EUR/kWh² capped every pair at 0.15 / (2 · 0.01) = 7.5 kW:
    # the ADMM market traded 1,080 of the 2,850 kWh the auction matches. The tie-break, scaled
    # to the market, changes no traded energy beyond the ADMM tolerances.
    stress = str(INPUT_DIR / "cigre_lv_stress.yaml")
    _, auction_kwh = _market(stress)
    admm, admm_kwh = _market(stress, "--market", "admm")
    central, central_kwh = _market(stress, "--market", "admm", "--solver", "centralized")
    assert admm.converged
    assert admm_kwh == pytest.approx(auction_kwh, rel=ENERGY_TOL_REL)
    assert central_kwh == pytest.approx(auction_kwh, rel=ENERGY_TOL_REL)
    assert admm.trades.quantity_kw.max() > 7.5 * 2  # no cap at 7.5 kW per pair
    # The welfare of all three is the transportation LP's (every matched kWh gains 0.15 EUR).
    assert admm.objective_eur == pytest.approx(0.15 * auction_kwh, rel=ENERGY_TOL_REL)
    assert admm.objective_centralized_eur == pytest.approx(central.objective_eur, rel=1e-12)


@pytest.mark.parametrize("solver", ["admm", "centralized"])
def test_village_keeps_every_agreed_trade_and_reports_its_welfare(tmp_path, solver):
    # village_published.yaml's min_order_kw (0.01 kW, the study's order threshold) once also
    # dropped the negotiated trades below it: at hours 6, 7, 17 and 18 every PV unit splits its
    # sale over 40 buyers, so those hours had no trade (221.8 instead of 235.3 kWh), while the
    # summary's welfare still counted them.
    _, auction_kwh = _market("village")
    argv = ["village", "--mode", "p2p", "--market", "admm", "--solver", solver, "--no-plots"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    folder = tmp_path / "village" / "p2p"
    summary = json.loads((folder / "summary.json").read_text())
    trades = pd.read_csv(folder / "trades.csv")
    hourly = pd.read_csv(folder / "hourly.csv").set_index("hour")
    assert summary["p2p_energy_kwh"] == pytest.approx(auction_kwh, rel=ENERGY_TOL_REL)
    assert summary["hours_with_trades"] == 13
    assert (hourly.loc[[6, 7, 17, 18], "p2p_kwh"] > 0.4).all()
    # The welfare written is that of the trades written (no network charge here).
    welfare = np.sum((trades["bid_eur_per_kwh"] - trades["ask_eur_per_kwh"]) * trades["matched_kw"])
    assert summary["objective"] == pytest.approx(welfare, rel=1e-12)
    assert summary["converged"] and summary["objective_gap_rel"] < WELFARE_TOL_REL


def _one_hour(tmp_path, admm: dict) -> str:
    scenario = tmp_path / "one_hour.yaml"
    scenario.write_text(
        "feeder: cigre_lv\nmode: p2p\np2p:\n"
        "  households: {buses: [12, 17, 19, 35, 37, 41], profile: Cluster_0}\n"
        "  pv: {buses: [16, 18, 22, 36, 40, 42], profile: Cluster_1}\n"
        f"  market: admm\n  hours: [12]\n  admm: {json.dumps(admm)}\n"
    )
    return str(scenario)


def test_a_run_far_from_the_centralized_welfare_is_not_converged(tmp_path, capsys):
    # With a loose tolerance (1 kW) the first round (no trade) passes the stopping test; its
    # welfare is 0, the centralized solve's 1.1 EUR: this once exited 0 with "converged": true.
    argv = [_one_hour(tmp_path, {"eps_abs": 1.0}), "--out", str(tmp_path / "out"), "--no-plots"]
    assert main(argv) == 3
    assert "away from the centralized solve's" in capsys.readouterr().err
    folder = tmp_path / "out" / "one_hour" / "p2p"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["converged"] is False and summary["objective_gap_rel"] > WELFARE_TOL_REL
    assert "away from the centralized solve's" in summary["message"]
    record = json.loads((folder / "setpoints" / "h12.json").read_text())
    assert record["converged"] is False


def test_a_failing_centralized_solve_is_no_traceback(tmp_path, capsys, monkeypatch):
    # cvxpy's SolverError once escaped as a traceback (exit 1)
    def fail(*_args, **_kwargs):
        raise cp.SolverError("Solver 'CLARABEL' failed.")

    monkeypatch.setattr(cp.Problem, "solve", fail)
    argv = [_one_hour(tmp_path, {}), "--out", str(tmp_path / "out"), "--no-plots"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "CLARABEL could not solve the centralized P2P market (SolverError" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def _history(converged: bool) -> History:
    history = History()
    history.record(1e-9 if converged else 1.0, 1e-9, 1e-6, 1e-6, RHO)
    return history


@pytest.mark.parametrize(("converged", "welfare", "advice"), [
    (False, 1.0, "; raise --max-iter (or admm.max_iter) or loosen admm.eps_abs or admm.eps_rel."),
    (False, 0.5, "; raise --max-iter (or admm.max_iter)."),
    (True, 0.5, "; tighten admm.eps_abs or admm.eps_rel."),
])  # fmt: skip
def test_not_converged_message_advises_what_helps(converged, welfare, advice):
    # at the round limit the message once advised tighter tolerances, which need more rounds
    outcome = MarketOutcome(None, welfare, 1.0, _history(converged))
    assert outcome.message.endswith(advice)
    assert ("round limit" in outcome.message) is not converged
    assert ("away from the centralized solve's" in outcome.message) is (welfare != 1.0)
