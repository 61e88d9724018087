"""REC operation MILPs with the call names, inputs and outputs of rec_op_lem_prices 0.2.7.

Pre-delivery functions schedule the members' batteries from forecasts; post-delivery
functions settle measured data (no storage). "Single stage" solves the collective
MILP alone; "two stage" first solves every meter alone (stage 1) and then the
collective MILP in which no meter pays more than alone, and returns
``(stage2_outputs, [stage1_outputs, ...])``.

Differences from the reference, all deliberate: MILPs are solved by HiGHS through
cvxpy (``solver`` is accepted and ignored); inputs are validated before any solve
(``ValueError`` naming the meter and field); the caller's dictionaries are never
modified; a single-stage run puts no bound on the meters' costs (the reference
bounds them by 1000 EUR); stage 1 runs on ``engine`` (serial by default), so
``for_testing`` has no effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dec.admm.engine import Engine
from dec.rec.checks import check_run_options
from dec.rec.data import (
    RecData,
    parse_collective,
    parse_individual,
    parse_post_individual,
)
from dec.rec.outputs import post_outputs
from dec.rec.stages import (
    CollectiveSolver,
    individual_cost,
    post_stage_one,
    solve_individual,
    solve_stage_one,
)

# --- pre-delivery ----------------------------------------------------------------------------


def run_pre_individual_milp(backpack: Mapping[str, Any], solver: str = "CBC") -> dict[str, Any]:
    """Schedule one meter alone (stage-1 MILP) from forecasts.

    Parameters
    ----------
    backpack
        ``id``, ``delta_t`` (h), ``horizon`` (h), ``e_c``, ``e_g`` (kWh per step),
        ``l_buy``, ``l_sell``, ``l_market_buy``, ``l_market_sell`` (EUR/kWh per step),
        ``l_extra`` (EUR/kW), ``max_p`` (kW), ``btm_storage`` (None or
        ``{storage_id: {degradation_cost, e_bn, eff_bc, eff_bd, init_e, p_max,
        soc_max, soc_min}}``, SoC in percent).
    solver
        Ignored (HiGHS is used).

    Returns
    -------
    dict
        ``c_ind`` (EUR, the objective; negative is a profit), its ``_without_deg``,
        ``_without_p_extra`` and ``_without_deg_and_p_extra`` variants, ``deg_cost``,
        ``p_extra_cost``, ``meter_id``, ``milp_status``, ``obj_value`` and the series
        ``e_sup_retail``, ``e_sur_retail``, ``e_sup_market``, ``e_sur_market``,
        ``e_cmet``, ``p_extra``, ``delta_sup`` and per storage ``e_bat``, ``soc_bat``,
        ``e_bc``, ``e_bd``, ``delta_bc``.

    """
    return solve_individual(parse_individual(backpack))


def _single_stage(data: RecData, kind: str) -> dict[str, Any]:
    return CollectiveSolver(data, kind, bounded=False).solve(data.l_lem)


def _two_stage(data: RecData, kind: str, engine: Engine | None) -> tuple[dict, list[dict]]:
    check_run_options(engine=engine)
    stage1 = solve_stage_one(data, engine)
    c_ind = [out["c_ind"] for out in stage1]
    return CollectiveSolver(data, kind, bounded=True).solve(data.l_lem, c_ind), stage1


def run_pre_single_stage_collective_pool_milp(
    backpack: Mapping[str, Any], solver: str = "CBC"
) -> dict[str, Any]:
    """Schedule a REC collectively with a pool market (pre-delivery, single stage).

    Parameters
    ----------
    backpack
        ``meters`` ({meter_id: {e_c, e_g, l_buy, l_sell, max_p, btm_storage}}),
        ``delta_t``, ``horizon``, ``l_extra``, ``l_grid`` (EUR/kWh per step),
        ``l_lem`` (EUR/kWh per step), ``l_market_buy``, ``l_market_sell``,
        ``strict_pos_coeffs``, ``total_share_coeffs``.
    solver
        Ignored (HiGHS is used).

    Returns
    -------
    dict
        ``obj_value``, ``milp_status``, ``dual_prices`` (EUR/kWh per step), per meter
        ``c_ind2pool`` (EUR) and variants, ``deg_cost2pool``, ``p_extra_cost2pool``
        and the series (``e_pur_pool``, ``e_sale_pool``, ``e_slc_pool``, ``e_cmet``,
        retail/market exchanges, storage, binaries).

    """
    return _single_stage(parse_collective(backpack, "pool", need_l_lem=True), "pool")


def run_pre_single_stage_collective_bilateral_milp(
    backpack: Mapping[str, Any], solver: str = "CBC"
) -> dict[str, Any]:
    """Schedule a REC collectively with bilateral contracts (pre-delivery, single stage).

    As :func:`run_pre_single_stage_collective_pool_milp` with ``l_grid[n][m]`` per
    pair of meters; outputs end in ``_bilateral`` / ``2bilateral`` and hold per-pair
    series ``e_pur_bilateral[n][m]``; there are no dual prices.
    """
    return _single_stage(parse_collective(backpack, "bilateral", need_l_lem=True), "bilateral")


def run_pre_two_stage_collective_pool_milp(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Two-stage pre-delivery schedule with a pool market.

    Stage 1 solves every meter alone (:func:`run_pre_individual_milp`, on ``engine``);
    stage 2 is the collective MILP where each meter's cost, LEM payments included,
    is at most its stage-1 cost rounded up to the thousandth.

    Returns
    -------
    tuple
        ``(stage2_outputs, [stage1_outputs per meter])``.

    """
    return _two_stage(parse_collective(backpack, "pool", need_l_lem=True), "pool", engine)


