"""Feeder and agent specifications shared by every feeder builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # pandapower takes seconds to import; only its type is named here
    import pandapower as pp


AgentType = Literal["household", "pv", "battery"]

#: Inverter apparent-power rating as a multiple of the PV peak power (kVA per kWp).
INVERTER_KVA_PER_KWP = 1.1

#: pandapower element tables of a balanced feeder and the columns that hold bus indices
#: (a switch's ``element`` is a bus too when its ``et`` is ``"b"``).
ELEMENT_BUS_COLUMNS = {
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "load": ("bus",),
    "sgen": ("bus",),
    "storage": ("bus",),
    "shunt": ("bus",),
    "switch": ("bus",),
}


@dataclass(frozen=True)
class AgentSpec:
    """One agent of a feeder: what it is, where it sits, what it controls and its ratings.

    Attributes
    ----------
    agent_id
        Unique id, also the stem of its output file.
    agent_type
        ``household``, ``pv`` or ``battery``.
    bus
        pandapower bus index the element is connected to.
    element
        ``(table, index)`` of the pandapower element the agent controls
        (``("load", 3)``, ``("sgen", 12)``, ``("storage", 0)``).
    p_rated_kw
        Peak load (household), peak power kWp (PV) or power rating (battery), kW.
    s_rated_kva
        Inverter apparent-power rating (PV, battery), kVA; None for households.
    e_rated_kwh
        Storage capacity (battery), kWh; None otherwise.
    owner
        Household agent id owning a rooftop PV or battery; None for utility plants.
    group
        Secondary (service transformer) or feeder section the agent belongs to.
    phase
        Phase code of the connection: 1, 2, 3 for phase a, b, c (a single-phase unit of a
        three-phase feeder); 0 for a balanced connection (every phase of its bus, or the
        positive-sequence equivalent of a balanced feeder).

    """

    agent_id: str
    agent_type: AgentType
    bus: int
    element: tuple[str, int]
    p_rated_kw: float
    s_rated_kva: float | None = None
    e_rated_kwh: float | None = None
    owner: str | None = None
    group: str | None = None
    phase: int = 0

    def to_record(self) -> dict[str, Any]:
        """Return the common fields of the agent's output records."""
        table, index = self.element
        return {
            "agent_id": self.agent_id,
            "agent_type": self.agent_type,
            "bus": int(self.bus),
            "element": {"table": table, "index": int(index)},
        }


@dataclass
class Feeder:
    """A pandapower net with the agents that act on it.

    Attributes
    ----------
    feeder_id
        Registry id or file stem.
    net
        The pandapower net at the scenario's operating point: loads at
        ``load_scale`` × nominal, PV (sgen) at ``pv_scale`` × kWp (available power).
    agents
        Agent specifications, in a deterministic order.
    knobs
        The knob values used to build it (``load_scale``, ``pv_scale``, ``seed``, ...).
    vm_max_pu, vm_min_pu
        Voltage limits of the feeder, pu.
    description
        One line for summaries.
    three_phase
        The net is modelled per phase: buses carry a ``phases`` column, lines and
        transformers sequence data, single-phase loads and PV units sit in the
        ``asymmetric_load``/``asymmetric_sgen`` tables, and the AC validation is
        pandapower's unbalanced power flow (``runpp_3ph``).
    branch_z_ohm
        Exact 3×3 phase impedance matrices (ohm) of branches by ``(table, index)``, used by
        the per-phase linear model instead of the (transposed) sequence data.
    operating_point
        Where the linear voltage model is anchored: ``"ac"`` (the AC power flow,
        re-linearised after each solve) or ``"lindistflow"`` (the lossless LinDistFlow
        from the source voltage, with the limits in squared voltages: the model of the
        GridAPPS-D coordinator's own cases).
    source
        The file the net was read from (a user's pandapower JSON net), named in the messages
        about the net's data that a mode checks itself; None for a registered feeder.

    """

    feeder_id: str
    net: pp.pandapowerNet
    agents: list[AgentSpec]
    knobs: dict[str, Any] = field(default_factory=dict)
    vm_max_pu: float = 1.05
    vm_min_pu: float = 0.95
    description: str = ""
    three_phase: bool = False
    branch_z_ohm: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    operating_point: Literal["ac", "lindistflow"] = "ac"
    source: str | None = None

    def agents_of_type(self, agent_type: AgentType) -> list[AgentSpec]:
        """Return the agents of one type, in feeder order."""
        return [a for a in self.agents if a.agent_type == agent_type]
