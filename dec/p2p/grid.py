"""The network side of P2P trades: the physical model, branch ratings and electrical distances.

Physical model. Trades are contracts; what the network carries is the agents' injections.
Consumption is not flexible: every load draws its full demand in every state, whoever it
buys from. A trade of ``q`` kW from seller ``s`` to buyer ``b`` is delivered by ``s``
injecting ``q`` kW more; the buyer then takes ``q`` kW less from the grid, so the slack
(ext_grid) supplies ``q`` kW less. The hour's operating point without P2P is the one in
which every seller holds back what it sold (its PV output is reduced by that much) and
every buyer buys its whole deficit from the grid; executing a fraction ``x`` of a trade
adds ``x·q`` kW of injection at the seller's bus, balanced by the slack. With every trade
executed the injections are the physical ones (all PV output, all consumption). The part
of a trade that is not executed is held back by the seller, and the buyer buys it from the
retailer over the network: both sides of the settlement describe the state the network
checks validate.
"""

from __future__ import annotations

import numpy as np

from dec.conventions import kw_to_mw
from dec.network.ptdf import PTDF
from dec.p2p.case import P2PCase
from dec.p2p.trades import Trades

SQRT3 = np.sqrt(3.0)


def branch_ratings_mva(case: P2PCase, ptdf: PTDF) -> np.ndarray:
    """Thermal rating of every PTDF branch at 100 % loading, MVA.

    Lines: ``√3 · vn_kv · max_i_ka · df · parallel`` at the from-bus voltage level;
    transformers: ``sn_mva · df · parallel`` (what pandapower's ``loading_percent``
    refers to).
    """
    net = case.net
    ratings = np.empty(len(ptdf.branch_index))
    is_line = ptdf.branch_table == "line"
    lines = net.line.loc[ptdf.branch_index[is_line]]
    vn_kv = net.bus.loc[lines["from_bus"], "vn_kv"].to_numpy()
    ratings[is_line] = (
        SQRT3 * vn_kv * (lines["max_i_ka"] * lines["df"] * lines["parallel"]).to_numpy()
    )
    trafos = net.trafo.loc[ptdf.branch_index[~is_line]]
    ratings[~is_line] = (trafos["sn_mva"] * trafos["df"] * trafos["parallel"]).to_numpy()
    return ratings


def bus_columns(ptdf: PTDF, buses: np.ndarray) -> np.ndarray:
    """Return the PTDF column of each pandapower bus."""
    position = {int(b): i for i, b in enumerate(ptdf.buses)}
    return np.array([position[int(b)] for b in buses], dtype=int)


def transfer_matrix_mw(ptdf: PTDF, seller_col: np.ndarray, q_kw: np.ndarray) -> np.ndarray:
    """Flow change on every branch when each trade is executed in full (branches × trades), MW.

    The seller injects the trade's ``q_kw`` and the slack supplies as much less (its PTDF
    column is zero); the buyer's draw does not change.
    """
    return ptdf.matrix[:, seller_col] * kw_to_mw(np.asarray(q_kw))


def matched_sales_kw(case: P2PCase, trades: Trades, hour: int) -> np.ndarray:
    """Return what every trader sold in one hour under the given trade quantities, kW."""
    rows = trades.of_hour(hour)
    return np.bincount(trades.seller[rows], trades.quantity_kw[rows], minlength=case.n_traders)


def element_powers_kw(
    case: P2PCase, hour: int, held_back_kw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Active power of every trader's load and PV element, kW.

    Parameters
    ----------
    case
        The traders.
    hour
        The hour.
    held_back_kw
        What each trader sold but the network checks did not execute (its PV output held
        back), kW.

    Returns
    -------
    tuple of ndarray
        ``(load_kw, pv_kw)`` per trader: the full consumption, and the generation less
        what is held back.

    """
    pv = case.pv_kw[hour] - held_back_kw
    return case.load_kw[hour].copy(), np.maximum(pv, 0.0)


def bus_injections_mw(
    case: P2PCase, ptdf: PTDF, load_kw: np.ndarray, pv_kw: np.ndarray
) -> np.ndarray:
    """Net injection at every PTDF column (generation positive), MW."""
    p_mw = np.zeros(len(ptdf.buses))
    np.add.at(p_mw, bus_columns(ptdf, case.bus), kw_to_mw(pv_kw - load_kw))
    return p_mw


def path_length_km(case: P2PCase, ptdf: PTDF, buses: np.ndarray) -> np.ndarray:
    """Line length a transfer between each two of ``buses`` uses, from the PTDF, km.

    Entry (i, j) is Σ over lines of |PTDF(bus i) − PTDF(bus j)| · length: on a radial
    feeder the length of the path between the two buses; on a meshed one, lengths weighted
    by the share of the transfer each line carries. Transformers count zero. Built one
    column at a time (memory: branches × buses, not branches × buses²).
    """
    is_line = ptdf.branch_table == "line"
    length = np.zeros(len(ptdf.branch_index))
    length[is_line] = case.net.line.loc[ptdf.branch_index[is_line], "length_km"].to_numpy()
    columns = ptdf.matrix[:, bus_columns(ptdf, buses)]
    distance = np.empty((len(buses), len(buses)))
    for j in range(len(buses)):
        distance[:, j] = length @ np.abs(columns - columns[:, [j]])
    return distance
