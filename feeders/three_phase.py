"""Building blocks of three-phase (per-phase) pandapower nets for ``runpp_3ph``.

pandapower's unbalanced power flow needs short-circuit data at the external grid,
zero-sequence data of lines and transformers, and single-phase units in the
``asymmetric_load``/``asymmetric_sgen`` tables (it ignores the balanced ``sgen`` table).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandapower as pp
import pandas as pd

from dec.conventions import kw_to_mw
from feeders.base import AgentSpec

#: A stiff source: the substation holds its voltage on every phase.
SOURCE_SHORT_CIRCUIT = {"s_sc_max_mva": 1e5, "rx_max": 0.1, "x0x_max": 1.0, "r0x0_max": 0.1}
#: Zero-sequence data of a bank of single-phase transformers (grounded wye on both sides):
#: the same leakage impedance in every sequence and no magnetising path.
YNYN_BANK = {"vector_group": "YNyn", "mag0_percent": 1e6, "mag0_rx": 0.0, "si0_hv_partial": 0.5}


def create_source(net: pp.pandapowerNet, bus: int, vm_pu: float, name: str) -> int:
    """Create the external grid of a three-phase net (stiff on every phase)."""
    return pp.create_ext_grid(net, bus, vm_pu=vm_pu, name=name, **SOURCE_SHORT_CIRCUIT)


def one_phase_columns(prefix: str, phase: np.ndarray, value: np.ndarray) -> dict[str, np.ndarray]:
    """Columns ``{prefix}_a_…`` to ``{prefix}_c_…`` holding ``value`` on each unit's phase only.

    ``prefix`` is ``"p"`` (MW) or ``"q"`` (Mvar); phase 1, 2, 3 = a, b, c; phase 0 shares the
    value equally among the three phases.
    """
    unit = "mw" if prefix == "p" else "mvar"
    phase = np.asarray(phase, dtype=int)
    value = np.asarray(value, dtype=float)
    out = {}
    for k, letter in enumerate("abc", start=1):
        share = np.where(phase == k, 1.0, np.where(phase == 0, 1.0 / 3.0, 0.0))
        out[f"{prefix}_{letter}_{unit}"] = value * share
    return out


def create_asymmetric(
    net: pp.pandapowerNet, table: str, columns: dict[str, Sequence]
) -> np.ndarray:
    """Append one row per unit to an ``asymmetric_load``/``asymmetric_sgen`` table at once.

    pandapower creates these elements one at a time (milliseconds each); here one is created
    through pandapower (it sets every column's default and dtype) and replicated.
    """
    n = len(columns["bus"])
    create = pp.create_asymmetric_load if table == "asymmetric_load" else pp.create_asymmetric_sgen
    first = create(net, int(columns["bus"][0]))
    template = net[table].loc[[first]]
    rows = pd.DataFrame(
        np.repeat(template.to_numpy(), n, axis=0),
        columns=template.columns,
        index=first + np.arange(n),
    ).astype(template.dtypes.to_dict())
    for column, values in columns.items():
        rows[column] = np.asarray(values).astype(template.dtypes[column])
    net[table] = pd.concat([net[table].drop(index=first), rows])
    return rows.index.to_numpy()


def add_phase_loads(
    net: pp.pandapowerNet,
    buses: Sequence[int],
    phases: Sequence[int],
    p_kw: Sequence[float],
    q_kvar: Sequence[float],
    load_scale: float,
    agent_ids: Sequence[str],
    groups: Sequence[str | None] | None = None,
) -> list[AgentSpec]:
    """Create loads as ``asymmetric_load`` on their phase and return household agent specs.

    Each load draws ``load_scale`` × its nominal ``p_kw``/``q_kvar`` (the agent's peak).
    """
    n = len(agent_ids)
    groups = groups if groups is not None else [None] * n
    index = create_asymmetric(
        net,
        "asymmetric_load",
        {
            "bus": buses,
            "name": list(agent_ids),
            **one_phase_columns("p", phases, kw_to_mw(load_scale * np.asarray(p_kw, float))),
            **one_phase_columns("q", phases, kw_to_mw(load_scale * np.asarray(q_kvar, float))),
        },
    )
    return [
        AgentSpec(
            agent_id=aid,
            agent_type="household",
            bus=int(bus),
            element=("asymmetric_load", int(idx)),
            p_rated_kw=float(p),
            group=group,
            phase=int(ph),
        )
        for aid, bus, idx, p, ph, group in zip(
            agent_ids, buses, index, p_kw, phases, groups, strict=True
        )
    ]
