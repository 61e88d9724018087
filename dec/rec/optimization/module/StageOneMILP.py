"""``rec_op_lem_prices.optimization.module.StageOneMILP`` names."""

from dec.rec.milp_classes import StageOneMILP

__all__ = ["StageOneMILP"]
