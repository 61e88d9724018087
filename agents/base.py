"""The base agent: a Mesa agent with a specification and a record of its decisions."""

from __future__ import annotations

from typing import Any, ClassVar

import mesa

from feeders.base import AgentSpec


class DecAgent(mesa.Agent):
    """A dec agent.

    Parameters
    ----------
    model
        The :class:`~agents.model.CoordinationModel` holding the agent.
    spec
        What the agent is, where it sits and its ratings.

    Attributes
    ----------
    spec
        The agent's specification.
    state
        The agent's latest decisions and measurements (kW, kvar, pu), filled by
        the problem that runs it and read by the DataCollector.
    batch_index
        Position of the agent in its type's batch arrays, set by the problem.

    """

    agent_type: ClassVar[str] = ""

    def __init__(self, model: mesa.Model, spec: AgentSpec):
        super().__init__(model)
        self.spec = spec
        self.state: dict[str, Any] = {}
        self.batch_index: int | None = None

    @property
    def agent_id(self) -> str:
        """The agent's id (from its spec)."""
        return self.spec.agent_id

    def report(self, key: str) -> Any:
        """Return one entry of the agent's state (None if not set), for the DataCollector."""
        return self.state.get(key)
