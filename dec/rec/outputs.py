"""Solved REC models as the output dictionaries of rec_op_lem_prices (same keys, same nesting).

Costs are evaluated from the cleaned solution values term by term in the order the
reference writes its objective (per step: retail supply, retail surplus, market
supply, market surplus, self-consumption, extra power, battery degradation, then
LEM purchases and sales), accumulated sequentially. This reproduces the reference's
floating-point sums, which matters where a cost is rounded to the thousandth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dec.rec.data import RecData
from dec.rec.model import RecModel
from dec.rec.solve import clean, member_exchange


def tidy(model: RecModel, vals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Report the canonical values of variables the optimum leaves free (in place).

    - Where the supply/surplus binary was left out (no arbitrage), simultaneous supply
      and surplus (possible only at equal tariffs) are netted and ``delta_sup`` is 1
      exactly when energy is supplied.
    - Supply is split into retail and market-indexed like rec_op_lem_prices settles
      measured data: market-indexed when the retail tariff is higher; surplus goes
      to the retailer unless the market-indexed tariff is higher.
    - At steps with ``l_grid >= 0`` the consumption and the allocated energy only have
      lower bounds; they are reported at them: ``max(e_cmet, 0)`` and
      ``max(e_pur - e_sale, 0)``; where the self-consumption binary was left out,
      ``delta_slc`` is 1 when the consumption is the smaller.
    """
    data = model.data
    free = ~model.masks["supply_binary"]
    supply, surplus = vals.pop("supply"), vals.pop("surplus")
    both = np.where(free, np.minimum(supply, surplus), 0.0)
    supply, surplus = supply - both, surplus - both
    to_market = data.l_buy > data.l_market_buy[None, :]
    to_retailer = data.l_sell >= data.l_market_sell[None, :]
    vals["e_sup_retail"] = np.where(to_market, 0.0, supply)
    vals["e_sup_market"] = np.where(to_market, supply, 0.0)
    vals["e_sur_retail"] = np.where(to_retailer, surplus, 0.0)
    vals["e_sur_market"] = np.where(to_retailer, 0.0, surplus)
    vals["delta_sup"] = np.where(free, (supply > 0).astype(float), vals["delta_sup"])
    if model.kind == "individual":
        return vals
    positive = model.masks["l_grid_nonneg"]
    exchange = member_exchange(model, vals)
    for name in ("e_consumed", "e_alc"):
        vals.setdefault(name, np.zeros_like(vals["e_cmet"]))
    vals["e_consumed"] = np.where(positive, np.maximum(vals["e_cmet"], 0.0), vals["e_consumed"])
    vals["e_alc"] = np.where(positive, np.maximum(clean(exchange), 0.0), vals["e_alc"])
    linear = positive & ~model.masks["slc_binary"]
    consumed_is_less = (vals["e_consumed"] < vals["e_alc"]).astype(float)
    vals["delta_slc"] = np.where(linear, consumed_is_less, vals["delta_slc"])
    return vals


def sequential_sum(terms: np.ndarray) -> np.ndarray:
    """Sum the last axis left to right (``((t0 + t1) + t2) + ...``), like a Python loop."""
    if terms.shape[-1] == 0:
        return np.zeros(terms.shape[:-1])
    return np.cumsum(terms, axis=-1)[..., -1]


def _per_meter_assets(owner: np.ndarray, n_meters: int, values: np.ndarray) -> np.ndarray:
    """Arrange per-asset rows (A, T) as (N, T, max assets per meter), zero-padded."""
    width = max((int((owner == i).sum()) for i in range(n_meters)), default=0)
    out = np.zeros((n_meters, values.shape[1] if values.size else 0, width))
    for i in range(n_meters):
        rows = values[owner == i]
        out[i, :, : len(rows)] = rows.T
    return out


def _slc_terms(model: RecModel, vals: dict[str, np.ndarray]) -> np.ndarray:
    """Self-consumption cost terms per meter and step, (N, T, S)."""
    data = model.data
    n, t_len = data.e_c.shape
    if model.kind == "pool":
        return (vals["e_slc"] * data.l_grid[None, :])[:, :, None]
    if model.kind == "bilateral" and len(model.pairs):
        pairs = model.pairs
        grid = data.l_grid[pairs.first, pairs.second]
        return (vals["e_slc"] * grid).reshape(n, n - 1, t_len).transpose(0, 2, 1)
    return np.zeros((n, t_len, 0))


def _lem_terms(model: RecModel, vals: dict[str, np.ndarray], l_lem: np.ndarray) -> np.ndarray:
    """LEM purchase and sale terms per meter and step, (N, T, 2 or 2(N-1))."""
    data = model.data
    n, t_len = data.e_c.shape
    if model.kind == "pool":
        return np.stack([vals["e_pur"] * l_lem, vals["e_sale"] * -l_lem], axis=-1)
    if not len(model.pairs):
        return np.zeros((n, t_len, 0))
    pur = (vals["e_pur"] * l_lem).reshape(n, n - 1, t_len)
    sale = (vals["e_sale"] * -l_lem).reshape(n, n - 1, t_len)
    return np.stack([pur, sale], axis=-1).transpose(0, 2, 1, 3).reshape(n, t_len, 2 * (n - 1))


