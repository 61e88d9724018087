"""Network models built from a radial pandapower net.

- :mod:`dec.network.topology`: the radial tree (nodes, parents, branch impedances in pu).
- :mod:`dec.network.phases`: per-phase data of the tree (phases at each node, 3×3 branch
  phase impedances) for three-phase feeders.
- :mod:`dec.network.linear`: linear voltage model (LinDistFlow along the tree, anchored at
  an operating point), indexed by (bus, phase) node, balanced or per phase.
- :mod:`dec.network.grid`: a feeder's network as the problems see it (nodes, AC check,
  linear model at the AC or LinDistFlow operating point).
- :mod:`dec.network.injections`: active/reactive power of balanced and per-phase elements.
- :mod:`dec.network.ptdf`: DC PTDF from pandapower's internal model.
- :mod:`dec.network.powerflow`: the AC power flows (balanced and unbalanced) that validate
  every decision.
"""
