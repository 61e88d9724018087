"""``rec_op_lem_prices.optimization.module.IndividualCost`` names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dec.rec.optimization_functions import run_post_individual_cost


def calculate_individual_cost(backpack: Mapping[str, Any]) -> dict[str, Any]:
    """Post-delivery cost of one meter (same as :func:`dec.rec.run_post_individual_cost`)."""
    return run_post_individual_cost(backpack)
