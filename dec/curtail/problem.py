"""The fair-curtailment problem on a linear voltage model.

Decisions, per PV agent ``i`` with available power ``p_i`` (kW) and inverter rating
``s_i`` (kVA): curtailment fraction ``a_i ∈ [0, 1]`` (curtailed kW = ``p_i a_i``) and,
with reactive power, reactive fraction ``b_i ∈ [−b_max_i, 0]`` of ``s_i`` (absorbed kvar =
``−s_i b_i``; ``b_max_i = √(s_i² − p_i²)/s_i``, the capability at full output, which
curtailment only enlarges). Voltages must stay within limits on the linear model
``v = v_point + Sp Δp + Sq Δq`` of the feeder's :class:`~dec.network.grid.Grid`: one node
per bus on a balanced feeder, one per (bus, phase) on a three-phase one, where a
single-phase PV injects on its phase and a three-phase one equally on every phase.

Fairness schemes, as a linear *fairness map* ``a = Γ y`` onto the coordinator's variable ``y``:

- ``feeder``: one ``y`` for all agents (common fraction α);
- ``transformer``: one ``y`` per service transformer (agent group);
- ``efficient``, ``proportional``, ``equal-kw``: one ``y`` per agent;
  ``equal-kw`` adds a common share ``θ`` (in units of the mean available power
  ``p̄``) with ``p_i a_i ≤ p̄ θ``; the curtailment reported is ``min(p̄ θ, p_i)``.

Objectives (scaled by ``p̄``, weights ``w_a = p/p̄``, ``w_b = s/p̄``):

- ``feeder``, ``transformer``, ``efficient``: ``Σ w_a a + reg/2 Σ w_a a²`` (total curtailed kW / p̄;
  the small ``reg`` term makes the optimum unique; it is 0 for ``feeder``, whose optimum is unique);
- ``equal-kw``: ``Σ θ_i`` (= N θ at consensus: N × the common kW / p̄), plus the ``reg`` term
  on a three-phase feeder (see :attr:`CurtailProblem.reg`);
- ``proportional``: ``−Σ log(1 − a)`` (maximises Σ log of remaining output);
- with reactive power, all schemes add ``q_cost/2 Σ w_b b²``, small, so that inverters
  absorb reactive power before they curtail.

The reported ``objective`` is this value times ``p̄`` (kW) except for ``proportional``
(dimensionless).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from dec.admm.convergence import Tolerances
from dec.errors import InputError
from dec.network.grid import Grid
from dec.network.injections import element_in_service, element_power_kw
from dec.network.linear import LinearVoltageModel
from dec.network.projection import AffineVoltageMap
from dec.network.topology import Tree
from dec.options.curtail import SCHEMES
from feeders.base import Feeder

#: Curtailment fractions (and equal-kW shares) below this are the solvers' rounding
#: errors around 0, reported as 0 (dimensionless).
ZERO_FRACTION = 1e-9


def clean_fraction(x: np.ndarray | float) -> np.ndarray:
    """Return curtailment fractions clipped to [0, 1], with values below :data:`ZERO_FRACTION` as 0."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    return np.where(x < ZERO_FRACTION, 0.0, x)