def cost_terms(model: RecModel, vals: dict[str, np.ndarray]) -> np.ndarray:
    """Energy-cost terms (without LEM payments) per meter and step, (N, T, K), in reference order."""
    data = model.data
    n, t_len = data.e_c.shape
    st = data.storages
    head = np.stack(
        [
            vals["e_sup_retail"] * data.l_buy,
            vals["e_sur_retail"] * -data.l_sell,
            vals["e_sup_market"] * data.l_market_buy,
            vals["e_sur_market"] * -data.l_market_sell,
        ],
        axis=-1,
    )
    extra = (vals["p_extra"] * data.l_extra)[:, :, None]
    deg = (
        _per_meter_assets(st.owner, n, vals["e_bd"] * st.degradation_cost[:, None])
        if st.count
        else np.zeros((n, t_len, 0))
    )
    return np.concatenate([head, _slc_terms(model, vals), extra, deg], axis=-1)


def _listed(values: np.ndarray, ids: tuple[str, ...]) -> dict[str, list[float]]:
    return {meter: row.tolist() for meter, row in zip(ids, values, strict=True)}


def _assets(
    values: np.ndarray | None, owner: np.ndarray, asset_ids: tuple[str, ...], ids: tuple[str, ...]
) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {meter: {} for meter in ids}
    for k, (index, asset) in enumerate(zip(owner, asset_ids, strict=True)):
        out[ids[index]][asset] = values[k].tolist()
    return out


def _deg_costs(data: RecData, vals: dict[str, np.ndarray]) -> list[float]:
    """Degradation cost per meter, EUR: battery by battery, step by step."""
    st = data.storages
    costs = []
    for i in range(data.n_meters):
        mine = st.owner == i
        if not mine.any():
            costs.append(0.0)
            continue
        terms = (vals["e_bd"][mine] * st.degradation_cost[mine][:, None]).ravel(order="C")
        costs.append(float(sequential_sum(terms)))
    return costs


def _p_extra_costs(data: RecData, vals: dict[str, np.ndarray]) -> list[float]:
    return [sum(row.tolist()) * data.l_extra for row in vals["p_extra"]]


def stage_one_outputs(model: RecModel, vals: dict[str, np.ndarray], index: int) -> dict[str, Any]:
    """Return the stage-1 output dictionary of meter ``index`` of a solved individual model."""
    data = model.data
    st = data.storages
    mine = st.owner == index
    ids = tuple(s for s, k in zip(st.storage_id, mine, strict=True) if k)
    c_ind = float(sequential_sum(cost_terms(model, vals)[index].ravel(order="C")))
    deg_cost = _deg_costs(data, vals)[index]
    p_extra_cost = _p_extra_costs(data, vals)[index]

    def row(name: str) -> list[float]:
        return vals[name][index].tolist()

    def per_storage(name: str) -> dict[str, list[float]]:
        rows = vals[name][mine] if st.count else np.zeros((0, data.n_steps))
        return {s: r.tolist() for s, r in zip(ids, rows, strict=True)}

    soc = {
        s: (np.round(100.0 * np.array(e) / st.e_bn[mine][k], 9) + 0.0).tolist()
        for k, (s, e) in enumerate(per_storage("e_bat").items())
    }
    return {
        "meter_id": data.meter_ids[index],
        "obj_value": c_ind,
        "milp_status": "Optimal",
        "e_sup_retail": row("e_sup_retail"),
        "e_sur_retail": row("e_sur_retail"),
        "e_sup_market": row("e_sup_market"),
        "e_sur_market": row("e_sur_market"),
        "delta_sup": row("delta_sup"),
        "e_cmet": row("e_cmet"),
        "p_extra": row("p_extra"),
        "e_bat": per_storage("e_bat"),
        "soc_bat": soc,
        "e_bc": per_storage("e_bc"),
        "e_bd": per_storage("e_bd"),
        "delta_bc": per_storage("delta_bc"),
        "deg_cost": deg_cost,
        "p_extra_cost": p_extra_cost,
        "c_ind": c_ind,
        "c_ind_without_deg": c_ind - deg_cost,
        "c_ind_without_p_extra": c_ind - p_extra_cost,
        "c_ind_without_deg_and_p_extra": c_ind - deg_cost - p_extra_cost,
    }


