"""The REC MILPs in cvxpy: a meter's individual schedule and the collective pool/bilateral market.

One builder writes the three problems of rec_op_lem_prices (stage 1, stage-2 pool,
stage-2 bilateral) in matrix form over N meters and T steps; energies in kWh per
step, tariffs in EUR/kWh, powers in kW.

Every meter n and step t (stage 1 and stage 2):

- retail and market exchanges ``e_sup_retail, e_sur_retail, e_sup_market,
  e_sur_market >= 0``, extra power ``p_extra >= 0``, net load ``e_cmet`` (free),
  binary ``delta_sup`` (supply or surplus, not both, with big M = 10 max_p);
- ``e_cmet = e_sup_retail + e_sup_market - e_sur_retail - e_sur_market + e_pur - e_sale``
  (no ``e_pur``/``e_sale`` in stage 1);
- ``e_cmet = e_c - e_g + sum_b (e_bc - e_bd)`` (plus vehicle charging);
- ``-p_extra - max_p <= e_cmet / delta_t <= p_extra + max_p``;
- batteries: ``e_bat_t = e_bat_{t-1} + eff_bc e_bc - e_bd / eff_bd``, SoC limits,
  ``e_bc / delta_t <= p_max delta_bc``, ``e_bd / delta_t <= p_max (1 - delta_bc)``.

Stage 2 adds the local market. A pool has per-meter purchases and sales whose sum
balances at every step (the balance whose duals are the dual prices); bilateral
contracts have per-pair exchanges with ``e_sale[n][m] = e_pur[m][n]``. Self-consumed
community energy ``e_slc`` (charged the grid tariff ``l_grid``) is the smaller of
the consumption and the energy bought in the community when ``l_grid >= 0`` (one
binary per meter and step), and is bounded by both when ``l_grid < 0``. Optional
rules: ``strict_pos_coeffs`` (a meter is a net buyer or sells at most its surplus),
``total_share_coeffs`` (in a deficit step every meter in surplus sells all of it to
the community; in a surplus step every meter in deficit buys all of it). The
second stage of a two-stage run bounds each meter's cost, LEM payments included,
by its stage-1 cost rounded up to the thousandth.

The objective is the sum of every meter's energy cost (the LEM price cancels in
the community). The compiled MILP is solved by :mod:`dec.rec.solve` as an LP
relaxation, with its binaries fixed (the LP whose duals give the dual prices) or,
when needed, as a MILP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from dec.rec.data import RecData

Kind = Literal["individual", "pool", "bilateral"]

#: Big-M of the on/off constraints, in multiples of the meters' power limit (as the
#: reference; raised where the data need more, see :func:`big_m_kwh`).
BIG_M_PER_KW = 10.0
#: Cost per kWh traded in the community added to the MILP objective (not to reported costs):
#: among schedules of equal cost it selects the one with the least internal trading, e.g.
#: no energy bought in the pool only to be exported at the same price. It grows over the
#: horizon, from 1 to 2 times this value, so that a trade equally cheap at several steps
#: goes to the earliest: the choice of the reference's solver (CBC) on its published
#: loop cases, where the step that gets a trade sets the next iteration's prices.
TIE_BREAK_EUR_PER_KWH = 1e-6


def round_up(val: float, decimals: int = 3, numpy_halves: bool = False) -> float:
    """Round ``val`` to ``decimals`` after adding half a unit of the last decimal.

    This is the stage-2 bound of rec_op_lem_prices: a cost is rounded to the next
    thousandth (exactly representable thousandths gain one more, e.g. 3.123 -> 3.124).
    The reference rounds a MILP cost (a Python float) with Python's ``round`` and a
    measured cost (a numpy float) with numpy's, which treat halves differently;
    ``numpy_halves`` selects the latter.
    """
    shifted = float(val) + 5 * 10 ** (-decimals - 1)
    if numpy_halves:
        return float(np.round(shifted, decimals))
    return round(shifted, decimals)


class Binaries:
    """The model's on/off variables (boolean cvxpy variables) by name."""

    def __init__(self):
        self.variables: dict[str, cp.Variable] = {}

    def __call__(self, name: str, shape: tuple[int, ...]) -> cp.Variable:
        """Return a new boolean variable of ``shape`` called ``name``."""
        self.variables[name] = cp.Variable(shape, boolean=True, name=name)
        return self.variables[name]


