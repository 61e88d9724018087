"""Linear voltage model: LinDistFlow along the radial tree, anchored at an AC operating point.

For a radial network in squared voltages (LinDistFlow, losses neglected), a change
of the net injections changes the squared voltage of node ``n`` by
``Δu_n = 2 Σ_{e ∈ path(n)} (r_e ΔP_e + x_e ΔQ_e)``, where ``ΔP_e``/``ΔQ_e`` are the
injection changes summed over the subtree below branch ``e``. With ``Δv ≈ Δu / (2 v0)``
the voltage magnitudes are

    v ≈ v0 + Sp·Δp + Sq·Δq,    Sp = diag(1/v0) · Path · diag(r) · Sub,

``Sub`` summing injections over subtrees and ``Path`` summing branch terms along
the path from the root. ``v0`` is the AC (pandapower ``runpp``) voltage at the
operating point, which carries the losses, shunts and transformer taps the
linearisation neglects. Both sums are sparse triangular solves on the tree's
parent matrix, so applying Sp, Sq or their transposes costs O(nodes): no dense
node × node matrix is formed unless asked for (:meth:`LinearVoltageModel.dense`).

Nodes are indexed by (bus, phase); a balanced feeder is the one-phase case with
phase 0 (:class:`NodeIndex`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from dec.conventions import kw_to_pu
from dec.network.powerflow import run_ac
from dec.network.topology import Tree, build_tree


@dataclass(frozen=True)
class NodeIndex:
    """(bus, phase) of every node of a linear model; phase 0 = balanced (positive sequence)."""

    bus: np.ndarray
    phase: np.ndarray

    def __len__(self) -> int:
        return len(self.bus)

    def position(self) -> dict[tuple[int, int], int]:
        """Return the node position of every (bus, phase)."""
        return {
            (int(b), int(p)): i for i, (b, p) in enumerate(zip(self.bus, self.phase, strict=True))
        }


class LinearVoltageModel:
    """Voltage sensitivities of a radial net to nodal injections, pu.

    Parameters
    ----------
    tree
        The radial tree of the net.
    v0_pu
        Voltage magnitude at every tree node at the operating point, pu.

    Attributes
    ----------
    flow_matrix
        ``I − A`` with ``A[parent, child] = 1`` (sparse): ``flow_matrix @ s = x`` gives the
        subtree sums ``s`` of node values ``x``, ``flow_matrix.T @ d = w`` the path sums ``d``.

    Notes
    -----
    Injections are per unit on ``tree.sn_mva`` and generation positive; use
    :meth:`kw_to_pu` to convert. Node ``n`` of the model is tree node ``n``.

    """

    def __init__(self, tree: Tree, v0_pu: np.ndarray):
        self.tree = tree
        self.v0_pu = np.asarray(v0_pu, dtype=float)
        n = tree.n_nodes
        children = np.arange(1, n)
        # A[parent, child] = 1; (I - A) s = x gives subtree sums s, (I - A^T) d = w path sums d.
        a = sp.csc_matrix((np.ones(n - 1), (tree.parent[1:], children)), shape=(n, n))
        self.flow_matrix = (sp.identity(n, format="csc") - a).tocsc()
        self._sub = splu(self.flow_matrix, permc_spec="NATURAL")
        self._path = splu(self.flow_matrix.T.tocsc(), permc_spec="NATURAL")
        self.nodes = NodeIndex(bus=tree.node_bus.copy(), phase=np.zeros(n, dtype=int))

    def at_voltage(self, v0_pu: np.ndarray) -> LinearVoltageModel:
        """Return the model re-anchored at new voltages, reusing the tree factorisation."""
        model = object.__new__(LinearVoltageModel)
        model.__dict__.update(self.__dict__)
        model.v0_pu = np.asarray(v0_pu, dtype=float)
        return model

    @classmethod
    def from_net(cls, net: pp.pandapowerNet, run: bool = True) -> LinearVoltageModel:
        """Build the model of a net at its operating point (runs the AC power flow if ``run``)."""
        if run:
            run_ac(net)
        tree = build_tree(net)
        v0 = net.res_bus["vm_pu"].loc[tree.node_bus].to_numpy()
        return cls(tree, v0)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.tree.n_nodes

    def kw_to_pu(self, p_kw: np.ndarray) -> np.ndarray:
        """Convert kW (or kvar) to per unit on the model's base."""
        return kw_to_pu(np.asarray(p_kw, dtype=float), self.tree.sn_mva)

    def subtree_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum node values over each node's subtree (the flow into each node's branch)."""
        return self._sub.solve(np.asarray(x, dtype=float))

    def path_sum(self, w: np.ndarray) -> np.ndarray:
        """Sum branch values along the path from the root to each node."""
        return self._path.solve(np.asarray(w, dtype=float))

    def delta_v(self, dp_pu: np.ndarray, dq_pu: np.ndarray | None = None) -> np.ndarray:
        """Voltage change at every node for nodal injection changes, pu.

        Parameters
        ----------
        dp_pu, dq_pu
            Active/reactive injection change at each node (generation positive), pu.
            A 2-D array holds one injection pattern per column.

        """
        r = self.tree.r_pu if np.ndim(dp_pu) == 1 else self.tree.r_pu[:, None]
        w = r * self.subtree_sum(dp_pu)
        if dq_pu is not None:
            x = self.tree.x_pu if np.ndim(dq_pu) == 1 else self.tree.x_pu[:, None]
            w = w + x * self.subtree_sum(dq_pu)
        d = self.path_sum(w)
        return d / (self.v0_pu if d.ndim == 1 else self.v0_pu[:, None])

    def delta_v_transpose(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``Sp^T`` and ``Sq^T`` to node weights ``y``: the injection-space gradients.

        Returns
        -------
        tuple of ndarray
            ``(Sp^T y, Sq^T y)``, one value per node.

        """
        scaled = np.asarray(y, dtype=float) / (
            self.v0_pu if np.ndim(y) == 1 else self.v0_pu[:, None]
        )
        # Sp^T = Sub^T diag(r) Path^T diag(1/v0); Sub^T solves with (I - A^T), Path^T with (I - A).
        branch = self._sub.solve(scaled)
        r = self.tree.r_pu if np.ndim(y) == 1 else self.tree.r_pu[:, None]
        x = self.tree.x_pu if np.ndim(y) == 1 else self.tree.x_pu[:, None]
        return self._path.solve(r * branch), self._path.solve(x * branch)

    def rows(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of Sp and Sq for the given nodes (dense, len(nodes) × n_nodes), pu/pu."""
        unit = np.zeros((self.n_nodes, len(nodes)))
        unit[np.asarray(nodes), np.arange(len(nodes))] = 1.0
        sp_t, sq_t = self.delta_v_transpose(unit)
        return sp_t.T, sq_t.T

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """Full Sp and Sq (n_nodes × n_nodes). For small feeders and tests only."""
        return self.rows(np.arange(self.n_nodes))
