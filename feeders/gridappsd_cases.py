"""The GridAPPS-D coordinator's own IEEE 123 primary-feeder cases, per phase.

Feeder ids ``gridappsd_a`` and ``gridappsd_b``: the per-phase primary data of
``inputs/ieee123/case_a`` and ``case_b`` (BSD 2-Clause) as the coordinator used them.

- Network: the 4.16 kV primary, source bus 150 at ``vm_ext_pu`` (1.0475 pu) on every
  phase; lines per phase, exactly as the data's 3×3 ``zprim`` (ohm) for the linear model
  (:attr:`feeders.base.Feeder.branch_z_ohm`) and as their transposed sequence
  equivalents for pandapower's unbalanced AC power flow; switches sw1–sw6 and the four
  regulators (zero impedance, tap 1) closed, the normally open sw7 and sw8 open.
- Loads: each spot load phase is a household agent (``load_<bus>_<phase>``,
  ``asymmetric_load``) drawing ``load_scale`` × the data's load (W and var → kW, kvar).
- PV: each PV phase is a PV agent (``pv_<bus>_<phase>``, ``asymmetric_sgen``) of the
  data's kWp producing ``pv_scale`` × kWp; inverter 1.1 kVA per kWp. The transformer
  fairness groups are the primary buses.
- Model: the three-phase LinDistFlow in squared voltages from the source voltage
  (``operating_point="lindistflow"``), the coordinator's own formulation with its
  phase-C mutual term corrected; limits 0.95–1.05 pu.

Case A (12:00 of the coordinator's day): load × 0.432, PV × 0.786621. Case B: load ×
0.37, PV × 0.88 of its full nominal loads. ``seed`` is accepted and unused (no random
element).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandapower as pp

from feeders.attach import add_pvs
from feeders.base import Feeder
from feeders.gridappsd import read_primary
from feeders.ieee123 import create_primary
from feeders.three_phase import add_phase_loads, create_source

DATA_DIR = Path(__file__).resolve().parents[1] / "inputs" / "ieee123"
PHASE_LETTERS = "abc"


def build_case(
    case: str, load_scale: float, pv_scale: float, vm_ext_pu: float, feeder_id: str
) -> Feeder:
    """Build one of the coordinator's primary-feeder cases.

    Parameters
    ----------
    case
        ``"case_a"`` or ``"case_b"`` (the data folder).
    load_scale, pv_scale
        Multipliers of the data's loads and PV.
    vm_ext_pu
        Source voltage at bus 150, pu.
    feeder_id
        The feeder's id.
    """
    data = read_primary(DATA_DIR / case)
    net = pp.create_empty_network(name=f"{feeder_id}: IEEE 123 primary per phase", sn_mva=1.0)
    bus, line_index = create_primary(net, data, three_phase=True)
    create_source(net, bus[data.root], vm_ext_pu, "substation 150")
    loads = [(n, k) for n, b in data.buses.items() for k in range(3) if b.load_kw[k] > 0]
    households = add_phase_loads(
        net,
        [bus[n] for n, _ in loads],
        [k + 1 for _, k in loads],
        [data.buses[n].load_kw[k] for n, k in loads],
        [data.buses[n].load_kvar[k] for n, k in loads],
        load_scale,
        agent_ids=[f"load_{n}_{PHASE_LETTERS[k]}" for n, k in loads],
        groups=[f"bus_{n}" for n, _ in loads],
    )
    pvs = [(n, k) for n, b in data.buses.items() for k in range(3) if b.pv_kw[k] > 0]
    pv_agents = add_pvs(
        net,
        [bus[n] for n, _ in pvs],
        [data.buses[n].pv_kw[k] for n, k in pvs],
        pv_scale,
        agent_ids=[f"pv_{n}_{PHASE_LETTERS[k]}" for n, k in pvs],
        groups=[f"bus_{n}" for n, _ in pvs],
        phases=[k + 1 for _, k in pvs],
    )
    exact = {
        ("line", line_index[name]): np.asarray(br.z_ohm)
        for name, br in data.branches.items()
        if name in line_index
    }
    return Feeder(
        feeder_id=feeder_id,
        net=net,
        agents=households + pv_agents,
        knobs={"load_scale": load_scale, "pv_scale": pv_scale, "vm_ext_pu": vm_ext_pu},
        vm_max_pu=1.05,
        vm_min_pu=0.95,
        description=f"GridAPPS-D IEEE 123 primary per phase ({case.replace('_', ' ')})",
        three_phase=True,
        branch_z_ohm=exact,
        operating_point="lindistflow",
    )