def _owner_matrix(owner: np.ndarray, n_meters: int) -> sp.csr_matrix:
    """Sparse (N, K) matrix summing K assets (or pairs) onto their N meters."""
    return sp.csr_matrix(
        (np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(n_meters, len(owner))
    )


@dataclass
class Pairs:
    """Ordered pairs (n, m), n != m, of a bilateral market: n-major, m in meter order."""

    first: np.ndarray
    second: np.ndarray
    reverse: np.ndarray

    @classmethod
    def of(cls, n_meters: int) -> Pairs:
        """Return every ordered pair of ``n_meters`` meters."""
        pairs = [(n, m) for n in range(n_meters) for m in range(n_meters) if m != n]
        position = {p: k for k, p in enumerate(pairs)}
        return cls(
            first=np.array([p[0] for p in pairs], dtype=int),
            second=np.array([p[1] for p in pairs], dtype=int),
            reverse=np.array([position[(m, n)] for n, m in pairs], dtype=int),
        )

    def __len__(self) -> int:
        return len(self.first)


@dataclass
class RecModel:
    """A compiled REC problem: variables, parameters and the named constraints to read.

    Attributes
    ----------
    kind
        ``individual``, ``pool`` or ``bilateral``.
    data
        The data it was built from.
    problem
        The cvxpy problem (DPP: re-solved with new ``l_lem`` / ``bound`` values).
    variables
        Continuous variables (and expressions, e.g. ``e_sale`` of bilateral pairs) by name.
    binaries
        The on/off source (its variables by name).
    l_lem, bound
        Parameters: LEM prices (T,) and each meter's stage-2 cost bound (N,) (None when
        the model has no bound).
    balance
        Per-step pool balance (pool only), whose duals are the dual prices.
    pairs
        Ordered meter pairs (bilateral only).

    """

    kind: Kind
    data: RecData
    problem: cp.Problem
    variables: dict[str, cp.Expression]
    binaries: Binaries
    l_lem: cp.Parameter | None = None
    bound: cp.Parameter | None = None
    balance: cp.Constraint | None = None
    pairs: Pairs | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)


def _flows(data: RecData, var, bins: Binaries, cons: list) -> tuple[Any, Any, list]:
    """Add the batteries' and vehicles' variables.

    Returns the assets' net flow at each meter, the charging part of it (None
    without assets) and their cost terms.
    """
    n, t_len = data.e_c.shape
    dt = data.delta_t
    flow: list[cp.Expression] = []
    charge: list[cp.Expression] = []
    costs: list[cp.Expression] = []
    st = data.storages
    if st.count:
        own = _owner_matrix(st.owner, n)
        shape = (st.count, t_len)
        bat, bc, bd = var("e_bat", shape), var("e_bc", shape), var("e_bd", shape)
        d_bc = bins("delta_bc", shape)
        step = cp.multiply(st.eff_bc[:, None], bc) - cp.multiply(1.0 / st.eff_bd[:, None], bd)
        cons += [
            bat[:, 0] == st.init_e + step[:, 0],
            bat >= (st.soc_min * st.e_bn / 100.0)[:, None],
            bat <= (st.soc_max * st.e_bn / 100.0)[:, None],
            bc / dt <= cp.multiply(st.p_max[:, None], d_bc),
            bd / dt <= cp.multiply(st.p_max[:, None], 1 - d_bc),
        ]
        if t_len > 1:
            cons.append(bat[:, 1:] == bat[:, :-1] + step[:, 1:])
        flow.append(own @ (bc - bd))
        charge.append(own @ bc)
        costs.append(own @ cp.multiply(st.degradation_cost[:, None], bd))
    ev = data.evs
    if ev.count:
        own_v = _owner_matrix(ev.owner, n)
        shape = (ev.count, t_len)
        e_ev, pc, pd = (
            var("ev_stored", shape),
            var("p_ev_charge", shape),
            var("p_ev_discharge", shape),
        )
        step_v = (
            cp.multiply(ev.eff_bc[:, None] * dt, pc)
            - cp.multiply(dt / ev.eff_bd[:, None], pd)
            - ev.trip_kwh
        )
        cons += [
            e_ev[:, 0] == ev.init_e_kwh + step_v[:, 0],
            cp.multiply(1.0 / ev.eff_bd[:, None], pd) <= ev.pmax_d_kw[:, None] * ev.plugged,
            cp.multiply(ev.eff_bc[:, None], pc) <= ev.pmax_c_kw[:, None] * ev.plugged,
            e_ev <= ev.capacity_kwh[:, None],
            e_ev >= ev.min_e_kwh[:, None],
        ]
        if t_len > 1:
            cons.append(e_ev[:, 1:] == e_ev[:, :-1] + step_v[:, 1:])
        flow.append(own_v @ (pc * dt - pd * dt))
        charge.append(own_v @ (pc * dt))
    return (sum(flow) if flow else None), (sum(charge) if charge else None), costs


