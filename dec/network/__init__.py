"""Network models built from a radial pandapower net.

- :mod:`dec.network.topology`: the radial tree (nodes, parents, branch impedances in pu).
- :mod:`dec.network.linear`: linear voltage model (LinDistFlow along the tree,
  anchored at an AC operating point), indexed by (bus, phase) node.
- :mod:`dec.network.ptdf`: DC PTDF from pandapower's internal model.
- :mod:`dec.network.powerflow`: the AC power flow used to validate every decision.
"""
