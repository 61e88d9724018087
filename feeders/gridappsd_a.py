"""Feeder ``gridappsd_a``: the GridAPPS-D coordinator's IEEE 123 case A.

See :mod:`feeders.gridappsd_cases`.
"""

from __future__ import annotations

from feeders.base import Feeder
from feeders.gridappsd_cases import build_case

DEFAULTS = {"load_scale": 0.432, "pv_scale": 0.786621, "seed": 0, "vm_ext_pu": 1.0475}


def build(load_scale: float, pv_scale: float, seed: int, vm_ext_pu: float) -> Feeder:
    """Build case A (``seed`` is unused: the case has no random element)."""
    return build_case("case_a", load_scale, pv_scale, vm_ext_pu, "gridappsd_a")