def net_load_bounds(data: RecData) -> tuple[np.ndarray, np.ndarray]:
    """Return the smallest and largest possible net load ``e_cmet`` of each meter and step.

    Batteries and vehicles move the net load by at most their power limits; shape (N, T), kWh.
    """
    low = data.e_c - data.e_g
    high = low.copy()
    dt = data.delta_t
    st, ev = data.storages, data.evs
    np.add.at(high, st.owner, np.broadcast_to((st.p_max * dt)[:, None], (st.count, data.n_steps)))
    np.add.at(low, st.owner, -np.broadcast_to((st.p_max * dt)[:, None], (st.count, data.n_steps)))
    np.add.at(high, ev.owner, (ev.pmax_c_kw / ev.eff_bc)[:, None] * ev.plugged * dt)
    np.add.at(low, ev.owner, -(ev.pmax_d_kw * ev.eff_bd)[:, None] * ev.plugged * dt)
    return low, high


def big_m_kwh(data: RecData, kind: Kind) -> np.ndarray:
    """Return the big-M of the on/off constraints of each meter and step, shape (N, T), kWh.

    As the reference: ``BIG_M_PER_KW`` times the meter's power limit (individual) or the
    largest power limit (collective). Where a meter's own data need more, its M is raised
    to its largest net load: below that, M would cut off every schedule of the meter
    alone (the reference's model then has no solution, e.g. for loads of many times
    ``max_p``). Only the meter's own need raises it: in a community, one meter's supply
    capped at the reference's M while the others buy from the pool is a feasible
    schedule of the reference's model, and raising M to what the community needs (the sum
    of the net loads) would let a cheap meter supply more and change the optimum.
    """
    low, high = net_load_bounds(data)
    needed = np.maximum(high, -low)
    if kind == "individual":
        return np.maximum(BIG_M_PER_KW * data.max_p[:, None], needed)
    return np.maximum(BIG_M_PER_KW * float(data.max_p.max()), needed)


def channel_prices(data: RecData) -> tuple[np.ndarray, np.ndarray]:
    """Return the price of the cheaper supply and of the better-paid surplus, (N, T), EUR/kWh."""
    buy = np.minimum(data.l_buy, data.l_market_buy[None, :])
    sell = np.maximum(data.l_sell, data.l_market_sell[None, :])
    return buy, sell


def fixed_net_load(data: RecData) -> np.ndarray:
    """Return True for meters whose net load is data (no battery, no vehicle), shape (N,)."""
    fixed = np.ones(data.n_meters, dtype=bool)
    fixed[data.storages.owner] = False
    fixed[data.evs.owner] = False
    return fixed


