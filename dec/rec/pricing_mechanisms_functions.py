"""LEM pricing with the call names, inputs and outputs of rec_op_lem_prices 0.2.7.

- ``vanilla_*``: price one session from its offers (no MILP); the ``_plus`` variants
  also return the accepted buy and sell offers.
- ``dual_pre_pool`` / ``dual_post_pool``: the shadow prices of the pool balance of
  the single-stage collective MILP (binaries fixed at the optimum, LP re-solved).
- ``loop_pre_*`` / ``loop_post_*``: the overarching algorithms of
  :mod:`dec.rec.loops` with MMR, SDR/SDRC or the pool crossing value.

``solver`` and ``for_testing`` are accepted for compatibility: HiGHS solves every
MILP, and stage 1 runs on ``engine`` (serial by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dec.admm.engine import Engine
from dec.rec.data import Market, parse_collective
from dec.rec.loops import PricingFunc, post_delivery_loop, pre_delivery_loop, pricing_function
from dec.rec.pricing import (
    OffersList,
    compute_crossing_value,
    compute_mmr,
    compute_pruned_mmr,
    compute_pruned_mmr_plus,
    compute_pruned_sdr,
    compute_pruned_sdr_plus,
    compute_sdr,
    get_accepted_offers,
)
from dec.rec.stages import CollectiveSolver

# --- one session -------------------------------------------------------------------------------


def accepted_offers(buys: OffersList, sells: OffersList) -> tuple[list[dict], list[dict]]:
    """Return the buy and sell offers a pool clearing accepts (totally or partially)."""
    return get_accepted_offers(buys, sells)


def vanilla_mmr(
    buys: OffersList, sells: OffersList, pruned: bool = True, divider: float = 0.5
) -> float:
    """Mid-market rate of one session, EUR/kWh (of the accepted offers when ``pruned``)."""
    return (compute_pruned_mmr if pruned else compute_mmr)(buys, sells, divider)


def vanilla_sdr(
    buys: OffersList, sells: OffersList, pruned: bool = True, compensation: float = 0.0
) -> float:
    """Supply-demand-ratio price of one session (SDRC when ``compensation`` > 0), EUR/kWh."""
    return (compute_pruned_sdr if pruned else compute_sdr)(buys, sells, compensation)


def vanilla_crossing_value(
    buys: OffersList, sells: OffersList, small_increment: float = 0.0
) -> float:
    """Pool crossing value of one session, EUR/kWh."""
    return compute_crossing_value(buys, sells, small_increment)


def vanilla_mmr_plus(
    buys: OffersList, sells: OffersList, divider: float = 0.5
) -> tuple[float, list[dict], list[dict]]:
    """Pruned MMR with the accepted buy and sell offers."""
    return compute_pruned_mmr_plus(buys, sells, divider)


def vanilla_sdr_plus(
    buys: OffersList, sells: OffersList, compensation: float = 0.0
) -> tuple[float, list[dict], list[dict]]:
    """Pruned SDR/SDRC with the accepted buy and sell offers."""
    return compute_pruned_sdr_plus(buys, sells, compensation)


def vanilla_crossing_value_plus(
    buys: OffersList, sells: OffersList, small_increment: float = 0.0
) -> tuple[float, list[dict], list[dict]]:
    """Pool crossing value with the accepted buy and sell offers."""
    return (compute_crossing_value(buys, sells, small_increment), *get_accepted_offers(buys, sells))


# --- dual prices -------------------------------------------------------------------------------


def _dual(backpack: Mapping[str, Any], assets: bool) -> tuple[list[float], dict[str, Any]]:
    data = parse_collective(backpack, "pool", assets=assets)
    outputs = CollectiveSolver(data, "pool", bounded=False).solve(np.zeros(data.n_steps))
    return outputs["dual_prices"], outputs


def dual_pre_pool(
    backpack: Mapping[str, Any], solver: str = "CBC"
) -> tuple[list[float], dict[str, Any]]:
    """LEM prices from the shadow prices of the pool balance (pre-delivery, with storage).

    The single-stage pool MILP is solved (LEM prices 0: they cancel in a pool), its
    binaries are fixed at the optimum, the LP is re-solved and the absolute duals of
    the per-step balance ``sum_n e_sale = sum_n e_pur`` are returned, with the MILP
    outputs.
    """
    return _dual(backpack, assets=True)


def dual_post_pool(
    backpack: Mapping[str, Any], solver: str = "CBC"
) -> tuple[list[float], dict[str, Any]]:
    """LEM prices from the shadow prices of the pool balance (post-delivery, no storage)."""
    return _dual(backpack, assets=False)


# --- loops -------------------------------------------------------------------------------------


def _mmr(pruned: bool, divider: float) -> PricingFunc:
    return pricing_function("mmr", pruned=pruned, divider=divider)


def _sdr(pruned: bool, compensation: float) -> PricingFunc:
    return pricing_function("sdr", pruned=pruned, compensation=compensation)


def _cv(small_increment: float) -> PricingFunc:
    return pricing_function("crossing_value", small_increment=small_increment)


def _pre(backpack: Mapping[str, Any], market: Market, pricing: PricingFunc, engine):
    return pre_delivery_loop(backpack, market, pricing, engine=engine)


def loop_pre_pool_mmr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    divider: float = 0.5,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[list[float], float | None, int, tuple[dict, list[dict]] | None]:
    """Pre-delivery pricing loop, pool market, MMR (pruned by default).

    Returns
    -------
    tuple
        ``(best_l_lem, criterion, iterations, (stage2, stage1_list))`` (see
        :func:`dec.rec.loops.pre_delivery_loop`).

    """
    return _pre(backpack, "pool", _mmr(pruned, divider), engine)


def loop_pre_pool_sdr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    compensation: float = 0.0,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[list[float], float | None, int, tuple[dict, list[dict]] | None]:
    """Pre-delivery pricing loop, pool market, SDR (SDRC when ``compensation`` > 0)."""
    return _pre(backpack, "pool", _sdr(pruned, compensation), engine)


def loop_pre_pool_crossing_value(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    small_increment: float = 0.0,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[list[float], float | None, int, tuple[dict, list[dict]] | None]:
    """Pre-delivery pricing loop, pool market, pool crossing value."""
    return _pre(backpack, "pool", _cv(small_increment), engine)


def loop_pre_bilateral_mmr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    divider: float = 0.5,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[list[float], float | None, int, tuple[dict, list[dict]] | None]:
    """Pre-delivery pricing loop, bilateral contracts, MMR (pruned by default)."""
    return _pre(backpack, "bilateral", _mmr(pruned, divider), engine)


def loop_pre_bilateral_sdr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    compensation: float = 0.0,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[list[float], float | None, int, tuple[dict, list[dict]] | None]:
    """Pre-delivery pricing loop, bilateral contracts, SDR (SDRC when ``compensation`` > 0)."""
    return _pre(backpack, "bilateral", _sdr(pruned, compensation), engine)


def loop_pre_bilateral_crossing_value(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    small_increment: float = 0.0,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[list[float], float | None, int, tuple[dict, list[dict]] | None]:
    """Pre-delivery pricing loop, bilateral contracts, pool crossing value."""
    return _pre(backpack, "bilateral", _cv(small_increment), engine)


def loop_post_pool_mmr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    divider: float = 0.5,
    solver: str = "CBC",
) -> tuple[list[float], tuple[dict, list[dict]]]:
    """Post-delivery pricing, pool market, MMR: ``(l_lem, (stage2, stage1_list))``."""
    return post_delivery_loop(backpack, "pool", _mmr(pruned, divider))


def loop_post_pool_sdr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    compensation: float = 0.0,
    solver: str = "CBC",
) -> tuple[list[float], tuple[dict, list[dict]]]:
    """Post-delivery pricing, pool market, SDR/SDRC."""
    return post_delivery_loop(backpack, "pool", _sdr(pruned, compensation))


def loop_post_pool_crossing_value(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    small_increment: float = 0.0,
    solver: str = "CBC",
) -> tuple[list[float], tuple[dict, list[dict]]]:
    """Post-delivery pricing, pool market, pool crossing value."""
    return post_delivery_loop(backpack, "pool", _cv(small_increment))


def loop_post_bilateral_mmr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    divider: float = 0.5,
    solver: str = "CBC",
) -> tuple[list[float], tuple[dict, list[dict]]]:
    """Post-delivery pricing, bilateral contracts, MMR."""
    return post_delivery_loop(backpack, "bilateral", _mmr(pruned, divider))


def loop_post_bilateral_sdr(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    pruned: bool = True,
    compensation: float = 0.0,
    solver: str = "CBC",
) -> tuple[list[float], tuple[dict, list[dict]]]:
    """Post-delivery pricing, bilateral contracts, SDR/SDRC."""
    return post_delivery_loop(backpack, "bilateral", _sdr(pruned, compensation))


def loop_post_bilateral_crossing_value(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    small_increment: float = 0.0,
    solver: str = "CBC",
) -> tuple[list[float], tuple[dict, list[dict]]]:
    """Post-delivery pricing, bilateral contracts, pool crossing value."""
    return post_delivery_loop(backpack, "bilateral", _cv(small_increment))
