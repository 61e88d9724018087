"""Results of a p2p run: tables, per-agent records, summary, console rows and figures.

Everything derives from two tables indexed like the inputs: ``trades`` (one row
per trade) and the per-(hour, agent) settlement computed here; the per-agent
JSON files and the summary are serialisations of them.

Energy accounting (1-hour blocks, so kW over the hour = kWh), as the network checks
model it (:mod:`dec.p2p.grid`): a buyer's grid import is its deficit less what it
received by P2P; a seller's grid export is its surplus less what it sold (matched), and
the part of its sales the network checks did not execute is held back (its PV output is
reduced by that much: ``held_back_kw``, ``p_setpoint_kw``). A pair's network charge is
split half-half: the buyer pays the price plus half of it, the seller keeps the price less
half of it, and the network operator receives the whole. Savings are measured against the
retail price (buyers) and the feed-in price (sellers), net of the charges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dec.admm.convergence import History
from dec.errors import InputError
from dec.p2p.ac_check import AcCheck
from dec.p2p.admm_market import WELFARE_TOL_REL
from dec.p2p.case import P2PCase
from dec.p2p.dc_check import DcCheck
from dec.p2p.plots import plot_network, plot_prices, plot_residuals, plot_stack
from dec.p2p.profiles import read_profiles
from dec.p2p.settings import P2PSettings
from dec.p2p.trades import BUYER_CHARGE_SHARE, Trades
from dec.result import RunResult

MODE = "p2p"
#: Trades executed below their matched quantity by more than this count as curtailed, kW.
CURTAIL_TOL_KW = 1e-6
#: Differences of equal quantities below this are floating-point rounding, set to 0, kW.
ROUNDING_NOISE_KW = 1e-9
REFERENCE_COLUMNS = (
    "Hour",
    "Inverted Slack Power Adjustments",
    "Top Line of Stack (P2P trades)",
    "Total Load (MWh)",
)


@dataclass
class MarketOutcome:
    """What the market returned, before the network checks.

    Attributes
    ----------
    trades
        Requested trades.
    objective_eur
        The market's welfare, EUR.
    objective_centralized_eur
        Welfare of the centralized reference of the same market, EUR.
    history
        ADMM residual history (None for the auction and centralized solves).

    """

    trades: Trades
    objective_eur: float
    objective_centralized_eur: float | None
    history: History | None = None

    @property
    def message(self) -> str | None:
        """Why the ADMM market has not converged, None if it has (or is not ADMM, or had no pair).

        It has converged when it passed its stopping test and its welfare is within
        ``WELFARE_TOL_REL`` (relative) of the centralized solve's.
        """
        history = self.history
        if history is None or not history.rows:
            return None
        reasons = []
        if not history.converged:
            reasons.append(
                f"the ADMM market stopped at its round limit ({history.iterations}: --max-iter, "
                "scenario field admm.max_iter) before the tolerances"
            )
        central = self.objective_centralized_eur
        gap_eur = abs(self.objective_eur - central)
        if gap_eur > WELFARE_TOL_REL * abs(central):
            reasons.append(
                f"the ADMM market's welfare {self.objective_eur:.6g} EUR is more than "
                f"{WELFARE_TOL_REL:g} (relative) away from the centralized solve's {central:.6g} "
                "EUR"
            )
        if not reasons:
            return None
        # at the round limit more rounds help, tighter tolerances would need even more
        if history.converged:
            reasons.append("tighten admm.eps_abs or admm.eps_rel")
        elif len(reasons) == 1:
            reasons.append(
                "raise --max-iter (or admm.max_iter) or loosen admm.eps_abs or admm.eps_rel"
            )
        else:
            reasons.append("raise --max-iter (or admm.max_iter)")
        text = "; ".join(reasons)
        return f"{text[0].upper()}{text[1:]}."

    @property
    def converged(self) -> bool:
        """Whether the market converged (see :attr:`message`)."""
        return self.message is None


def _per_agent(
    case: P2PCase, hours: np.ndarray, agents: np.ndarray, values: np.ndarray
) -> np.ndarray:
    out = np.zeros((case.n_hours, case.n_traders))
    np.add.at(out, (hours, agents), values)
    return out


def _clean(kw: np.ndarray) -> np.ndarray:
    """Zero what is rounding noise of a difference of equal quantities (below ROUNDING_NOISE_KW)."""
    return np.where(kw > ROUNDING_NOISE_KW, kw, 0.0)


def settlement(case: P2PCase, trades: Trades, executed_kw: np.ndarray) -> dict[str, np.ndarray]:
    """Per-(hour, trader) quantities and payments (hours × traders arrays).

    Returns
    -------
    dict
        ``bought_kw``, ``sold_kw`` (executed), ``matched_bought_kw``, ``matched_sold_kw``,
        ``held_back_kw`` (matched less executed sales), ``paid_eur`` (price plus half the
        network charge), ``received_eur`` (price less half the charge), ``grid_import_kw``,
        ``grid_export_kw``.

    """
    h, b, s = trades.hour, trades.buyer, trades.seller
    bought = _per_agent(case, h, b, executed_kw)
    sold = _per_agent(case, h, s, executed_kw)
    matched_sold = _per_agent(case, h, s, trades.quantity_kw)
    net = case.net_kw
    return {
        "bought_kw": bought,
        "sold_kw": sold,
        "matched_bought_kw": _per_agent(case, h, b, trades.quantity_kw),
        "matched_sold_kw": matched_sold,
        "held_back_kw": _clean(matched_sold - sold),
        "paid_eur": _per_agent(case, h, b, executed_kw * trades.buyer_price_eur_per_kwh()),
        "received_eur": _per_agent(case, h, s, executed_kw * trades.seller_price_eur_per_kwh()),
        "grid_import_kw": _clean(np.maximum(-net, 0.0) - bought),
        "grid_export_kw": _clean(np.maximum(net, 0.0) - matched_sold),
    }


def trades_table(case: P2PCase, trades: Trades, dc: DcCheck, ac: AcCheck) -> pd.DataFrame:
    """One row per trade: hour of day, buyer, seller, buses, matched/DC/executed kW, prices."""
    ids = np.array(case.agent_ids)
    return pd.DataFrame(
        {
            "hour": case.hours[trades.hour],
            "buyer": ids[trades.buyer],
            "seller": ids[trades.seller],
            "buyer_bus": case.bus[trades.buyer],
            "seller_bus": case.bus[trades.seller],
            "matched_kw": trades.quantity_kw,
            "dc_kw": trades.quantity_kw * dc.fraction,
            "p_kw": trades.quantity_kw * ac.fraction,
            "price_eur_per_kwh": trades.price_eur_per_kwh,
            "bid_eur_per_kwh": trades.bid_eur_per_kwh,
            "ask_eur_per_kwh": trades.ask_eur_per_kwh,
            "charge_eur_per_kwh": trades.charge_eur_per_kwh,
        }
    )


def hourly_table(
    case: P2PCase, trades: Trades, table: dict[str, np.ndarray], dc: DcCheck, ac: AcCheck
) -> pd.DataFrame:
    """One row per hourly block: energies, average price and the network checks' results."""
    executed = table["bought_kw"].sum(axis=1)
    executed_kw = trades.quantity_kw * ac.fraction
    value_eur = np.bincount(
        trades.hour, executed_kw * trades.price_eur_per_kwh, minlength=case.n_hours
    )
    dc_kw = np.bincount(trades.hour, trades.quantity_kw * dc.fraction, minlength=case.n_hours)
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(executed > 0, value_eur / executed, np.nan)
    return pd.DataFrame(
        {
            "hour": case.hours,
            "load_kwh": case.load_kw.sum(axis=1),
            "pv_kwh": case.pv_kw.sum(axis=1),
            "matched_kwh": table["matched_bought_kw"].sum(axis=1),
            "dc_kwh": dc_kw,
            "p2p_kwh": executed,
            "grid_import_kwh": table["grid_import_kw"].sum(axis=1),
            "grid_export_kwh": table["grid_export_kw"].sum(axis=1),
            "held_back_kwh": table["held_back_kw"].sum(axis=1),
            "price_eur_per_kwh": price,
            "n_trades": np.bincount(
                trades.hour,
                executed_kw > CURTAIL_TOL_KW,
                minlength=case.n_hours,
            ).astype(int),
            "dc_max_loading_percent": dc.max_loading_percent,
            "vm_min_pu": ac.vm_min_pu,
            "vm_max_pu": ac.vm_max_pu,
            "max_line_loading_percent": ac.max_line_loading_percent,
            "max_trafo_loading_percent": ac.max_trafo_loading_percent,
            "slack_import_kw": ac.slack_kw,
            "losses_kw": ac.losses_kw,
            "ac_reduced_kwh": dc_kw - executed,
            "dc_binding_branches": dc.binding,
            "dc_violations_without_p2p": dc.base_violations,
            "ac_violations_found": ac.violations_found,
            "ac_reduction_rounds": ac.rounds,
        }
    )


