"""REC operation and local energy market (LEM) pricing, compatible with rec_op_lem_prices 0.2.7.

Users of rec_op_lem_prices switch by changing the import prefix: the functions below
(and the submodules ``dec.rec.optimization...`` and ``dec.rec.pricing_mechanisms...``)
have the reference's names, input dictionaries and output keys. MILPs are written
with cvxpy and solved by HiGHS; every input is validated before any solve.

Optimisation (:mod:`dec.rec.optimization_functions`): ``run_pre_individual_milp``,
``run_pre_single_stage_collective_{pool,bilateral}_milp``,
``run_pre_two_stage_collective_{pool,bilateral}_milp``, ``run_post_individual_cost``,
``run_post_single_stage_collective_{pool,bilateral}_milp``,
``run_post_two_stage_collective_{pool,bilateral}_milp``.

Pricing (:mod:`dec.rec.pricing_mechanisms_functions`): ``accepted_offers``,
``vanilla_{mmr,sdr,crossing_value}`` and their ``_plus`` variants,
``dual_{pre,post}_pool``, ``loop_{pre,post}_{pool,bilateral}_{mmr,sdr,crossing_value}``.

The ``rec-pricing`` mode of ``python -m dec.run`` runs the loops on a scenario file
(:mod:`dec.rec.mode`).
"""

from dec.rec.optimization_functions import (
    run_post_individual_cost,
    run_post_single_stage_collective_bilateral_milp,
    run_post_single_stage_collective_pool_milp,
    run_post_two_stage_collective_bilateral_milp,
    run_post_two_stage_collective_pool_milp,
    run_pre_individual_milp,
    run_pre_single_stage_collective_bilateral_milp,
    run_pre_single_stage_collective_pool_milp,
    run_pre_two_stage_collective_bilateral_milp,
    run_pre_two_stage_collective_pool_milp,
)
from dec.rec.pricing_mechanisms_functions import (
    accepted_offers,
    dual_post_pool,
    dual_pre_pool,
    loop_post_bilateral_crossing_value,
    loop_post_bilateral_mmr,
    loop_post_bilateral_sdr,
    loop_post_pool_crossing_value,
    loop_post_pool_mmr,
    loop_post_pool_sdr,
    loop_pre_bilateral_crossing_value,
    loop_pre_bilateral_mmr,
    loop_pre_bilateral_sdr,
    loop_pre_pool_crossing_value,
    loop_pre_pool_mmr,
    loop_pre_pool_sdr,
    vanilla_crossing_value,
    vanilla_crossing_value_plus,
    vanilla_mmr,
    vanilla_mmr_plus,
    vanilla_sdr,
    vanilla_sdr_plus,
)

__all__ = [
    "accepted_offers",
    "dual_post_pool",
    "dual_pre_pool",
    "loop_post_bilateral_crossing_value",
    "loop_post_bilateral_mmr",
    "loop_post_bilateral_sdr",
    "loop_post_pool_crossing_value",
    "loop_post_pool_mmr",
    "loop_post_pool_sdr",
    "loop_pre_bilateral_crossing_value",
    "loop_pre_bilateral_mmr",
    "loop_pre_bilateral_sdr",
    "loop_pre_pool_crossing_value",
    "loop_pre_pool_mmr",
    "loop_pre_pool_sdr",
    "run_post_individual_cost",
    "run_post_single_stage_collective_bilateral_milp",
    "run_post_single_stage_collective_pool_milp",
    "run_post_two_stage_collective_bilateral_milp",
    "run_post_two_stage_collective_pool_milp",
    "run_pre_individual_milp",
    "run_pre_single_stage_collective_bilateral_milp",
    "run_pre_single_stage_collective_pool_milp",
    "run_pre_two_stage_collective_bilateral_milp",
    "run_pre_two_stage_collective_pool_milp",
    "vanilla_crossing_value",
    "vanilla_crossing_value_plus",
    "vanilla_mmr",
    "vanilla_mmr_plus",
    "vanilla_sdr",
    "vanilla_sdr_plus",
]
