"""Coordinator agent: holds the network model and enforces the network constraints.

In fair curtailment it receives the PV agents' proposals (curtailment fraction plus
scaled dual, per agent), averages them per fairness group, and projects them onto
the voltage limits of the linear network model
(:class:`dec.network.projection.VoltageProjection`); it never sees the agents' costs.
"""

from __future__ import annotations

import mesa
import numpy as np

from dec.network.projection import BlockProjection, VoltageProjection


class CoordinatorAgent(mesa.Agent):
    """The network coordinator of a feeder.

    Parameters
    ----------
    model
        The Mesa model.
    agent_id
        Its id.

    Attributes
    ----------
    projection
        The exact projection onto the voltage limits, set by the problem for each linearisation
        (its active set warm-starts the next round).
    """

    agent_type = "coordinator"

    def __init__(self, model: mesa.Model, agent_id: str = "coordinator"):
        super().__init__(model)
        self.agent_id = agent_id
        self.projection: VoltageProjection | BlockProjection | None = None
        self.state: dict = {}

    def report(self, key: str):
        """Return one entry of the coordinator's state (None if not set)."""
        return self.state.get(key)

    def curtail_update(
        self,
        group: np.ndarray,
        weight: np.ndarray,
        proposal_a: np.ndarray,
        proposal_b: np.ndarray | None,
        n_groups: int,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Average the agents' curtailment proposals per group and project onto the voltage limits.

        Parameters
        ----------
        group
            Fairness group (coordinator variable) of each agent.
        weight
            Metric weight of each agent's curtailment fraction.
        proposal_a
            Each agent's curtailment fraction plus its scaled dual.
        proposal_b
            Each agent's reactive fraction plus its scaled dual (None without reactive power).
        n_groups
            Number of fairness groups.

        Returns
        -------
        tuple
            Group curtailment fractions ``y`` and agent reactive fractions ``b̂`` (or None),
            meeting the voltage limits of the linear model.
        """
        y_target = np.bincount(group, weights=weight * proposal_a, minlength=n_groups)
        y_target /= np.bincount(group, weights=weight, minlength=n_groups)
        w = y_target if proposal_b is None else np.concatenate([y_target, proposal_b])
        z = self.projection.project(w)
        self.state["active_limits"] = len(self.projection.active)
        return z[:n_groups], (None if proposal_b is None else z[n_groups:])
