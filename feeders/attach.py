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


def inverter_kva(kwp: np.ndarray, pv_scale: float) -> np.ndarray:
    """Inverter rating of PV units of ``kwp`` producing ``pv_scale`` × kWp, kVA.

    ``INVERTER_KVA_PER_KWP`` × kWp, times ``pv_scale`` where it exceeds 1: an output above
    the nominal kWp stands for more PV installed, with inverters grown to match, so a
    rating always covers ``INVERTER_KVA_PER_KWP`` × the output.

    Parameters
    ----------
    kwp
        Nominal peak power of each unit, kWp.
    pv_scale
        Output as a fraction of kWp.
    """
    return INVERTER_KVA_PER_KWP * np.asarray(kwp, dtype=float) * max(1.0, pv_scale)


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

    Each inverter is rated :func:`inverter_kva` (``sn_mva``).

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
    s_kva = inverter_kva(kwp, pv_scale)
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
    """Treat every in-service sgen as a PV agent ``pv<sgen index>`` with kWp = ``p_mw × scaling``.

    Each unit's output is set to ``pv_scale`` × kWp with ``scaling`` 1 (the agents read and
    write ``p_mw`` as the unit's power) at unity power factor (``q_mvar`` 0: the
    controller decides the reactive power) and its inverter rating to :func:`inverter_kva`.
    Out-of-service sgens are left as they are.
    """
    rows = net.sgen.index[net.sgen["in_service"].astype(bool)]
    sgen = net.sgen.loc[rows]
    kwp = mw_to_kw(sgen["p_mw"].to_numpy(dtype=float) * sgen["scaling"].to_numpy(dtype=float))
    s_kva = inverter_kva(kwp, pv_scale)
    net.sgen.loc[rows, "scaling"] = 1.0
    net.sgen.loc[rows, "p_mw"] = kw_to_mw(pv_scale * kwp)
    net.sgen.loc[rows, "q_mvar"] = 0.0
    net.sgen.loc[rows, "sn_mva"] = kw_to_mw(s_kva)
    net.sgen.loc[rows, "type"] = "PV"
    return [
        AgentSpec(
            agent_id=f"pv{idx}",
            agent_type="pv",
            bus=int(bus),
            element=("sgen", int(idx)),
            p_rated_kw=float(p_kw),
            s_rated_kva=float(s),
            group=group,
        )
        for idx, bus, p_kw, s in zip(rows, sgen["bus"], kwp, s_kva, strict=True)
    ]


def agents_from_elements(
    net: pp.pandapowerNet, load_scale: float, pv_scale: float, group: str | None = None
) -> list[AgentSpec]:
    """Scale a net's loads and return its in-service loads as households and sgens as PV.

    Parameters
    ----------
    net
        The net; its in-service loads are set to ``load_scale`` × nominal (the households'
        peak; nominal is ``p_mw`` × ``scaling``, and ``scaling`` becomes 1 so that the
        modes can write a load's ``p_mw`` as its power) and its sgens as
        :func:`pv_from_sgens` describes.
    load_scale
        Multiplier of the nominal loads.
    pv_scale
        PV output as a fraction of kWp.
    group
        Group label of all the agents.
    """
    rows = net.load.index[net.load["in_service"].astype(bool)]
    scaling = net.load.loc[rows, "scaling"].to_numpy(dtype=float)
    net.load.loc[rows, "p_mw"] = net.load.loc[rows, "p_mw"].to_numpy(dtype=float) * scaling
    net.load.loc[rows, "q_mvar"] = net.load.loc[rows, "q_mvar"].to_numpy(dtype=float) * scaling
    net.load.loc[rows, "scaling"] = 1.0
    loads = net.load.loc[rows]
    nominal_kw = mw_to_kw(loads["p_mw"].to_numpy(dtype=float))
    scale_loads(net, load_scale)
    households = households_from_loads(net, loads.index.tolist(), nominal_kw, group)
    return households + pv_from_sgens(net, pv_scale, group)