@dataclass(frozen=True)
class CurtailSettings:
    """Settings of a curtailment run.

    Attributes
    ----------
    fairness
        One of :data:`SCHEMES`.
    reactive
        Let inverters absorb reactive power within their kVA rating.
    vmax_pu, vmin_pu
        Voltage limits (None: the feeder's).
    reg
        Quadratic regularisation of the linear schemes (transformer, efficient).
    q_cost
        Quadratic cost of reactive power (scaled units). Small, so that inverters absorb
        before they curtail: with 0.1, proportional fairness on ieee123 at PV x 2 and load
        x 0.3 curtailed 241 kW where reactive power alone removes the over-voltage (0.44 kW
        with 0.01), at about twice the ADMM rounds of 0.1 (0.001 takes 5 to 10 times).
    tolerances
        ADMM stopping tolerances and round limit.
    rho
        Initial ADMM penalty (adapted by residual balancing).
    ac_tol_pu
        Accepted AC voltage above the limit after validation, pu (the issue asks for
        0.001; 0.0005 leaves margin for consumers that round the written setpoints).
    max_relinearisations
        Largest number of linear solves of the AC validation loop (ieee123 with 6x PV and
        reactive power needs 11: its reactive flows make each linearisation a poor guide).
    anderson_memory
        Memory of the Anderson acceleration of the ADMM rounds (0: plain ADMM).
    theta_weight
        ADMM metric weight of the agents' copies of the equal-kW share, relative to their
        curtailment fractions (a diagonal preconditioner; the optimum does not depend on it).
        None: 10 with Anderson acceleration (equal-kW rounds on the five feeders' default
        scenarios 5,756 -> 4,847, on ieee123 566 -> 238, than with 1), 1 for plain ADMM (which
        10 slows: ieee123 4,563 rounds -> not converged in 5,000).
    """

    fairness: str = "feeder"
    reactive: bool = False
    vmax_pu: float | None = None
    vmin_pu: float | None = None
    reg: float = 1e-2
    q_cost: float = 1e-2
    tolerances: Tolerances = field(default_factory=lambda: Tolerances(1e-10, 1e-9, 5000))
    rho: float = 1.0
    ac_tol_pu: float = 5e-4
    max_relinearisations: int = 15
    anderson_memory: int = 5
    theta_weight: float | None = None

    def upper_limit_pu(self, feeder: Feeder) -> float:
        """Return the upper voltage limit on ``feeder``: ``vmax_pu``, else the feeder's, pu."""
        return self.vmax_pu if self.vmax_pu is not None else feeder.vm_max_pu

    def lower_limit_pu(self, feeder: Feeder) -> float:
        """Return the lower voltage limit on ``feeder``: ``vmin_pu``, else the feeder's, pu."""
        return self.vmin_pu if self.vmin_pu is not None else feeder.vm_min_pu

    def __post_init__(self):
        if self.fairness not in SCHEMES:
            raise InputError(
                f"Field 'fairness' has the unknown value {self.fairness!r}; allowed: "
                f"{', '.join(SCHEMES)}."
            )


#: Output below which a PV agent does not count as producing, kW.
PRODUCING_KW = 1e-9


def has_pv_output(feeder: Feeder) -> bool:
    """Whether any of the feeder's PV agents produces power (else there is nothing to curtail)."""
    return bool((available_pv_kw(feeder) > PRODUCING_KW).any())


def available_pv_kw(feeder: Feeder) -> np.ndarray:
    """Return the available power of each of the feeder's PV agents, kW (0 out of service)."""
    net, pvs = feeder.net, list(feeder.agents_of_type("pv"))
    tables = np.array([a.element[0] for a in pvs])
    index = np.array([a.element[1] for a in pvs], dtype=int)
    p_kw, _ = element_power_kw(net, tables, index, np.array([a.phase for a in pvs], dtype=int))
    return np.where(element_in_service(net, tables, index), p_kw, 0.0)


