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

#: The tables of a net that dec or pandapower's power flow reads, and the columns of each that
#: must be there (pandapower.to_json writes every standard column; these are the ones whose
#: absence breaks a run). Each table's index must be unique: the agents and the radial tree
#: address rows by it.
NET_COLUMNS = {
    "bus": ("name", "vn_kv", "in_service"),
    "ext_grid": ("bus", "vm_pu", "va_degree", "slack_weight", "in_service"),
    "line": (
        "from_bus", "to_bus", "length_km", "r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km",
        "g_us_per_km", "max_i_ka", "df", "parallel", "in_service",
    ),
    "trafo": (
        "hv_bus", "lv_bus", "sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent",
        "pfe_kw", "i0_percent", "shift_degree", "parallel", "df", "in_service",
    ),
    "load": (
        "bus", "p_mw", "q_mvar", "const_z_p_percent", "const_i_p_percent",
        "const_z_q_percent", "const_i_q_percent", "scaling", "in_service",
    ),
    "sgen": ("bus", "p_mw", "scaling", "in_service"),
    "storage": ("bus", "p_mw", "q_mvar", "scaling", "in_service"),
    "shunt": ("bus", "p_mw", "q_mvar", "vn_kv", "step", "in_service"),
    "switch": ("bus", "element", "et", "closed", "z_ohm"),
    "asymmetric_load": ("bus", "in_service"),
    "asymmetric_sgen": ("bus", "in_service"),
    "gen": ("in_service",),
    "trafo3w": ("in_service",),
    "impedance": ("in_service",),
}  # fmt: skip
#: Values (duplicated indices, missing columns) named in one message.
MAX_LISTED = 5


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


def _listing(items: list) -> str:
    more = len(items) - MAX_LISTED
    shown = ", ".join(f"'{item}'" if isinstance(item, str) else str(item)
                      for item in items[:MAX_LISTED])  # fmt: skip
    return shown + (f" and {more} more" if more > 0 else "")


def _table_problems(net: pp.pandapowerNet) -> list[str]:
    """Every table of :data:`NET_COLUMNS` has a unique index and the columns listed there."""
    problems = []
    for table, columns in NET_COLUMNS.items():
        frame = net[table] if table in net else None
        if frame is None:
            if table in ("bus", "ext_grid"):
                problems.append(f"The net has no table '{table}'; it is required.")
            continue
        repeated = frame.index[frame.index.duplicated()].unique().tolist()
        if repeated:
            indices = "the index" if len(repeated) == 1 else "the indices"
            problems.append(
                f"Table '{table}' gives {indices} {_listing(repeated)} to more than one row; "
                "each row needs its own index (other tables and dec's agents refer to rows by it)."
            )
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            which = "column" if len(missing) == 1 else "columns"
            problems.append(
                f"Table '{table}' has no {which} {_listing(missing)}, which dec or pandapower's "
                "power flow reads; write the net with pandapower.to_json, which keeps every "
                "standard column."
            )
    return problems


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
    problems = Problems(str(path))
    problems.extend(_table_problems(net))
    problems.raise_if_any()  # the checks below read these columns by these indices
    if len(net.bus) == 0 or len(net.ext_grid) == 0:
        raise InputError(
            "The net has no buses or no ext_grid (slack); both are required.", str(path)
        )
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
