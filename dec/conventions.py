"""Units, signs and per-unit bases, written once.

- Power at every interface (agent specs, setpoints, CSV, JSON) is in kW / kvar /
  kWh, **generation positive**: a PV injecting 5 kW has ``p_kw = +5``; a household
  consuming 3 kW has a net injection of ``-3``.
- pandapower tables hold MW / Mvar with the load table consumption positive and
  the sgen table generation positive; the conversions below are the only place
  where the factor 1000 and those signs appear.
- Inside the network models everything is per unit on the net's ``sn_mva`` base
  and each bus's ``vn_kv``: injections in pu, voltages in pu.
"""

from __future__ import annotations

import numpy as np

KW_PER_MW = 1000.0
#: Allowed voltage set-point of a feeder's source (external grid), pu: beyond it the
#: scenario is not a distribution operating point (and the AC power flow may diverge).
SOURCE_VM_PU_RANGE = (0.8, 1.2)


def mw_to_kw(p_mw: float | np.ndarray) -> float | np.ndarray:
    """Convert MW (or Mvar) to kW (or kvar)."""
    return p_mw * KW_PER_MW


def kw_to_mw(p_kw: float | np.ndarray) -> float | np.ndarray:
    """Convert kW (or kvar) to MW (or Mvar)."""
    return p_kw / KW_PER_MW


def kw_to_pu(p_kw: float | np.ndarray, sn_mva: float) -> float | np.ndarray:
    """Convert kW to per unit of a base of ``sn_mva`` MVA."""
    return p_kw / (KW_PER_MW * sn_mva)
