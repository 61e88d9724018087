"""Placement: the published scenarios follow the study's leaf rule; PV penetration knob; bidding."""

from __future__ import annotations

import numpy as np
import pandapower.networks as pn
import pandapower.topology as top
import pytest
import yaml

from dec.p2p.case import build_case, leaf_buses
from dec.p2p.orders import BIDDING, Tariff
from dec.p2p.settings import DEFAULT_SCENARIOS, settings_from
from dec.run import build_parser
from dec.scenario import load_scenario

TARIFF = Tariff(retail_eur_per_kwh=0.20, feed_in_eur_per_kwh=0.05)


def _args(*options: str):
    return build_parser().parse_args(["-", *options])


def _study_leaves(net) -> list[int]:
    """The study's rule: degree-one nodes of pandapower's graph, in the graph's node order."""
    return [int(n) for n, d in top.create_nxgraph(net).degree() if d == 1]


def test_published_cigre_placement_is_the_study_rule():
    leaves = _study_leaves(pn.create_cigre_network_lv())
    half = len(leaves) // 2
    section = yaml.safe_load(DEFAULT_SCENARIOS["cigre_lv"].read_text())["p2p"]
    assert section["households"]["buses"] == leaves[0::2][:half] == [12, 17, 19, 35, 37, 41]
    assert section["pv"]["buses"] == leaves[1::2][:half] == [16, 18, 22, 36, 40, 42]


def test_published_village_placement_is_the_reconstruction():
    leaves = _study_leaves(pn.create_synthetic_voltage_control_lv_network("village_1"))
    section = yaml.safe_load(DEFAULT_SCENARIOS["village"].read_text())["p2p"]
    assert len(leaves) == 40 and leaves[-1] == 0  # the 20-kV bus 0 is the graph's last leaf
    assert section["households"]["buses"] == leaves
    assert section["pv"]["buses"] == leaves[1::2]


@pytest.mark.parametrize(("share", "n_pv"), [(0.1, 1), (0.3, 4), (0.5, 7)])
def test_pv_penetration_places_a_seeded_share_of_leaf_buses(share, n_pv):
    scenario = load_scenario("cigre_lv")
    leaves = leaf_buses(scenario.feeder.net)
    assert len(leaves) == 13
    cases = [
        build_case(
            scenario.feeder,
            settings_from(scenario, _args("--pv-penetration", str(share), "--seed", str(seed))),
        )
        for seed in (0, 0, 1, 2)
    ]
    for case in cases:
        households = [s.bus for s in case.specs if s.agent_type == "household"]
        pv = [s.bus for s in case.specs if s.agent_type == "pv"]
        assert households == leaves  # round(share * 13), half up
        assert len(pv) == n_pv and set(pv) <= set(leaves)
    assert [s.bus for s in cases[0].specs] == [s.bus for s in cases[1].specs]
    placements = {tuple(s.bus for s in c.specs if s.agent_type == "pv") for c in cases}
    assert len(placements) >= 2 or n_pv == len(leaves)


def test_owned_pv_nets_behind_the_meter(tmp_path):
    path = tmp_path / "owned.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "feeder": "cigre_lv",
                "p2p": {
                    "households": {"buses": [12, 17], "profile": "Cluster_0"},
                    "pv": {"buses": [12], "profile": "Cluster_2", "owned": True},
                    "pv_scale": 3.0,
                },
            }
        )
    )
    scenario = load_scenario(str(path))
    case = build_case(scenario.feeder, settings_from(scenario, _args()))
    assert [s.agent_id for s in case.specs] == ["h12", "h17"]
    assert case.sgen_index[0] >= 0 and case.sgen_index[1] == -1
    # The prosumer h12 sells only its surplus at midday: 3 x 1.587 kWh PV - 2.370 kWh load.
    assert case.net_kw[12, 0] == pytest.approx(
        3 * 1.5870000000009654 - 2.370187537759557, abs=1e-12
    )


def test_valuation_bidding_is_seeded_and_between_feed_in_and_retail():
    net_kw = np.array([[-1.0, 2.0, 0.5], [1.0, -2.0, -0.5]])
    strategy = BIDDING["valuation"]
    a = strategy.limit_prices(net_kw, TARIFF, np.random.default_rng(4))
    b = strategy.limit_prices(net_kw, TARIFF, np.random.default_rng(4))
    assert np.array_equal(a, b)
    assert np.all((a >= 0.05) & (a <= 0.20))
    assert np.all(a[0] == a[1])  # a private value per trader, the same every hour
    fixed = BIDDING["fixed"].limit_prices(net_kw, TARIFF, None)
    assert fixed.tolist() == [[0.20, 0.05, 0.05], [0.05, 0.20, 0.20]]
