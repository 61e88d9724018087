"""Feeder ``ieee123_3ph``: the IEEE 123 feeder with secondaries and PV, per phase.

The same households, PV units and agents as ``ieee123`` (:mod:`feeders.ieee123`), modelled
per phase: one- and two-phase laterals keep their phases (lines carry the sequence data
of their phase impedance matrices), each household and its rooftop PV sit on one phase
of their spot load, service transformers are banks of single-phase units (YNyn), and the
three utility plants are three-phase. The AC validation is pandapower's unbalanced power
flow (``runpp_3ph``). Same knobs and defaults as ``ieee123``.
"""

from __future__ import annotations

from feeders.base import Feeder
from feeders.ieee123 import DEFAULTS, build_feeder

__all__ = ["DEFAULTS", "build"]


def build(load_scale: float, pv_scale: float, seed: int, vm_ext_pu: float) -> Feeder:
    """Build the per-phase IEEE 123 feeder (see :func:`feeders.ieee123.build`)."""
    return build_feeder(load_scale, pv_scale, seed, vm_ext_pu, three_phase=True)
