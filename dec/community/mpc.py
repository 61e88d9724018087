"""Model-predictive coordination (``mpc``): receding-horizon LP of the community's grid import.

Every window of ``window_h`` hours (default 72) the planner sees perfect forecasts of
loads and PV and solves, for all batteries at once::

    min   Σ_t Δt imp_t                                       community grid import, kWh
        + TIE_SMOOTH/2 Σ_i,t Δt (ch - dis)²                  tie-breaks (below)
        + TIE_THROUGHPUT Σ_i,t Δt (ch + dis)
        - TIE_TERMINAL Σ_i e_i,H
    s.t.  imp_t ≥ Σ_i (load_i,t + ch_i,t - dis_i,t) - pv_t,  imp_t ≥ 0
          e_i,t = e_i,t-1 + Δt (η_ch ch_i,t - dis_i,t / η_dis),  0 ≤ e ≤ E_i
          0 ≤ ch, dis ≤ P_i,  e_i,H ≥ e_i,initial (end of window at least the initial SoC)

then applies the first ``apply_h`` hours (default 24) and plans again from the SoC
reached. The last window is padded with idle steps past the end of the data, so one
compiled problem (cvxpy Parameters, DPP) serves every window and every battery size.

The import LP alone has many optima (which battery charges when, for the same import).
Three small terms, four or more orders of magnitude below the import, pick one:
``TIE_THROUGHPUT`` makes simultaneous charge and discharge and useless cycling cost
something (no simultaneous charge/discharge benefit); ``TIE_TERMINAL`` stores PV
surplus that cannot be used within the window rather than exporting it;
``TIE_SMOOTH`` makes the optimum unique, so that the distributed solve
(``mpc-distributed``) converges to the very schedules of this one. The problem is thus a
QP with an LP's optimum up to these terms; Clarabel solves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from dec.community.battery import Batteries, Schedule, apply, restore_final_soc
from dec.community.data import CommunityData
from dec.errors import SubproblemInfeasible

#: Quadratic tie-break on every battery's net power, kWh per kW² per h.
TIE_SMOOTH = 1e-3
#: Cost of battery throughput, kWh per kWh charged or discharged.
TIE_THROUGHPUT = 1e-4
#: Value of energy left in the batteries at the end of a window, kWh per kWh.
TIE_TERMINAL = 1e-3
#: Margin on the end-of-window SoC, kWh, so that solver tolerances never leave a run
#: ending below its initial SoC.
TERMINAL_MARGIN_KWH = 1e-6


@dataclass(frozen=True)
class Window:
    """What a planner sees for one window (padded to the full window length).

    Attributes
    ----------
    start
        Index of the window's first step in the run.
    load_kw
        Household loads, kW, shape ``(n, H)``.
    pv_kw
        Community PV, kW, shape ``(H,)``.
    p_max_kw
        Power limit of every battery at every step (0 on padding steps), kW, ``(n, H)``.
    e_start_kwh
        State of charge at the window's start, kWh, ``(n,)``.
    e_end_min_kwh
        Lowest allowed state of charge at the window's end, kWh, ``(n,)``.
    e_max_kwh
        Capacities, kWh, ``(n,)``.

    """

    start: int
    load_kw: np.ndarray
    pv_kw: np.ndarray
    p_max_kw: np.ndarray
    e_start_kwh: np.ndarray
    e_end_min_kwh: np.ndarray
    e_max_kwh: np.ndarray


#: A planner returns planned charging and discharging powers, kW, each ``(n, H)``.
Planner = Callable[[Window], tuple[np.ndarray, np.ndarray]]


def windows_of(data: CommunityData, window_steps: int, e_start: np.ndarray, start: int) -> Window:
    """Return the window starting at step ``start`` (padded with idle steps past the end)."""
    stop = min(start + window_steps, data.n_steps)
    real = stop - start
    pad = window_steps - real
    b = data.batteries
    p_max = np.zeros((b.n, window_steps))
    p_max[:, :real] = b.p_kw[:, None]
    return Window(
        start=start,
        load_kw=np.pad(data.load_kw[:, start:stop], ((0, 0), (0, pad))),
        pv_kw=np.pad(data.pv_kw[start:stop], (0, pad)),
        p_max_kw=p_max,
        e_start_kwh=e_start,
        e_end_min_kwh=np.minimum(b.e_initial_kwh + TERMINAL_MARGIN_KWH, b.e_kwh),
        e_max_kwh=b.e_kwh,
    )


def receding_horizon(
    data: CommunityData,
    window_steps: int,
    apply_steps: int,
    plan: Planner,
    on_window: Callable[[int], None] | None = None,
) -> Schedule:
    """Run a planner over the data window by window and return the applied schedule.

    Parameters
    ----------
    data
        The community.
    window_steps, apply_steps
        Window length and the number of its first steps applied, in steps.
    plan
        Returns planned charging/discharging powers for a window.
    on_window
        Called with the number of steps applied after every window (progress).

    """
    b = data.batteries
    ch = np.zeros((b.n, data.n_steps))
    dis = np.zeros_like(ch)
    soc = np.zeros_like(ch)
    e = b.e_initial_kwh.copy()
    for start in range(0, data.n_steps, apply_steps):
        window = windows_of(data, window_steps, e, start)
        ch_plan, dis_plan = plan(window)
        k = min(apply_steps, data.n_steps - start)
        part = slice(start, start + k)
        ch[:, part], dis[:, part], soc[:, part] = apply(
            b, e, ch_plan[:, :k], dis_plan[:, :k], data.time_step_h
        )
        e = soc[:, start + k - 1]
        if on_window is not None:
            on_window(k)
    dis, soc = restore_final_soc(b, b.e_initial_kwh, ch, dis, data.time_step_h)
    return Schedule(ch, dis, soc, b.e_initial_kwh.copy())


def battery_constraints(
    ch: cp.Variable,
    dis: cp.Variable,
    e: cp.Variable,
    batteries: Batteries,
    time_step_h: float,
    p_max: cp.Parameter,
    e_start: cp.Parameter,
    e_end_min: cp.Parameter,
    e_max: cp.Parameter,
) -> list[cp.Constraint]:
    """Return the constraints of ``n`` batteries over a window (variables of shape ``(n, H)``)."""
    n, steps = ch.shape
    difference = sp.eye(steps, format="csc") - sp.eye(steps, k=-1, format="csc")
    first = np.eye(1, steps)
    inflow = time_step_h * (
        cp.multiply(batteries.eta_ch[:, None], ch)
        - cp.multiply(1.0 / batteries.eta_dis[:, None], dis)
    )
    return [
        ch <= p_max,
        dis <= p_max,
        e <= cp.reshape(e_max, (n, 1), order="C") @ np.ones((1, steps)),
        e @ difference.T == inflow + cp.reshape(e_start, (n, 1), order="C") @ first,
        e[:, -1] >= e_end_min,
    ]


def tie_breaks(
    ch: cp.Variable, dis: cp.Variable, e: cp.Variable, time_step_h: float
) -> cp.Expression:
    """Return the tie-breaking terms of the objective (see the module docstring), kWh."""
    return (
        TIE_SMOOTH / 2 * time_step_h * cp.sum_squares(ch - dis)
        + TIE_THROUGHPUT * time_step_h * cp.sum(ch + dis)
        - TIE_TERMINAL * cp.sum(e[:, -1])
    )


class CentralPlanner:
    """The window problem of all batteries as one cvxpy problem, compiled once.

    Parameters
    ----------
    batteries
        The batteries (their efficiencies are built in; capacities and power limits are
        Parameters, so battery sizes can change between windows and runs).
    window_steps
        Window length H, steps.
    time_step_h
        Step length, h.

    """

    def __init__(self, batteries: Batteries, window_steps: int, time_step_h: float):
        n, steps = batteries.n, window_steps
        self.ch = cp.Variable((n, steps), nonneg=True)
        self.dis = cp.Variable((n, steps), nonneg=True)
        self.e = cp.Variable((n, steps), nonneg=True)
        imp = cp.Variable(steps, nonneg=True)
        self.load = cp.Parameter((n, steps))
        self.pv = cp.Parameter(steps)
        self.p_max = cp.Parameter((n, steps), nonneg=True)
        self.e_start = cp.Parameter(n, nonneg=True)
        self.e_end_min = cp.Parameter(n, nonneg=True)
        self.e_max = cp.Parameter(n, nonneg=True)
        constraints = battery_constraints(
            self.ch,
            self.dis,
            self.e,
            batteries,
            time_step_h,
            self.p_max,
            self.e_start,
            self.e_end_min,
            self.e_max,
        )
        constraints.append(imp >= cp.sum(self.load + self.ch - self.dis, axis=0) - self.pv)
        objective = time_step_h * cp.sum(imp) + tie_breaks(self.ch, self.dis, self.e, time_step_h)
        self.problem = cp.Problem(cp.Minimize(objective), constraints)
        self.imp = imp

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Solve one window and return the planned charging and discharging powers, kW."""
        self.load.value = window.load_kw
        self.pv.value = window.pv_kw
        self.p_max.value = window.p_max_kw
        self.e_start.value = window.e_start_kwh
        self.e_end_min.value = window.e_end_min_kwh
        self.e_max.value = window.e_max_kwh
        self.problem.solve(solver=cp.CLARABEL)
        if self.problem.status != cp.OPTIMAL:
            raise SubproblemInfeasible(
                f"the MPC window starting at step {window.start}", str(self.problem.status)
            )
        return self.ch.value, self.dis.value
