"""The three-phase LinDistFlow model: hand-computed coefficients, operators, AC agreement.

References and tolerances:
- a hand-computed three-bus unbalanced case (derivation below), to 1e-12;
- the balanced model is the one-phase case: a transposed three-phase net with balanced
  injections gives the positive-sequence model's voltage change on every phase, to 1e-12;
- operators against their dense matrices and the cvxpy constraints, to 1e-9;
- per-phase linear voltages against pandapower's unbalanced AC power flow (runpp_3ph) on
  ``ieee123_3ph`` at its default scenario, 0.005 pu (issue 9 acceptance).
"""

from __future__ import annotations

import copy

import cvxpy as cp
import numpy as np
import pandapower as pp
import pytest

from dec.errors import InputError
from dec.network.grid import Grid
from dec.network.linear import LinearVoltageModel
from dec.network.phases import build_phase_data
from dec.network.topology import build_tree

TOL_PU = 0.005
SQ3 = np.sqrt(3.0)

# Two branches, ohm; bus base 1 kV and 1 MVA, so 1 ohm = 1 pu. All mutual terms differ, so a
# coefficient taken from the wrong pair of phases shows.
Z1 = np.array(
    [
        [0.30 + 0.60j, 0.05 + 0.11j, 0.07 + 0.13j],
        [0.05 + 0.11j, 0.32 + 0.58j, 0.04 + 0.17j],
        [0.07 + 0.13j, 0.04 + 0.17j, 0.31 + 0.62j],
    ]
)
Z2_BC = np.array([[0.50 + 0.40j, 0.09 + 0.21j], [0.09 + 0.21j, 0.55 + 0.45j]])


def _three_bus_net() -> tuple[pp.pandapowerNet, dict]:
    """Source bus 0 (abc) -> bus 1 (abc) -> bus 2 (phases b and c only)."""
    net = pp.create_empty_network(sn_mva=1.0)
    buses = pp.create_buses(net, 3, vn_kv=1.0)
    net.bus["phases"] = ["abc", "abc", "bc"]
    pp.create_ext_grid(net, buses[0], vm_pu=1.0)
    lines = [
        pp.create_line_from_parameters(net, a, b, 1.0, 0.1, 0.1, 0.0, 1.0)
        for a, b in ((0, 1), (1, 2))
    ]
    z2 = np.zeros((3, 3), dtype=complex)
    z2[1:, 1:] = Z2_BC
    return net, {("line", lines[0]): Z1, ("line", lines[1]): z2}


def _model(net, z_ohm, v0=None) -> LinearVoltageModel:
    tree = build_tree(net)
    phases = build_phase_data(net, tree, z_ohm)
    n = int(phases.present.sum())
    return LinearVoltageModel(tree, np.ones(n) if v0 is None else v0, phases)


