"""Feeder builders (issue 3): sizes, agents consistent with their nets, determinism, over-voltage case."""

from __future__ import annotations

import numpy as np
import pytest

import feeders
from agents import CoordinationModel, HouseholdAgent, PVAgent
from dec.network.powerflow import run_ac
from tests.conftest import FEEDER_IDS


@pytest.mark.parametrize("feeder_id", FEEDER_IDS)
def test_agents_match_their_elements(feeder_cache, feeder_id):
    feeder = feeder_cache(feeder_id)
    net = feeder.net
    ids = [a.agent_id for a in feeder.agents]
    assert len(ids) == len(set(ids)), "agent ids are unique"
    for spec in feeder.agents:
        table, index = spec.element
        assert int(net[table].at[index, "bus"]) == spec.bus
        assert spec.p_rated_kw > 0
        if spec.agent_type == "pv":
            assert table == "sgen" and spec.s_rated_kva >= spec.p_rated_kw
            # available power = pv_scale × kWp, in MW in the net
            expected_kw = feeder.knobs["pv_scale"] * spec.p_rated_kw
            assert net.sgen.at[index, "p_mw"] * 1000 == pytest.approx(expected_kw)

        else:
            assert table == "load"


def test_bus_counts(feeder_cache):
    assert len(feeder_cache("cigre_lv").net.bus) == 44
    assert len(feeder_cache("village").net.bus) == 80
    ieee = feeder_cache("ieee123")
    primary = ieee.net.bus[ieee.net.bus["zone"] == "primary"]
    numbered = [n for n in primary["name"] if n.isdigit()]
    assert len(numbered) >= 123, "the IEEE 123 primary nodes are all there"
    assert len(ieee.agents_of_type("household")) >= 500
    assert len(ieee.net.bus) > len(primary) + 500, "plus secondary and household buses"
    utility = [a for a in ieee.agents_of_type("pv") if a.agent_id.startswith("upv_")]
    assert len(utility) == 3 and all(a.p_rated_kw >= 100 for a in utility)


def test_ieee123_households_sum_to_the_spot_loads(feeder_cache):
    """Each spot load (case B, nominal) is split into households whose peaks sum to it."""
    from feeders.gridappsd import read_primary
    from feeders.ieee123 import DATA_DIR

    data = read_primary(DATA_DIR)
    total_kw = sum(float(b.load_kw.sum()) for b in data.buses.values())
    households = feeder_cache("ieee123").agents_of_type("household")
    assert sum(h.p_rated_kw for h in households) == pytest.approx(total_kw, rel=1e-9)
    assert total_kw == pytest.approx(3501.24, abs=0.01)


@pytest.mark.parametrize("feeder_id", FEEDER_IDS)
def test_default_scenario_shows_over_voltage(feeder_cache, feeder_id):
    net = feeder_cache(feeder_id).net
    run_ac(net)
    vmax = net.res_bus["vm_pu"].max()
    assert vmax > 1.05
    if feeder_id == "ieee123":
        assert vmax >= 1.06


def test_feeders_are_deterministic_per_seed():
    a, b = feeders.load("ieee123", seed=7), feeders.load("ieee123", seed=7)
    c = feeders.load("ieee123", seed=8)
    kwp = lambda f: [(s.agent_id, s.p_rated_kw) for s in f.agents_of_type("pv")]  # noqa: E731
    assert kwp(a) == kwp(b)
    assert kwp(a) != kwp(c)
    assert np.allclose(a.net.line["length_km"], b.net.line["length_km"])


def test_knobs_scale_loads_and_pv():
    base = feeders.load("village")
    scaled = feeders.load("village", load_scale=0.4, pv_scale=0.5)
    assert scaled.net.load["p_mw"].sum() == pytest.approx(2 * base.net.load["p_mw"].sum())
    assert scaled.net.sgen["p_mw"].sum() == pytest.approx(0.5 * base.net.sgen["p_mw"].sum())


def test_mesa_model_holds_one_agent_per_spec(feeder_cache):
    feeder = feeder_cache("cigre_lv")
    model = CoordinationModel(feeder.agents, seed=3)
    assert len(model.agents) == len(feeder.agents)
    assert len(model.agents_of("pv")) == len(feeder.agents_of_type("pv"))
    assert all(isinstance(a, PVAgent | HouseholdAgent) for a in model.agents)
    assert model.by_id()[feeder.agents[0].agent_id].spec == feeder.agents[0]
