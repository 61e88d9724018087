"""A REC pricing run as dec's per-member records, tables, plots and console rows.

Per-step costs are recomputed from the output dictionaries and the tariffs, so that
each member's cost alone (stage 1) and in the REC (stage 2, LEM payments included)
can be shown per step and in total. Totals here are plain sums (the compatibility
functions report stage-2 costs like rec_op_lem_prices, minus the bound's rounding
headroom; see :func:`dec.rec.outputs.member_costs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dec.rec.data import RecData
from dec.rec.solve import DECIMALS


@dataclass
class MemberTable:
    """Per-member series of one solved run, arrays (N, T) in kWh or EUR."""

    cost_alone: np.ndarray
    cost_rec: np.ndarray
    net_load: np.ndarray
    supply_retail: np.ndarray
    supply_market: np.ndarray
    surplus_retail: np.ndarray
    surplus_market: np.ndarray
    bought: np.ndarray
    sold: np.ndarray
    self_consumed: np.ndarray
    charge: np.ndarray
    discharge: np.ndarray
    stored: np.ndarray
    has_storage: np.ndarray


def _rows(per_meter: Mapping[str, Sequence[float]], ids: Sequence[str]) -> np.ndarray:
    return np.array([per_meter[m] for m in ids], dtype=float)


def _exchange_totals(stage2: Mapping[str, Any], data: RecData, suffix: str) -> tuple:
    """Purchases, sales and self-consumption per meter and step; slc cost per meter and step."""
    ids = data.meter_ids
    if suffix == "pool":
        bought = _rows(stage2["e_pur_pool"], ids)
        sold = _rows(stage2["e_sale_pool"], ids)
        slc = _rows(stage2["e_slc_pool"], ids)
        return bought, sold, slc, slc * data.l_grid[None, :]
    shape = data.e_c.shape
    bought, sold, slc, slc_cost = (np.zeros(shape) for _ in range(4))
    for i, n in enumerate(ids):
        for j, m in enumerate(ids):
            if i == j:
                continue
            bought[i] += stage2["e_pur_bilateral"][n][m]
            sold[i] += stage2["e_sale_bilateral"][n][m]
            pair = np.asarray(stage2["e_slc_bilateral"][n][m])
            slc[i] += pair
            slc_cost[i] += pair * data.l_grid[i, j]
    return bought, sold, slc, slc_cost


def _energy_cost(flows: Mapping[str, np.ndarray], data: RecData) -> np.ndarray:
    return (
        flows["e_sup_retail"] * data.l_buy
        - flows["e_sur_retail"] * data.l_sell
        + flows["e_sup_market"] * data.l_market_buy[None, :]
        - flows["e_sur_market"] * data.l_market_sell[None, :]
        + flows["p_extra"] * data.l_extra
    )


def _storage(per_meter: Mapping[str, Mapping[str, Sequence[float]]] | None, data: RecData):
    """Sum a per-battery output over each meter's batteries, (N, T)."""
    out = np.zeros(data.e_c.shape)
    if per_meter is None:
        return out
    for i, n in enumerate(data.meter_ids):
        for series in per_meter.get(n, {}).values():
            out[i] += np.asarray(series, dtype=float)
    return out


def _degradation(per_meter, data: RecData) -> np.ndarray:
    out = np.zeros(data.e_c.shape)
    if per_meter is None:
        return out
    st = data.storages
    for owner, storage_id, cost in zip(st.owner, st.storage_id, st.degradation_cost, strict=True):
        out[owner] += cost * np.asarray(per_meter[data.meter_ids[owner]][storage_id])
    return out


def member_table(
    data: RecData,
    l_lem: Sequence[float],
    stage2: Mapping[str, Any],
    stage1: Sequence[Mapping[str, Any]],
    market: str,
) -> MemberTable:
    """Per-member, per-step energies and costs of a two-stage result."""
    ids = data.meter_ids
    alone = {
        key: np.array([out[key] for out in stage1], dtype=float)
        for key in ("e_sup_retail", "e_sur_retail", "e_sup_market", "e_sur_market", "p_extra")
    }
    alone_bd = {n: out.get("e_bd", {}) for out, n in zip(stage1, ids, strict=True)}
    cost_alone = _energy_cost(alone, data) + _degradation(alone_bd, data)
    flows = {
        key: _rows(stage2[key], ids)
        for key in ("e_sup_retail", "e_sur_retail", "e_sup_market", "e_sur_market", "p_extra")
    }
    bought, sold, slc, slc_cost = _exchange_totals(stage2, data, market)
    lem = (bought - sold) * np.asarray(l_lem, dtype=float)[None, :]
    cost_rec = _energy_cost(flows, data) + _degradation(stage2.get("e_bd"), data) + slc_cost + lem
    has_storage = np.zeros(data.n_meters, dtype=bool)
    has_storage[data.storages.owner] = True
    return MemberTable(
        cost_alone=cost_alone,
        cost_rec=cost_rec,
        net_load=_rows(stage2["e_cmet"], ids),
        supply_retail=flows["e_sup_retail"],
        supply_market=flows["e_sup_market"],
        surplus_retail=flows["e_sur_retail"],
        surplus_market=flows["e_sur_market"],
        bought=bought,
        sold=sold,
        self_consumed=slc,
        charge=_storage(stage2.get("e_bc"), data),
        discharge=_storage(stage2.get("e_bd"), data),
        stored=_storage(stage2.get("e_bat"), data),
        has_storage=has_storage,
    )


