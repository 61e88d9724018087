"""Copies of a feeder on one source bus: a large feeder with a known answer, for scale studies.

The copies share the ext_grid bus, whose voltage is fixed, so no copy sees another: the
power flow of every copy equals that of the feeder alone, and so does every per-copy
result of a mode (the α of ``feeder`` fairness, each copy's curtailment). K copies of
ieee123 give K × 1,265 agents.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandapower as pp
import pandas as pd

from dec.errors import InputError
from feeders.base import ELEMENT_BUS_COLUMNS, AgentSpec, Feeder

#: Tables copied, with the columns that hold buses (only bus-bus switches are copied).
BUS_COLUMNS = {"bus": (), **ELEMENT_BUS_COLUMNS, "switch": ("bus", "element")}


def _check(feeder: Feeder, copies: int) -> None:
    net = feeder.net
    if copies < 1:
        raise InputError(f"The number of copies must be 1 or more, got {copies}.")
    if feeder.three_phase or feeder.branch_z_ohm or len(net.ext_grid) != 1:
        raise InputError(
            "Only balanced feeders with one ext_grid and pandapower line data can be copied."
        )
    if (net.switch["et"] != "b").any():
        raise InputError("Only bus-bus switches can be copied.")
    other = [
        table
        for table in ("trafo3w", "impedance", "gen", "ward", "xward", "dcline")
        if table in net and len(net[table])
    ]
    if other:
        raise InputError(f"Tables {', '.join(other)} cannot be copied.")


def replicate(feeder: Feeder, copies: int) -> Feeder:
    """Return ``copies`` copies of a balanced feeder hanging from its source bus.

    Copy ``c`` (from 0) keeps the feeder's element indices plus ``c`` × (largest index + 1)
    of each table, and its agents' ids get the suffix ``_c`` (copy 0 included, so ids of
    different copies never collide). Knobs, limits and the description are the feeder's.

    Raises
    ------
    InputError
        For fewer than one copy, a three-phase feeder, line or transformer switches, or
        element tables the copies do not carry.
    """
    _check(feeder, copies)
    net = feeder.net
    source = int(net.ext_grid["bus"].iloc[0])
    offset = {
        table: int(net[table].index.max()) + 1 if len(net[table]) else 0 for table in BUS_COLUMNS
    }
    big = pp.create_empty_network(sn_mva=net.sn_mva, f_hz=net.f_hz)
    for table, columns in BUS_COLUMNS.items():
        parts = []
        for c in range(copies):
            part = net[table].drop(index=source) if table == "bus" and c else net[table].copy()
            part.index = part.index + c * offset[table]
            for column in columns:
                bus = part[column].to_numpy()
                part[column] = np.where(bus == source, source, bus + c * offset["bus"])
            parts.append(part)
        big[table] = pd.concat(parts)
    big.ext_grid = net.ext_grid.copy()

    def copied(spec: AgentSpec, c: int) -> AgentSpec:
        table, index = spec.element
        return replace(
            spec,
            agent_id=f"{spec.agent_id}_{c}",
            bus=spec.bus if spec.bus == source else spec.bus + c * offset["bus"],
            element=(table, index + c * offset[table]),
            owner=spec.owner and f"{spec.owner}_{c}",
            group=spec.group and f"{spec.group}_{c}",
        )

    return replace(
        feeder,
        feeder_id=f"{feeder.feeder_id}x{copies}",
        net=big,
        agents=[copied(spec, c) for c in range(copies) for spec in feeder.agents],
    )
