"""Household agent: a customer load, owner of rooftop PV and batteries."""

from __future__ import annotations

from agents.base import DecAgent


class HouseholdAgent(DecAgent):
    """A household (one pandapower ``load``); consumption positive in its rating ``p_rated_kw``."""

    agent_type = "household"
