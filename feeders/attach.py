"""Helpers that turn a pandapower net's loads and PV units into agents."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandapower as pp

from dec.conventions import kw_to_mw, mw_to_kw
from feeders.base import INVERTER_KVA_PER_KWP, AgentSpec
from feeders.three_phase import create_asymmetric, one_phase_columns

#: Power columns of pandapower's load tables: balanced and per phase.
LOAD_POWER_COLUMNS = {
    "load": ["p_mw", "q_mvar"],
    "asymmetric_load": ["p_a_mw", "p_b_mw", "p_c_mw", "q_a_mvar", "q_b_mvar", "q_c_mvar"],
}


def scale_loads(net: pp.pandapowerNet, load_scale: float) -> None:
    """Multiply every load's active and reactive power by ``load_scale`` (in place)."""
    for table, columns in LOAD_POWER_COLUMNS.items():
        if table in net and len(net[table]):
            net[table][columns] *= load_scale


def households_from_loads(
    net: pp.pandapowerNet, load_index: list[int], nominal_kw: np.ndarray, group: str | None = None
) -> list[AgentSpec]:
    """Return one household agent per load, ``h<load index>``.

    Parameters
    ----------
    net
        The net whose ``load`` rows the agents control.
    load_index
        Load indices, one agent each.
    nominal_kw
        Peak (nominal) load of each, kW.
    group
        Group label for all of them (e.g. the feeder section).

    """
    return [
        AgentSpec(
            agent_id=f"h{idx}",
            agent_type="household",
            bus=int(net.load.at[idx, "bus"]),
            element=("load", int(idx)),
            p_rated_kw=float(p_kw),
            group=group,
        )
        for idx, p_kw in zip(load_index, nominal_kw, strict=True)
    ]


def add_pvs(
    net: pp.pandapowerNet,
    buses: Sequence[int],
    kwp: Sequence[float],
    pv_scale: float,
    agent_ids: Sequence[str],
    owners: Sequence[str | None] | None = None,
    groups: Sequence[str | None] | None = None,
    phases: Sequence[int] | None = None,
) -> list[AgentSpec]:
    """Create PV units producing ``pv_scale`` × kWp and return their agent specs.

    Each inverter is rated ``INVERTER_KVA_PER_KWP`` × kWp (``sn_mva``).

    Parameters
    ----------
    net
        The net to add the units to.
    buses
        Bus of each unit.
    kwp
        Peak power of each unit, kWp.
    pv_scale
        Output as a fraction of kWp.
    agent_ids
        Agent id of each unit (also the unit's name).
    owners, groups
        Owning household and group of each unit (default None).
    phases
        None: balanced units (``sgen``). Otherwise the phase of each unit (1, 2, 3 = a, b, c;
        0 = three-phase, a third on each phase), as ``asymmetric_sgen`` for ``runpp_3ph``.
    """
    n = len(agent_ids)
    kwp = np.asarray(kwp, dtype=float)
    s_kva = INVERTER_KVA_PER_KWP * kwp
    owners = owners if owners is not None else [None] * n
    groups = groups if groups is not None else [None] * n
    if n == 0:
        return []
    if phases is None:
        table, phases = "sgen", [0] * n
        index = pp.create_sgens(
            net,
            list(buses),
            p_mw=kw_to_mw(pv_scale * kwp),
            q_mvar=0.0,
            sn_mva=kw_to_mw(s_kva),
            name=list(agent_ids),
            type="PV",
        )
    else:
        table = "asymmetric_sgen"
        columns = {
            "bus": buses,
            "name": list(agent_ids),
            "sn_mva": kw_to_mw(s_kva),
            "type": ["wye"] * n,  # runpp_3ph skips units whose type is not wye or delta
            **one_phase_columns("p", phases, kw_to_mw(pv_scale * kwp)),
        }
        index = create_asymmetric(net, table, columns)
    return [
        AgentSpec(
            agent_id=aid,
            agent_type="pv",
            bus=int(bus),
            element=(table, int(idx)),
            p_rated_kw=float(p),
            s_rated_kva=float(s),
            owner=owner,
            group=group,
            phase=int(ph),
        )
        for aid, bus, idx, p, s, owner, group, ph in zip(
            agent_ids, buses, index, kwp, s_kva, owners, groups, phases, strict=True
        )
    ]


def pv_from_sgens(
    net: pp.pandapowerNet, pv_scale: float, group: str | None = None
) -> list[AgentSpec]:
    """Treat every existing sgen as a PV agent ``pv<sgen index>`` with kWp = ``p_mw × scaling``.

    The sgen output is set to ``pv_scale`` × kWp with ``scaling`` 1 (the agents read and
    write ``p_mw`` as the unit's power) and its inverter rating to
    ``INVERTER_KVA_PER_KWP`` × kWp.
    """
    kwp = mw_to_kw(net.sgen["p_mw"].to_numpy(dtype=float) * net.sgen["scaling"].to_numpy(float))
    net.sgen["scaling"] = 1.0
    net.sgen["p_mw"] = kw_to_mw(pv_scale * kwp)
    net.sgen["q_mvar"] = 0.0
    net.sgen["sn_mva"] = kw_to_mw(INVERTER_KVA_PER_KWP * kwp)
    net.sgen["type"] = "PV"
    return [
        AgentSpec(
            agent_id=f"pv{idx}",
            agent_type="pv",
            bus=int(bus),
            element=("sgen", int(idx)),
            p_rated_kw=float(p_kw),
            s_rated_kva=float(INVERTER_KVA_PER_KWP * p_kw),
            group=group,
        )
        for idx, bus, p_kw in zip(net.sgen.index, net.sgen["bus"], kwp, strict=True)
    ]
