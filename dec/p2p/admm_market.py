"""Distributed bilateral market: agents negotiate trades by consensus ADMM.

Every buyer order ``b`` and seller order ``s`` of the same hour form a pair ``p``
that may trade ``t_p ≥ 0`` kW. The market maximises the welfare (gains from trade)

    W(t) = Σ_p (λ_b − λ_s − c_p) t_p
    s.t.  Σ_{p∋b} t_p ≤ d_b,   Σ_{p∋s} t_p ≤ g_s,   t ≥ 0,

with the limit prices ``λ`` of the orders, an optional network usage charge
``c_p`` (EUR/kWh, split half-half between buyer and seller) and the order
quantities ``d_b``, ``g_s``. A linear program has many optimal trade sets; a
tie-break ``γ/2 · t²`` on each side makes every agent's problem strictly convex,
so that the trades are unique (among equally good pairs, a seller's output is spread
evenly). It is scaled to the market, ``γ = τ · M / Q`` (``M`` the largest pair margin
in EUR/kWh, ``Q`` the largest order in kW, ``τ`` the dimensionless ``tie_break``), so
it lowers the welfare by at most ``τ · M`` per kWh traded and, with one margin for all
pairs (fixed prices), the traded energy by at most the fraction ``τ``; the outcome
does not depend on the unit of power. It is not a cost and is not part of ``W``.

Consensus ADMM (Boyd et al. 2011, §7.1): the buyer holds its copy ``x_p`` of each
of its trades, the seller its copy ``y_p``, and the pair must agree
(``x_p = y_p = z_p``, i.e. ``t_bs = −t_sb`` in the sign convention of bilateral
markets). Each round

1. every buyer maximises ``(λ_b − c/2)·x − γ/2‖x‖² − ρ/2‖x − z + u‖²`` over its
   trades with ``x ≥ 0, Σ x ≤ d_b``; every seller does the same with its costs.
   Both are a projection of ``(±a + ρ(z − u)) / (γ + ρ)`` onto a capped simplex:
   a closed form, batched over all agents and hours (:func:`project_capped`);
2. each pair averages its two copies (``z``) and updates its scaled duals.

At convergence ``ρ·u_p`` is the price the pair agreed on. The stopping test,
residual balancing and history are :mod:`dec.admm.convergence`'s; the agents'
local updates run on any :mod:`dec.admm.engine` engine. The centralized
reference solves the same QP with cvxpy (Clarabel, in units of ``M`` and ``Q``) and
reads the prices from the duals of the agents' quantity limits. Both report the
pairs that trade at least :data:`TRADE_TOL_KW` and the welfare of exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from dec.admm.convergence import History, ResidualBalancing, Tolerances, thresholds
from dec.admm.engine import Engine, SerialEngine, split
from dec.p2p.orders import OrderBook
from dec.p2p.trades import BUYER_CHARGE_SHARE, Trades
from dec.progress import progress
from dec.solving import solve_checked

#: Agreed quantities below this are solver noise, not trades: they are set to 0 before the
#: welfare is computed, kW (the ADMM tolerance is 1e-7; orders start at ``min_order_kw``).
TRADE_TOL_KW = 1e-6
#: Largest relative welfare gap to the centralized solve of a converged ADMM market.
WELFARE_TOL_REL = 1e-4


@dataclass(frozen=True)
class BilateralMarket:
    """The market of every hour as pair arrays.

    Attributes
    ----------
    bids, asks
        Buy and sell orders (their positions are the groups of the pairs).
    pair_bid, pair_ask
        Bid and ask of each pair (same hour).
    utility_eur_per_kwh
        Buyer's value of each pair: bid price less half the network charge.
    cost_eur_per_kwh
        Seller's cost of each pair: ask price plus half the network charge.
    charge_eur_per_kwh
        Network usage charge of each pair, EUR/kWh (0 without one).
    tie_break
        Weight of the quadratic tie-break relative to the market's scale (dimensionless).
    scale_eur_per_kwh, scale_kw
        The market's scale: its largest pair margin (EUR/kWh) and its largest order in a
        pair (kW); 1 where there is none.

    """

    bids: OrderBook
    asks: OrderBook
    pair_bid: np.ndarray
    pair_ask: np.ndarray
    utility_eur_per_kwh: np.ndarray
    cost_eur_per_kwh: np.ndarray
    charge_eur_per_kwh: np.ndarray
    tie_break: float
    scale_eur_per_kwh: float
    scale_kw: float

    @property
    def n_pairs(self) -> int:
        """Number of buyer-seller pairs."""
        return len(self.pair_bid)

    @property
    def margin_eur_per_kwh(self) -> np.ndarray:
        """Gain of each pair per kWh traded: utility less cost, EUR/kWh."""
        return self.utility_eur_per_kwh - self.cost_eur_per_kwh

    @property
    def gamma_eur_per_kwh2(self) -> float:
        """Weight of each side's tie-break ``γ/2 · t²``, EUR/kWh² (``τ · M / Q``)."""
        return self.tie_break * self.scale_eur_per_kwh / self.scale_kw

    def welfare_eur(self, t_kw: np.ndarray) -> float:
        """Welfare (gains from trade, net of network charges) of trades ``t_kw``, EUR."""
        return float(np.sum(self.margin_eur_per_kwh * t_kw))

    def trades(self, t_kw: np.ndarray, price: np.ndarray) -> Trades:
        """Return the pairs that trade (``t_kw`` > 0) as trades."""
        keep = t_kw > 0
        b, a = self.pair_bid[keep], self.pair_ask[keep]
        return Trades(
            hour=self.bids.hour[b],
            buyer=self.bids.trader[b],
            seller=self.asks.trader[a],
            quantity_kw=t_kw[keep],
            price_eur_per_kwh=price[keep],
            bid_eur_per_kwh=self.bids.price_eur_per_kwh[b],
            ask_eur_per_kwh=self.asks.price_eur_per_kwh[a],
            charge_eur_per_kwh=self.charge_eur_per_kwh[keep],
        )


