"""ADMM building blocks shared by every distributed algorithm of dec.

- :mod:`dec.admm.convergence`: Boyd et al. residual-based stopping test, adaptive
  penalty by residual balancing, and the residual history table.
- :mod:`dec.admm.engine`: where agents' local updates run (serial, process pool, Ray),
  behind one ``map`` interface so every engine gives identical results.
"""
