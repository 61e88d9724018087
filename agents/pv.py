"""PV agent: a rooftop or utility-scale PV inverter (one pandapower ``sgen``)."""

from __future__ import annotations

from agents.base import DecAgent


class PVAgent(DecAgent):
    """A PV unit: kWp in ``spec.p_rated_kw``, inverter kVA in ``spec.s_rated_kva``."""

    agent_type = "pv"
