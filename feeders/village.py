"""80-bus LV village (pandapower ``create_synthetic_voltage_control_lv_network("village_1")``).

Agents: its 47 loads are households and its 13 PV units are PV agents (kWp = the
unit's rated ``p_mw``). Default scenario (the curtailment case): PV at peak,
light load (``load_scale`` = 0.2) and the MV source at 1.03 pu.
"""

from __future__ import annotations

import pandapower.networks as pn

from feeders.attach import agents_from_elements
from feeders.base import Feeder

DEFAULTS = {"load_scale": 0.2, "pv_scale": 1.0, "seed": 0, "vm_ext_pu": 1.03}


def build(load_scale: float, pv_scale: float, seed: int, vm_ext_pu: float) -> Feeder:
    """Build the village feeder with household and PV agents.

    Parameters
    ----------
    load_scale
        Multiplier of the nominal loads.
    pv_scale
        PV output as a fraction of kWp.
    seed
        Unused (the village is fully specified); kept for a uniform interface.
    vm_ext_pu
        Voltage set-point of the MV source, pu.

    """
    net = pn.create_synthetic_voltage_control_lv_network("village_1")
    net.ext_grid["vm_pu"] = vm_ext_pu
    return Feeder(
        feeder_id="village",
        net=net,
        agents=agents_from_elements(net, load_scale, pv_scale, group="village"),
        knobs={
            "load_scale": load_scale,
            "pv_scale": pv_scale,
            "seed": seed,
            "vm_ext_pu": vm_ext_pu,
        },
        description="80-bus LV village_1 with its households and PV units",
    )
