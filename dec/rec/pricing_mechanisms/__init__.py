"""Module paths of rec_op_lem_prices' ``pricing_mechanisms`` package, for drop-in imports."""