def no_arbitrage(data: RecData, margin: np.ndarray | float = 0.0) -> np.ndarray:
    """Return True at steps where every buying tariff exceeds every selling one, shape (N, T).

    The test is over all meters: ``min buy - max sell >= margin`` (EUR/kWh). With
    ``margin`` 0, buying and selling in the same step never pays (for a meter or by
    passing energy between meters), so the supply/surplus binary is not needed: a
    solution doing both can be netted at no cost. With ``margin = l_grid`` neither
    does buying in order to lower the self-consumption charge, which makes the
    self-consumption binary unnecessary too (see :func:`build_model`).
    """
    buy, sell = channel_prices(data)
    return np.broadcast_to(buy.min(axis=0) - sell.max(axis=0) >= margin, data.e_c.shape)


def build_model(data: RecData, kind: Kind, *, bounded: bool = False) -> RecModel:
    """Build the MILP of ``data``.

    Binaries whose best value follows from the data are fixed (meters without
    battery or vehicle have a known net load) and the supply/surplus binary is left
    out where no tariff arbitrage exists; both keep the optimum of the reference
    formulation. The valid inequality ``e_slc >= (e_pur - e_sale) - surplus`` tightens
    the relaxation of the self-consumption binary.

    Parameters
    ----------
    data
        Validated arrays of the meters.
    kind
        ``individual`` (stage 1, each meter alone; several meters give independent
        blocks), ``pool`` or ``bilateral`` (stage 2).
    bounded
        Add the per-meter cost bound of the second stage of a two-stage run.

    Returns
    -------
    RecModel

    """
    n, t_len = data.e_c.shape
    dt = data.delta_t
    bins = Binaries()
    v: dict[str, cp.Expression] = {}
    cons: list[cp.Constraint] = []

    def var(name: str, shape: tuple[int, ...] = (n, t_len), nonneg: bool = True) -> cp.Variable:
        v[name] = cp.Variable(shape, nonneg=nonneg, name=name)
        return v[name]

    big_m = big_m_kwh(data, kind)

    # Retail and market-indexed exchanges are perfect substitutes apart from their
    # price: only the cheaper supply and the better-paid surplus are modelled (split
    # back into the two channels for the outputs, see dec.rec.outputs.tidy).
    supply, surplus = var("supply"), var("surplus")
    p_extra = var("p_extra")
    d_sup = bins("delta_sup", (n, t_len))
    load = data.e_c - data.e_g
    asset_flow, charging, asset_costs = _flows(data, var, bins, cons)
    cmet = v["e_cmet"] = cp.Constant(load) if asset_flow is None else load + asset_flow
    cons += [
        -p_extra - data.max_p[:, None] <= cmet / dt,
        cmet / dt <= p_extra + data.max_p[:, None],
    ]
    arbitrage = ~no_arbitrage(data)
    _add_masked(cons, supply <= cp.multiply(big_m, d_sup), arbitrage)
    _add_masked(cons, surplus <= cp.multiply(big_m, 1 - d_sup), arbitrage)
    # without the binary, M still caps each (a cheap meter's supply in a community)
    _add_masked(cons, supply <= big_m, ~arbitrage)
    _add_masked(cons, surplus <= big_m, ~arbitrage)
    buy_price, sell_price = channel_prices(data)
    energy_cost = (
        cp.multiply(buy_price, supply)
        - cp.multiply(sell_price, surplus)
        + data.l_extra * p_extra
        + sum(asset_costs)
    )
    retail = supply - surplus
    model = RecModel(kind=kind, data=data, problem=None, variables=v, binaries=bins)
    model.masks["supply_binary"] = arbitrage
    if kind == "individual":
        cons.append(cmet == retail)
    else:
        exchange, slc_cost = _community(model, cons, var, big_m, cmet, surplus)
        if data.strict_pos_coeffs:
            # Valid inequality: with positive sharing coefficients a meter never buys from
            # the grid more than it consumes (where supply and surplus need no binary,
            # some optimum has no step with both, and there the two statements agree).
            consumption = np.maximum(load, 0.0) + (0.0 if charging is None else charging)
            _add_masked(cons, supply <= consumption, ~arbitrage)
        cons.append(cmet == retail + exchange)
        energy_cost = energy_cost + slc_cost
        model.l_lem = cp.Parameter(t_len, name="l_lem")
        if bounded:
            model.bound = cp.Parameter(n, name="cost_bound")
            cons.append(cp.sum(energy_cost, axis=1) + exchange @ model.l_lem <= model.bound)
    objective = cp.sum(energy_cost)
    if kind != "individual" and "e_pur" in v:
        later = 1.0 + np.arange(t_len) / t_len
        traded = cp.sum((v["e_pur"] + v["e_sale"]) @ later)
        objective = objective + TIE_BREAK_EUR_PER_KWH * traded
    model.problem = cp.Problem(cp.Minimize(objective), cons)
    return model


