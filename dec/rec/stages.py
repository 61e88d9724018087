"""The two stages of the REC operation: each meter alone, then the community.

Stage 1 solves every meter's individual MILP (its own battery schedule and
retail/market exchanges) or, after delivery, computes its individual cost from
measured data. Stage 2 solves the collective pool or bilateral MILP; in a two-stage
run, each meter's stage-2 cost is bounded by its stage-1 cost. A
:class:`CollectiveSolver` compiles the stage-2 problem once and re-solves it with
new LEM prices and bounds, which is what the iterative pricing loops need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dec.admm.engine import Engine, SerialEngine, split
from dec.rec.data import PostIndividual, RecData
from dec.rec.model import RecModel, round_up
from dec.rec.outputs import collective_outputs, member_costs, stage_one_outputs, tidy
from dec.rec.solve import ModelSolver, dual_prices, read_values


def solve_individual(data: RecData, **solver_options: Any) -> dict[str, Any]:
    """Solve the stage-1 MILP of a single meter and return its output dictionary.

    ``solver_options`` (``time_limit_s``, ``mip_rel_gap``) go to
    :class:`~dec.rec.solve.ModelSolver`.
    """
    solver = ModelSolver(data, "individual", **solver_options)
    model = solver.solve(f"stage 1 (meter {data.meter_ids[0]})")
    return stage_one_outputs(model, tidy(model, read_values(model)), 0)


def _solve_chunk(chunk: tuple[list[RecData], dict[str, Any]]) -> list[dict[str, Any]]:
    """Stage 1 of a chunk of meters (an engine task: plain data in, plain dicts out)."""
    members, options = chunk
    return [solve_individual(member, **options) for member in members]


def solve_stage_one(
    data: RecData, engine: Engine | None = None, **solver_options: Any
) -> list[dict[str, Any]]:
    """Solve every meter's stage-1 MILP, in meter order.

    Parameters
    ----------
    data
        The community's data.
    engine
        Where to run the meters' MILPs (:mod:`dec.admm.engine`); serial when None.
    solver_options
        ``time_limit_s``, ``mip_rel_gap`` for :class:`~dec.rec.solve.ModelSolver`.

    Returns
    -------
    list of dict
        One stage-1 output dictionary per meter.

    """
    engine = engine or SerialEngine()
    members = [data.member(i) for i in range(data.n_meters)]
    workers = getattr(engine, "n_workers", 1)
    chunks = [(members[s], solver_options) for s in split(len(members), workers)]
    return [out for part in engine.map(_solve_chunk, chunks) for out in part]


def individual_cost(meter: PostIndividual) -> dict[str, Any]:
    """Post-delivery cost of one meter from measured net load (no MILP).

    A net import is bought at the market-indexed tariff when the retail tariff is
    higher, else from the retailer; a net export is sold to the retailer when its
    tariff is at least the market one, else to the market. Power beyond ``max_p`` is
    charged ``l_extra`` per kW and step.
    """
    e_met = meter.e_met
    importing = e_met >= 0
    to_market = meter.l_buy > meter.l_market_buy
    to_retail = meter.l_sell >= meter.l_market_sell
    zero = np.zeros_like(e_met)
    e_sup_market = np.where(importing & to_market, e_met, zero)
    e_sup_retail = np.where(importing & ~to_market, e_met, zero)
    e_sur_retail = np.where(~importing & to_retail, -e_met, zero)
    e_sur_market = np.where(~importing & ~to_retail, -e_met, zero)
    flow = e_sup_retail + e_sup_market - e_sur_retail - e_sur_market
    p_extra = np.maximum(np.abs(flow) / meter.delta_t - meter.max_p, 0)
    cost = (
        e_sup_retail * meter.l_buy
        - e_sur_retail * meter.l_sell
        + e_sup_market * meter.l_market_buy
        - e_sur_market * meter.l_market_sell
        + p_extra * meter.l_extra
    )
    return {
        "c_ind": float(cost.sum()),
        "meter_id": meter.meter_id,
        "e_sup_market": (e_sup_market + 0.0).tolist(),
        "e_sup_retail": (e_sup_retail + 0.0).tolist(),
        "e_sur_market": (e_sur_market + 0.0).tolist(),
        "e_sur_retail": (e_sur_retail + 0.0).tolist(),
        "p_extra": p_extra.tolist(),
    }


def post_stage_one(data: RecData) -> list[dict[str, Any]]:
    """Every meter's post-delivery individual cost from its measured net load ``e_c - e_g``."""
    return [
        individual_cost(
            PostIndividual(
                meter_id=meter_id,
                delta_t=data.delta_t,
                e_met=data.e_c[i] - data.e_g[i],
                l_buy=data.l_buy[i],
                l_sell=data.l_sell[i],
                l_market_buy=data.l_market_buy,
                l_market_sell=data.l_market_sell,
                max_p=float(data.max_p[i]),
                l_extra=data.l_extra,
            )
        )
        for i, meter_id in enumerate(data.meter_ids)
    ]


