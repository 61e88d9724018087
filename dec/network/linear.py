"""Linear voltage model: LinDistFlow along the radial tree, anchored at an operating point.

For a radial network in squared voltages (LinDistFlow, losses neglected), a change of
the net injections changes the squared voltage ``U`` of a node by the sum, over the
branches of its path from the root, of ``M_e · (ΔP_e, ΔQ_e)``, where ``ΔP_e``/``ΔQ_e``
are the injection changes summed over the subtree below branch ``e``:

- balanced (one phase, phase code 0): ``M_e = (2 r_e, 2 x_e)``;
- three-phase (phase codes 1, 2, 3 = a, b, c): ``M_e`` is 3 × 6, the coupling of the
  3×3 phase impedance matrix with the phase voltages assumed 120° apart
  (:meth:`dec.network.phases.PhaseData.coupling`); the balanced model is the
  one-phase case of the same code.

With ``Δv ≈ ΔU / (2 v0)`` the voltage magnitudes are

    v ≈ v0 + Sp·Δp + Sq·Δq,    Sp = diag(1/(2 v0)) · Path · Mp · Sub,

``Sub`` summing injections over subtrees (per phase) and ``Path`` summing branch terms
along the path from the root. ``v0`` is the voltage at the operating point: the AC
(pandapower) solution, which carries the losses, shunts and transformer taps the
linearisation neglects, or the lossless LinDistFlow solution itself
(:meth:`LinearVoltageModel.lindistflow_voltage`). Both sums are sparse triangular solves
on the tree's parent matrix, so applying Sp, Sq or their transposes costs O(nodes): no
dense node × node matrix is formed unless asked for (:meth:`LinearVoltageModel.dense`).

Nodes are indexed by (bus, phase) (:class:`NodeIndex`): one node per tree node in the
balanced case, one per phase present at each tree node in the three-phase case.

Limits in squared voltages (``squared=True``): ``U ≤ v_max²`` is exactly
``v0 + ΔU/(2 v0) ≤ (v_max² + v0²) / (2 v0)``, so the same linear operators express the
LinDistFlow limits without linearising the square root (:meth:`LinearVoltageModel.limits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import pandapower as pp
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from dec.conventions import kw_to_pu
from dec.errors import InputError
from dec.network.phases import PhaseData
from dec.network.powerflow import run_ac
from dec.network.topology import Tree, build_tree

#: Scale of the centralized formulation's voltage variables (milli-pu keeps them near 1).
MILLI = 1000.0


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
        Voltage magnitude at every model node at the operating point, pu.
    phases
        Per-phase data of the tree (None: the balanced model, one node per tree node).
    squared
        Express voltage limits exactly in squared voltages (:meth:`limits`).

    Attributes
    ----------
    flow_matrix
        ``I − A`` with ``A[parent, child] = 1`` (sparse, tree nodes): ``flow_matrix @ s = x``
        gives the subtree sums ``s`` of node values ``x``, ``flow_matrix.T @ d = w`` the
        path sums ``d``.
    nodes
        (bus, phase) of every model node.
    tree_node
        Tree node of every model node.
    phase_base_mva
        Per-unit power base of the injections of one node: ``sn_mva`` (balanced) or
        ``sn_mva / 3`` (one phase).

    Notes
    -----
    Injections are per unit on :attr:`phase_base_mva` and generation positive; use
    :meth:`kw_to_pu` to convert.
    """

    def __init__(
        self,
        tree: Tree,
        v0_pu: np.ndarray,
        phases: PhaseData | None = None,
        squared: bool = False,
    ):
        self.tree = tree
        self.phases = phases
        self.squared = squared
        n = tree.n_nodes
        children = np.arange(1, n)
        # A[parent, child] = 1; (I - A) s = x gives subtree sums s, (I - A^T) d = w path sums d.
        a = sp.csc_matrix((np.ones(n - 1), (tree.parent[1:], children)), shape=(n, n))
        self.flow_matrix = (sp.identity(n, format="csc") - a).tocsc()
        self._sub = splu(self.flow_matrix, permc_spec="NATURAL")
        self._path = splu(self.flow_matrix.T.tocsc(), permc_spec="NATURAL")
        if phases is None:
            present = np.ones((n, 1), dtype=bool)
            self._m_p = 2.0 * tree.r_pu[:, None, None]
            self._m_q = 2.0 * tree.x_pu[:, None, None]
            codes = np.array([0])
            self.phase_base_mva = tree.sn_mva
        else:
            present = phases.present
            self._m_p, self._m_q = phases.coupling()
            codes = np.array([1, 2, 3])
            self.phase_base_mva = tree.sn_mva / 3.0
        self.n_phases = present.shape[1]
        self._present = present
        self._grid = np.flatnonzero(present.ravel())  # model node -> (tree node, phase) slot
        self._slot_node = np.full(present.size, -1)
        self._slot_node[self._grid] = np.arange(len(self._grid))
        self.tree_node = self._grid // self.n_phases
        self.nodes = NodeIndex(
            bus=tree.node_bus[self.tree_node].copy(), phase=codes[self._grid % self.n_phases]
        )
        self.v0_pu = self._check_v0(v0_pu)
        self._areas: list[tuple[np.ndarray, LinearVoltageModel]] = []  # shared by at_voltage

    def _check_v0(self, v0_pu: np.ndarray) -> np.ndarray:
        v0 = np.asarray(v0_pu, dtype=float)
        if v0.shape != (self.n_nodes,):
            raise InputError(
                f"The operating point has {v0.size} voltages for {self.n_nodes} model nodes."
            )
        return v0

    def at_voltage(self, v0_pu: np.ndarray) -> LinearVoltageModel:
        """Return the model re-anchored at new voltages, reusing the tree factorisation."""
        model = object.__new__(LinearVoltageModel)
        model.__dict__.update(self.__dict__)
        model.v0_pu = self._check_v0(v0_pu)
        return model

    def root_areas(self) -> list[tuple[np.ndarray, LinearVoltageModel]]:
        """Split the model into independent areas: one per branch leaving the root.

        The root's voltage is fixed, so a node's voltage changes with the injections of its
        own root subtree only (:meth:`dec.network.topology.Tree.root_subtrees`). Each area's
        model covers the root and that subtree; the areas are built once and re-anchored.

        Returns
        -------
        list of tuple
            For each area: the model nodes it covers (ascending, the root's first) and its
            model at this model's voltages.
        """
        if not self._areas:
            subtrees = self.tree.root_subtrees()
            label = np.full(self.tree.n_nodes, -1)
            for k, (nodes, _) in enumerate(subtrees):
                label[nodes] = k
            model_label = label[self.tree_node]
            root = np.flatnonzero(model_label == -1)
            order = np.argsort(model_label, kind="stable")[len(root) :]
            groups = np.split(order, np.cumsum(np.bincount(model_label[order]))[:-1])
            for (nodes, tree), group in zip(subtrees, groups, strict=True):
                keep = np.concatenate([[0], nodes])
                phases = None
                if self.phases is not None:
                    phases = PhaseData(self.phases.present[keep], self.phases.z_pu[keep])
                covered = np.concatenate([root, group])
                model = LinearVoltageModel(tree, self.v0_pu[covered], phases, self.squared)
                self._areas.append((covered, model))
        return [(covered, model.at_voltage(self.v0_pu[covered])) for covered, model in self._areas]

    @classmethod
    def from_net(cls, net: pp.pandapowerNet, run: bool = True) -> LinearVoltageModel:
        """Build the balanced model of a net at its operating point (runs the AC flow if ``run``)."""
        if run:
            run_ac(net)
        tree = build_tree(net)
        v0 = net.res_bus["vm_pu"].loc[tree.node_bus].to_numpy()
        return cls(tree, v0)

    @property
    def n_nodes(self) -> int:
        """Number of model nodes."""
        return len(self._grid)

    def kw_to_pu(self, p_kw: np.ndarray) -> np.ndarray:
        """Convert kW (or kvar) at one node to per unit on the model's base."""
        return kw_to_pu(np.asarray(p_kw, dtype=float), self.phase_base_mva)

    # --- (tree node, phase) slots ----------------------------------------------------
    def _to_slots(self, x: np.ndarray) -> np.ndarray:
        """Model-node values (n_nodes or n_nodes × m) -> slots (tree nodes, phases, m)."""
        x = np.asarray(x, dtype=float).reshape(self.n_nodes, -1)
        slots = np.zeros((self._present.size, x.shape[1]))
        slots[self._grid] = x
        return slots.reshape(self.tree.n_nodes, self.n_phases, -1)

    def _from_slots(self, slots: np.ndarray, one_d: bool) -> np.ndarray:
        out = slots.reshape(self._present.size, -1)[self._grid]
        return out[:, 0] if one_d else out

    def _solve(self, lu, slots: np.ndarray) -> np.ndarray:
        n, k, m = slots.shape
        return lu.solve(slots.reshape(n, k * m)).reshape(n, k, m)

    # --- operators --------------------------------------------------------------------
    def delta_u(self, dp_pu: np.ndarray, dq_pu: np.ndarray | None = None) -> np.ndarray:
        """Squared-voltage change at every node for nodal injection changes, pu.

        Parameters
        ----------
        dp_pu, dq_pu
            Active/reactive injection change at each node (generation positive), pu.
            A 2-D array holds one injection pattern per column.
        """
        branch = np.einsum("nij,njm->nim", self._m_p, self._solve(self._sub, self._to_slots(dp_pu)))
        if dq_pu is not None:
            flow_q = self._solve(self._sub, self._to_slots(dq_pu))
            branch = branch + np.einsum("nij,njm->nim", self._m_q, flow_q)
        return self._from_slots(self._solve(self._path, branch), np.ndim(dp_pu) == 1)

    def delta_v(self, dp_pu: np.ndarray, dq_pu: np.ndarray | None = None) -> np.ndarray:
        """Voltage change at every node for nodal injection changes, pu (see :meth:`delta_u`)."""
        du = self.delta_u(dp_pu, dq_pu)
        return du / (2.0 * (self.v0_pu if du.ndim == 1 else self.v0_pu[:, None]))

    def delta_v_transpose(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply ``Sp^T`` and ``Sq^T`` to node weights ``y``: the injection-space gradients.

        Returns
        -------
        tuple of ndarray
            ``(Sp^T y, Sq^T y)``, one value per node.
        """
        y = np.asarray(y, dtype=float)
        scaled = y / (2.0 * (self.v0_pu if y.ndim == 1 else self.v0_pu[:, None]))
        # Sp^T = Sub^T Mp^T Path^T diag(1/2v0); Path^T solves with (I - A), Sub^T with (I - A^T).
        branch = self._solve(self._sub, self._to_slots(scaled))
        grad_p = np.einsum("nji,njm->nim", self._m_p, branch)
        grad_q = np.einsum("nji,njm->nim", self._m_q, branch)
        one_d = y.ndim == 1
        return (
            self._from_slots(self._solve(self._path, grad_p), one_d),
            self._from_slots(self._solve(self._path, grad_q), one_d),
        )

    def rows(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of Sp and Sq for the given nodes (dense, len(nodes) × n_nodes), pu/pu."""
        unit = np.zeros((self.n_nodes, len(nodes)))
        unit[np.asarray(nodes), np.arange(len(nodes))] = 1.0
        sp_t, sq_t = self.delta_v_transpose(unit)
        return sp_t.T, sq_t.T

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """Full Sp and Sq (n_nodes × n_nodes). For small feeders and tests only."""
        return self.rows(np.arange(self.n_nodes))

    # --- operating point, limits, injections -----------------------------------------
    def lindistflow_voltage(
        self, p_pu: np.ndarray, q_pu: np.ndarray, v_source_pu: float
    ) -> np.ndarray:
        """Voltage magnitude at every node of the lossless LinDistFlow, pu.

        ``U = v_source² + ΔU(p, q)``: the squared voltages of the linear model itself for
        the net injections ``p_pu``, ``q_pu`` (generation positive) with the root at
        ``v_source_pu`` on every phase.
        """
        u = v_source_pu**2 + self.delta_u(p_pu, q_pu)
        return np.sqrt(np.maximum(u, 0.0))

    def limits(self, v_min_pu: np.ndarray, v_max_pu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voltage limits in the model's linear quantity ``v0 + Δv``, pu.

        Unchanged for the linearised magnitude; with ``squared`` the exact images of
        ``v_min² ≤ U ≤ v_max²``: ``(v² + v0²) / (2 v0)`` (infinite limits stay infinite).
        """
        if not self.squared:
            return v_min_pu, v_max_pu
        v0 = self.v0_pu
        with np.errstate(invalid="ignore"):
            lo = np.where(np.isfinite(v_min_pu), (v_min_pu**2 + v0**2) / (2.0 * v0), v_min_pu)
            hi = np.where(np.isfinite(v_max_pu), (v_max_pu**2 + v0**2) / (2.0 * v0), v_max_pu)
        return lo, hi

    def magnitude(self, v_linear_pu: np.ndarray) -> np.ndarray:
        """Voltage magnitude of a value of the linear quantity ``v0 + Δv``, pu.

        The quantity itself for the linearised magnitude; with ``squared``
        ``√(v0² + ΔU) = √(2 v0 v − v0²)``.
        """
        if not self.squared:
            return np.asarray(v_linear_pu, dtype=float)
        v0 = self.v0_pu
        return np.sqrt(np.maximum(2.0 * v0 * v_linear_pu - v0**2, 0.0))

    def injection_incidence(self, buses: np.ndarray, phases: np.ndarray) -> sp.csr_matrix:
        """Share of each injection at each node (nodes × injections).

        Parameters
        ----------
        buses
            pandapower bus of each injection.
        phases
            Phase code of each injection: 1, 2, 3 for one phase; 0 for a balanced
            injection, shared equally by the phases present at its bus (in the balanced
            model every injection sits on its bus's node).

        Raises
        ------
        InputError
            If an injection sits on a phase its bus lacks.
        """
        tree_node = self.tree.nodes_of_buses(np.asarray(buses))
        phases = np.asarray(phases, dtype=int)
        if self.n_phases == 1:
            rows, cols, share = self._slot_node[tree_node], np.arange(len(tree_node)), None
        else:
            slots = self._present[tree_node]  # (injections, 3)
            single = phases > 0
            chosen = np.zeros_like(slots)
            chosen[single, phases[single] - 1] = True
            chosen[~single] = slots[~single]
            missing = single & ~slots[np.arange(len(phases)), np.maximum(phases, 1) - 1]
            if missing.any():
                k = int(np.flatnonzero(missing)[0])
                raise InputError(
                    f"{int(missing.sum())} injection(s) sit on a phase their bus lacks, e.g. "
                    f"phase {'abc'[phases[k] - 1]} at bus {int(np.asarray(buses)[k])}."
                )
            cols, phase_idx = np.nonzero(chosen)
            rows = self._slot_node[tree_node[cols] * 3 + phase_idx]
            share = 1.0 / chosen.sum(axis=1)[cols]
        data = np.ones(len(rows)) if share is None else share
        return sp.csr_matrix((data, (rows, cols)), shape=(self.n_nodes, len(tree_node)))

    # --- the same model as convex constraints -----------------------------------------
    def cvxpy_voltage(
        self, dp_kw: cp.Expression, dq_kw: cp.Expression | None = None
    ) -> tuple[cp.Expression, list[cp.Constraint]]:
        """Express the model as sparse cvxpy constraints: voltage changes for injection changes.

        Per phase, the subtree flows ``s`` (kW, kvar) and the voltage changes ``d`` (milli-pu)
        are variables: ``(I − A) s = Δinjection`` and ``(I − A)ᵀ (2 v0 ∘ d) = 1000 k (Mp s_p +
        Mq s_q)`` with ``k`` the kW-to-pu factor: no dense node × node matrix, and every
        variable and coefficient near unit scale (the solvers need this to reach 1e-10).

        Parameters
        ----------
        dp_kw, dq_kw
            Active/reactive injection change at every node, kW / kvar (expressions).

        Returns
        -------
        tuple
            ``Δv`` at every node (pu, an expression) and the constraints defining it.
        """
        k = self.n_phases
        n_slots = self._present.size
        scatter = sp.csr_matrix(
            (np.ones(self.n_nodes), (self._grid, np.arange(self.n_nodes))),
            shape=(n_slots, self.n_nodes),
        )
        flow = sp.kron(self.flow_matrix, sp.identity(k)).tocsr()
        s_p = cp.Variable(n_slots)
        constraints = [flow @ s_p == scatter @ dp_kw]
        branch = _block_diagonal(self._m_p) @ s_p
        if dq_kw is not None:
            s_q = cp.Variable(n_slots)
            constraints.append(flow @ s_q == scatter @ dq_kw)
            branch = branch + _block_diagonal(self._m_q) @ s_q
        v0_slots = np.ones(n_slots)
        v0_slots[self._grid] = self.v0_pu
        d = cp.Variable(n_slots)
        constraints.append(
            flow.T @ cp.multiply(2.0 * v0_slots, d) == MILLI * self.kw_to_pu(1.0) * branch
        )
        return (scatter.T @ d) / MILLI, constraints


def _block_diagonal(blocks: np.ndarray) -> sp.csr_matrix:
    """Sparse block-diagonal matrix of a stack of (k × k) blocks (zeros dropped)."""
    n, k, _ = blocks.shape
    base = k * np.arange(n)[:, None, None]
    rows = np.broadcast_to(base + np.arange(k)[None, :, None], blocks.shape)
    cols = np.broadcast_to(base + np.arange(k)[None, None, :], blocks.shape)
    keep = blocks.ravel() != 0.0
    return sp.csr_matrix(
        (blocks.ravel()[keep], (rows.ravel()[keep], cols.ravel()[keep])), shape=(n * k, n * k)
    )
