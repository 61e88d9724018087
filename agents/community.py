"""Agents of an energy community: houses with batteries and the community agent.

The community agent broadcasts the community signal (``low-tech``: the PV output) or,
in ``mpc-distributed``, the shared import target of each ADMM round; house agents
answer with their battery schedules. The houses' numerical work runs in batches
(:mod:`dec.community.rules`, :mod:`dec.community.houseqp`); an agent holds its index
into the batch and, after a run, its applied schedule in ``state``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from agents.base import DecAgent
from agents.model import CoordinationModel


@dataclass(frozen=True)
class CommunitySpec:
    """What a community agent is (duck-types :class:`feeders.base.AgentSpec` for the model)."""

    agent_id: str
    agent_type: Literal["household", "community"]


class HouseAgent(DecAgent):
    """A household of the community, owner of (at most) one battery."""

    agent_type = "household"


class CommunityAgent(DecAgent):
    """The community: sees the community PV and sets the shared import target."""

    agent_type = "community"

    def update_target(
        self, mean_kw: np.ndarray, dual: np.ndarray, rho: float, pv_kw: np.ndarray, n_houses: int
    ) -> np.ndarray:
        """Return the new average consumption target ``z̄`` of the houses, kW per house.

        The community's share of the ADMM sharing problem: with ``a = N (x̄ + u)``,
        ``N z̄ = argmin_A  max(A - pv, 0) + ρ/(2N) (A - a)²``, in closed form::

            A = a            if a ≤ pv              (no import: nothing to gain)
            A = pv           if pv < a ≤ pv + N/ρ   (import removed entirely)
            A = a - N/ρ      otherwise              (import reduced by N/ρ)

        Parameters
        ----------
        mean_kw
            Houses' mean consumption ``x̄`` this round, kW, ``(H,)``.
        dual
            Scaled dual ``u``, ``(H,)``.
        rho
            Penalty parameter.
        pv_kw
            Community PV, kW, ``(H,)``.
        n_houses
            Number of houses N.

        """
        wanted = n_houses * (mean_kw + dual)
        shift = n_houses / rho
        target = np.where(wanted <= pv_kw, wanted, np.maximum(pv_kw, wanted - shift))
        self.state["target_kw"] = target / n_houses
        return self.state["target_kw"]


def build_community_model(member_ids: Sequence[str], seed: int | None = None) -> CoordinationModel:
    """Return a Mesa model with one house agent per member and one community agent."""
    specs = [CommunitySpec(m, "household") for m in member_ids]
    specs.append(CommunitySpec("community", "community"))
    model = CoordinationModel(
        specs, seed=seed, classes={"household": HouseAgent, "community": CommunityAgent}
    )
    for index, agent in enumerate(model.agents_of("household")):
        agent.batch_index = index
    return model
