"""``rec_op_lem_prices.optimization.module.StageTwoMILPBilateral`` names."""

from dec.rec.milp_classes import StageTwoMILPBilateral

__all__ = ["StageTwoMILPBilateral"]
