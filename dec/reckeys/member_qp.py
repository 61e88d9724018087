"""The battery members' local problem of the distributed policy, in Clarabel's standard form.

Each ADMM round a battery member solves its part of the look-ahead-billing window
plus the prox term of the exchange ADMM:

    min  Σ_k buy_k g⁻_k − sell_k g⁺_k + ε d_k + τ (c_k + d_k) + w_c c_k² + w_d d_k²
         − Σ_l buy_l I_l − sell_l E_l + ρ/2 Σ_l (I_l − E_l − v_l)²
    s.t. soc_k = soc_{k−1} + η_c c_k − d_k / η_d,    g⁺_k − g⁻_k = r_k + d_k − c_k,
         0 ≤ c ≤ c_max, 0 ≤ d ≤ d_max, soc_min ≤ soc ≤ soc_max, g⁺, g⁻ ≥ 0,
         0 ≤ I_l ≤ min(cap_l, C0_l + Σ_k A_lk g⁻_k),  0 ≤ E_l ≤ min(cap_l, P0_l + Σ_k A_lk g⁺_k)

(the same model as :func:`dec.reckeys.battery_block.build_battery_members` with the
tie-break, written as sparse matrices). The matrices of a chunk of members are built
once per window with vectorised index arithmetic; between rounds only the linear
cost (the targets ``v``) and, after residual balancing, the Hessian (ρ) change, so the
problem goes straight to Clarabel without re-canonicalisation (about 20× faster than
re-solving the cvxpy model), and Clarabel's solver is kept and its linear cost updated
in place while ρ stays (its set-up, including the Hessian, is done once per ρ).
"""

from __future__ import annotations

import clarabel
import numpy as np
import scipy.sparse as sp

from dec.errors import SolverFailed
from dec.reckeys.window import CLARABEL_OPTIONS, WindowInputs

#: Clarabel settings of the members' QPs: the window problems' tolerances without
#: iterative refinement, which makes each solve about 40 % faster; the plans stay within
#: 1e-7 kWh of refined solves (measured on Case I) and the closed-loop bills unchanged.
MEMBER_CLARABEL_OPTIONS = {**CLARABEL_OPTIONS, "iterative_refinement_enable": False}

#: Variable blocks of one member, in order, and their lengths (W steps, L periods).
BLOCKS = ("charge", "discharge", "soc", "g_plus", "g_minus", "imports", "exports")


def member_window(x: WindowInputs, members: np.ndarray, soc_kwh: np.ndarray) -> dict:
    """Return the window arrays of some battery members (rows ``members`` of ``x``).

    ``soc_kwh`` is their SoC at the start of the window (kWh).
    """
    return {
        "net_kwh": x.net_kwh[members],
        "soc_kwh": soc_kwh,
        "step_period": x.step_period,
        "cap_kwh": x.exchange_cap_kwh,
        "consumption_meter_kwh": x.consumption_meter_kwh[members],
        "production_meter_kwh": x.production_meter_kwh[members],
        "buy_eur_per_kwh": x.buy_eur_per_kwh[members],
        "sell_eur_per_kwh": x.sell_eur_per_kwh[members],
    }