def test_hand_computed_unbalanced_three_bus_case():
    """Three-phase LinDistFlow, squared voltages, phases 120° apart (θa, θb, θc = 0, −120°, 120°).

    Along a branch with phase impedance Z, the squared voltage of phase φ rises by
    ``Σ_ψ 2 Re(Z_φψ e^{−j(θφ−θψ)}) P_ψ + 2 Im(Z_φψ e^{−j(θφ−θψ)}) Q_ψ`` for the injections P, Q
    downstream (generation positive). For one pu on phase b at bus 2 (v0 = 1, Δv = ΔU / 2):

    - active power P_b: e^{−j(θa−θb)} = e^{−j120°} = −1/2 − j√3/2, so phase a of branch 1 gets
      ``2 Re(Z_ab (−1/2 − j√3/2)) = −r_ab + √3 x_ab``; phase b ``2 r_bb``; phase c:
      θc − θb = 240°, e^{−j240°} = −1/2 + j√3/2, ``−r_cb − √3 x_cb``;
    - reactive power Q_b: phase a ``2 Im(Z_ab (−1/2 − j√3/2)) = −x_ab − √3 r_ab``; phase b
      ``2 x_bb``; phase c ``2 Im(Z_cb (−1/2 + j√3/2)) = −x_cb + √3 r_cb`` (the phase-C mutual
      term; the GridAPPS-D coordinator used x_ac in place of x_cb there).

    Bus 2 adds the same terms of branch 2 on its phases b and c; it has no phase a.
    """
    net, z_ohm = _three_bus_net()
    model = _model(net, z_ohm)
    assert list(zip(model.nodes.bus, model.nodes.phase, strict=True)) == [
        (0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3),
    ]  # fmt: skip
    unit = np.zeros(model.n_nodes)
    unit[6] = 1.0  # bus 2, phase b
    r1, x1, r2, x2 = Z1.real, Z1.imag, Z2_BC.real, Z2_BC.imag
    du_p_bus1 = np.array([-r1[0, 1] + SQ3 * x1[0, 1], 2 * r1[1, 1], -r1[2, 1] - SQ3 * x1[2, 1]])
    du_q_bus1 = np.array([-x1[0, 1] - SQ3 * r1[0, 1], 2 * x1[1, 1], -x1[2, 1] + SQ3 * r1[2, 1]])
    du_p_bus2 = du_p_bus1[1:] + np.array([2 * r2[0, 0], -r2[1, 0] - SQ3 * x2[1, 0]])
    du_q_bus2 = du_q_bus1[1:] + np.array([2 * x2[0, 0], -x2[1, 0] + SQ3 * r2[1, 0]])
    expected_p = np.concatenate([np.zeros(3), du_p_bus1, du_p_bus2]) / 2.0
    expected_q = np.concatenate([np.zeros(3), du_q_bus1, du_q_bus2]) / 2.0
    assert model.delta_v(unit) == pytest.approx(expected_p, abs=1e-12)
    assert model.delta_v(np.zeros_like(unit), unit) == pytest.approx(expected_q, abs=1e-12)
    # the injection helper puts a balanced (phase 0) unit equally on the bus's phases
    incidence = model.injection_incidence(np.array([2, 1]), np.array([0, 3])).toarray()
    assert incidence[:, 0] == pytest.approx([0, 0, 0, 0, 0, 0, 0.5, 0.5])
    assert incidence[:, 1] == pytest.approx([0, 0, 0, 0, 0, 1, 0, 0])


def test_injection_on_an_absent_phase_is_refused():
    net, z_ohm = _three_bus_net()
    with pytest.raises(InputError, match="phase a at bus 2"):
        _model(net, z_ohm).injection_incidence(np.array([2]), np.array([1]))


def test_balanced_model_is_the_one_phase_case():
    """A transposed line (Zs, Zm) carrying a balanced injection: every phase sees Z1 = Zs − Zm."""
    net = pp.create_empty_network(sn_mva=1.0)
    buses = pp.create_buses(net, 3, vn_kv=1.0)
    pp.create_ext_grid(net, buses[0], vm_pu=1.0)
    for a, b, length in ((0, 1, 1.0), (1, 2, 0.5)):
        pp.create_line_from_parameters(
            net,
            a,
            b,
            length,
            0.2,
            0.4,
            0.0,
            1.0,
            r0_ohm_per_km=0.7,
            x0_ohm_per_km=1.3,
            c0_nf_per_km=0.0,
        )
    tree = build_tree(net)
    v0 = np.array([1.0, 1.02, 1.03])
    balanced = LinearVoltageModel(tree, v0)
    three = LinearVoltageModel(tree, np.repeat(v0, 3), build_phase_data(net, tree))
    dp, dq = np.array([0.0, 0.3, 0.5]), np.array([0.0, -0.1, 0.2])
    # the same kW per phase as the balanced injection's third, in the same per unit
    expected = balanced.delta_v(dp, dq)
    got = three.delta_v(np.repeat(dp, 3), np.repeat(dq, 3)).reshape(3, 3)
    assert got == pytest.approx(np.repeat(expected[:, None], 3, axis=1), abs=1e-12)
    assert three.kw_to_pu(1.0) == pytest.approx(3.0 * balanced.kw_to_pu(1.0))


@pytest.fixture(scope="module")
def gridappsd_model(feeder_cache):
    feeder = feeder_cache("gridappsd_a")
    grid = Grid.from_feeder(feeder)
    return grid, grid.model(grid.operating_point(feeder.net))


def test_operators_equal_dense_matrices_and_cvxpy_constraints(gridappsd_model):
    _, model = gridappsd_model
    sp_dense, sq_dense = model.dense()
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=model.n_nodes), rng.normal(size=model.n_nodes)
    assert np.allclose(model.delta_v(x, y), sp_dense @ x + sq_dense @ y, atol=1e-12)
    spt, sqt = model.delta_v_transpose(x)
    assert np.allclose(spt, sp_dense.T @ x, atol=1e-12)
    assert np.allclose(sqt, sq_dense.T @ x, atol=1e-12)
    # the centralized solve's constraints define the same voltage changes (kW in, pu out)
    p_kw, q_kvar = 50.0 * x, 20.0 * y
    dv, constraints = model.cvxpy_voltage(cp.Constant(p_kw), cp.Constant(q_kvar))
    cp.Problem(cp.Minimize(0), constraints).solve(solver=cp.CLARABEL)
    expected = model.delta_v(model.kw_to_pu(p_kw), model.kw_to_pu(q_kvar))
    assert dv.value == pytest.approx(expected, abs=1e-9)