def _series(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values]


def agent_records(case: P2PCase, table: dict[str, np.ndarray], converged: bool) -> list[dict]:
    """One record per trader: 24-value (one per block) lists of what it traded, paid and exchanged."""
    with np.errstate(invalid="ignore", divide="ignore"):
        paid = np.where(table["bought_kw"] > 0, table["paid_eur"] / table["bought_kw"], np.nan)
        received = np.where(table["sold_kw"] > 0, table["received_eur"] / table["sold_kw"], np.nan)
    records = []
    for i, spec in enumerate(case.specs):
        records.append(
            spec.to_record()
            | {
                "mode": MODE,
                "unit": "kW",
                "converged": converged,
                "time_step_h": 1.0,
                "hours": case.hours.tolist(),
                "load_kw": case.load_kw[:, i].tolist(),
                "pv_kw": case.pv_kw[:, i].tolist(),
                "held_back_kw": table["held_back_kw"][:, i].tolist(),
                "p_setpoint_kw": np.maximum(
                    case.pv_kw[:, i] - table["held_back_kw"][:, i], 0.0
                ).tolist(),
                "bought_kw": table["bought_kw"][:, i].tolist(),
                "sold_kw": table["sold_kw"][:, i].tolist(),
                "traded_kw": (table["sold_kw"][:, i] - table["bought_kw"][:, i]).tolist(),
                "matched_bought_kw": table["matched_bought_kw"][:, i].tolist(),
                "matched_sold_kw": table["matched_sold_kw"][:, i].tolist(),
                "price_paid_eur_per_kwh": _series(paid[:, i]),
                "price_received_eur_per_kwh": _series(received[:, i]),
                "grid_import_kw": table["grid_import_kw"][:, i].tolist(),
                "grid_export_kw": table["grid_export_kw"][:, i].tolist(),
            }
        )
    return records


