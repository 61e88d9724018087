"""AC network check: pandapower's power flow for every hour, reducing trades that violate limits.

Each hour's executed trades (after the DC check) set the traders' loads and PV
units under the physical model of :mod:`dec.p2p.grid`, and pandapower's
Newton-Raphson power flow gives voltages and line/transformer loadings. Where a
voltage leaves ``[vm_min_pu, vm_max_pu]`` or a loading exceeds
``max_loading_percent``, the executed fractions are reduced by successive
linear programs: around the current AC point, loadings move with the PTDF
flows of the sellers' injections (scaled by each branch's P/S ratio) and voltages with the
LinDistFlow sensitivities anchored at the AC voltages
(:class:`~dec.network.linear.LinearVoltageModel`); the LP keeps the most traded
energy with ``x ≤ x_current`` inside limits tightened by a margin that doubles
until the AC power flow agrees. Violations that already exist without any P2P
trade are not the trades' doing: there the limit becomes the no-P2P value
(trades may not make it worse), and the hour is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandapower as pp
from scipy.optimize import linprog

from dec.conventions import kw_to_mw, mw_to_kw
from dec.errors import InfeasibleError
from dec.network.linear import LinearVoltageModel
from dec.network.powerflow import PowerFlowFailed, run_ac
from dec.network.ptdf import PTDF
from dec.network.topology import build_tree
from dec.p2p.case import P2PCase
from dec.p2p.grid import (
    branch_ratings_mva,
    bus_columns,
    element_powers_kw,
    matched_sales_kw,
    transfer_matrix_mw,
)
from dec.p2p.trades import Trades

MAX_ROUNDS = 12
VOLTAGE_MARGIN_PU = 0.001
LOADING_MARGIN_PERCENT = 0.25
SENSITIVITY_TOL = 1e-12
#: A voltage or loading beyond its limit by no more than this is within it: the accuracy of
#: the power flow (Newton-Raphson to 1e-8 MVA, recycled or from another starting point gives
#: the same state to a few 1e-9 pu), so that a state equal to the one without P2P, whose
#: values are the relaxed limits, has no violation. In pu and in % of the rating.
VOLTAGE_TOL_PU = 1e-6
LOADING_TOL_PERCENT = 1e-4
#: Only loads' and PV units' p/q change between the power flows of a check: pandapower may reuse its model.
RECYCLE = {"trafo": False, "gen": False, "bus_pq": True}


@dataclass(frozen=True)
class Limits:
    """Voltage and loading limits of the AC check."""

    vm_min_pu: float = 0.9
    vm_max_pu: float = 1.1
    max_loading_percent: float = 100.0


@dataclass(frozen=True)
class AcState:
    """The AC power flow's answer for one hour.

    Attributes
    ----------
    vm_pu
        Voltage magnitude of every bus (``net.bus`` order), pu.
    loading_percent
        Loading of every PTDF branch (PTDF row order), %.
    p_mw, s_mva
        Active and apparent power at each branch's from/hv side, MW / MVA.
    slack_kw
        Power drawn from the ext_grid, kW.
    losses_kw
        Line and transformer losses, kW.

    """

    vm_pu: np.ndarray
    loading_percent: np.ndarray
    p_mw: np.ndarray
    s_mva: np.ndarray
    slack_kw: float
    losses_kw: float


@dataclass
class AcCheck:
    """Result of the AC check (per hour unless noted).

    Attributes
    ----------
    fraction
        Executed fraction of every trade after the check (per trade).
    vm_min_pu, vm_max_pu
        Lowest and highest bus voltage.
    max_line_loading_percent, max_trafo_loading_percent
        Highest line and transformer loading.
    slack_kw, losses_kw
        Power drawn from the ext_grid, and network losses.
    violations_found
        Number of limit violations in the AC result of the DC-checked trades.
    rounds
        Number of reductions the hour needed.
    events
        One entry per hour in which trades were reduced: what was violated and by how much.

    """

    fraction: np.ndarray
    vm_min_pu: np.ndarray
    vm_max_pu: np.ndarray
    max_line_loading_percent: np.ndarray
    max_trafo_loading_percent: np.ndarray
    slack_kw: np.ndarray
    losses_kw: np.ndarray
    violations_found: np.ndarray
    rounds: np.ndarray
    events: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class _VoltageGrid:
    """The LinDistFlow model of the case's net and where its nodes sit in ``net.bus``, built once.

    Attributes
    ----------
    model
        The model (re-anchored at each AC state's voltages by ``at_voltage``).
    node_row
        ``net.bus`` position of each model node's representative bus.
    bus_row, bus_node
        ``net.bus`` position and model node of every bus the model covers.

    """

    model: LinearVoltageModel
    node_row: np.ndarray
    bus_row: np.ndarray
    bus_node: np.ndarray

    @classmethod
    def of(cls, net: pp.pandapowerNet) -> _VoltageGrid:
        """Build it (fails with a clear message on a net the voltage model cannot use)."""
        tree = build_tree(net)
        bus = np.fromiter(tree.bus_node.keys(), dtype=int, count=len(tree.bus_node))
        node = np.fromiter(tree.bus_node.values(), dtype=int, count=len(tree.bus_node))
        return cls(
            model=LinearVoltageModel(tree, np.ones(tree.n_nodes)),
            node_row=net.bus.index.get_indexer(tree.node_bus),
            bus_row=net.bus.index.get_indexer(bus),
            bus_node=node,
        )


class _HourModel:
    """The case's net set up for one hour's trades; evaluates executed fractions by AC power flow."""

    def __init__(self, case: P2PCase, ptdf: PTDF, voltage: _VoltageGrid, trades: Trades, hour: int):
        self.case, self.ptdf, self.voltage, self.hour = case, ptdf, voltage, hour
        self.label = int(case.hours[hour])
        self.rows = trades.of_hour(hour)
        self.q_kw = trades.quantity_kw[self.rows]
        self.seller = trades.seller[self.rows]
        self.seller_node = voltage.model.tree.nodes_of_buses(case.bus[self.seller])
        self.sold = matched_sales_kw(case, trades, hour)
        net = case.net
        self.in_service = net.bus["in_service"].to_numpy()
        self.line_rows = np.flatnonzero(ptdf.branch_table == "line")
        self.trafo_rows = np.flatnonzero(ptdf.branch_table == "trafo")

    def evaluate(self, x: np.ndarray) -> AcState | None:
        """Run the AC power flow with executed fractions ``x`` of the hour's trades (None: no convergence)."""
        case, net = self.case, self.case.net
        executed = self.q_kw * x
        n = case.n_traders
        held_back = self.sold - np.bincount(self.seller, executed, minlength=n)
        load_kw, pv_kw = element_powers_kw(case, self.hour, held_back)
        has_load, has_pv = case.load_index >= 0, case.sgen_index >= 0
        idx = case.load_index[has_load]
        net.load.loc[idx, "p_mw"] = kw_to_mw(load_kw[has_load])
        net.load.loc[idx, "q_mvar"] = kw_to_mw(load_kw[has_load] * case.load_tan_phi)
        idx = case.sgen_index[has_pv]
        net.sgen.loc[idx, "p_mw"] = kw_to_mw(pv_kw[has_pv])
        net.sgen.loc[idx, "q_mvar"] = kw_to_mw(pv_kw[has_pv] * case.pv_tan_phi)
        try:
            run_ac(net, recycle=RECYCLE)
        except PowerFlowFailed:
            return None
        ptdf = self.ptdf
        lines = net.res_line.loc[ptdf.branch_index[self.line_rows]]
        trafos = net.res_trafo.loc[ptdf.branch_index[self.trafo_rows]]
        n_branch = len(ptdf.branch_index)
        loading, p_mw, q_mvar = np.zeros(n_branch), np.zeros(n_branch), np.zeros(n_branch)
        loading[self.line_rows] = lines["loading_percent"].to_numpy()
        loading[self.trafo_rows] = trafos["loading_percent"].to_numpy()
        p_mw[self.line_rows] = lines["p_from_mw"].to_numpy()
        p_mw[self.trafo_rows] = trafos["p_hv_mw"].to_numpy()
        q_mvar[self.line_rows] = lines["q_from_mvar"].to_numpy()
        q_mvar[self.trafo_rows] = trafos["q_hv_mvar"].to_numpy()
        losses = net.res_line["pl_mw"].sum() + net.res_trafo["pl_mw"].sum()
        return AcState(
            vm_pu=net.res_bus["vm_pu"].to_numpy(),
            loading_percent=loading,
            p_mw=p_mw,
            s_mva=np.hypot(p_mw, q_mvar),
            slack_kw=float(mw_to_kw(net.res_ext_grid["p_mw"].sum())),
            losses_kw=float(mw_to_kw(losses)),
        )

    def sensitivities(
        self, state: AcState, rating_mva: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the loading (%) and voltage (pu) change per executed fraction of each trade.

        Returns
        -------
        tuple of ndarray
            ``(loading, voltage)``: branches × trades and buses × trades (``net.bus`` order).

        """
        ptdf, case = self.ptdf, self.case
        transfer = transfer_matrix_mw(ptdf, bus_columns(ptdf, case.bus[self.seller]), self.q_kw)
        ratio = np.divide(state.p_mw, state.s_mva, out=np.sign(state.p_mw), where=state.s_mva > 0)
        ratio[state.s_mva <= 0] = 1.0
        loading = 100.0 * ratio[:, None] * transfer / rating_mva[:, None]
        grid = self.voltage
        model = grid.model.at_voltage(state.vm_pu[grid.node_row])
        k = np.arange(len(self.q_kw))
        q_pu = model.kw_to_pu(self.q_kw)
        dp = np.zeros((model.n_nodes, len(k)))
        dq = np.zeros((model.n_nodes, len(k)))
        np.add.at(dp, (self.seller_node, k), q_pu)
        np.add.at(dq, (self.seller_node, k), q_pu * case.pv_tan_phi)
        voltage = np.zeros((len(case.net.bus), len(k)))
        voltage[grid.bus_row] = model.delta_v(dp, dq)[grid.bus_node]
        return loading, voltage


def _build_recycled_model(case: P2PCase) -> None:
    """Build the internal model the hours' power flows recycle, with the traders at zero.

    An hour whose power flow cannot be solved is then named by the hour's own check.
    """
    net = case.net
    for table, index in (("load", case.load_index), ("sgen", case.sgen_index)):
        net[table].loc[index[index >= 0], ["p_mw", "q_mvar"]] = 0.0
    run_ac(net)


def _violations(
    state: AcState | None,
    vm_min: np.ndarray,
    vm_max: np.ndarray,
    max_loading: np.ndarray,
    live: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of buses under/over voltage and branches over loading (all set if the power flow failed).

    Values beyond a limit by at most the power flow's accuracy (``VOLTAGE_TOL_PU``,
    ``LOADING_TOL_PERCENT``) are within it.
    """
    if state is None:
        return live.copy(), np.zeros_like(live), np.ones(len(max_loading), dtype=bool)
    vm = np.nan_to_num(state.vm_pu, nan=1.0)
    low = live & (vm < vm_min - VOLTAGE_TOL_PU)
    high = live & (vm > vm_max + VOLTAGE_TOL_PU)
    over = state.loading_percent > max_loading + LOADING_TOL_PERCENT
    return low, high, over


def _reduce(
    x: np.ndarray,
    q_kw: np.ndarray,
    state: AcState,
    sens: tuple[np.ndarray, np.ndarray],
    limits: tuple[np.ndarray, np.ndarray, np.ndarray],
    live: np.ndarray,
    margin: float,
) -> np.ndarray | None:
    """One successive-LP step: the largest executed energy with ``0 ≤ x' ≤ x`` in linearised limits."""
    g_load, g_volt = sens
    vm_min, vm_max, max_loading = limits
    vm = np.nan_to_num(state.vm_pu, nan=1.0)
    rows_l = np.any(np.abs(g_load) > SENSITIVITY_TOL, axis=1)
    rows_v = live & np.any(np.abs(g_volt) > SENSITIVITY_TOL, axis=1)
    a = [g_load[rows_l], g_volt[rows_v], -g_volt[rows_v]]
    b = [
        max_loading[rows_l] - LOADING_MARGIN_PERCENT * margin - state.loading_percent[rows_l],
        vm_max[rows_v] - VOLTAGE_MARGIN_PU * margin - vm[rows_v],
        vm[rows_v] - vm_min[rows_v] - VOLTAGE_MARGIN_PU * margin,
    ]
    a_ub = np.vstack(a)
    b_ub = np.concatenate(b) + a_ub @ x
    result = linprog(
        -q_kw,
        A_ub=a_ub,
        b_ub=b_ub,
        bounds=list(zip(np.zeros_like(x), x, strict=True)),
        method="highs",
    )
    if result.status != 0:
        return None
    return np.clip(result.x, 0.0, x)


def _culprits(
    sens: tuple[np.ndarray, np.ndarray], masks: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Trades whose execution pushes a violated quantity further out of its limit."""
    g_load, g_volt = sens
    low, high, over = masks
    worse = np.zeros(g_load.shape[1], dtype=bool)
    worse |= np.any(g_load[over] > SENSITIVITY_TOL, axis=0)
    worse |= np.any(g_volt[high] > SENSITIVITY_TOL, axis=0)
    worse |= np.any(g_volt[low] < -SENSITIVITY_TOL, axis=0)
    return worse


def _describe(model: _HourModel, state: AcState | None, masks, limits: Limits) -> list[str]:
    """Return one sentence per kind of violation (buses and branches named, at most 5 each)."""
    if state is None:
        return ["the AC power flow does not converge"]
    low, high, over = masks
    buses = model.case.net.bus.index.to_numpy()
    ptdf = model.ptdf
    text = []
    for mask, word, limit, extreme in (
        (low, "below", limits.vm_min_pu, np.nanmin),
        (high, "above", limits.vm_max_pu, np.nanmax),
    ):
        if mask.any():
            text.append(
                f"voltage {word} {limit} pu at {int(mask.sum())} bus(es) {buses[mask][:5].tolist()} "
                f"(extreme {extreme(state.vm_pu[mask]):.4f} pu)"
            )
    text.extend(
        f"{ptdf.branch_table[r]} {ptdf.branch_index[r]} loaded {state.loading_percent[r]:.1f} %"
        for r in np.flatnonzero(over)[:5]
    )
    return text


def _count(masks: tuple[np.ndarray, np.ndarray, np.ndarray]) -> int:
    """Return the number of violated buses and branches."""
    return sum(int(m.sum()) for m in masks)


def _check_hour(
    model: _HourModel, x: np.ndarray, rating: np.ndarray, limits: Limits
) -> tuple[np.ndarray, AcState, dict | None]:
    """Check one hour; return the executed fractions, the final AC state and an event (or None)."""
    live = model.in_service
    vm_min = np.full(len(live), limits.vm_min_pu)
    vm_max = np.full(len(live), limits.vm_max_pu)
    max_loading = np.full(len(rating), limits.max_loading_percent)
    state = model.evaluate(x)
    masks = _violations(state, vm_min, vm_max, max_loading, live)
    if not any(m.any() for m in masks):
        return x, state, None
    event = {
        "hour": model.label,
        "n_found": _count(masks),
        "found": _describe(model, state, masks, limits),
    }
    base = model.evaluate(np.zeros_like(x))
    if base is None:
        raise InfeasibleError(
            f"The AC power flow of hour {model.label} does not converge even without P2P trades: "
            "the loads and PV of the scenario are beyond what the feeder can carry (lower "
            "load_scale/pv_scale or choose other hours)."
        )
    base_masks = _violations(base, vm_min, vm_max, max_loading, live)
    event["n_without_p2p"] = _count(base_masks)
    event["without_p2p"] = _describe(model, base, base_masks, limits)
    vm_base = np.nan_to_num(base.vm_pu, nan=1.0)
    vm_min, vm_max = np.minimum(vm_min, vm_base), np.maximum(vm_max, vm_base)
    max_loading = np.maximum(max_loading, base.loading_percent)
    x_requested, rounds, margin = x.copy(), 0, 1.0
    masks = _violations(state, vm_min, vm_max, max_loading, live)
    while any(m.any() for m in masks) and rounds < MAX_ROUNDS:
        sens = model.sensitivities(state, rating) if state is not None else None
        reduced = (
            None
            if sens is None
            else _reduce(x, model.q_kw, state, sens, (vm_min, vm_max, max_loading), live, margin)
        )
        if reduced is None:
            reduced = 0.5 * x if sens is None else np.where(_culprits(sens, masks), 0.5 * x, x)
        x, rounds, margin = reduced, rounds + 1, 2.0 * margin
        state = model.evaluate(x)
        masks = _violations(state, vm_min, vm_max, max_loading, live)
    if any(m.any() for m in masks):
        culprits = (
            _culprits(model.sensitivities(state, rating), masks) if state is not None else True
        )
        x = np.where(culprits, 0.0, x)
        state = model.evaluate(x)
        if state is None:
            x, state = np.zeros_like(x), base
        masks = _violations(state, vm_min, vm_max, max_loading, live)
    event |= {
        "reduced_kwh": float(np.sum(model.q_kw * (x_requested - x))),
        "rounds": rounds,
        "n_remaining": _count(masks),
        "remaining": _describe(model, state, masks, limits),
    }
    return x, state, event


def ac_check(
    case: P2PCase, trades: Trades, fraction: np.ndarray, ptdf: PTDF, limits: Limits
) -> AcCheck:
    """Run the AC check of every hour.

    Parameters
    ----------
    case
        The traders and their network (its loads and sgens are overwritten per hour).
    trades
        The market's trades (requested quantities).
    fraction
        Executed fraction of every trade after the DC check.
    ptdf
        DC PTDF of ``case.net`` (for the flow sensitivities).
    limits
        Voltage and loading limits.

    Returns
    -------
    AcCheck

    Raises
    ------
    InfeasibleError
        If an hour's power flow does not converge even without P2P trades.

    """
    fraction = np.array(fraction, dtype=float)
    rating = branch_ratings_mva(case, ptdf)
    n_hours = case.n_hours
    out = {
        name: np.zeros(n_hours) for name in ("vm_min", "vm_max", "line", "trafo", "slack", "losses")
    }
    found, rounds = np.zeros(n_hours, dtype=int), np.zeros(n_hours, dtype=int)
    events: list[dict] = []
    voltage = _VoltageGrid.of(case.net)
    _build_recycled_model(case)
    for hour in range(n_hours):
        model = _HourModel(case, ptdf, voltage, trades, hour)
        x, state, event = _check_hour(model, fraction[model.rows], rating, limits)
        fraction[model.rows] = x
        if event is not None:
            events.append(event)
            found[hour] = event["n_found"]
            rounds[hour] = event["rounds"]
        vm = state.vm_pu[model.in_service]
        out["vm_min"][hour], out["vm_max"][hour] = np.nanmin(vm), np.nanmax(vm)
        out["line"][hour] = state.loading_percent[model.line_rows].max(initial=0.0)
        out["trafo"][hour] = state.loading_percent[model.trafo_rows].max(initial=0.0)
        out["slack"][hour], out["losses"][hour] = state.slack_kw, state.losses_kw
    return AcCheck(
        fraction=fraction,
        vm_min_pu=out["vm_min"],
        vm_max_pu=out["vm_max"],
        max_line_loading_percent=out["line"],
        max_trafo_loading_percent=out["trafo"],
        slack_kw=out["slack"],
        losses_kw=out["losses"],
        violations_found=found,
        rounds=rounds,
        events=events,
    )
