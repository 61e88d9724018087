"""Any radial pandapower net stored as JSON: in-service loads become households, sgens PV agents."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import networkx as nx
import pandapower as pp
import pandapower.topology as top

from dec.conventions import SOURCE_VM_PU_RANGE
from dec.errors import InputError
from dec.validation import Problems, known, non_negative, numbers, positive, within
from feeders.attach import agents_from_elements
from feeders.base import ELEMENT_BUS_COLUMNS, AgentSpec, Feeder

DEFAULTS = {"load_scale": 1.0, "pv_scale": 1.0, "seed": 0}


def transformer_groups(net: pp.pandapowerNet) -> dict[int, str]:
    """Return the group of every bus: the transformer that feeds it, or ``source``.

    With the transformers left out, the net falls into parts; a part fed by a
    transformer's low-voltage side is that transformer's (``trafo_<index>``, the rule of
    the ``transformer`` fairness scheme), the part of the ext_grid is ``source``.
    """
    graph = top.create_nxgraph(net, include_trafos=False, respect_switches=True)
    trafos = net.trafo[net.trafo["in_service"].astype(bool)]
    feeding = {int(bus): f"trafo_{index}" for index, bus in trafos["lv_bus"].items()}
    slack = set(net.ext_grid.loc[net.ext_grid["in_service"].astype(bool), "bus"].astype(int))
    groups = {}
    for part in nx.connected_components(graph):
        names = sorted({feeding[b] for b in part if b in feeding})
        label = "source" if part & slack else (names[0] if names else "source")
        groups.update(dict.fromkeys((int(b) for b in part), label))
    return groups


def _grouped(net: pp.pandapowerNet, agents: list[AgentSpec]) -> list[AgentSpec]:
    """Return the agents with their transformer's group (:func:`transformer_groups`)."""
    groups = transformer_groups(net)
    return [replace(a, group=groups.get(a.bus, "source")) for a in agents]


def _element_problems(net: pp.pandapowerNet) -> list[str]:
    """Bus references of every element and the data of the branches in service."""
    buses = set(net.bus.index)
    problems = positive(dict(net.bus["vn_kv"].items()), "vn_kv", "bus")
    for table, columns in ELEMENT_BUS_COLUMNS.items():
        for column in columns:
            problems += known(dict(net[table][column].items()), column, table, buses)
    bus_switches = net.switch[net.switch["et"] == "b"]
    problems += known(dict(bus_switches["element"].items()), "element", "bus-bus switch", buses)
    source = dict(net.ext_grid["vm_pu"].items())
    problems += within(source, "vm_pu", "ext_grid", *SOURCE_VM_PU_RANGE)
    problems += numbers(dict(net.ext_grid["va_degree"].items()), "va_degree", "ext_grid")
    lines = net.line[net.line["in_service"].astype(bool)]
    # a branch needs a reactance: the power flow's initialisation divides by it
    for column in ("length_km", "parallel", "x_ohm_per_km"):
        problems += positive(dict(lines[column].items()), column, "line")
    problems += non_negative(dict(lines["r_ohm_per_km"].items()), "r_ohm_per_km", "line")
    trafos = net.trafo[net.trafo["in_service"].astype(bool)]
    for column in ("sn_mva", "vk_percent", "parallel"):
        problems += positive(dict(trafos[column].items()), column, "trafo")
    problems += non_negative(dict(trafos["vkr_percent"].items()), "vkr_percent", "trafo")
    no_reactance = trafos[trafos["vkr_percent"] >= trafos["vk_percent"]]
    if len(no_reactance):
        problems.append(
            "Field 'vk_percent' must exceed 'vkr_percent' (the transformer needs a reactance) "
            f"for trafo {', '.join(map(str, no_reactance.index[:5]))}."
        )
    return problems


def build(path: Path, load_scale: float, pv_scale: float, seed: int) -> Feeder:
    """Read a pandapower JSON net and attach household and PV agents.

    Parameters
    ----------
    path
        The JSON file (``pandapower.to_json``).
    load_scale, pv_scale
        Multipliers of the loads and of the sgens' rated ``p_mw``.
    seed
        Unused; kept for a uniform interface.

    """
    try:
        net = pp.from_json(str(path))
    except Exception as err:  # pandapower raises many types for a bad file
        raise InputError(
            f"The file is not a pandapower JSON net ({type(err).__name__}: {err}). "
            "Write one with pandapower.to_json(net, path).",
            str(path),
        ) from None
    if len(net.bus) == 0 or len(net.ext_grid) == 0:
        raise InputError(
            "The net has no buses or no ext_grid (slack); both are required.", str(path)
        )
    problems = Problems(str(path))
    problems.extend(_element_problems(net))
    problems.extend(non_negative(dict(net.sgen["p_mw"].items()), "p_mw", "sgen (PV rating)"))
    problems.extend(non_negative(dict(net.sgen["scaling"].items()), "scaling", "sgen"))
    problems.extend(non_negative(dict(net.load["p_mw"].items()), "p_mw", "load (household peak)"))
    problems.extend(numbers(dict(net.load["q_mvar"].items()), "q_mvar", "load"))
    problems.extend(non_negative(dict(net.load["scaling"].items()), "scaling", "load"))
    problems.raise_if_any()

    return Feeder(
        feeder_id=Path(path).stem,
        net=net,
        agents=_grouped(net, agents_from_elements(net, load_scale, pv_scale)),
        knobs={"load_scale": load_scale, "pv_scale": pv_scale, "seed": seed},
        description=f"pandapower net from {Path(path).name}",
    )