def run_pre_two_stage_collective_bilateral_milp(
    backpack: Mapping[str, Any],
    for_testing: bool = False,
    solver: str = "CBC",
    engine: Engine | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Two-stage pre-delivery schedule with bilateral contracts (see the pool version)."""
    data = parse_collective(backpack, "bilateral", need_l_lem=True)
    return _two_stage(data, "bilateral", engine)


# --- post-delivery ---------------------------------------------------------------------------


def run_post_individual_cost(backpack: Mapping[str, Any]) -> dict[str, Any]:
    """Cost of one meter from measured data (post-delivery stage 1, no MILP).

    Parameters
    ----------
    backpack
        ``id``, ``delta_t`` (h), ``e_met`` (measured net load, kWh per step, positive
        imported), ``l_buy``, ``l_sell``, ``l_market_buy``, ``l_market_sell``
        (EUR/kWh), ``l_extra``, ``max_p`` (kW); all lists as long as ``l_buy``.

    Returns
    -------
    dict
        ``c_ind`` (EUR), ``meter_id``, ``e_sup_market``, ``e_sup_retail``,
        ``e_sur_market``, ``e_sur_retail`` (kWh) and ``p_extra`` (kW) per step.

    """
    return individual_cost(parse_post_individual(backpack))


def run_post_single_stage_collective_pool_milp(
    backpack: Mapping[str, Any], solver: str = "CBC"
) -> dict[str, Any]:
    """Settle measured data collectively with a pool market (single stage).

    As the pre-delivery function without storage (``btm_storage`` is ignored); the
    storage outputs and the degradation variants of the costs are not returned.
    """
    data = parse_collective(backpack, "pool", assets=False, need_l_lem=True)
    return post_outputs(_single_stage(data, "pool"), "pool")


def run_post_single_stage_collective_bilateral_milp(
    backpack: Mapping[str, Any], solver: str = "CBC"
) -> dict[str, Any]:
    """Settle measured data collectively with bilateral contracts (single stage)."""
    data = parse_collective(backpack, "bilateral", assets=False, need_l_lem=True)
    return post_outputs(_single_stage(data, "bilateral"), "bilateral")


def _post_two_stage(backpack: Mapping[str, Any], kind: str) -> tuple[dict, list[dict]]:
    data = parse_collective(backpack, kind, assets=False, need_l_lem=True)
    stage1 = post_stage_one(data)
    stage2 = CollectiveSolver(data, kind, bounded=True, measured=True).solve(
        data.l_lem, [out["c_ind"] for out in stage1]
    )
    return post_outputs(stage2, kind), stage1


def run_post_two_stage_collective_pool_milp(
    backpack: Mapping[str, Any], for_testing: bool = False, solver: str = "CBC"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Two-stage settlement of measured data with a pool market.

    Stage 1 is each meter's :func:`run_post_individual_cost`; stage 2 the collective
    MILP where no meter pays more than alone. Returns ``(stage2, [stage1, ...])``.
    """
    return _post_two_stage(backpack, "pool")


def run_post_two_stage_collective_bilateral_milp(
    backpack: Mapping[str, Any], for_testing: bool = False, solver: str = "CBC"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Two-stage settlement of measured data with bilateral contracts."""
    return _post_two_stage(backpack, "bilateral")
