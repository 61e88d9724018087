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

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from dec.admm.engine import Engine
from dec.rec.checks import check_run_options
from dec.rec.data import Market, parse_collective
from dec.rec.loops import PricingFunc, post_delivery_loop, pre_delivery_loop, pricing_function
from dec.rec.pricing import (
    OffersList,
    check_flag,
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
    check_flag(pruned, "pruned")
    return (compute_pruned_mmr if pruned else compute_mmr)(buys, sells, divider)


def vanilla_sdr(
    buys: OffersList, sells: OffersList, pruned: bool = True, compensation: float = 0.0
) -> float:
    """Supply-demand-ratio price of one session (SDRC when ``compensation`` > 0), EUR/kWh."""
    check_flag(pruned, "pruned")
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
#
# Twelve functions: loop_{pre,post}_{pool,bilateral}_{mmr,sdr,crossing_value}. Each takes the
# backpack and the reference's options (``for_testing``, the mechanism's parameters,
# ``solver``) plus ``engine`` (where stage 1 runs), ``mipgap`` (HiGHS's relative MIP gap;
# default 1e-6, the reference's classes use 1e-3) and ``timeout`` (s per MILP; a MILP that
# reaches it raises dec.errors.SolverLimit). Pre-delivery loops return ``(best_l_lem,
# criterion, iterations, (stage2, stage1_list))`` (see :func:`dec.rec.loops.pre_delivery_loop`),
# post-delivery ones ``(l_lem, (stage2, stage1_list))`` (see
# :func:`dec.rec.loops.post_delivery_loop`).

Timeframe = Literal["pre", "post"]
_NAMES = {
    "mmr": "MMR",
    "sdr": "SDR (SDRC when compensation > 0)",
    "crossing_value": "crossing value",
}


def _run(
    timeframe: Timeframe,
    market: Market,
    pricing: PricingFunc,
    backpack,
    engine,
    mipgap: float | None,
    timeout: float | None,
):
    check_run_options(mipgap, timeout, engine)
    options = {"mip_rel_gap": mipgap, "time_limit_s": timeout}
    if timeframe == "pre":
        return pre_delivery_loop(backpack, market, pricing, engine=engine, **options)
    return post_delivery_loop(backpack, market, pricing, **options)


def _describe(loop: Callable, timeframe: str, market: str, mechanism: str) -> Callable:
    loop.__name__ = loop.__qualname__ = f"loop_{timeframe}_{market}_{mechanism}"
    loop.__doc__ = (
        f"{timeframe.capitalize()}-delivery pricing loop, {market} market, {_NAMES[mechanism]}."
    )
    return loop


def _mmr_loop(timeframe: Timeframe, market: Market) -> Callable:
    def loop(
        backpack: Mapping[str, Any],
        for_testing: bool = False,
        pruned: bool = True,
        divider: float = 0.5,
        solver: str = "CBC",
        engine: Engine | None = None,
        mipgap: float | None = None,
        timeout: float | None = None,
    ) -> tuple:
        pricing = pricing_function("mmr", pruned=pruned, divider=divider)
        return _run(timeframe, market, pricing, backpack, engine, mipgap, timeout)

    return _describe(loop, timeframe, market, "mmr")


def _sdr_loop(timeframe: Timeframe, market: Market) -> Callable:
    def loop(
        backpack: Mapping[str, Any],
        for_testing: bool = False,
        pruned: bool = True,
        compensation: float = 0.0,
        solver: str = "CBC",
        engine: Engine | None = None,
        mipgap: float | None = None,
        timeout: float | None = None,
    ) -> tuple:
        pricing = pricing_function("sdr", pruned=pruned, compensation=compensation)
        return _run(timeframe, market, pricing, backpack, engine, mipgap, timeout)

    return _describe(loop, timeframe, market, "sdr")


def _crossing_value_loop(timeframe: Timeframe, market: Market) -> Callable:
    def loop(
        backpack: Mapping[str, Any],
        for_testing: bool = False,
        small_increment: float = 0.0,
        solver: str = "CBC",
        engine: Engine | None = None,
        mipgap: float | None = None,
        timeout: float | None = None,
    ) -> tuple:
        pricing = pricing_function("crossing_value", small_increment=small_increment)
        return _run(timeframe, market, pricing, backpack, engine, mipgap, timeout)

    return _describe(loop, timeframe, market, "crossing_value")


loop_pre_pool_mmr = _mmr_loop("pre", "pool")
loop_pre_pool_sdr = _sdr_loop("pre", "pool")
loop_pre_pool_crossing_value = _crossing_value_loop("pre", "pool")
loop_pre_bilateral_mmr = _mmr_loop("pre", "bilateral")
loop_pre_bilateral_sdr = _sdr_loop("pre", "bilateral")
loop_pre_bilateral_crossing_value = _crossing_value_loop("pre", "bilateral")
loop_post_pool_mmr = _mmr_loop("post", "pool")
loop_post_pool_sdr = _sdr_loop("post", "pool")
loop_post_pool_crossing_value = _crossing_value_loop("post", "pool")
loop_post_bilateral_mmr = _mmr_loop("post", "bilateral")
loop_post_bilateral_sdr = _sdr_loop("post", "bilateral")
loop_post_bilateral_crossing_value = _crossing_value_loop("post", "bilateral")