def read_reference(path: Path, hours: np.ndarray) -> dict[str, float]:
    """Return the published P2P energy, grid import and load over the run's hours, kWh.

    The file holds MWh per hour; P2P energy = column 3 − column 2. It is read as a profile
    table (hours 0 to 23 in order, finite non-negative values; :func:`read_profiles`).
    """
    frame = read_profiles(path, "reference")
    missing = [c for c in REFERENCE_COLUMNS[1:] if c not in frame.columns]
    if missing:
        raise InputError(
            f"The reference file must have the columns {list(REFERENCE_COLUMNS)}; "
            f"missing {missing}.",
            str(path),
        )
    rows = frame.loc[hours]
    grid = 1000.0 * rows[REFERENCE_COLUMNS[1]]
    p2p = 1000.0 * (rows[REFERENCE_COLUMNS[2]] - rows[REFERENCE_COLUMNS[1]])
    return {
        "p2p_energy_kwh": float(p2p.sum()),
        "grid_import_kwh": float(grid.sum()),
        "load_kwh": float(1000.0 * rows[REFERENCE_COLUMNS[3]].sum()),
    }


def _rel(value: float, reference: float) -> float | None:
    return None if reference == 0 else abs(value - reference) / abs(reference)


def summary(
    scenario: str,
    settings: P2PSettings,
    case: P2PCase,
    outcome: MarketOutcome,
    hourly: pd.DataFrame,
    trades: pd.DataFrame,
    ac: AcCheck,
    reference: dict[str, float] | None,
    runtime_s: float,
) -> dict:
    """Return the content of the run's summary.json."""
    history = outcome.history
    last = history.rows[-1] if history is not None and history.rows else {}
    central = outcome.objective_centralized_eur
    executed = trades["p_kw"].to_numpy()
    price = trades["price_eur_per_kwh"].to_numpy()
    charge = trades["charge_eur_per_kwh"].to_numpy()
    load_kwh = float(hourly["load_kwh"].sum())
    p2p_kwh = float(hourly["p2p_kwh"].sum())
    doc = {
        "scenario": scenario,
        "mode": MODE,
        "n_agents": case.n_traders,
        "iterations": None if history is None else history.iterations,
        "converged": outcome.converged,
        "message": outcome.message,
        "primal_residual": last.get("primal_residual"),
        "dual_residual": last.get("dual_residual"),
        "objective": outcome.objective_eur,
        "objective_centralized": central,
        "objective_gap_rel": None if central is None else _rel(outcome.objective_eur, central),
        "runtime_s": runtime_s,
        "market": settings.market,
        "solver": settings.solver if settings.market == "admm" else None,
        "bidding": settings.bidding,
        "pricing": settings.pricing if settings.market == "auction" else "admm_duals",
        "k": settings.k,
        "n_households": sum(s.agent_type == "household" for s in case.specs),
        "n_pv": int(np.sum(case.sgen_index >= 0)),
        "hours": case.hours.tolist(),
        "time_step_h": 1.0,
        "vm_ext_pu": settings.vm_ext_pu,
        "daily_load_kwh": load_kwh,
        "pv_energy_kwh": float(hourly["pv_kwh"].sum()),
        "matched_energy_kwh": float(hourly["matched_kwh"].sum()),
        "dc_energy_kwh": float(hourly["dc_kwh"].sum()),
        "p2p_energy_kwh": p2p_kwh,
        "p2p_share": p2p_kwh / load_kwh if load_kwh > 0 else 0.0,
        "grid_import_kwh": float(hourly["grid_import_kwh"].sum()),
        "grid_export_kwh": float(hourly["grid_export_kwh"].sum()),
        "held_back_kwh": float(hourly["held_back_kwh"].sum()),
        "slack_import_ac_kwh": float(hourly["slack_import_kw"].sum()),
        "losses_ac_kwh": float(hourly["losses_kw"].sum()),
        "hours_with_trades": int(np.sum(hourly["p2p_kwh"] > CURTAIL_TOL_KW)),
        "n_trades": int(np.sum(executed > CURTAIL_TOL_KW)),
        "curtailed_trades": int(np.sum(trades["matched_kw"] - executed > CURTAIL_TOL_KW)),
        "dc_curtailed_trades": int(np.sum(trades["matched_kw"] - trades["dc_kw"] > CURTAIL_TOL_KW)),
        "dc_curtailed_kwh": float(np.sum(trades["matched_kw"] - trades["dc_kw"])),
        "ac_curtailed_kwh": float(np.sum(trades["dc_kw"] - executed)),
        "ac_reduced_hours": [int(e["hour"]) for e in ac.events if e["reduced_kwh"] > 0],
        "network_events": ac.events,
        "vm_min_limit_pu": settings.vm_min_pu,
        "vm_max_limit_pu": settings.vm_max_pu,
        "max_loading_limit_percent": settings.max_loading_percent,
        "vmin_pu": float(ac.vm_min_pu.min()),
        "vmax_pu": float(ac.vm_max_pu.max()),
        "max_line_loading_percent": float(ac.max_line_loading_percent.max()),
        "max_trafo_loading_percent": float(ac.max_trafo_loading_percent.max()),
        "executed_welfare_eur": float(
            np.sum(
                executed
                * (
                    trades["bid_eur_per_kwh"]
                    - trades["ask_eur_per_kwh"]
                    - trades["charge_eur_per_kwh"]
                )
            )
        ),
        "buyer_savings_eur": float(
            np.sum(
                executed * (settings.retail_price_eur_per_kwh - price - BUYER_CHARGE_SHARE * charge)
            )
        ),
        "seller_savings_eur": float(
            np.sum(
                executed
                * (price - (1.0 - BUYER_CHARGE_SHARE) * charge - settings.feed_in_price_eur_per_kwh)
            )
        ),
        "network_charge_eur": float(np.sum(executed * charge)),
        "retail_price_eur_per_kwh": settings.retail_price_eur_per_kwh,
        "feed_in_price_eur_per_kwh": settings.feed_in_price_eur_per_kwh,
    }
    if reference is not None:
        doc["reference"] = {
            "file": settings.reference.name,
            "p2p_energy_kwh": reference["p2p_energy_kwh"],
            "grid_import_kwh": reference["grid_import_kwh"],
            "daily_load_kwh": reference["load_kwh"],
            "p2p_energy_error_rel": _rel(p2p_kwh, reference["p2p_energy_kwh"]),
            "grid_import_error_rel": _rel(doc["grid_import_kwh"], reference["grid_import_kwh"]),
        }
    return doc


