"""Mode ``p2p``: hourly peer-to-peer trades, checked against the network (DC PTDF, then AC).

Run ``python -m dec.run cigre_lv --mode p2p`` (or ``village``) for the published
cases of the reference study, or a scenario YAML file with a ``p2p:`` section.
Phases: settings → case → orders → market → DC check → AC check → result.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agents.model import CoordinationModel
from dec.admm.convergence import Tolerances
from dec.admm.engine import make_engine
from dec.errors import InfeasibleError
from dec.network.ptdf import PTDF, build_ptdf
from dec.options import COMMAND_LINE, given_options
from dec.p2p.ac_check import Limits, ac_check
from dec.p2p.admm_market import build_market, solve_admm, solve_centralized
from dec.p2p.auction import clear, max_welfare_eur
from dec.p2p.case import P2PCase, build_case
from dec.p2p.dc_check import dc_check
from dec.p2p.grid import path_length_km
from dec.p2p.orders import BIDDING, OrderBook, Tariff, make_orders
from dec.p2p.report import MarketOutcome, build_result, read_reference
from dec.p2p.settings import P2PSettings, settings_from
from dec.result import RunResult
from dec.scenario import Scenario

#: Options that change the case a scenario's published reference describes (placement,
#: scales, market): with any of them given, the run is not compared with the reference.
CASE_OPTIONS = ("market", "bidding", "auction_pricing", "auction_k", "pv_penetration")
SHARED_CASE_OPTIONS = ("load_scale", "pv_scale")


def changes_the_case(args: argparse.Namespace) -> list[str]:
    """Return the command-line options given that change the scenario's case, as ``--name``.

    The p2p options are absent from ``args`` unless given; the shared scales are filled in.
    """
    own = [f"--{dest.replace('_', '-')}" for dest in CASE_OPTIONS if hasattr(args, dest)]
    return own + given_options(args, *SHARED_CASE_OPTIONS)


def network_charges(case: P2PCase, ptdf: PTDF, eur_per_kwh_km: float) -> np.ndarray | None:
    """Charge between every buyer (row) and seller (column) trader, EUR/kWh (None if zero)."""
    if eur_per_kwh_km == 0:
        return None
    buses, trader_bus = np.unique(case.bus, return_inverse=True)
    distance_km = path_length_km(case, ptdf, buses)
    return eur_per_kwh_km * distance_km[np.ix_(trader_bus, trader_bus)]


def run_market(
    book: OrderBook, case: P2PCase, ptdf: PTDF, settings: P2PSettings, engine_name: str
) -> MarketOutcome:
    """Clear the market of every hour; return its trades and its centralized reference.

    Every trade the market agreed is returned (``min_order_kw`` applies to the orders only);
    the welfare is that of the returned trades.
    """
    if settings.market == "auction":
        trades = clear(book, settings.pricing, settings.k, settings.seed, case.hours)
        return MarketOutcome(trades, trades.welfare_eur(), max_welfare_eur(book))
    admm = settings.admm
    market = build_market(
        book,
        network_charges(case, ptdf, settings.network_charge_eur_per_kwh_km),
        admm.tie_break,
    )
    central = solve_centralized(market)
    if settings.solver == "centralized":
        return MarketOutcome(
            market.trades(central.t_kw, central.price_eur_per_kwh),
            central.welfare_eur,
            central.welfare_eur,
        )
    engine = make_engine(engine_name)
    try:
        solution = solve_admm(
            market, admm.rho, Tolerances(admm.eps_abs, admm.eps_rel, admm.max_iter), engine
        )
    finally:
        engine.close()
    return MarketOutcome(
        market.trades(solution.t_kw, solution.price_eur_per_kwh),
        solution.welfare_eur,
        central.welfare_eur,
        solution.history,
    )


def _blame_scale_options(
    err: InfeasibleError, args: argparse.Namespace, settings: P2PSettings
) -> InfeasibleError:
    """Return ``err`` blamed on the command line if it sets the load or PV scale.

    A state without any trade that the AC power flow cannot solve comes from the loads and
    PV, so a ``--load-scale`` or ``--pv-scale`` given is named with its value.
    """
    given = given_options(args, *SHARED_CASE_OPTIONS)
    if not given:
        return err
    scales = [
        f"--{name.replace('_', '-')} {getattr(settings, name):g}"
        if f"--{name.replace('_', '-')}" in given
        else f"{name} {getattr(settings, name):g} (scenario)"
        for name in SHARED_CASE_OPTIONS
    ]
    return InfeasibleError([*err.problems, f"This run: {', '.join(scales)}."], COMMAND_LINE)


def run(scenario: Scenario, args: argparse.Namespace) -> RunResult:
    """Run the p2p mode on a scenario (see the module docstring)."""
    start = time.perf_counter()
    settings = settings_from(scenario, args)
    case = build_case(scenario.require_feeder(), settings)
    compare = settings.reference is not None and not changes_the_case(args)
    reference = read_reference(settings.reference, case.hours) if compare else None
    model = CoordinationModel(case.specs, seed=settings.seed)
    tariff = Tariff(settings.retail_price_eur_per_kwh, settings.feed_in_price_eur_per_kwh)
    limit_price = BIDDING[settings.bidding].limit_prices(case.net_kw, tariff, model.rng)
    book = make_orders(case.net_kw, limit_price, settings.min_order_kw)
    ptdf = build_ptdf(case.net)
    outcome = run_market(book, case, ptdf, settings, getattr(args, "engine", "serial"))
    dc = dc_check(case, outcome.trades, ptdf, settings.max_loading_percent)
    try:
        ac = ac_check(
            case,
            outcome.trades,
            dc.fraction,
            ptdf,
            Limits(settings.vm_min_pu, settings.vm_max_pu, settings.max_loading_percent),
        )
    except InfeasibleError as err:
        raise _blame_scale_options(err, args, settings) from None
    return build_result(
        scenario.name, settings, case, outcome, dc, ac, reference, time.perf_counter() - start
    )
