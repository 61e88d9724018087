"""Linear voltage model (LinDistFlow anchored at the AC point) against pandapower runpp.

Tolerance: 0.005 pu (issue 3) between the linear prediction and the AC voltage at
every bus, for the default scenario of each feeder and for a ±20 % change of every
load and PV injection. The operators are also checked against their dense matrices
and against a hand-computed two-bus case.
"""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pytest

from dec.network.linear import LinearVoltageModel
from dec.network.powerflow import run_ac
from dec.network.topology import build_tree
from tests.conftest import FEEDER_IDS

TOL_PU = 0.005


def _injection_change(model, net, scale):
    """Nodal injection change (pu) when every load and sgen is multiplied by ``scale``."""
    dp = np.zeros(model.n_nodes)
    dq = np.zeros(model.n_nodes)
    base = net.sn_mva
    sg = model.tree.nodes_of_buses(net.sgen["bus"].to_numpy())
    np.add.at(dp, sg, (scale - 1) * net.sgen["p_mw"].to_numpy() / base)
    np.add.at(dq, sg, (scale - 1) * net.sgen["q_mvar"].to_numpy() / base)
    ld = model.tree.nodes_of_buses(net.load["bus"].to_numpy())
    np.add.at(dp, ld, -(scale - 1) * net.load["p_mw"].to_numpy() / base)
    np.add.at(dq, ld, -(scale - 1) * net.load["q_mvar"].to_numpy() / base)
    return dp, dq


@pytest.mark.parametrize("feeder_id", FEEDER_IDS)
@pytest.mark.parametrize("scale", [0.8, 1.0, 1.2])
def test_linear_voltages_match_ac(feeder_cache, feeder_id, scale):
    net = feeder_cache(feeder_id).net
    model = LinearVoltageModel.from_net(net)
    dp, dq = _injection_change(model, net, scale)
    predicted = model.v0_pu + model.delta_v(dp, dq)
    changed = copy.deepcopy(net)
    for table, cols in (("sgen", ["p_mw", "q_mvar"]), ("load", ["p_mw", "q_mvar"])):
        changed[table][cols] *= scale
    run_ac(changed)
    ac = changed.res_bus["vm_pu"].loc[model.tree.node_bus].to_numpy()
    assert np.max(np.abs(predicted - ac)) <= TOL_PU


@pytest.mark.parametrize("feeder_id", ["cigre_lv", "village"])
def test_operators_equal_dense_matrices(feeder_cache, feeder_id):
    model = LinearVoltageModel.from_net(feeder_cache(feeder_id).net)
    sp_dense, sq_dense = model.dense()
    rng = np.random.default_rng(1)
    x = rng.normal(size=model.n_nodes)
    assert np.allclose(model.delta_v(x), sp_dense @ x, atol=1e-12)
    assert np.allclose(model.delta_v(np.zeros_like(x), x), sq_dense @ x, atol=1e-12)
    spt, sqt = model.delta_v_transpose(x)
    assert np.allclose(spt, sp_dense.T @ x, atol=1e-12)
    assert np.allclose(sqt, sq_dense.T @ x, atol=1e-12)
    assert (sp_dense >= 0).all(), "injections never lower voltages in LinDistFlow"


def test_two_bus_hand_computed():
    """One line r + jx (pu); 1 pu injection at the far bus raises v by r/v0 (dP) or x/v0 (dQ)."""
    net = pp.create_empty_network(sn_mva=1.0)
    b0 = pp.create_bus(net, vn_kv=0.4)
    b1 = pp.create_bus(net, vn_kv=0.4)
    pp.create_ext_grid(net, b0, vm_pu=1.0)
    # z_base = 0.4^2 / 1 = 0.16 ohm; 0.016 ohm = 0.1 pu, 0.008 ohm = 0.05 pu
    pp.create_line_from_parameters(
        net,
        b0,
        b1,
        length_km=1.0,
        r_ohm_per_km=0.016,
        x_ohm_per_km=0.008,
        c_nf_per_km=0.0,
        max_i_ka=1.0,
    )
    model = LinearVoltageModel(build_tree(net), v0_pu=np.array([1.0, 1.0]))
    sp_dense, sq_dense = model.dense()
    assert sp_dense == pytest.approx(np.array([[0.0, 0.0], [0.0, 0.1]]))
    assert sq_dense == pytest.approx(np.array([[0.0, 0.0], [0.0, 0.05]]))


def test_tree_is_bfs_ordered_and_merges_switched_buses(feeder_cache):
    net = feeder_cache("cigre_lv").net
    tree = build_tree(net)
    assert (tree.parent[1:] < np.arange(1, tree.n_nodes)).all()
    # CIGRE LV: buses 1, 20, 23 are fused with bus 0 by closed bus-bus switches.
    assert tree.bus_node[0] == tree.bus_node[1] == tree.bus_node[20] == tree.bus_node[23] == 0
    assert tree.n_nodes == len(net.bus) - 3
