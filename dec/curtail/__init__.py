"""Fair PV curtailment against over-voltage (mode ``curtail``).

Pipeline: :func:`dec.curtail.problem.CurtailProblem.from_feeder` (validate, build)
-> :func:`dec.curtail.solve.solve_curtailment` (ADMM or centralized on the linear
voltage model, then AC validation with re-linearisation) -> :mod:`dec.curtail.report`
(the RunResult for the exporter).
"""
