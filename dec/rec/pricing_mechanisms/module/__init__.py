"""Pricing mechanisms under rec_op_lem_prices' module paths."""