def test_squared_limits_are_exact(gridappsd_model):
    """With limits in squared voltages, v0 + ΔU/(2 v0) ≤ limit ⇔ v0² + ΔU ≤ v_max² exactly."""
    _, model = gridappsd_model
    squared = model.at_voltage(model.v0_pu)
    assert squared.squared
    _, hi = squared.limits(np.full(model.n_nodes, 0.95), np.full(model.n_nodes, 1.05))
    assert squared.magnitude(hi) == pytest.approx(np.full(model.n_nodes, 1.05), abs=1e-12)


@pytest.fixture(scope="module")
def ieee123_3ph(feeder_cache):
    feeder = feeder_cache("ieee123_3ph")
    grid = Grid.from_feeder(feeder)
    net = copy.deepcopy(feeder.net)
    return feeder, grid, net, grid.run_ac(net)


def test_lindistflow_from_the_source_matches_unbalanced_ac(ieee123_3ph):
    """No AC anchoring at all: the lossless three-phase LinDistFlow vs runpp_3ph, every (bus, phase).

    It also bounds the AC voltages from above (losses lower them): measured 0 to 0.003 pu.
    """
    _, grid, net, vm = ieee123_3ph
    p_pu, q_pu = grid.injections_pu(net)
    lindistflow = grid.model(np.ones(grid.n_nodes)).lindistflow_voltage(
        p_pu, q_pu, grid.v_source_pu
    )
    ac = grid.node_voltages(vm)
    assert vm.max() > 1.07, "the default scenario is the over-voltage case"
    assert np.max(np.abs(lindistflow - ac)) <= TOL_PU
    assert np.min(lindistflow - ac) >= -1e-5


@pytest.mark.parametrize("scale", [0.8, 1.2])
def test_linear_model_at_the_ac_point_matches_unbalanced_ac(ieee123_3ph, scale):
    """AC-anchored per-phase model, every load and PV ±20 %: measured 0.0011–0.0013 pu."""
    _, grid, net, vm = ieee123_3ph
    model = grid.model(grid.node_voltages(vm))
    p_pu, q_pu = grid.injections_pu(net)
    predicted = model.v0_pu + model.delta_v((scale - 1) * p_pu, (scale - 1) * q_pu)
    changed = copy.deepcopy(net)
    for table in ("asymmetric_load", "asymmetric_sgen"):
        columns = [f"{q}_{x}_{u}" for q, u in (("p", "mw"), ("q", "mvar")) for x in "abc"]
        changed[table][columns] *= scale
    ac = grid.node_voltages(grid.run_ac(changed))
    assert np.max(np.abs(predicted - ac)) <= TOL_PU


def test_three_phase_net_with_balanced_sgen_is_refused(feeder_cache):
    feeder = feeder_cache("gridappsd_b")
    pp.create_sgen(feeder.net, 5, p_mw=0.01)
    with pytest.raises(InputError, match="runpp_3ph ignores the sgen table"):
        Grid.from_feeder(feeder)


def test_gridappsd_ac_check_differs_by_the_transposed_lines(feeder_cache):
    """Why runpp_3ph and the GridAPPS-D LinDistFlow differ (README, three-phase feeders).

    pandapower gives lines sequence data, i.e. treats them as transposed. The LinDistFlow on
    those same transposed impedances bounds the AC voltages from above within 0.002 pu
    (losses); with the data's exact untransposed matrices it moves by up to 0.004 pu.
    Measured on case A: 0 to 0.0012 pu and 0.0032 pu.
    """
    feeder = feeder_cache("gridappsd_a")
    exact = Grid.from_feeder(feeder)
    transposed = Grid(feeder.net, three_phase=True, operating_point="lindistflow")
    net = copy.deepcopy(feeder.net)
    ac = exact.node_voltages(exact.run_ac(net))
    v_transposed, v_exact = transposed.operating_point(net), exact.operating_point(net)
    assert -1e-5 <= np.min(v_transposed - ac) and np.max(v_transposed - ac) <= 0.002
    assert 0.002 <= np.max(np.abs(v_exact - v_transposed)) <= 0.004