def _largest(values: np.ndarray) -> float:
    """Largest absolute value of ``values``, 1 if there is none above 0 (a scale)."""
    largest = float(np.max(np.abs(values), initial=0.0))
    return largest if largest > 0 else 1.0


def build_market(
    book: OrderBook, charge_eur_per_kwh: np.ndarray | None, tie_break: float
) -> BilateralMarket:
    """Pair every bid with every ask of the same hour.

    Parameters
    ----------
    book
        Orders of every hour.
    charge_eur_per_kwh
        Network usage charge between every pair of traders (traders × traders,
        buyer row, seller column), EUR/kWh; None for no charge.
    tie_break
        Weight of the quadratic tie-break relative to the market's scale (dimensionless).

    """
    bids, asks = book.bids(), book.asks()
    pair_bid, pair_ask = [], []
    for hour in np.intersect1d(bids.hour, asks.hour):
        b = np.flatnonzero(bids.hour == hour)
        a = np.flatnonzero(asks.hour == hour)
        pair_bid.append(np.repeat(b, len(a)))
        pair_ask.append(np.tile(a, len(b)))
    pair_bid = np.concatenate(pair_bid) if pair_bid else np.zeros(0, dtype=int)
    pair_ask = np.concatenate(pair_ask) if pair_ask else np.zeros(0, dtype=int)
    charge = (
        np.zeros(len(pair_bid))
        if charge_eur_per_kwh is None
        else charge_eur_per_kwh[bids.trader[pair_bid], asks.trader[pair_ask]]
    )
    utility = bids.price_eur_per_kwh[pair_bid] - BUYER_CHARGE_SHARE * charge
    cost = asks.price_eur_per_kwh[pair_ask] + (1.0 - BUYER_CHARGE_SHARE) * charge
    return BilateralMarket(
        bids=bids,
        asks=asks,
        pair_bid=pair_bid,
        pair_ask=pair_ask,
        utility_eur_per_kwh=utility,
        cost_eur_per_kwh=cost,
        charge_eur_per_kwh=charge,
        tie_break=tie_break,
        scale_eur_per_kwh=_largest(utility - cost),
        scale_kw=_largest(np.concatenate([bids.quantity_kw[pair_bid], asks.quantity_kw[pair_ask]])),
    )