@dataclass
class CurtailProblem:
    """The agents, fairness structure and network of a curtailment problem.

    Attributes
    ----------
    feeder
        The feeder (its net holds the available PV output in ``sgen.p_mw``).
    settings
        Run settings.
    grid
        The feeder's network (nodes, AC power flow, linear model).
    agent_ids
        PV agents taking part (available power > 0).
    element_table, element_index
        pandapower table (``sgen``/``asymmetric_sgen``) and row of each agent's unit.
    phase
        Phase code of each agent (0 balanced / three-phase, 1–3 phase a–c).
    p_kw, s_kva
        Available power and inverter rating of each, kW / kVA.
    node
        Tree node of each agent's bus.
    y_of_agent
        Coordinator variable of each agent's curtailment fraction (the fairness map Γ).
    vmax_pu, vmin_pu
        Voltage limits.
    below_lower_limit
        Model nodes already below ``vmin_pu`` without curtailment: curtailment cannot fix
        them, so their lower limit is not imposed (:func:`dec.curtail.solve.check_feasible`
        reports them).
    """

    feeder: Feeder
    settings: CurtailSettings
    grid: Grid
    agent_ids: list[str]
    element_table: np.ndarray
    element_index: np.ndarray
    phase: np.ndarray
    p_kw: np.ndarray
    s_kva: np.ndarray
    node: np.ndarray
    y_of_agent: np.ndarray
    group_names: list[str]
    vmax_pu: float
    vmin_pu: float
    below_lower_limit: tuple[int, ...] = ()

    @classmethod
    def from_feeder(cls, feeder: Feeder, settings: CurtailSettings) -> CurtailProblem:
        """Collect the PV agents producing power and the fairness structure of a feeder."""
        grid = Grid.from_feeder(feeder)
        pvs = list(feeder.agents_of_type("pv"))
        tables = np.array([a.element[0] for a in pvs])
        index = np.array([a.element[1] for a in pvs], dtype=int)
        phase = np.array([a.phase for a in pvs], dtype=int)
        p_kw = available_pv_kw(feeder)
        keep = p_kw > PRODUCING_KW
        if not keep.any():
            raise InputError(
                "No PV unit produces power: there is nothing to curtail.", feeder.feeder_id
            )
        pvs = [a for a, k in zip(pvs, keep, strict=True) if k]
        s_kva = np.array([a.s_rated_kva or a.p_rated_kw for a in pvs], dtype=float)
        groups = [a.group or a.agent_id for a in pvs]
        if settings.fairness == "feeder":
            names, y_of_agent = ["feeder"], np.zeros(len(pvs), dtype=int)
        elif settings.fairness == "transformer":
            names = list(dict.fromkeys(groups))
            position = {g: k for k, g in enumerate(names)}
            y_of_agent = np.array([position[g] for g in groups], dtype=int)
        else:
            names, y_of_agent = [a.agent_id for a in pvs], np.arange(len(pvs))
        return cls(
            feeder=feeder,
            settings=settings,
            grid=grid,
            agent_ids=[a.agent_id for a in pvs],
            element_table=tables[keep],
            element_index=index[keep],
            phase=phase[keep],
            p_kw=p_kw[keep],
            s_kva=np.maximum(s_kva, p_kw[keep]),
            node=grid.tree.nodes_of_buses(np.array([a.bus for a in pvs])),
            y_of_agent=y_of_agent,
            group_names=names,
            vmax_pu=settings.upper_limit_pu(feeder),
            vmin_pu=settings.lower_limit_pu(feeder),
        )

    # --- sizes and weights -------------------------------------------------------------
    @property
    def tree(self) -> Tree:
        """Radial tree of the net."""
        return self.grid.tree

    @property
    def buses(self) -> np.ndarray:
        """Pandapower bus of each agent."""
        return self.tree.node_bus[self.node]

    @property
    def n_agents(self) -> int:
        """Number of PV agents taking part."""
        return len(self.agent_ids)

    @property
    def n_y(self) -> int:
        """Number of coordinator curtailment variables (groups of the fairness map)."""
        return len(self.group_names)

    @property
    def p_mean_kw(self) -> float:
        """Mean available power p̄, kW (the scale of the objective)."""
        return float(self.p_kw.mean())

    @property
    def w_a(self) -> np.ndarray:
        """Metric weight of each agent's curtailment fraction: p / p̄."""
        return self.p_kw / self.p_mean_kw

    @property
    def w_b(self) -> np.ndarray:
        """Metric weight of each agent's reactive fraction: s / p̄."""
        return self.s_kva / self.p_mean_kw

    @property
    def b_max(self) -> np.ndarray:
        """Largest reactive absorption of each inverter, fraction of its kVA (0 without reactive)."""
        if not self.settings.reactive:
            return np.zeros(self.n_agents)
        return np.sqrt(np.maximum(self.s_kva**2 - self.p_kw**2, 0.0)) / self.s_kva

    @property
    def reg(self) -> float:
        """Regularisation weight used by this scheme.

        ``transformer`` and ``efficient``; and ``equal-kw`` per phase, where PVs whose
        curtailment does not lower the binding voltages may curtail anything up to the common
        share (see :meth:`curtailment_kw`): the term makes them keep their output.
        """
        regularised = self.settings.fairness in ("transformer", "efficient") or (
            self.settings.fairness == "equal-kw" and self.grid.three_phase
        )
        return self.settings.reg if regularised else 0.0

    @property
    def theta_weight(self) -> float:
        """ADMM metric weight of the equal-kW share's copies (see :class:`CurtailSettings`)."""
        if self.settings.theta_weight is not None:
            return self.settings.theta_weight
        return 10.0 if self.settings.anderson_memory > 0 else 1.0

    @property
    def y_weight(self) -> np.ndarray:
        """Metric weight of each coordinator variable: the sum of its agents' ``w_a``."""
        return np.bincount(self.y_of_agent, weights=self.w_a, minlength=self.n_y)

    def incidence(self) -> sp.csr_matrix:
        """Share of each agent's injection at each model node (nodes × agents)."""
        return self.grid.injection_incidence(self.buses, self.phase)

    # --- physics ----------------------------------------------------------------------
    def injection_maps(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Sparse maps from coordinator variables to nodal injection changes, kW / kvar.

        Returns
        -------
        tuple of scipy.sparse.csr_matrix
            ``dp_per_y`` (nodes × n_y): active injection change per unit of each ``y``
            (curtailing lowers injection); ``dq_per_b`` (nodes × agents): reactive
            injection change per unit of each ``b``.
        """
        e = self.incidence()
        gamma = sp.csr_matrix(
            (np.ones(self.n_agents), (np.arange(self.n_agents), self.y_of_agent)),
            shape=(self.n_agents, self.n_y),
        )
        dp_per_y = -(e @ sp.diags(self.p_kw) @ gamma)
        dq_per_b = e @ sp.diags(self.s_kva)
        return dp_per_y.tocsr(), dq_per_b.tocsr()

    def group_curtailment_ratio(self, curtailment_kw: np.ndarray) -> np.ndarray:
        """Curtailed share of the available PV power of each fairness group (per ``y``).

        For ``feeder`` and ``transformer`` fairness it is the common fraction of the
        setpoints (α, or α per secondary), equal to the coordinator's ``y`` once the ADMM
        has converged.
        """
        curtailed = np.bincount(self.y_of_agent, curtailment_kw, minlength=self.n_y)
        return curtailed / np.bincount(self.y_of_agent, self.p_kw, minlength=self.n_y)

    def active_injection_kw(self, a: np.ndarray) -> np.ndarray:
        """Nodal active injection change of the agents' curtailment fractions ``a``, kW."""
        return -(self.incidence() @ (self.p_kw * a))

    def voltage_map(
        self,
        model: LinearVoltageModel,
        v_point: np.ndarray,
        a_point: np.ndarray,
        b_point: np.ndarray,
    ) -> AffineVoltageMap:
        """Affine voltage map of the coordinator variable ``z = (y, b)`` around an operating point.

        Where the feeder has independent areas (branches leaving the source, see
        :meth:`~dec.network.linear.LinearVoltageModel.root_areas`) and every coordinator
        variable acts in one of them (all schemes but ``feeder``), the map carries one block
        per area, projected separately by the coordinator.

        Parameters
        ----------
        model
            Linear voltage model linearised at the operating point.
        v_point
            AC voltage at every node at the operating point, pu.
        a_point, b_point
            Curtailment and reactive fractions of every agent at the operating point (the
            setpoints the AC voltages were computed with: before an ADMM has converged,
            the coordinator's variables need not reproduce them).
        """
        to_pu = model.kw_to_pu(1.0)
        dp_per_y, dq_per_b = self.injection_maps()
        dp_per_y, dq_per_b = to_pu * dp_per_y, to_pu * dq_per_b
        reactive = self.settings.reactive
        apply, apply_transpose = _operators(model, dp_per_y, dq_per_b if reactive else None)
        v_min, v_max = self.limits(model)
        at_point = model.delta_v(
            to_pu * self.active_injection_kw(a_point), dq_per_b @ b_point if reactive else None
        )
        vmap = AffineVoltageMap(
            v_base=v_point - at_point,
            apply=apply,
            apply_transpose=apply_transpose,
            v_min=v_min,
            v_max=v_max,
        )
        vmap.blocks = self._area_blocks(model, vmap, dp_per_y, dq_per_b)
        return vmap

    def _area_blocks(
        self,
        model: LinearVoltageModel,
        vmap: AffineVoltageMap,
        dp_per_y: sp.csr_matrix,
        dq_per_b: sp.csr_matrix,
    ) -> list[tuple[np.ndarray, AffineVoltageMap]] | None:
        """One block of the map per area holding coordinator variables (None: no split)."""
        areas = model.root_areas()
        if len(areas) < 2:
            return None
        tree_area = np.full(self.tree.n_nodes, -1)
        for k, (covered, _) in enumerate(areas):
            tree_area[model.tree_node[covered]] = k
        tree_area[0] = -1
        agent_area = tree_area[self.node]
        y_area = np.full(self.n_y, -1)
        y_area[self.y_of_agent] = agent_area
        if (agent_area < 0).any() or (y_area[self.y_of_agent] != agent_area).any():
            return None  # a unit at the source, or a variable acting in several areas
        reactive = self.settings.reactive
        blocks = []
        for k, (covered, area_model) in enumerate(areas):
            ys, agents = np.flatnonzero(y_area == k), np.flatnonzero(agent_area == k)
            v_base = vmap.v_base[covered]
            v_min, v_max = vmap.v_min[covered], vmap.v_max[covered]
            if not len(ys):
                if (v_base > v_max + 1e-10).any() or (v_base < v_min - 1e-10).any():
                    return None  # the whole map's projection reports the infeasibility
                continue
            dp = dp_per_y[covered][:, ys]
            dq = dq_per_b[covered][:, agents] if reactive else None
            apply, apply_transpose = _operators(area_model, dp, dq)
            components = np.concatenate([ys, self.n_y + agents]) if reactive else ys
            sub = AffineVoltageMap(v_base, apply, apply_transpose, v_min, v_max)
            blocks.append((components, sub))
        return blocks

    def limits(self, model: LinearVoltageModel) -> tuple[np.ndarray, np.ndarray]:
        """Voltage limits per model node in the model's linear quantity, pu.

        The source's phases are unconstrained, and so are the lower limits of the nodes
        already below them (``below_lower_limit``); with limits in squared voltages (the
        LinDistFlow operating point) they are the model's exact images of ``v_min²`` and
        ``v_max²`` (:meth:`~dec.network.linear.LinearVoltageModel.limits`).
        """
        v_min = np.full(model.n_nodes, self.vmin_pu)
        v_max = np.full(model.n_nodes, self.vmax_pu)
        root = self.grid.root_nodes()
        v_min[root], v_max[root] = -np.inf, np.inf
        v_min[list(self.below_lower_limit)] = -np.inf
        return model.limits(v_min, v_max)

    # --- decisions and objective ------------------------------------------------------
    def equal_share_kw(self, theta: float) -> float:
        """Return the equal-kW common curtailment, kW, of the share ``θ`` (units of ``p̄``).

        A share that the solver ends a rounding error from 0 (when nothing need be
        curtailed) counts as 0.
        """
        theta = float(theta)
        return 0.0 if theta < ZERO_FRACTION else self.p_mean_kw * theta

    def curtailment_kw(self, a: np.ndarray, theta: float | None = None) -> np.ndarray:
        """Curtailed kW of each agent.

        For ``equal-kw`` on a balanced feeder the exact ``min(p̄ θ, p_i)``: there every
        curtailment lowers every voltage (LinDistFlow sensitivities are non-negative), so
        curtailing the full common share is always safe. Per phase, the mutual coupling of
        the phases makes some sensitivities negative (curtailing on phase a raises phase b
        downstream): a PV then curtails what the solution gives it, ``p_i a_i ≤ p̄ θ``.
        """
        if self.settings.fairness == "equal-kw" and theta is not None and not self.grid.three_phase:
            return np.minimum(self.equal_share_kw(theta), self.p_kw)
        return self.p_kw * clean_fraction(a)

    def objective(self, a: np.ndarray, b: np.ndarray | None, theta: float | None) -> float:
        """Return the scheme's objective (kW; dimensionless for ``proportional``), see module doc."""
        scheme = self.settings.fairness
        a = np.clip(a, 0.0, 1.0)
        q_term = (
            0.5 * self.settings.q_cost * float(np.sum(self.w_b * b**2)) if b is not None else 0.0
        )
        if scheme == "proportional":
            return float(-np.sum(np.log(np.maximum(1.0 - a, 1e-300)))) + q_term
        if scheme == "equal-kw":
            reg_term = 0.5 * self.reg * float(np.sum(self.w_a * a**2))
            return self.p_mean_kw * (self.n_agents * float(theta) + reg_term + q_term)
        value = float(np.sum(self.w_a * a) + 0.5 * self.reg * np.sum(self.w_a * a**2))
        return self.p_mean_kw * (value + q_term)


def _operators(
    model: LinearVoltageModel, dp_per_y: sp.csr_matrix, dq_per_b: sp.csr_matrix | None
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """``z -> Δv`` and its transpose for ``z = (y, b)`` (``b`` only with ``dq_per_b``)."""
    n_y = dp_per_y.shape[1]
    dp_t = dp_per_y.T.tocsr()
    dq_t = None if dq_per_b is None else dq_per_b.T.tocsr()

    def apply(z: np.ndarray) -> np.ndarray:
        dq = None if dq_per_b is None else dq_per_b @ z[n_y:]
        return model.delta_v(dp_per_y @ z[:n_y], dq)

    def apply_transpose(weights: np.ndarray) -> np.ndarray:
        sp_t, sq_t = model.delta_v_transpose(weights)
        if dq_t is None:
            return dp_t @ sp_t
        return np.concatenate([dp_t @ sp_t, dq_t @ sq_t])

    return apply, apply_transpose
