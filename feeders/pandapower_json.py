"""Any radial pandapower net stored as JSON: in-service loads become households, sgens PV agents."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import networkx as nx
import numpy as np
import pandapower as pp
import pandapower.topology as top
import pandas as pd

from dec.conventions import SOURCE_VM_PU_RANGE
from dec.errors import InputError
from dec.validation import (
    Problems,
    clip,
    is_finite_number,
    is_number,
    known,
    non_negative,
    numbers,
    positive,
    shown,
    within,
)
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
#: Columns that hold a flag: pandapower reads them as booleans (an integer column of a
#: bus's ``in_service`` gives wrong voltages, a column of text crashes or counts ``'no'`` as
#: true), so each value must be true or false.
FLAG_COLUMNS = {
    table: ("in_service",) for table, columns in NET_COLUMNS.items() if "in_service" in columns
} | {"switch": ("closed",)}
#: The load model of pandapower's power flow: the shares of each load's power that are
#: constant impedance and constant current, % (the rest is constant power). Each pair
#: must add up to at most 100 %, as pandapower checks for every row, in service or not.
LOAD_MODEL_PAIRS = (
    ("const_z_p_percent", "const_i_p_percent"),
    ("const_z_q_percent", "const_i_q_percent"),
)
#: Limits of a no-load current, % of the rated current.
I0_PERCENT_RANGE = (0.0, 100.0)
#: The start of every message about a file that is not a net, what pandapower.to_json writes.
NOT_A_NET = "The file is not a pandapower JSON net"
WRITE_ONE = "Write one with pandapower.to_json(net, path)."
#: What a JSON value is called in messages, by the Python type json.loads gives it.
JSON_KINDS = {
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}
Rule = Callable[[dict, str, str], list[str]]


def _percent_of_rated_current(values: dict, field: str, kind: str) -> list[str]:
    """Every value is a finite number in :data:`I0_PERCENT_RANGE`."""
    return within(values, field, kind, *I0_PERCENT_RANGE)


def _derating(values: dict, field: str, kind: str) -> list[str]:
    """Every value is NaN or a finite number above zero.

    pandapower's power flow raises for a transformer's ``df`` of zero or less (in service or
    not); with NaN it runs (a rating that curtail and inspect do not use; p2p refuses it).
    """
    given = {key: v for key, v in values.items() if not (is_number(v) and math.isnan(v))}
    return positive(given, field, kind)


#: Electrical data that pandapower's power flow reads, and the rule each value meets:
#: voltages, ratings, lengths and reactances above zero, resistances, conductances,
#: capacitances and losses zero or more, powers and angles finite. pandapower reads these
#: columns for every row, in service or not (an element out of service enters its arithmetic
#: times zero, and NaN times zero is NaN), except :data:`IN_SERVICE_ONLY`. A column the net
#: does not have is not checked (a missing standard column is refused earlier).
ELECTRICAL_RULES: dict[str, dict[str, Rule]] = {
    "line": {
        "length_km": positive,
        "r_ohm_per_km": non_negative,
        "x_ohm_per_km": positive,  # the power flow's initialisation divides by it
        "c_nf_per_km": non_negative,
        "g_us_per_km": non_negative,
        "parallel": positive,
    },
    "trafo": {
        "sn_mva": positive,
        "vn_hv_kv": positive,
        "vn_lv_kv": positive,
        "vk_percent": positive,
        "vkr_percent": non_negative,
        "pfe_kw": non_negative,
        "i0_percent": _percent_of_rated_current,
        "shift_degree": numbers,
        "parallel": positive,
        "df": _derating,
    },
    "sgen": {"q_mvar": numbers},  # read out of service too; dec sets it to 0 in service
    "shunt": {"p_mw": numbers, "q_mvar": numbers, "vn_kv": positive, "step": non_negative},
    "storage": {"p_mw": numbers, "q_mvar": numbers, "scaling": non_negative},
    "asymmetric_load": {
        f"{x}_{phase}_{unit}": numbers
        for x, unit in (("p", "mw"), ("q", "mvar"))
        for phase in "abc"
    },
    "asymmetric_sgen": {
        f"{x}_{phase}_{unit}": numbers
        for x, unit in (("p", "mw"), ("q", "mvar"))
        for phase in "abc"
    },
}
#: Columns of :data:`ELECTRICAL_RULES` that pandapower reads for the elements in service
#: only (it leaves a line out of service out of its model, but divides by its ``parallel``).
IN_SERVICE_ONLY = {
    "line": ("length_km", "r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km", "g_us_per_km"),
}


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


def _valued(pairs: list[tuple]) -> str:
    """List ``(index, value)`` pairs as ``index (value)``, the first :data:`MAX_LISTED`."""
    more = len(pairs) - MAX_LISTED
    listed = ", ".join(
        f"{clip(str(index))} ({shown(value)})" for index, value in pairs[:MAX_LISTED]
    )
    return listed + (f" and {more} more" if more > 0 else "")


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _index_problems(table: str, frame: pd.DataFrame) -> list[str]:
    """Check that a table's index holds integers (pandapower's own element indices)."""
    if pd.api.types.is_integer_dtype(frame.index.dtype):
        return []
    bad = [index for index in frame.index if not _is_integer(index)]
    if not bad:
        return []
    which = "an index that is not an integer" if len(bad) == 1 else "indices that are not integers"
    return [
        f"Table '{table}' has {which}: "
        f"{_listing([clip(i) if isinstance(i, str) else i for i in bad])}; other tables, "
        "pandapower's power flow and dec's agents (named after the index, e.g. pv<index>) refer "
        "to rows by integer indices, as pandapower's create functions give them."
    ]


def _table_problems(net: pp.pandapowerNet) -> list[str]:
    """Every table of :data:`NET_COLUMNS` has a unique integer index and the columns listed."""
    problems = []
    for table, columns in NET_COLUMNS.items():
        frame = net[table] if table in net else None
        if frame is None:
            if table in ("bus", "ext_grid"):
                problems.append(f"The net has no table '{table}'; it is required.")
            continue
        problems += _index_problems(table, frame)
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


def _flag_problems(net: pp.pandapowerNet) -> list[str]:
    """Every value of the :data:`FLAG_COLUMNS` is true or false (a JSON boolean)."""
    problems = []
    for table, columns in FLAG_COLUMNS.items():
        if table not in net:
            continue
        for column in columns:
            values = net[table][column]
            if values.dtype == bool:
                continue
            bad = [(i, v) for i, v in values.items() if not isinstance(v, (bool, np.bool_))]
            if bad:
                problems.append(
                    f"Field '{column}' of {table} {_valued(bad)} is not true or false; pandapower "
                    "reads it as a boolean (true or false in the file), and misreads text or "
                    "numbers (the text 'no' counts as true)."
                )
    return problems


def _as_flags(net: pp.pandapowerNet) -> None:
    """Give the :data:`FLAG_COLUMNS`, checked to hold only booleans, the bool dtype."""
    for table, columns in FLAG_COLUMNS.items():
        if table in net:
            for column in columns:
                net[table][column] = net[table][column].astype(bool)


def _in_service(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["in_service"].astype(bool)]


def _load_model_problems(net: pp.pandapowerNet) -> list[str]:
    """Check the constant-impedance and constant-current shares of every load.

    Each share is in [0, 100] and each pair of :data:`LOAD_MODEL_PAIRS` adds up to at most
    100, as pandapower's power flow requires (it raises otherwise).
    """
    problems = []
    for z, i in LOAD_MODEL_PAIRS:
        shares = [
            within(dict(net.load[column].items()), column, "load", 0, 100) for column in (z, i)
        ]
        problems += shares[0] + shares[1]
        if shares[0] or shares[1]:
            continue  # the sum of values outside [0, 100] says nothing more
        over = [
            (index, f"{shown(float(a))} + {shown(float(b))}")
            for index, a, b in zip(net.load.index, net.load[z], net.load[i], strict=True)
            if a + b > 100
        ]
        if over:
            listed = ", ".join(f"{index} ({total})" for index, total in over[:MAX_LISTED])
            more = len(over) - MAX_LISTED
            problems.append(
                f"Fields '{z}' and '{i}' add up to more than 100 for load {listed}"
                f"{f' and {more} more' if more > 0 else ''}; they are the shares of a load's "
                "power that are constant impedance and constant current, % of it (the rest is "
                "constant power)."
            )
    return problems


def _electrical_problems(net: pp.pandapowerNet) -> list[str]:
    """Check the data that the power flow reads, of every element or of those in service.

    The rules of :data:`ELECTRICAL_RULES` (for the elements in service only in the columns
    of :data:`IN_SERVICE_ONLY`), and a transformer's reactance (``vk_percent`` above
    ``vkr_percent``).
    """
    problems = []
    for table, rules in ELECTRICAL_RULES.items():
        if table not in net or not len(net[table]):
            continue
        every, in_service = net[table], _in_service(net[table])
        for column, rule in rules.items():
            rows = in_service if column in IN_SERVICE_ONLY.get(table, ()) else every
            if column in rows.columns:
                problems += rule(dict(rows[column].items()), column, table)
    no_reactance = [
        index
        for index, vk, vkr in zip(
            net.trafo.index, net.trafo["vk_percent"], net.trafo["vkr_percent"], strict=True
        )
        if is_finite_number(vk) and is_finite_number(vkr) and 0 < vk <= vkr
    ]
    if no_reactance:
        problems.append(
            "Field 'vk_percent' must exceed 'vkr_percent' (the transformer needs a reactance) "
            f"for trafo {', '.join(map(str, no_reactance[:MAX_LISTED]))}."
        )
    return problems


def _element_problems(net: pp.pandapowerNet) -> list[str]:
    """Bus references of every element, the source, the loads' model and the electrical data."""
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
    return problems + _load_model_problems(net) + _electrical_problems(net)