def console_rows(doc: dict) -> list[tuple[str, object]]:
    """Rows of the table printed at the end of a run.

    The welfare is shown twice: of the trades the market matched (the summary's
    ``objective``, before the network checks) and of those executed after them, EUR.
    Energy bought from the retailer (kWh) is a settlement quantity; the substation's
    net import and the losses (kWh) are those of the AC power flow of the executed trades.
    """
    rows = [
        ("market / bidding / pricing", f"{doc['market']} / {doc['bidding']} / {doc['pricing']}"),
        (
            "traders (households, PV units)",
            f"{doc['n_agents']} ({doc['n_households']}, {doc['n_pv']})",
        ),
        ("load (kWh)", doc["daily_load_kwh"]),
        ("P2P energy (kWh)", doc["p2p_energy_kwh"]),
        ("P2P share of load (%)", f"{100 * doc['p2p_share']:.1f}"),
        ("bought from the retailer (kWh)", doc["grid_import_kwh"]),
        (
            "substation net import / AC losses (kWh)",
            f"{doc['slack_import_ac_kwh']:.6g} / {doc['losses_ac_kwh']:.6g}",
        ),
        ("hours with trades", doc["hours_with_trades"]),
        ("trades executed / curtailed", f"{doc['n_trades']} / {doc['curtailed_trades']}"),
        (
            "curtailed by DC / AC check (kWh)",
            f"{doc['dc_curtailed_kwh']:.6g} / {doc['ac_curtailed_kwh']:.6g}",
        ),
        ("AC voltage min / max (pu)", f"{doc['vmin_pu']:.4f} / {doc['vmax_pu']:.4f}"),
        (
            "max line / trafo loading (%)",
            f"{doc['max_line_loading_percent']:.1f} / {doc['max_trafo_loading_percent']:.1f}",
        ),
        (
            "buyer / seller savings (EUR)",
            f"{doc['buyer_savings_eur']:.4f} / {doc['seller_savings_eur']:.4f}",
        ),
        *(
            [("network charges paid (EUR)", f"{doc['network_charge_eur']:.4f}")]
            if doc["network_charge_eur"] > 0
            else []
        ),
        (
            "welfare matched / executed (EUR)",
            f"{doc['objective']:.6g} / {doc['executed_welfare_eur']:.6g}",
        ),
    ]
    if doc["objective_centralized"] is not None:
        rows.append(("welfare gap to centralized (rel)", doc["objective_gap_rel"]))
    if doc["iterations"] is not None:
        rows.append(("ADMM rounds (converged)", f"{doc['iterations']} ({doc['converged']})"))
    if "reference" in doc:
        ref = doc["reference"]
        rows.append(
            (
                "published P2P / bought from the retailer (kWh)",
                f"{ref['p2p_energy_kwh']:.6g} / {ref['grid_import_kwh']:.6g}",
            )
        )
        errors = (ref["p2p_energy_error_rel"], ref["grid_import_error_rel"])
        # None: the published value is 0 (e.g. a night hour), so no relative error
        text = " / ".join("n/a" if e is None else f"{e:.2e}" for e in errors)
        rows.append(("error vs published P2P / retailer (rel)", text))

    return rows