def member_costs(
    model: RecModel,
    vals: dict[str, np.ndarray],
    l_lem: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Each meter's stage-2 cost (energy, self-consumption, degradation and LEM), EUR.

    As in rec_op_lem_prices 0.2.7, a two-stage cost (``bounds`` = stage-1 costs and
    the bounds made of them) is reported minus the rounding headroom of its bound,
    ``bound - c_ind`` (between 0 and 0.001 EUR); a single-stage cost is the plain sum.
    """
    terms = np.concatenate([cost_terms(model, vals), _lem_terms(model, vals, l_lem)], axis=-1)
    sums = sequential_sum(terms.reshape(terms.shape[0], -1))
    if bounds is None:
        return sums
    c_ind, bound = bounds
    return sums + np.array([-b + c for c, b in zip(c_ind.tolist(), bound.tolist(), strict=True)])


def collective_outputs(
    model: RecModel,
    vals: dict[str, np.ndarray],
    l_lem: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray] | None,
    dual: np.ndarray | None,
) -> dict[str, Any]:
    """Return the stage-2 output dictionary (pool or bilateral) of a solved collective model."""
    data = model.data
    ids = data.meter_ids
    t_len = data.n_steps
    suffix = "pool" if model.kind == "pool" else "bilateral"
    st, ev = data.storages, data.evs
    terms = cost_terms(model, vals)
    obj_value = float(sequential_sum(terms.transpose(1, 0, 2).ravel(order="C")))
    out: dict[str, Any] = {"obj_value": obj_value, "milp_status": "Optimal"}
    for name in ("e_sup_retail", "e_sur_retail", "e_sup_market", "e_sur_market", "delta_sup"):
        out[name] = _listed(vals[name], ids)
    if model.kind == "pool":
        out["e_pur_pool"] = _listed(vals["e_pur"], ids)
        out["e_sale_pool"] = _listed(vals["e_sale"], ids)
        out["e_cmet"] = _listed(vals["e_cmet"], ids)
        out["e_slc_pool"] = _listed(vals["e_slc"], ids)
    else:
        for name in ("e_pur", "e_sale"):
            out[f"{name}_bilateral"] = _pairs(model, vals.get(name), ids, t_len)
        out["e_cmet"] = _listed(vals["e_cmet"], ids)
        out["e_slc_bilateral"] = _pairs(model, vals.get("e_slc"), ids, t_len)
    for name in ("e_consumed", "e_alc", "delta_slc", "delta_cmet", "delta_alc", "p_extra"):
        out[name] = _listed(vals[name], ids)
    empty = np.zeros((0, t_len))
    for name in ("e_bat", "soc_bat", "e_bc", "e_bd", "delta_bc"):
        if name == "soc_bat":
            values = (
                np.round(100.0 * vals["e_bat"] / st.e_bn[:, None], 9) + 0.0 if st.count else empty
            )
        else:
            values = vals[name] if st.count else empty
        out[name] = _assets(values, st.owner, st.storage_id, ids)
    if ev.count:
        for name in ("ev_stored", "p_ev_charge", "p_ev_discharge"):
            out[name] = _assets(vals[name], ev.owner, ev.ev_id, ids)
    if data.strict_pos_coeffs:
        out["delta_coeff"] = _listed(vals["delta_coeff"], ids)
    if data.total_share_coeffs:
        out["delta_rec_balance"] = vals["delta_rec_balance"].tolist()
        out["delta_meter_balance"] = _listed(vals["delta_meter_balance"], ids)
    costs = member_costs(model, vals, l_lem, bounds)
    deg = _deg_costs(data, vals)
    extra = _p_extra_costs(data, vals)
    key = f"c_ind2{suffix}"
    out[key] = dict(zip(ids, costs.tolist(), strict=True))
    out[f"{key}_without_deg"] = {m: c - d for m, c, d in zip(ids, costs, deg, strict=True)}
    out[f"{key}_without_deg_and_p_extra"] = {
        m: c - d - x for m, c, d, x in zip(ids, costs, deg, extra, strict=True)
    }
    out[f"{key}_without_p_extra"] = {m: c - x for m, c, x in zip(ids, costs, extra, strict=True)}
    out[f"deg_cost2{suffix}"] = dict(zip(ids, deg, strict=True))
    out[f"p_extra_cost2{suffix}"] = dict(zip(ids, extra, strict=True))
    if dual is not None:
        out["dual_prices"] = dual.tolist()
    return {k: _plain(v) for k, v in out.items()}


#: Stage-2 outputs that post-delivery results drop (storage does not act after delivery).
POST_DROPPED = ("e_bat", "soc_bat", "e_bc", "e_bd", "delta_bc")


def post_outputs(outputs: dict[str, Any], market: str) -> dict[str, Any]:
    """Drop the storage outputs and the degradation variants of a post-delivery result."""
    dropped = (
        *POST_DROPPED,
        f"c_ind2{market}_without_deg",
        f"c_ind2{market}_without_deg_and_p_extra",
        f"deg_cost2{market}",
    )
    return {k: v for k, v in outputs.items() if k not in dropped}


def _pairs(
    model: RecModel, values: np.ndarray | None, ids: tuple[str, ...], t_len: int
) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {meter: {} for meter in ids}
    pairs = model.pairs
    for k in range(len(pairs)):
        out[ids[pairs.first[k]]][ids[pairs.second[k]]] = (
            values[k].tolist() if values is not None else [0.0] * t_len
        )
    return out


def _plain(value: Any) -> Any:
    """Convert numpy scalars inside dictionaries to Python floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