def _is_net_document(data: object) -> bool:
    """Return True for what pandapower.to_json writes (or its older format, tables at the top).

    pandapower.to_json writes ``{"_module": ..., "_class": "pandapowerNet", "_object":
    {"bus": ..., ...}}``.
    """
    if not isinstance(data, dict):
        return False
    tables = data.get("_object") if data.get("_class") == "pandapowerNet" else data
    return isinstance(tables, dict) and "bus" in tables


def read_net(path: Path) -> pp.pandapowerNet:
    """Read a pandapower net from a JSON file.

    Raises
    ------
    InputError
        Naming the file, if it cannot be read, is not JSON, or holds JSON that is not a
        pandapower net (a list, a number, an object without pandapower's net marker, ...).

    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except UnicodeDecodeError:
        raise InputError("The file is not UTF-8 text.", str(path)) from None
    except OSError as err:
        raise InputError(f"The file cannot be read ({err.strerror or err}).", str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(
            f"{NOT_A_NET}: it is not valid JSON (line {err.lineno}, column {err.colno}: "
            f"{err.msg}). " + WRITE_ONE,
            str(path),
        ) from None
    except (ValueError, RecursionError) as err:  # e.g. a number of more digits than Python reads
        problem = "its values nest too deeply" if isinstance(err, RecursionError) else str(err)
        raise InputError(
            f"{NOT_A_NET}: it cannot be read as JSON ({clip(problem)}). " + WRITE_ONE, str(path)
        ) from None
    if not _is_net_document(data):
        kind = "null" if data is None else JSON_KINDS.get(type(data), "an object without them")
        raise InputError(
            f'{NOT_A_NET}: pandapower.to_json writes an object with "_class": "pandapowerNet" '
            f'and the net\'s tables ("bus", ...) in "_object", and the file holds {kind}. '
            + WRITE_ONE,
            str(path),
        )
    try:
        net = pp.from_json_string(text, convert=True)
    except Exception as err:  # pandapower raises many types for a damaged net
        raise InputError(
            f"{NOT_A_NET}: pandapower cannot read it ({clip(str(err))}). " + WRITE_ONE,
            str(path),
        ) from None
    if not isinstance(net, pp.pandapowerNet):
        raise InputError(
            f"{NOT_A_NET}: pandapower reads it as {type(net).__name__}. " + WRITE_ONE,
            str(path),
        )
    return net


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
    net = read_net(path)
    problems = Problems(str(path))
    problems.extend(_table_problems(net))
    problems.raise_if_any()  # the checks below read these columns by these indices
    if len(net.bus) == 0 or len(net.ext_grid) == 0:
        raise InputError(
            "The net has no buses or no ext_grid (slack); both are required.", str(path)
        )
    problems.extend(_flag_problems(net))
    problems.extend(_element_problems(net))
    problems.extend(non_negative(dict(net.sgen["p_mw"].items()), "p_mw", "sgen (PV rating)"))
    problems.extend(non_negative(dict(net.sgen["scaling"].items()), "scaling", "sgen"))
    problems.extend(non_negative(dict(net.load["p_mw"].items()), "p_mw", "load (household peak)"))
    problems.extend(numbers(dict(net.load["q_mvar"].items()), "q_mvar", "load"))
    problems.extend(non_negative(dict(net.load["scaling"].items()), "scaling", "load"))
    problems.raise_if_any()
    _as_flags(net)

    return Feeder(
        feeder_id=Path(path).stem,
        net=net,
        agents=_grouped(net, agents_from_elements(net, load_scale, pv_scale)),
        knobs={"load_scale": load_scale, "pv_scale": pv_scale, "seed": seed},
        description=f"pandapower net from {Path(path).name}",
        source=str(path),
    )
