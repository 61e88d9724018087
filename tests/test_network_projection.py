"""The coordinator's exact projection onto voltage limits, against a QP solver.

The voltage map is that of curtailment on a random radial feeder: ``A[k, j]`` is minus the
resistance of the path node ``k`` shares with agent ``j``'s node, times the agent's power
(LinDistFlow without reactive power), so curtailing lowers every voltage. The projection is
a strictly convex QP (positive diagonal metric): its solution is unique, so the points are
compared directly.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from dec.network.projection import AffineVoltageMap, VoltageProjection, _drop_from_cholesky


def _feeder_map(seed: int, n_nodes: int = 40, n_z: int = 25) -> AffineVoltageMap:
    rng = np.random.default_rng(seed)
    parent = np.array([-1] + [int(rng.integers(0, k)) for k in range(1, n_nodes)])
    r_pu = rng.uniform(0.001, 0.01, n_nodes)  # resistance of the branch into each node
    path_r = np.zeros((n_nodes, n_nodes))  # path_r[k, j] = resistance shared by k's and j's paths
    on_path = [{k} for k in range(n_nodes)]
    for k in range(1, n_nodes):
        on_path[k] = on_path[parent[k]] | {k}
    for k in range(n_nodes):
        for j in range(n_nodes):
            path_r[k, j] = sum(r_pu[e] for e in on_path[k] & on_path[j] if e != 0)
    node_of_z = rng.integers(1, n_nodes, n_z)
    p_pu = rng.uniform(0.5, 3.0, n_z)
    a = -path_r[:, node_of_z] * p_pu
    v_base = 1.0 + path_r[:, node_of_z] @ p_pu * 0.9
    return AffineVoltageMap(v_base=v_base, apply=lambda z: a @ z, apply_transpose=lambda y: a.T @ y)


def _qp(vmap: AffineVoltageMap, w: np.ndarray, weight: np.ndarray, v_max: float) -> np.ndarray:
    a = np.array([vmap.row(k) for k in range(len(vmap.v_base))])
    z = cp.Variable(len(w))
    objective = cp.Minimize(0.5 * cp.sum(cp.multiply(weight, cp.square(z - w))))
    limits = [vmap.v_base + a @ z <= v_max, vmap.v_base + a @ z >= 0.9]
    cp.Problem(objective, limits).solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12)
    return z.value


@pytest.mark.parametrize("dense_floats", [None, 0], ids=["dense rows", "swept rows"])
@pytest.mark.parametrize("seed", range(6))
def test_projection_matches_qp_along_a_sequence(seed, dense_floats):
    """A sequence of projections (warm-started: limits enter and leave) equals the QP's.

    Both representations of the active rows: stored dense, and applied by sweeps.
    """
    vmap = _feeder_map(seed)
    rng = np.random.default_rng(100 + seed)
    n_z = len(vmap.row(0))
    weight = rng.uniform(0.5, 2.0, n_z)
    v_max = 1.05
    n = len(vmap.v_base)
    projection = VoltageProjection(
        vmap=vmap,
        v_min=np.full(n, 0.9),
        v_max=np.full(n, v_max),
        weight=weight,
        dense_floats=dense_floats,
    )
    # w far inside, then with the base over the limit: from few active limits to many, and back
    for scale in (0.0, 0.3, 0.1, 0.6, 0.05, 0.2):
        w = scale * rng.uniform(0.0, 1.0, n_z)
        z = projection.project(w)
        assert np.max(vmap(z)) <= v_max + 1e-10
        np.testing.assert_allclose(z, _qp(vmap, w, weight, v_max), atol=1e-6)
        assert np.all(projection.multipliers >= 0.0)


@pytest.mark.parametrize("drop", [0, 3, 7])
def test_cholesky_downdate_equals_refactorisation(drop):
    """Dropping a limit from the factor gives the factor of the reduced Gram matrix."""
    rng = np.random.default_rng(drop)
    rows = rng.normal(size=(8, 12))
    gram = rows @ rows.T
    reduced = np.delete(np.delete(gram, drop, axis=0), drop, axis=1)
    np.testing.assert_allclose(
        _drop_from_cholesky(np.linalg.cholesky(gram), drop),
        np.linalg.cholesky(reduced),
        atol=1e-12,
    )