#: Bound given to meters whose stage-2 cost bound is not (yet) enforced (no bound), EUR.
INACTIVE_BOUND = np.inf
#: A cost above its bound by more than this is a violation, EUR.
BOUND_TOLERANCE = 1e-7


class CollectiveSolver:
    """The stage-2 problem of one community, compiled once and re-solved with new prices.

    In a two-stage run the meters' cost bounds are enforced lazily: the problem is
    first solved with no bound, then again with the bounds of the meters whose cost
    exceeded theirs, until no bound is exceeded. The last solution satisfies every
    bound and is optimal with a subset of them, so it is optimal with all of them.

    Parameters
    ----------
    data
        The community's data (``l_grid`` set).
    kind
        ``pool`` or ``bilateral``.
    bounded
        Second stage of a two-stage run: each meter's cost is bounded by its
        stage-1 cost (``c_ind`` given to :meth:`solve`).
    measured
        The stage-1 costs come from measured data (post-delivery); their bounds are
        rounded like the reference rounds those (see :func:`~dec.rec.model.round_up`).
    solver_options
        ``time_limit_s``, ``mip_rel_gap``, ``keep_incumbent`` for
        :class:`~dec.rec.solve.ModelSolver`.

    Attributes
    ----------
    time_limit_reached
        Why the last :meth:`solve`'s outputs are not proven optimal (a MILP kept at its
        time limit, with ``keep_incumbent``), else None.

    """

    def __init__(
        self,
        data: RecData,
        kind: str,
        bounded: bool,
        measured: bool = False,
        **solver_options: Any,
    ):
        self.data = data
        self.kind = kind
        self.measured = measured
        self.solver = ModelSolver(data, kind, bounded=bounded, **solver_options)
        #: Meters whose bound has been enforced so far.
        self.active = np.zeros(data.n_meters, dtype=bool)
        self.time_limit_reached: str | None = None

    def solve(
        self, l_lem: Sequence[float] | np.ndarray, c_ind: Sequence[float] | None = None
    ) -> dict[str, Any]:
        """Solve with LEM prices ``l_lem`` (EUR/kWh) and stage-1 costs ``c_ind`` (EUR).

        Returns
        -------
        dict
            The stage-2 output dictionary (``dual_prices`` included for a pool).

        """
        l_lem = np.asarray(l_lem, dtype=float)
        what = f"stage 2 ({self.kind})"
        self.time_limit_reached = None
        if not self.solver.bounded:
            model = self._solve(what, l_lem)
            return self._outputs(model, tidy(model, read_values(model)), l_lem, None)
        c_ind_arr = np.asarray(c_ind, dtype=float)
        bound = np.array([round_up(c, numpy_halves=self.measured) for c in c_ind_arr])
        while True:
            model = self._solve(what, l_lem, np.where(self.active, bound, INACTIVE_BOUND))
            vals = tidy(model, read_values(model))
            over = member_costs(model, vals, l_lem) > bound + BOUND_TOLERANCE
            if not (over & ~self.active).any():
                return self._outputs(model, vals, l_lem, (c_ind_arr, bound))
            self.active |= over

    def _solve(self, what: str, l_lem: np.ndarray, bound: np.ndarray | None = None) -> RecModel:
        """Solve once; remember the first time limit reached in this :meth:`solve`."""
        model = self.solver.solve(what, l_lem, bound)
        self.time_limit_reached = self.time_limit_reached or self.solver.time_limit_reached
        return model

    def _outputs(self, model: RecModel, vals: dict, l_lem: np.ndarray, bounds) -> dict[str, Any]:
        dual = dual_prices(model) if self.kind == "pool" else None
        return collective_outputs(model, vals, l_lem, bounds, dual)
