"""The Mesa model that holds a scenario's agents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import mesa

from agents.base import DecAgent
from agents.household import HouseholdAgent
from agents.pv import PVAgent
from agents.storage import BatteryAgent
from feeders.base import AgentSpec

#: Agent class of each agent type.
AGENT_CLASSES: dict[str, type[DecAgent]] = {
    "household": HouseholdAgent,
    "pv": PVAgent,
    "battery": BatteryAgent,
}


class CoordinationModel(mesa.Model):
    """A Mesa model with one agent per specification and a DataCollector.

    Parameters
    ----------
    specs
        Agent specifications (a feeder's ``agents``).
    seed
        Seed of the model's random generator ``model.rng``.
    reporters
        Agent state keys to collect each step (default: none).
    classes
        Agent class per agent type (default :data:`AGENT_CLASSES`).

    """

    def __init__(
        self,
        specs: Iterable[AgentSpec],
        seed: int | None = None,
        reporters: Iterable[str] = (),
        classes: Mapping[str, type[DecAgent]] = AGENT_CLASSES,
    ):
        super().__init__(seed=seed)
        for spec in specs:
            classes[spec.agent_type](self, spec)
        self.datacollector = mesa.DataCollector(
            agent_reporters={key: (lambda a, k=key: a.report(k)) for key in reporters}
        )

    def agents_of(self, agent_type: str) -> mesa.agent.AgentSet:
        """Return the agents of one type, in creation order."""
        return self.agents.select(lambda a: a.agent_type == agent_type)

    def by_id(self) -> dict[str, DecAgent]:
        """Return the agents by id."""
        return {a.agent_id: a for a in self.agents}