class BatteryMemberQP:
    """Local QPs of ``nb`` battery members over one window (block diagonal).

    Parameters
    ----------
    limits
        (nb, 1) columns: ``soc_min_kwh``, ``soc_max_kwh``, ``charge_max_kwh``,
        ``discharge_max_kwh``, ``charge_efficiency``, ``inverse_discharge_efficiency``.
    smoothing
        (nb, 1) weights ``charge`` and ``discharge`` of the quadratic tie-break, EUR/kWh².
    fee_eur_per_kwh, tie_break_eur_per_kwh
        ε on discharge and τ on charge and on discharge.
    window
        Window arrays of these members: ``net_kwh`` (nb, W), ``soc_kwh`` (nb,),
        ``step_period`` (W,: the window period of each step), ``cap_kwh`` (L,),
        ``consumption_meter_kwh``, ``production_meter_kwh``, ``buy_eur_per_kwh``,
        ``sell_eur_per_kwh`` (nb, L).
    options
        Clarabel settings (tolerances).

    """

    def __init__(
        self,
        limits: dict,
        smoothing: dict,
        fee_eur_per_kwh: float,
        tie_break_eur_per_kwh: float,
        window: dict,
        options: dict,
    ):
        net = window["net_kwh"]
        nb, W = net.shape
        L = len(window["cap_kwh"])
        self.nb, self.W, self.L = nb, W, L
        self.n1 = 5 * W + 2 * L
        self.options = options
        self.start = {name: i * W for i, name in enumerate(BLOCKS[:5])}
        self.start["imports"], self.start["exports"] = 5 * W, 5 * W + L
        self._build_constraints(limits, window)
        self._build_cost(smoothing, fee_eur_per_kwh, tie_break_eur_per_kwh, window)
        self.rho = None
        self._solver = None

    def _index(self, name: str, count: int) -> np.ndarray:
        """Column of block ``name`` item i of member j, shape (nb, count)."""
        return np.arange(self.nb)[:, None] * self.n1 + self.start[name] + np.arange(count)

    def _build_constraints(self, limits: dict, window: dict) -> None:
        nb, W, L = self.nb, self.W, self.L
        ch, dis, soc = self._index("charge", W), self._index("discharge", W), self._index("soc", W)
        gp, gm = self._index("g_plus", W), self._index("g_minus", W)
        imp, exp_ = self._index("imports", L), self._index("exports", L)
        rows, cols, vals, rhs = [], [], [], []
        n_rows = 0

        def add(row: np.ndarray, col: np.ndarray, val) -> None:
            rows.append(np.broadcast_to(row, col.shape).ravel())
            cols.append(col.ravel())
            vals.append(np.broadcast_to(val, col.shape).ravel())

        # Equalities: SoC dynamics, then the split of the net position.
        dyn = n_rows + np.arange(nb * W).reshape(nb, W)
        add(dyn, soc, 1.0)
        add(dyn[:, 1:], soc[:, :-1], -1.0)
        add(dyn, ch, -limits["charge_efficiency"])
        add(dyn, dis, limits["inverse_discharge_efficiency"])
        first = np.zeros((nb, W))
        first[:, 0] = window["soc_kwh"]
        rhs.append(first.ravel())
        split = dyn + nb * W
        add(split, gp, 1.0)
        add(split, gm, -1.0)
        add(split, ch, 1.0)
        add(split, dis, -1.0)
        rhs.append(window["net_kwh"].ravel())
        n_rows = 2 * nb * W
        self.n_eq = n_rows

        # Inequalities (b − A x ≥ 0): upper bounds, lower bounds, meters.
        cap = np.broadcast_to(window["cap_kwh"], (nb, L))
        for col, upper in (
            (ch, limits["charge_max_kwh"]),
            (dis, limits["discharge_max_kwh"]),
            (soc, limits["soc_max_kwh"]),
            (imp, cap),
            (exp_, cap),
        ):
            r = n_rows + np.arange(col.size).reshape(col.shape)
            add(r, col, 1.0)
            rhs.append(np.broadcast_to(upper, col.shape).ravel())
            n_rows += col.size
        for col, lower in (
            (ch, 0.0),
            (dis, 0.0),
            (soc, limits["soc_min_kwh"]),
            (gp, 0.0),
            (gm, 0.0),
            (imp, 0.0),
            (exp_, 0.0),
        ):
            r = n_rows + np.arange(col.size).reshape(col.shape)
            add(r, col, -1.0)
            rhs.append(-np.broadcast_to(lower, col.shape).ravel())
            n_rows += col.size
        member, step = np.repeat(np.arange(nb), W), np.tile(np.arange(W), nb)
        period = window["step_period"][step]
        for col, g, meter in (
            (imp, gm, window["consumption_meter_kwh"]),
            (exp_, gp, window["production_meter_kwh"]),
        ):
            r = n_rows + np.arange(nb * L).reshape(nb, L)
            add(r, col, 1.0)
            add(r[member, period], g[member, step], -1.0)
            rhs.append(meter.ravel())
            n_rows += nb * L
        self.A = sp.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_rows, nb * self.n1),
        )
        self.b = np.concatenate(rhs)
        self.cones = [clarabel.ZeroConeT(self.n_eq), clarabel.NonnegativeConeT(n_rows - self.n_eq)]

    def _build_cost(self, smoothing: dict, fee: float, tie: float, window: dict) -> None:
        nb, W = self.nb, self.W
        q = np.zeros((nb, self.n1))
        s = self.start
        q[:, s["charge"] : s["charge"] + W] = tie
        q[:, s["discharge"] : s["discharge"] + W] = fee + tie
        q[:, s["g_minus"] : s["g_minus"] + W] = window["buy_eur_per_kwh"][:, window["step_period"]]
        q[:, s["g_plus"] : s["g_plus"] + W] = -window["sell_eur_per_kwh"][:, window["step_period"]]
        q[:, s["imports"] : s["imports"] + self.L] = -window["buy_eur_per_kwh"]
        q[:, s["exports"] : s["exports"] + self.L] = window["sell_eur_per_kwh"]
        self.q0 = q
        self.smoothing_diag = np.zeros((nb, self.n1))
        self.smoothing_diag[:, s["charge"] : s["charge"] + W] = 2.0 * smoothing["charge"]
        self.smoothing_diag[:, s["discharge"] : s["discharge"] + W] = 2.0 * smoothing["discharge"]

    def _hessian(self, rho: float) -> sp.csc_matrix:
        diag = self.smoothing_diag.copy()
        imp, exp_ = self._index("imports", self.L), self._index("exports", self.L)
        flat = diag.ravel()
        flat[imp.ravel()] = rho
        flat[exp_.ravel()] = rho
        n = flat.size
        upper = sp.coo_matrix((np.full(imp.size, -rho), (imp.ravel(), exp_.ravel())), shape=(n, n))
        return sp.csc_matrix(sp.diags(flat) + upper)

    def solve(self, target: np.ndarray, rho: float) -> dict[str, np.ndarray]:
        """Return the members' plans for prox targets ``target`` (nb, L) and penalty ρ.

        Returns ``charge_kwh``, ``discharge_kwh`` (nb, W), ``imports_kwh``,
        ``exports_kwh`` (nb, L).

        Raises
        ------
        SolverFailed
            If Clarabel does not solve the problem (it always has a solution: idle
            batteries are feasible) or returns non-finite values.

        """
        q = self.q0.copy()
        L, s = self.L, self.start
        q[:, s["imports"] : s["imports"] + L] -= rho * target
        q[:, s["exports"] : s["exports"] + L] += rho * target
        if self._solver is None or self.rho != rho:
            settings = clarabel.DefaultSettings()
            settings.verbose = False
            settings.presolve_enable = False  # keeps the rows, so q can be updated in place
            for key, value in self.options.items():
                setattr(settings, key, value)
            self._solver = clarabel.DefaultSolver(
                self._hessian(rho), q.ravel(), self.A, self.b, self.cones, settings
            )
            self.rho = rho
        else:
            self._solver.update(q=q.ravel())
        solver = self._solver
        solution = solver.solve()
        status = str(solution.status)
        x = np.asarray(solution.x, dtype=float)
        if status not in ("Solved", "AlmostSolved") or not np.isfinite(x).all():
            raise SolverFailed("the battery members' local problem", "Clarabel", f"status {status}")
        x = x.reshape(self.nb, self.n1)
        W = self.W
        return {
            "charge_kwh": np.maximum(x[:, s["charge"] : s["charge"] + W], 0.0),
            "discharge_kwh": np.maximum(x[:, s["discharge"] : s["discharge"] + W], 0.0),
            "imports_kwh": np.maximum(x[:, s["imports"] : s["imports"] + L], 0.0),
            "exports_kwh": np.maximum(x[:, s["exports"] : s["exports"] + L], 0.0),
        }
