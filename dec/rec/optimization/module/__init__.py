"""The MILP classes and the individual cost under rec_op_lem_prices' module paths."""
