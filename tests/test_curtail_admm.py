"""Agent ADMM against the centralized solve of the same linearised problem (issue 4).

Tolerances (acceptance of issue 4): objective within 1e-4 relative, setpoints within
1e-3 kW (and reactive setpoints within 1e-2 kvar), on all three feeders and all five
fairness schemes, compared at the final linearisation of each run. The linear optima
are unique here (the transformer and efficient schemes carry a small quadratic
regularisation, documented in dec/curtail/problem.py), so setpoints are compared too.
"""

from __future__ import annotations

import numpy as np
import pytest

from dec.curtail.problem import SCHEMES, CurtailProblem, CurtailSettings
from dec.curtail.solve import solve_curtailment
from tests.conftest import FEEDER_IDS

OBJ_TOL_REL = 1e-4
KW_TOL = 1e-3
KVAR_TOL = 1e-2


def _solve(feeder, scheme, reactive=False):
    problem = CurtailProblem.from_feeder(
        feeder, CurtailSettings(fairness=scheme, reactive=reactive)
    )
    return problem, solve_curtailment(problem, "admm")


def _assert_matches_reference(problem, solution):
    assert solution.admm_converged
    ref = solution.reference
    assert solution.objective == pytest.approx(
        solution.objective_centralized, rel=OBJ_TOL_REL, abs=1e-9
    )
    c_ref = problem.curtailment_kw(ref.a, ref.theta)
    assert np.max(np.abs(solution.curtailment_kw - c_ref)) <= KW_TOL
    q_ref = problem.s_kva * ref.b
    assert np.max(np.abs(solution.q_setpoint_kvar - q_ref)) <= KVAR_TOL


@pytest.mark.parametrize("feeder_id", FEEDER_IDS)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_admm_matches_centralized(feeder_cache, feeder_id, scheme):
    problem, solution = _solve(feeder_cache(feeder_id), scheme)
    _assert_matches_reference(problem, solution)


@pytest.mark.parametrize("feeder_id", FEEDER_IDS)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_admm_matches_centralized_with_reactive_power(feeder_cache, feeder_id, scheme):
    # on ieee123, equal-kW with reactive power is degenerate (no curtailment at the optimum,
    # θ = 0 with every w_a a ≤ θ active): the centralized solve runs without equilibration,
    # with which Clarabel stopped 1.1e-4 above the optimum
    problem, solution = _solve(feeder_cache(feeder_id), scheme, reactive=True)
    _assert_matches_reference(problem, solution)


def test_feeder_fairness_on_ieee123_within_40_rounds(feeder_cache):
    _, solution = _solve(feeder_cache("ieee123"), "feeder")
    assert solution.history.iterations <= 40
    assert solution.converged


@pytest.mark.parametrize("feeder_id", FEEDER_IDS)
def test_feeder_alpha_is_the_binding_bus_ratio(feeder_cache, feeder_id):
    """Without reactive power the feeder-fairness optimum is closed form on the linear model.

    v_k(α) = v_k(0) − α (Sp P)_k, so α* = max_k (v_k(0) − v_max) / (Sp P)_k at the linearisation
    point; here it is checked at the first linearisation (no curtailment).
    """
    feeder = feeder_cache(feeder_id)
    problem = CurtailProblem.from_feeder(
        feeder, CurtailSettings(fairness="feeder", max_relinearisations=1)
    )
    solution = solve_curtailment(problem, "admm")
    from dec.network.linear import LinearVoltageModel

    model = LinearVoltageModel(
        problem.tree, solution.vm_before_pu.loc[problem.tree.node_bus].to_numpy()
    )
    dp = np.zeros(model.n_nodes)
    np.add.at(dp, problem.node, model.kw_to_pu(problem.p_kw))
    drop = model.delta_v(dp)  # voltage drop per unit α
    sensitive = drop > 1e-12  # nodes whose voltage curtailment can lower
    alpha = np.max((model.v0_pu[sensitive] - problem.vmax_pu) / drop[sensitive])
    assert solution.decision.y[0] == pytest.approx(alpha, abs=1e-9)
