"""``rec_op_lem_prices.optimization.module.StageTwoMILPPool`` names."""

from dec.rec.milp_classes import StageTwoMILPPool

__all__ = ["StageTwoMILPPool"]