def project_capped(target: np.ndarray, group: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Project each group of ``target`` onto ``{x ≥ 0, Σ_group x ≤ cap}`` (Euclidean).

    Parameters
    ----------
    target
        Values to project, sorted so that ``group`` is non-decreasing.
    group
        Group (agent) of each value, 0 .. len(cap) − 1.
    cap
        Upper bound of each group's sum (> 0).

    Returns
    -------
    ndarray
        ``max(target − θ_g, 0)`` with ``θ_g = 0`` where the positive parts fit under
        the cap, else the θ that makes the group sum equal its cap (sort-based, exact).

    """
    x = np.maximum(target, 0.0)
    total = np.bincount(group, x, minlength=len(cap))
    over = total > cap
    if not over.any():
        return x
    sel = over[group]
    t, g = target[sel], group[sel]
    order = np.lexsort((-t, g))
    t_sorted, g_sorted = t[order], g[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    counts = np.diff(np.r_[starts, len(t_sorted)])
    cumsum = np.cumsum(t_sorted)
    before = np.repeat(cumsum[starts] - t_sorted[starts], counts)
    rank = np.arange(1, len(t_sorted) + 1) - np.repeat(starts, counts)
    theta_r = (cumsum - before - cap[g_sorted]) / rank
    position = np.where(t_sorted > theta_r, np.arange(len(t_sorted)), -1)
    last = np.maximum.reduceat(position, starts)
    theta = np.zeros(len(cap))
    theta[g_sorted[starts]] = theta_r[last]
    x[sel] = np.maximum(t - theta[g], 0.0)
    return x


#: Agents per message of the local update (the unit of work an engine ships to a worker).
AGENTS_PER_CHUNK = 4096


def _norm(*parts: np.ndarray) -> float:
    """Euclidean norm of the concatenated vectors (element-wise sums: BLAS threads slow small dots)."""
    return float(np.sqrt(sum(np.sum(p * p) for p in parts)))


def _project_message(message: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Local update of a chunk of agents (module level, so process and Ray engines can run it)."""
    return project_capped(*message)


class _Side:
    """One side (buyers or sellers) of the market: its pairs grouped by agent, split in chunks.

    The chunks depend on the number of agents only, not on the engine, so every engine does
    the same floating-point operations and returns identical results.
    """

    def __init__(self, pair_group: np.ndarray, cap: np.ndarray, sign: float, value: np.ndarray):
        self.order = np.argsort(pair_group, kind="stable")
        self.group = pair_group[self.order]
        self.cap = cap
        self.linear = sign * value
        bounds = np.searchsorted(self.group, np.arange(len(cap) + 1))
        n_chunks = -(-len(cap) // AGENTS_PER_CHUNK)
        self.chunks = [
            (slice(bounds[s.start], bounds[s.stop]), s.start, s.stop)
            for s in split(len(cap), n_chunks)
        ]

    def update(self, engine: Engine, consensus: np.ndarray, gamma: float, rho: float) -> np.ndarray:
        """Every agent's best copy of its trades given ``consensus = z − u``; pair order."""
        target = ((self.linear + rho * consensus) / (gamma + rho))[self.order]
        messages = [(target[p], self.group[p] - g0, self.cap[g0:g1]) for p, g0, g1 in self.chunks]
        out = np.empty_like(target)
        out[self.order] = (
            np.concatenate(engine.map(_project_message, messages)) if messages else target
        )
        return out


@dataclass
class MarketSolution:
    """Trades of every pair, their prices and the welfare.

    Attributes
    ----------
    t_kw
        Agreed quantity of every pair, kW (0 below :data:`TRADE_TOL_KW`).
    price_eur_per_kwh
        Price of every pair, EUR/kWh.
    welfare_eur
        Welfare of ``t_kw``, EUR.
    history
        ADMM residual history (None for the centralized solve).

    """

    t_kw: np.ndarray
    price_eur_per_kwh: np.ndarray
    welfare_eur: float
    history: History | None = None


def _solution(
    market: BilateralMarket, t_kw: np.ndarray, price: np.ndarray, history: History | None = None
) -> MarketSolution:
    """Return the solution ``t_kw`` (kW) with solver noise below TRADE_TOL_KW set to 0 and its welfare."""
    t_kw = np.where(t_kw >= TRADE_TOL_KW, t_kw, 0.0)
    return MarketSolution(t_kw, price, market.welfare_eur(t_kw), history)


def solve_admm(
    market: BilateralMarket,
    rho: float,
    tolerances: Tolerances,
    engine: Engine | None = None,
    balancing: ResidualBalancing | None = None,
) -> MarketSolution:
    """Negotiate the trades by consensus ADMM.

    Parameters
    ----------
    market
        The pairs and the agents' values.
    rho
        Initial penalty, EUR/kWh².
    tolerances
        Boyd stopping tolerances and the round limit.
    engine
        Where the agents' local updates run (default: serial).
    balancing
        Residual balancing of ρ (default :class:`ResidualBalancing`).

    Returns
    -------
    MarketSolution
        ``t`` = the smaller of the two copies of each pair (feasible for both
        agents), price = ρ·u, and the residual history.

    """
    engine = engine or SerialEngine()
    balancing = balancing or ResidualBalancing()
    n = market.n_pairs
    buyers = _Side(market.pair_bid, market.bids.quantity_kw, 1.0, market.utility_eur_per_kwh)
    sellers = _Side(market.pair_ask, market.asks.quantity_kw, -1.0, market.cost_eur_per_kwh)
    gamma = market.gamma_eur_per_kwh2
    z, u, w = np.zeros(n), np.zeros(n), np.zeros(n)
    x, y = z.copy(), z.copy()
    history = History()
    for _ in progress(range(tolerances.max_iter), desc="ADMM market rounds"):
        if n == 0:
            break
        x = buyers.update(engine, z - u, gamma, rho)
        y = sellers.update(engine, z - w, gamma, rho)
        z_prev = z
        z = 0.5 * (x + u + y + w)
        u += x - z
        w += y - z
        r_norm = _norm(x - z, y - z)
        s_norm = rho * np.sqrt(2.0) * _norm(z - z_prev)
        eps_pri, eps_dual = thresholds(
            2 * n, 2 * n, tolerances, max(_norm(x, y), np.sqrt(2.0) * _norm(z)), rho * _norm(u, w)
        )
        history.record(
            r_norm, s_norm, eps_pri, eps_dual, rho, welfare_eur=market.welfare_eur(np.minimum(x, y))
        )
        if history.converged:
            break
        factor = balancing.factor(r_norm, s_norm, history.iterations)
        if factor != 1.0:
            rho *= factor
            u /= factor
            w /= factor
    return _solution(market, np.minimum(x, y), rho * u, history)


def solve_centralized(market: BilateralMarket) -> MarketSolution:
    """Solve the market's QP centrally (cvxpy, Clarabel).

    The QP is solved in units of the market's scale (trades in ``Q``, margins in ``M``:
    see :class:`BilateralMarket`), so that it is equally well conditioned for any unit
    of power. Prices from the duals: ``price_p = (λ_b − c_p/2) − γ t_p − μ_b``, ``μ_b``
    being the dual of buyer ``b``'s quantity limit (EUR/kWh).

    Raises
    ------
    SolverFailed
        If Clarabel raises or does not return an optimal solution.

    """
    n = market.n_pairs
    if n == 0:
        return MarketSolution(np.zeros(0), np.zeros(0), 0.0)
    scale_kw, scale_eur = market.scale_kw, market.scale_eur_per_kwh
    ones = np.ones(n)
    columns = np.arange(n)
    buy = sp.csr_matrix((ones, (market.pair_bid, columns)), shape=(len(market.bids), n))
    sell = sp.csr_matrix((ones, (market.pair_ask, columns)), shape=(len(market.asks), n))
    t = cp.Variable(n, nonneg=True)  # trades in units of scale_kw
    buyer_limit = buy @ t <= market.bids.quantity_kw / scale_kw
    seller_limit = sell @ t <= market.asks.quantity_kw / scale_kw
    problem = cp.Problem(
        cp.Maximize(
            (market.margin_eur_per_kwh / scale_eur) @ t - market.tie_break * cp.sum_squares(t)
        ),
        [buyer_limit, seller_limit],
    )
    solve_checked(problem, "the centralized P2P market", cp.CLARABEL, (cp.OPTIMAL,))
    t_kw = scale_kw * np.maximum(t.value, 0.0)
    mu_b = scale_eur * np.asarray(buyer_limit.dual_value)
    price = market.utility_eur_per_kwh - market.gamma_eur_per_kwh2 * t_kw - mu_b[market.pair_bid]
    return _solution(market, t_kw, price)
