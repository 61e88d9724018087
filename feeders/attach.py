"""Helpers that turn a pandapower net's loads and PV units into agents."""

from __future__ import annotations

import numpy as np
import pandapower as pp

from dec.conventions import kw_to_mw, mw_to_kw
from feeders.base import INVERTER_KVA_PER_KWP, AgentSpec


def scale_loads(net: pp.pandapowerNet, load_scale: float) -> None:
    """Multiply every load's active and reactive power by ``load_scale`` (in place)."""
    net.load["p_mw"] *= load_scale
    net.load["q_mvar"] *= load_scale


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


def add_pv(
    net: pp.pandapowerNet,
    bus: int,
    kwp: float,
    pv_scale: float,
    agent_id: str,
    owner: str | None = None,
    group: str | None = None,
    name: str | None = None,
) -> AgentSpec:
    """Create a PV unit (sgen) producing ``pv_scale`` × ``kwp`` and return its agent spec.

    The inverter is rated ``INVERTER_KVA_PER_KWP`` × kWp (``sgen.sn_mva``).
    """
    s_kva = INVERTER_KVA_PER_KWP * kwp
    idx = pp.create_sgen(
        net,
        bus,
        p_mw=kw_to_mw(pv_scale * kwp),
        q_mvar=0.0,
        sn_mva=kw_to_mw(s_kva),
        name=name or agent_id,
        type="PV",
    )
    return AgentSpec(
        agent_id=agent_id,
        agent_type="pv",
        bus=int(bus),
        element=("sgen", int(idx)),
        p_rated_kw=float(kwp),
        s_rated_kva=float(s_kva),
        owner=owner,
        group=group,
    )


def pv_from_sgens(
    net: pp.pandapowerNet, pv_scale: float, group: str | None = None
) -> list[AgentSpec]:
    """Treat every existing sgen as a PV agent ``pv<sgen index>`` with kWp = its ``p_mw``.

    The sgen output is set to ``pv_scale`` × kWp and its inverter rating to
    ``INVERTER_KVA_PER_KWP`` × kWp.
    """
    specs = []
    for idx in net.sgen.index:
        kwp = float(mw_to_kw(net.sgen.at[idx, "p_mw"]))
        net.sgen.at[idx, "p_mw"] = kw_to_mw(pv_scale * kwp)
        net.sgen.at[idx, "q_mvar"] = 0.0
        net.sgen.at[idx, "sn_mva"] = kw_to_mw(INVERTER_KVA_PER_KWP * kwp)
        net.sgen.at[idx, "type"] = "PV"
        specs.append(
            AgentSpec(
                agent_id=f"pv{idx}",
                agent_type="pv",
                bus=int(net.sgen.at[idx, "bus"]),
                element=("sgen", int(idx)),
                p_rated_kw=kwp,
                s_rated_kva=INVERTER_KVA_PER_KWP * kwp,
                group=group,
            )
        )
    return specs