def member_records(
    data: RecData, table: MemberTable, l_lem: Sequence[float], converged: bool
) -> list[dict[str, Any]]:
    """One setpoint record per member (agent_type ``member``), lists per step."""
    dt = data.delta_t
    records = []
    for i, meter_id in enumerate(data.meter_ids):
        alone, rec = table.cost_alone[i], table.cost_rec[i]
        records.append(
            {
                "agent_id": meter_id,
                "agent_type": "member",
                "bus": None,
                "element": None,
                "mode": "rec-pricing",
                "unit": "kWh",
                "converged": converged,
                "time_step_h": dt,
                "e_c_kwh": data.e_c[i].tolist(),
                "e_g_kwh": data.e_g[i].tolist(),
                "net_load_kwh": table.net_load[i].tolist(),
                "p_setpoint_kw": (-table.net_load[i] / dt + 0.0).tolist(),
                "battery_kw": ((table.discharge[i] - table.charge[i]) / dt + 0.0).tolist(),
                "soc_kwh": table.stored[i].tolist() if table.has_storage[i] else None,
                "supply_retail_kwh": table.supply_retail[i].tolist(),
                "supply_market_kwh": table.supply_market[i].tolist(),
                "surplus_retail_kwh": table.surplus_retail[i].tolist(),
                "surplus_market_kwh": table.surplus_market[i].tolist(),
                "bought_in_rec_kwh": table.bought[i].tolist(),
                "sold_in_rec_kwh": table.sold[i].tolist(),
                "self_consumed_rec_kwh": table.self_consumed[i].tolist(),
                "traded_kw": ((table.sold[i] - table.bought[i]) / dt + 0.0).tolist(),
                "lem_price_eur_per_kwh": list(l_lem),
                "cost_alone_eur": alone.tolist(),
                "cost_rec_eur": rec.tolist(),
                "cost_alone_total_eur": float(alone.sum()),
                "cost_rec_total_eur": float(rec.sum()),
                "savings_eur": float(alone.sum() - rec.sum()),
            }
        )
    return records


def tables(
    data: RecData,
    table: MemberTable,
    l_lem: Sequence[float],
    dual: Sequence[float] | None,
    grid: np.ndarray,
) -> dict[str, pd.DataFrame]:
    """CSV tables: prices and energy per step, costs per member."""
    steps = np.arange(data.n_steps)
    time_h = steps * data.delta_t
    prices = pd.DataFrame(
        {
            "step": steps,
            "time_h": time_h,
            "lem_price_eur_per_kwh": l_lem,
            "market_buy_eur_per_kwh": data.l_market_buy,
            "market_sell_eur_per_kwh": data.l_market_sell,
            "retail_buy_min_eur_per_kwh": data.l_buy.min(axis=0),
            "retail_buy_mean_eur_per_kwh": np.round(data.l_buy.mean(axis=0), DECIMALS),
            "retail_buy_max_eur_per_kwh": data.l_buy.max(axis=0),
            "feed_in_min_eur_per_kwh": data.l_sell.min(axis=0),
            "feed_in_max_eur_per_kwh": data.l_sell.max(axis=0),
            "grid_tariff_eur_per_kwh": grid,
        }
    )
    if dual is not None:
        prices["dual_price_eur_per_kwh"] = dual
    energy = pd.DataFrame(
        {
            "step": steps,
            "time_h": time_h,
            "consumption_kwh": data.e_c.sum(axis=0),
            "generation_kwh": data.e_g.sum(axis=0),
            "internal_kwh": table.bought.sum(axis=0),
            "self_consumed_kwh": table.self_consumed.sum(axis=0),
            "retailer_import_kwh": (table.supply_retail + table.supply_market).sum(axis=0),
            "retailer_export_kwh": (table.surplus_retail + table.surplus_market).sum(axis=0),
            "battery_charge_kwh": table.charge.sum(axis=0),
            "battery_discharge_kwh": table.discharge.sum(axis=0),
        }
    )
    alone, rec = table.cost_alone.sum(axis=1), table.cost_rec.sum(axis=1)
    members = pd.DataFrame(
        {
            "member": data.meter_ids,
            "cost_alone_eur": alone,
            "cost_rec_eur": rec,
            "savings_eur": alone - rec,
            "bought_in_rec_kwh": table.bought.sum(axis=1),
            "sold_in_rec_kwh": table.sold.sum(axis=1),
            "has_storage": table.has_storage,
        }
    )
    return {"prices": prices, "energy": energy, "members": members}
