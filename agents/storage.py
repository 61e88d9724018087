"""Battery agent: a storage unit (one pandapower ``storage``) behind a household or alone."""

from __future__ import annotations

from agents.base import DecAgent


class BatteryAgent(DecAgent):
    """A battery: power rating ``spec.p_rated_kw``, capacity ``spec.e_rated_kwh``."""

    agent_type = "battery"
