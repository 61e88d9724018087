"""CIGRE LV benchmark feeder (pandapower ``create_cigre_network_lv``, 44 buses).

Agents: every residential load (``Load R*``) is a household with rooftop PV of
1.0–1.5 × its nominal load in kWp (seeded). Industrial and commercial loads stay
passive loads, scaled with ``load_scale``.

Default scenario (the curtailment case): PV at peak (``pv_scale`` = 1), light
load (``load_scale`` = 0.2) and the MV source at 1.02 pu, which puts the far
residential buses above 1.05 pu.
"""

from __future__ import annotations

import numpy as np
import pandapower.networks as pn

from dec.conventions import mw_to_kw
from feeders.attach import add_pvs, households_from_loads, scale_loads
from feeders.base import Feeder

DEFAULTS = {"load_scale": 0.2, "pv_scale": 1.0, "seed": 0, "vm_ext_pu": 1.02}
PV_KWP_PER_LOAD_KW = (1.0, 1.5)


def build(load_scale: float, pv_scale: float, seed: int, vm_ext_pu: float) -> Feeder:
    """Build the CIGRE LV feeder with household and rooftop-PV agents.

    Parameters
    ----------
    load_scale
        Multiplier of the nominal loads.
    pv_scale
        PV output as a fraction of kWp.
    seed
        Seed of the PV sizes.
    vm_ext_pu
        Voltage set-point of the MV source, pu.

    """
    rng = np.random.default_rng(seed)
    net = pn.create_cigre_network_lv()
    net.ext_grid["vm_pu"] = vm_ext_pu
    residential = net.load.index[net.load["name"].str.startswith("Load R")].tolist()
    nominal_kw = mw_to_kw(net.load.loc[residential, "p_mw"].to_numpy())
    scale_loads(net, load_scale)
    households = households_from_loads(net, residential, nominal_kw, group="residential")
    kwp = np.round(nominal_kw * rng.uniform(*PV_KWP_PER_LOAD_KW, size=len(residential)), 1)
    pvs = add_pvs(
        net,
        [h.bus for h in households],
        kwp,
        pv_scale,
        agent_ids=[f"pv_{h.agent_id}" for h in households],
        owners=[h.agent_id for h in households],
        groups=[h.group for h in households],
    )
    return Feeder(
        feeder_id="cigre_lv",
        net=net,
        agents=households + pvs,
        knobs={
            "load_scale": load_scale,
            "pv_scale": pv_scale,
            "seed": seed,
            "vm_ext_pu": vm_ext_pu,
        },
        description="CIGRE LV benchmark (44 buses), residential loads with rooftop PV",
    )
