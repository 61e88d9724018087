"""``rec_op_lem_prices.pricing_mechanisms.module.PricingMechanisms`` names (see :mod:`dec.rec.pricing`)."""

from dec.rec.pricing import (
    compute_crossing_value,
    compute_mmr,
    compute_pruned_mmr,
    compute_pruned_mmr_plus,
    compute_pruned_sdr,
    compute_pruned_sdr_plus,
    compute_sdr,
    do_offers_cross,
    get_accepted_offers,
    stop_criterion,
)

__all__ = [
    "compute_crossing_value",
    "compute_mmr",
    "compute_pruned_mmr",
    "compute_pruned_mmr_plus",
    "compute_pruned_sdr",
    "compute_pruned_sdr_plus",
    "compute_sdr",
    "do_offers_cross",
    "get_accepted_offers",
    "stop_criterion",
]
