"""Copies of a feeder on one source bus: each copy must behave exactly as the feeder alone."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

import dec.network.projection
from dec.curtail.problem import CurtailProblem, CurtailSettings
from dec.curtail.solve import solve_curtailment
from dec.errors import InputError
from feeders.replicate import replicate


def test_copies_have_the_feeders_power_flow(feeder_cache):
    """Every copy's bus voltages equal the feeder's (the shared source fixes the voltage)."""
    feeder = feeder_cache("cigre_lv")
    copies = replicate(feeder, 3)
    n_bus = len(feeder.net.bus)
    assert len(copies.net.bus) == 3 * (n_bus - 1) + 1
    assert len(copies.agents) == 3 * len(feeder.agents)
    assert len({a.agent_id for a in copies.agents}) == len(copies.agents)
    pp.runpp(feeder.net)
    pp.runpp(copies.net)
    offset = int(feeder.net.bus.index.max()) + 1
    source = int(feeder.net.ext_grid.bus.iloc[0])
    buses = feeder.net.bus.index.drop(source)
    for c in range(3):
        np.testing.assert_allclose(
            copies.net.res_bus.loc[buses + c * offset, "vm_pu"].to_numpy(),
            feeder.net.res_bus.loc[buses, "vm_pu"].to_numpy(),
            atol=1e-9,
        )
    for spec, copy in zip(
        feeder.agents, copies.agents[len(feeder.agents) : 2 * len(feeder.agents)], strict=True
    ):
        table, index = copy.element
        assert copies.net[table].at[index, "bus"] == copy.bus
        assert copy.bus == spec.bus + offset


@pytest.mark.parametrize("dense_floats", [None, 0], ids=["dense rows", "swept rows"])
def test_curtailment_of_copies_is_the_feeders(feeder_cache, monkeypatch, dense_floats):
    """Two copies: the same α (feeder fairness) and twice the curtailment (efficient), ADMM
    within 1e-4 of the centralized objective, with the coordinator's rows stored or swept."""
    if dense_floats is not None:
        monkeypatch.setattr(dec.network.projection, "DENSE_FLOATS", dense_floats)
    feeder = feeder_cache("cigre_lv")
    copies = replicate(feeder, 2)
    for scheme in ("feeder", "efficient"):
        one = solve_curtailment(
            CurtailProblem.from_feeder(feeder, CurtailSettings(fairness=scheme))
        )
        two = solve_curtailment(
            CurtailProblem.from_feeder(copies, CurtailSettings(fairness=scheme))
        )
        assert two.converged
        assert two.objective_gap_rel <= 1e-4
        if scheme == "feeder":
            assert abs(two.decision.y[0] - one.decision.y[0]) <= 1e-6
        np.testing.assert_allclose(
            two.curtailment_kw.sum(), 2 * one.curtailment_kw.sum(), rtol=1e-5, atol=1e-3
        )


def test_bad_copies_are_refused(feeder_cache):
    with pytest.raises(InputError, match="1 or more"):
        replicate(feeder_cache("cigre_lv"), 0)
    with pytest.raises(InputError, match="balanced"):
        replicate(feeder_cache("ieee123_3ph"), 2)
