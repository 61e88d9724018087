"""Active and reactive power of pandapower elements, per phase.

Balanced tables (``load``, ``sgen``) hold ``p_mw``/``q_mvar``; the unbalanced ones
(``asymmetric_load``, ``asymmetric_sgen``) one pair of columns per phase
(``p_a_mw`` ... ``q_c_mvar``). An element is addressed by ``(table, index, phase)``:
phase 1, 2, 3 selects one phase of an unbalanced element (a single-phase unit); phase 0
is the whole element (a balanced one, or an unbalanced one shared equally by its phases).
Values are kW / kvar in the table's own sign (consumption positive for loads,
generation positive for sgens).
"""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pandas as pd

from dec.conventions import kw_to_mw, mw_to_kw

PHASE_LETTERS = "abc"
#: Tables of injections, with the sign that makes their power generation positive.
INJECTION_TABLES = {"load": -1.0, "asymmetric_load": -1.0, "sgen": 1.0, "asymmetric_sgen": 1.0}


def is_unbalanced(table: str) -> bool:
    """Whether a table holds one power column per phase."""
    return table.startswith("asymmetric_")


def _columns(quantity: str) -> list[str]:
    unit = "mw" if quantity == "p" else "mvar"
    return [f"{quantity}_{x}_{unit}" for x in PHASE_LETTERS]


def _by_table(tables: np.ndarray) -> dict[str, np.ndarray]:
    """Positions of the elements of each table."""
    tables = np.asarray(tables)
    return {str(t): np.flatnonzero(tables == t) for t in dict.fromkeys(tables.tolist())}


def element_power_kw(
    net: pp.pandapowerNet, tables: np.ndarray, index: np.ndarray, phase: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Active and reactive power of elements, kW / kvar (each table's own sign).

    Parameters
    ----------
    net
        The net.
    tables, index, phase
        Table, row and phase code of each element (see the module docstring).
    """
    index, phase = np.asarray(index), np.asarray(phase, dtype=int)
    p_kw, q_kvar = np.zeros(len(index)), np.zeros(len(index))
    for table, pos in _by_table(tables).items():
        rows = net[table].loc[index[pos]]
        if not is_unbalanced(table):
            p_kw[pos] = mw_to_kw(rows["p_mw"].to_numpy(float))
            q_kvar[pos] = mw_to_kw(rows["q_mvar"].to_numpy(float))
            continue
        ph = phase[pos]
        for out, quantity in ((p_kw, "p"), (q_kvar, "q")):
            values = rows[_columns(quantity)].to_numpy(float)
            one = values[np.arange(len(ph)), np.maximum(ph, 1) - 1]
            out[pos] = mw_to_kw(np.where(ph > 0, one, values.sum(axis=1)))
    return p_kw, q_kvar


def element_in_service(net: pp.pandapowerNet, tables: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Whether each element is in service."""
    index = np.asarray(index)
    out = np.zeros(len(index), dtype=bool)
    for table, pos in _by_table(tables).items():
        out[pos] = net[table].loc[index[pos], "in_service"].to_numpy(dtype=bool)
    return out


def set_element_power(
    net: pp.pandapowerNet,
    tables: np.ndarray,
    index: np.ndarray,
    phase: np.ndarray,
    p_kw: np.ndarray | None = None,
    q_kvar: np.ndarray | None = None,
) -> None:
    """Write active/reactive power (kW/kvar, each table's sign) into elements.

    An unbalanced element written on one phase gets zero on its other phases; on phase 0 its
    power is shared equally by its three phases.
    """
    index, phase = np.asarray(index), np.asarray(phase, dtype=int)
    for table, pos in _by_table(tables).items():
        for quantity, value in (("p", p_kw), ("q", q_kvar)):
            if value is None:
                continue
            value_mw = kw_to_mw(np.asarray(value, dtype=float)[pos])
            if not is_unbalanced(table):
                net[table].loc[index[pos], "p_mw" if quantity == "p" else "q_mvar"] = value_mw
                continue
            ph = phase[pos]
            share = np.where(
                ph[:, None] == 0,
                1.0 / 3.0,
                (ph[:, None] == np.arange(1, 4)[None, :]).astype(float),
            )
            net[table].loc[index[pos], _columns(quantity)] = value_mw[:, None] * share


def net_injections(net: pp.pandapowerNet) -> pd.DataFrame:
    """Every in-service injection of the net, one row per element and phase.

    Returns
    -------
    pandas.DataFrame
        Columns ``bus``, ``phase`` (0 balanced; 1–3 one phase of an unbalanced element,
        phases without power left out), ``p_kw``, ``q_kvar`` (generation positive,
        ``scaling`` applied).
    """
    frames = []
    for table, sign in INJECTION_TABLES.items():
        if table not in net or not len(net[table]):
            continue
        rows = net[table][net[table]["in_service"].astype(bool)]
        scale = sign * rows["scaling"].to_numpy(float)
        buses = rows["bus"].to_numpy(int)
        if not is_unbalanced(table):
            p, q = mw_to_kw(rows["p_mw"].to_numpy(float)), mw_to_kw(rows["q_mvar"].to_numpy(float))
            frames.append(
                pd.DataFrame({"bus": buses, "phase": 0, "p_kw": scale * p, "q_kvar": scale * q})
            )
            continue
        p_all, q_all = rows[_columns("p")].to_numpy(float), rows[_columns("q")].to_numpy(float)
        for k in range(3):
            used = (p_all[:, k] != 0.0) | (q_all[:, k] != 0.0)
            frames.append(
                pd.DataFrame(
                    {
                        "bus": buses[used],
                        "phase": k + 1,
                        "p_kw": scale[used] * mw_to_kw(p_all[used, k]),
                        "q_kvar": scale[used] * mw_to_kw(q_all[used, k]),
                    }
                )
            )
    if not frames:
        return pd.DataFrame({"bus": [], "phase": [], "p_kw": [], "q_kvar": []})
    return pd.concat(frames, ignore_index=True)
