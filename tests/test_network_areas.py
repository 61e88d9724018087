"""Independent areas of a feeder: the branches leaving the source, modelled and projected apart.

References:
- the source voltage is fixed, so injections in one root subtree leave every other
  subtree's voltages unchanged, and an area's own model (the root plus its subtree) gives
  the whole model's voltage changes on its nodes: checked to 1e-12 on two copies of
  ``cigre_lv`` (six areas) and on a hand-built three-phase net (two areas);
- the coordinator's block projection equals its projection of the whole map, which
  ``test_network_projection.py`` checks against a QP solver; the projection is a strictly
  convex QP (unique point), so the points are compared directly, to 1e-9.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pandapower as pp
import pytest

from dec.curtail.problem import CurtailProblem, CurtailSettings
from dec.network.grid import Grid
from dec.network.linear import LinearVoltageModel
from dec.network.phases import build_phase_data
from dec.network.projection import BlockProjection, VoltageProjection, make_projection
from dec.network.topology import build_tree
from feeders.replicate import replicate


def _three_phase_model() -> LinearVoltageModel:
    """Source 0 (abc) -> 1 (abc) -> 2 (bc); source -> 3 (abc) -> 4 (a); distinct impedances."""
    net = pp.create_empty_network(sn_mva=1.0)
    pp.create_buses(net, 5, vn_kv=1.0)
    net.bus["phases"] = ["abc", "abc", "bc", "abc", "a"]
    pp.create_ext_grid(net, 0, vm_pu=1.0)
    rng = np.random.default_rng(3)
    z_ohm = {}
    for a, b in ((0, 1), (1, 2), (0, 3), (3, 4)):
        line = pp.create_line_from_parameters(net, a, b, 1.0, 0.1, 0.1, 0.0, 1.0)
        z = rng.uniform(0.05, 0.5, (3, 3)) + 1j * rng.uniform(0.05, 0.5, (3, 3))
        z_ohm[("line", line)] = (z + z.T) / 2
    z_ohm[("line", 1)][0, :] = z_ohm[("line", 1)][:, 0] = 0.0  # bus 2 has no phase a
    z_ohm[("line", 3)][1:, :] = z_ohm[("line", 3)][:, 1:] = 0.0  # bus 4 has phase a only
    tree = build_tree(net)
    phases = build_phase_data(net, tree, z_ohm)
    v0 = rng.uniform(0.97, 1.03, int(phases.present.sum()))
    return LinearVoltageModel(tree, v0, phases)


def _balanced_model(feeder_cache) -> LinearVoltageModel:
    grid = Grid.from_feeder(replicate(feeder_cache("cigre_lv"), 2))
    return grid.model(np.random.default_rng(0).uniform(0.97, 1.03, grid.n_nodes))


@pytest.mark.parametrize("kind", ["balanced", "three-phase"])
def test_areas_reproduce_the_whole_model(feeder_cache, kind):
    model = _balanced_model(feeder_cache) if kind == "balanced" else _three_phase_model()
    areas = model.root_areas()
    assert len(areas) == (6 if kind == "balanced" else 2)
    root = np.flatnonzero(model.tree_node == 0)
    covered_once = np.concatenate([covered[len(root) :] for covered, _ in areas])
    assert np.array_equal(np.sort(covered_once), np.arange(len(root), model.n_nodes))
    rng = np.random.default_rng(1)
    for covered, area in areas:
        inside = covered[len(root) :]
        dp, dq = np.zeros(model.n_nodes), np.zeros(model.n_nodes)
        dp[inside], dq[inside] = rng.normal(size=(2, len(inside)))
        whole = model.delta_v(dp, dq)
        np.testing.assert_allclose(
            area.delta_v(dp[covered], dq[covered]), whole[covered], atol=1e-12
        )
        outside = np.setdiff1d(np.arange(model.n_nodes), covered)
        assert np.abs(whole[outside]).max(initial=0.0) <= 1e-12
        weights = rng.normal(size=len(covered))
        weights[: len(root)] = 0.0
        full_weights = np.zeros(model.n_nodes)
        full_weights[covered] = weights
        for part, whole_part in zip(
            area.delta_v_transpose(weights), model.delta_v_transpose(full_weights), strict=True
        ):
            np.testing.assert_allclose(part, whole_part[covered], atol=1e-12)


def _vmap(feeder_cache, scheme: str, reactive: bool):
    feeder = replicate(feeder_cache("cigre_lv"), 2)
    problem = CurtailProblem.from_feeder(
        feeder, CurtailSettings(fairness=scheme, reactive=reactive)
    )
    grid = problem.grid
    net = copy.deepcopy(feeder.net)
    v_point = grid.operating_point(net, grid.run_ac(net))
    model = grid.model(v_point)
    b0 = np.zeros(problem.n_agents)
    return problem, problem.voltage_map(model, v_point, np.zeros(problem.n_agents), b0)


def test_a_common_fraction_keeps_the_whole_map(feeder_cache):
    _, vmap = _vmap(feeder_cache, "feeder", reactive=False)
    assert vmap.blocks is None


@pytest.mark.parametrize(("scheme", "reactive"), [("efficient", True), ("transformer", False)])
def test_block_projection_equals_the_whole_projection(feeder_cache, scheme, reactive):
    problem, vmap = _vmap(feeder_cache, scheme, reactive)
    assert len(vmap.blocks) == 2  # the residential PV area of each copy
    n_z = problem.n_y + (problem.n_agents if reactive else 0)
    weight = np.random.default_rng(5).uniform(0.5, 2.0, n_z)
    blocks = make_projection(vmap, vmap.v_min, vmap.v_max, weight)
    whole = VoltageProjection(replace(vmap, blocks=None), vmap.v_min, vmap.v_max, weight)
    assert isinstance(blocks, BlockProjection)
    rng = np.random.default_rng(6)
    active = []
    # from no curtailment (over the limit) to points inside: limits enter and leave
    for scale in (0.0, 0.05, 0.6, 0.01, 0.3):
        w = scale * rng.uniform(-0.5, 1.0, n_z)
        z_blocks, z_whole = blocks.project(w), whole.project(w)
        np.testing.assert_allclose(z_blocks, z_whole, atol=1e-9)
        assert np.max(vmap(z_blocks) - vmap.v_max) <= 1e-10
        assert len(blocks.active) == len(whole.active)
        active.append(len(whole.active))
    assert max(active) >= 2 and len(set(active)) > 1
