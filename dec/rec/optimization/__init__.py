"""Module paths of rec_op_lem_prices' ``optimization`` package, for drop-in imports."""