def build_result(
    scenario: str,
    settings: P2PSettings,
    case: P2PCase,
    outcome: MarketOutcome,
    dc: DcCheck,
    ac: AcCheck,
    reference: dict[str, float] | None,
    runtime_s: float,
) -> RunResult:
    """Assemble the run's :class:`~dec.result.RunResult`."""
    trades = outcome.trades
    table = settlement(case, trades, trades.quantity_kw * ac.fraction)
    trades_frame = trades_table(case, trades, dc, ac)
    hourly = hourly_table(case, trades, table, dc, ac)
    doc = summary(scenario, settings, case, outcome, hourly, trades_frame, ac, reference, runtime_s)
    tables = {"trades": trades_frame, "hourly": hourly}
    figures = {
        "p2p_stack": lambda: plot_stack(hourly, scenario),
        "prices": lambda: plot_prices(hourly, trades_frame, settings, doc["pricing"], scenario),
        "network": lambda: plot_network(hourly, settings, scenario),
    }
    if outcome.history is not None and outcome.history.rows:  # no rounds without pairs
        tables["admm_history"] = outcome.history.frame()
        figures["convergence"] = lambda: plot_residuals(outcome.history, scenario)
    return RunResult(
        scenario=scenario,
        mode=MODE,
        summary=doc,
        agents=agent_records(case, table, outcome.converged),
        tables=tables,
        figures=figures,
        console=console_rows(doc),
    )