def _community(model: RecModel, cons: list, var, big_m: np.ndarray, cmet, surplus):
    """Add the local-market variables and constraints; return (net purchases, slc cost).

    Where a big-M bounds a quantity the physics bounds too (the net load), the smaller
    of the two is used: the feasible set is unchanged and the relaxation is tighter.
    """
    data = model.data
    bins = model.binaries
    n, t_len = data.e_c.shape
    low, high = net_load_bounds(data)
    m_deficit = np.minimum(big_m, np.maximum(high, 0.0))
    m_surplus = np.minimum(big_m, np.maximum(-low, 0.0))
    if model.kind == "pool":
        pur, sale, slc = var("e_pur"), var("e_sale"), var("e_slc")
        bought, sold, slc_member = pur, sale, slc
        model.balance = cp.sum(sale, axis=0) == cp.sum(pur, axis=0)
        cons.append(model.balance)
        positive = np.broadcast_to(data.l_grid[None, :] >= 0, (n, t_len))
        slc_cost = cp.multiply(data.l_grid[None, :], slc)
    else:
        pairs = model.pairs = Pairs.of(n)
        agg = _owner_matrix(pairs.first, n)
        positive = np.ones((n, t_len), dtype=bool)
        if len(pairs):
            pur = var("e_pur", (len(pairs), t_len))
            swap = sp.csr_matrix(
                (np.ones(len(pairs)), (np.arange(len(pairs)), pairs.reverse)),
                shape=(len(pairs), len(pairs)),
            )
            sale = model.variables["e_sale"] = swap @ pur
            slc = var("e_slc", (len(pairs), t_len))
            bought, sold, slc_member = agg @ pur, agg @ sale, agg @ slc
            grid = data.l_grid[pairs.first, pairs.second]
            slc_cost = agg @ cp.multiply(grid, slc)
            np.logical_and.at(positive, pairs.first, grid >= 0)
        else:
            bought = sold = slc_member = slc_cost = cp.Constant(np.zeros((n, t_len)))
    exchange = bought - sold
    model.masks["l_grid_nonneg"] = positive
    consumed, alc = var("e_consumed"), var("e_alc")
    d_slc, d_cmet, d_alc = (bins(k, (n, t_len)) for k in ("delta_slc", "delta_cmet", "delta_alc"))
    pos, neg = positive, ~positive
    # e_slc >= min(consumed, allocated) needs a binary, except in a pool at steps where
    # buying to export never pays, as there min(consumed, allocated) equals the
    # linear bound max(0, (e_pur - e_sale) - surplus) (valid everywhere).
    binary_slc = pos.copy()
    if model.kind == "pool":
        binary_slc &= ~no_arbitrage(data, np.maximum(data.l_grid, 0.0))
    model.masks["slc_binary"] = binary_slc
    for constraint, mask in (
        (consumed >= cmet, pos),
        (alc >= exchange, pos),
        (slc_member >= consumed - cp.multiply(m_deficit, 1 - d_slc), binary_slc),
        (slc_member >= alc - cp.multiply(big_m, d_slc), binary_slc),
        (slc_member >= exchange - surplus, pos),
        (d_cmet == 0, pos),
        (d_alc == 0, pos),
        (consumed <= cmet + cp.multiply(m_surplus, d_cmet), neg),
        (consumed <= cp.multiply(m_deficit, 1 - d_cmet), neg),
        (alc <= exchange + cp.multiply(big_m, d_alc), neg),
        (alc <= cp.multiply(big_m, 1 - d_alc), neg),
        (slc_member <= consumed, neg),
        (slc_member <= alc, neg),
        (d_slc == 0, neg),
    ):
        _add_masked(cons, constraint, mask)
    if model.kind == "bilateral" and len(model.pairs):
        pairs = model.pairs
        d_pair = agg.T @ d_slc
        m_pair = big_m[pairs.first]
        pair_pos = positive[pairs.first]
        _add_masked(cons, slc >= pur - sale - cp.multiply(m_pair, d_pair), pair_pos)
        _add_masked(cons, slc <= pur - sale + cp.multiply(m_pair, 1 - d_pair), pair_pos)

    # binaries implied by the data of meters whose net load is known
    known = np.broadcast_to(fixed_net_load(data)[:, None], (n, t_len))
    load = data.e_c - data.e_g
    _fix(cons, d_cmet, neg & known, load <= 0)
    if model.kind == "pool":
        _fix(cons, d_slc, binary_slc & known & (load <= 0), True)
    if data.strict_pos_coeffs:
        d_coeff = bins("delta_coeff", (n, t_len))
        cons += [
            sold - bought <= -cmet + cp.multiply(m_deficit, d_coeff),
            sold - bought <= cp.multiply(m_surplus, 1 - d_coeff),
        ]
        _fix(cons, d_coeff, known, load > 0)
    if data.total_share_coeffs:
        d_rec = bins("delta_rec_balance", (t_len,))
        d_meter = bins("delta_meter_balance", (n, t_len))
        total = cp.sum(cmet, axis=0)
        m_total_deficit = np.minimum(big_m[0], np.maximum(high.sum(axis=0), 0.0))
        m_total_surplus = np.minimum(big_m[0], np.maximum(-low.sum(axis=0), 0.0))
        rec = cp.reshape(d_rec, (1, t_len), order="C")
        cons += [
            total >= -cp.multiply(m_total_surplus, d_rec),
            total <= cp.multiply(m_total_deficit, 1 - d_rec),
            cmet >= -cp.multiply(m_surplus, d_meter),
            cmet <= cp.multiply(m_deficit, 1 - d_meter),
            sold >= -cmet - cp.multiply(m_surplus, 1 - d_meter + rec),
            sold <= -cmet + cp.multiply(big_m, 1 - d_meter + rec),
            bought >= cmet - cp.multiply(m_deficit, 1 - rec + d_meter),
            bought <= cmet + cp.multiply(big_m, 1 - rec + d_meter),
        ]
        _fix(cons, d_meter, known & (load != 0), load < 0)
        total_load = load.sum(axis=0)
        if known.all():
            _fix(cons, d_rec, total_load != 0, total_load < 0)
    return exchange, slc_cost


def _fix(cons: list, binary: cp.Expression, mask: np.ndarray, value) -> None:
    """Fix ``binary`` to ``value`` (bool or bool array) where ``mask`` holds."""
    target = np.broadcast_to(np.asarray(value, dtype=float), mask.shape)
    _add_masked(cons, binary == target, mask)


def _add_masked(cons: list, constraint: cp.Constraint, mask: np.ndarray) -> None:
    """Append ``constraint`` restricted to the entries where ``mask`` holds."""
    mask = np.asarray(mask, dtype=bool)
    if mask.all():
        cons.append(constraint)
        return
    if not mask.any():
        return
    lhs, rhs = constraint.args
    index = np.flatnonzero(mask.ravel(order="C"))

    def pick(side: cp.Expression) -> cp.Expression:
        if side.size == 1:
            return side
        return cp.vec(side, order="C")[index]

    if isinstance(constraint, cp.constraints.Equality):
        cons.append(pick(lhs) == pick(rhs))
    else:
        cons.append(pick(lhs) <= pick(rhs))
