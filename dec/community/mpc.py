"""Model-predictive coordination (``mpc``): receding-horizon LP of the community's grid import.

Every window of ``window_h`` hours (default 72) the planner sees perfect forecasts of
loads and PV and solves, for all batteries at once::

    min   Σ_t Δt imp_t                                       community grid import, kWh
        + TIE_SMOOTH/2 Σ_i,t w_i Δt (ch - dis)²              tie-breaks (below)
        + TIE_THROUGHPUT Σ_i,t Δt (ch + dis)
        - TIE_TERMINAL Σ_i e_i,H
    s.t.  imp_t ≥ Σ_i (load_i,t + ch_i,t - dis_i,t) - pv_t,  imp_t ≥ 0
          e_i,t = e_i,t-1 + Δt (η_ch ch_i,t - dis_i,t / η_dis),  0 ≤ e ≤ E_i
          0 ≤ ch, dis ≤ P_i,  e_i,H ≥ e_i,initial (end of window at least the initial SoC)

then applies the first ``apply_h`` hours (default 24) and plans again from the SoC
reached. The last window is padded with idle steps past the end of the data, so one
compiled problem (cvxpy Parameters, DPP) serves every window and every battery size.

The import LP alone has many optima (which battery charges when, for the same import).
Three small terms pick one: ``TIE_THROUGHPUT`` makes simultaneous charge and discharge
and useless cycling cost something (no simultaneous charge/discharge benefit);
``TIE_TERMINAL`` stores PV surplus that cannot be used within the window rather than
exporting it; ``TIE_SMOOTH`` makes the optimum unique (strictly convex in every
battery's net power), so that the distributed solve (``mpc-distributed``) converges to
the very schedules of this one. The problem is thus a QP; Clarabel solves it, to tight
tolerances (:data:`CLARABEL_OPTIONS`).

The tie-breaks do not change the window's import: a quadratic (and linear) term below
a threshold set by the LP's multipliers is an exact penalty, so the QP's optimum is one
of the LP's optima, the one of least ``Σ (ch - dis)²`` (lexicographic). On the study's
data (windows starting on every day of a week in January, June and September, 17 houses,
and of a 5-house June week, from the initial SoC, 0.25 to 40 kWh per house) the window
import equals the pure LP's within 1e-6 kWh with both weights up to 0.1 (up to 0.3 on the
windows tried of the 5-house case), and departs from it at 1; ``TIE_SMOOTH =
TIE_TERMINAL = 0.05`` keeps at least a factor 2 (and a test checks the import against
HiGHS with 40 kWh batteries). Their ratio (1) is the one of earlier versions: the
surplus is stored at up to ``η TIE_TERMINAL / TIE_SMOOTH`` ≈ 1 kW per battery when
storing it gains nothing within the window.

Why not smaller: the tie-break alone decides among the LP's optima, so how accurately
a solver pins the schedule down scales with 1/``TIE_SMOOTH``. With 1e-3 (earlier
versions), ADMM stopped at ``eps = 1e-5`` left schedules 0.3 kW and end-of-day SoCs
1.5 kWh away from the optimum (import within 1e-4, but the next window starts elsewhere
and the gap compounds: -19 % of import with 40 kWh batteries), and even Clarabel at its
default tolerances was 5e-4 kW away.

Identical batteries (same ratings and state) are planned as one row of the problem
(:class:`GroupedPlanner`): an exact reduction, since the unique optimum treats them
alike. The shipped study sizes every battery the same, so its windows shrink from
17 batteries to one; batteries that differ keep a row each.

Batteries that cannot move (no capacity or no power: ``battery: null``, a size of 0,
``c_rate_per_h: 0``) are left out of the problem (:class:`MovableOnly`): their loads
enter the import as a fixed term. Kept in, such a row has every variable pinned to a
bound (``0 ≤ ch, dis ≤ 0``, ``e`` constant), which an interior-point solver handles
badly: Clarabel then stops at its reduced tolerances ("almost solved").
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from dec.community.battery import Batteries, Schedule, apply, restore_final_soc
from dec.community.data import CommunityData
from dec.solving import solve_checked

#: Quadratic tie-break on every battery's net power, kWh per kW² per h (for batteries of
#: up to :data:`SMOOTH_FULL_KW`; see :func:`smooth_weights`).
TIE_SMOOTH = 0.05
#: Rated power up to which a battery's smoothing weight is 1, kW. Above it the weight is
#: ``SMOOTH_FULL_KW / P``, so the tie-break's marginal cost at full power,
#: ``TIE_SMOOTH · min(P, SMOOTH_FULL_KW)``, stays at most 0.5 kWh per kWh, below the value
#: of storing PV surplus (η_ch η_dis ≈ 0.9): with a fixed weight a 75 kW community battery
#: charged at 15.8 kW instead of 16.8 kW and imported 0.4 % more than the LP's optimum.
SMOOTH_FULL_KW = 10.0
#: Cost of battery throughput, kWh per kWh charged or discharged.
TIE_THROUGHPUT = 1e-4
#: Value of energy left in the batteries at the end of a window, kWh per kWh.
TIE_TERMINAL = 0.05
#: Margin on the end-of-window SoC, kWh, so that solver tolerances never leave a run
#: ending below its initial SoC (none for a battery without power, which cannot move).
TERMINAL_MARGIN_KWH = 1e-6
#: Clarabel's tolerances: tight, so that the schedule (not only the import) is accurate to
#: about 1e-7 kW; if Clarabel cannot reach them it reports "almost solved", accepted only
#: at its default full accuracy (1e-8).
CLARABEL_OPTIONS = {
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-12,
    "tol_ktratio": 1e-10,
    "reduced_tol_gap_abs": 1e-8,
    "reduced_tol_gap_rel": 1e-8,
    "reduced_tol_feas": 1e-8,
    "reduced_tol_ktratio": 1e-6,
}


#: Start of cvxpy's warning for a solve that ended at the solver's reduced accuracy.
_INACCURATE_WARNING = "Solution may be inaccurate"


def solve_window(problem: cp.Problem, start: int) -> bool:
    """Solve one window's problem with Clarabel; return whether it is only "almost solved".

    "Almost solved" (cvxpy's ``optimal_inaccurate``) means Clarabel met its reduced
    tolerances (1e-8, its default full accuracy) but not the tight ones; the solution is
    used, and the caller reports the window, so cvxpy's warning is not shown.

    Raises
    ------
    SolverFailed
        If Clarabel fails (the window problem always has a solution: idle batteries are
        feasible).

    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_INACCURATE_WARNING, category=UserWarning)
        solve_checked(
            problem,
            f"the MPC window starting at step {start}",
            cp.CLARABEL,
            (cp.OPTIMAL, cp.OPTIMAL_INACCURATE),
            **CLARABEL_OPTIONS,
        )
    return problem.status != cp.OPTIMAL


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
        e_end_min_kwh=np.minimum(
            b.e_initial_kwh + np.where(b.p_kw > 0, TERMINAL_MARGIN_KWH, 0.0), b.e_kwh
        ),
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
    net: cp.Variable,
    dis: cp.Variable,
    e: cp.Variable,
    eta_ch: np.ndarray,
    eta_dis: np.ndarray,
    time_step_h: float,
    p_max: cp.Parameter,
    e_start: cp.Parameter,
    e_end_min: cp.Parameter,
    e_max: cp.Parameter,
) -> list[cp.Constraint]:
    """Return the constraints of ``n`` batteries over a window (variables of shape ``(n, H)``).

    The variables are the net charging power ``net = ch - dis`` and the discharging power
    ``dis`` (so the smoothing tie-break is a diagonal quadratic, with no auxiliary
    variable), with ``ch = net + dis``.
    """
    n, steps = net.shape
    ch = net + dis
    difference = sp.eye(steps, format="csc") - sp.eye(steps, k=-1, format="csc")
    first = np.eye(1, steps)
    inflow = time_step_h * (
        cp.multiply(eta_ch[:, None], ch) - cp.multiply(1.0 / eta_dis[:, None], dis)
    )
    return [
        ch >= 0,
        ch <= p_max,
        dis <= p_max,
        e <= cp.reshape(e_max, (n, 1), order="C") @ np.ones((1, steps)),
        e @ difference.T == inflow + cp.reshape(e_start, (n, 1), order="C") @ first,
        e[:, -1] >= e_end_min,
    ]


def smooth_weights(p_kw: np.ndarray) -> np.ndarray:
    """Return every battery's weight of the smoothing tie-break (1 up to 10 kW, then 10 kW / P).

    Parameters
    ----------
    p_kw
        Rated charge and discharge power of every battery, kW.

    """
    p = np.asarray(p_kw, dtype=float)
    return np.minimum(1.0, SMOOTH_FULL_KW / np.maximum(p, SMOOTH_FULL_KW))


def tie_breaks(
    net: cp.Variable,
    dis: cp.Variable,
    e: cp.Variable,
    time_step_h: float,
    smooth_weight: np.ndarray,
) -> cp.Expression:
    """Return the tie-breaking terms of the objective (see the module docstring), kWh.

    ``smooth_weight`` (one per row) scales the smoothing term: :func:`smooth_weights` of a
    battery, divided by ``m`` for a row that stands for ``m`` identical batteries
    (:class:`GroupedPlanner`).
    """
    return (
        TIE_SMOOTH / 2 * time_step_h * cp.sum(cp.multiply(smooth_weight[:, None], cp.square(net)))
        + TIE_THROUGHPUT * time_step_h * cp.sum(net + 2 * dis)
        - TIE_TERMINAL * cp.sum(e[:, -1])
    )


def identical_groups(
    batteries: Batteries, window: Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group the batteries that are interchangeable in a window's problem.

    Batteries with the same capacity, power limit, efficiencies, SoC at the window's start
    and lowest allowed SoC at its end form a group.

    Returns
    -------
    first, label, count
        The first battery of every group, every battery's group, and the group sizes.

    """
    b = batteries
    keys = np.column_stack(
        [b.e_kwh, b.p_kw, b.eta_ch, b.eta_dis, window.e_start_kwh, window.e_end_min_kwh]
    )
    _, first, label, count = np.unique(
        keys, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    return first, label.ravel(), count


class CentralPlanner:
    """The window problem of all batteries as one cvxpy problem, compiled once.

    Parameters
    ----------
    eta_ch, eta_dis
        Efficiencies of every battery (row), built in. Capacities and power limits are
        Parameters, so battery sizes can change between windows and runs.
    window_steps
        Window length H, steps.
    time_step_h
        Step length, h.
    smooth_weight
        Weight of every row's smoothing tie-break (:func:`smooth_weights`).

    """

    def __init__(
        self,
        eta_ch: np.ndarray,
        eta_dis: np.ndarray,
        window_steps: int,
        time_step_h: float,
        smooth_weight: np.ndarray,
    ):
        n, steps = len(eta_ch), window_steps
        weight = np.asarray(smooth_weight, dtype=float)
        self.net = cp.Variable((n, steps))
        self.dis = cp.Variable((n, steps), nonneg=True)
        self.e = cp.Variable((n, steps), nonneg=True)
        self.imp = cp.Variable(steps, nonneg=True)
        self.load = cp.Parameter((n, steps))
        self.pv = cp.Parameter(steps)
        self.p_max = cp.Parameter((n, steps), nonneg=True)
        self.e_start = cp.Parameter(n, nonneg=True)
        self.e_end_min = cp.Parameter(n, nonneg=True)
        self.e_max = cp.Parameter(n, nonneg=True)
        constraints = battery_constraints(
            self.net,
            self.dis,
            self.e,
            np.asarray(eta_ch, dtype=float),
            np.asarray(eta_dis, dtype=float),
            time_step_h,
            self.p_max,
            self.e_start,
            self.e_end_min,
            self.e_max,
        )
        constraints.append(self.imp >= cp.sum(self.load + self.net, axis=0) - self.pv)
        objective = time_step_h * cp.sum(self.imp) + tie_breaks(
            self.net, self.dis, self.e, time_step_h, weight
        )
        self.problem = cp.Problem(cp.Minimize(objective), constraints)
        #: Starts of the windows Clarabel only "almost solved" (:func:`solve_window`).
        self.inaccurate_windows: list[int] = []

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Solve one window and return the planned charging and discharging powers, kW."""
        self.load.value = window.load_kw
        self.pv.value = window.pv_kw
        self.p_max.value = window.p_max_kw
        self.e_start.value = window.e_start_kwh
        self.e_end_min.value = window.e_end_min_kwh
        self.e_max.value = window.e_max_kwh
        if solve_window(self.problem, window.start):
            self.inaccurate_windows.append(window.start)
        dis = np.maximum(self.dis.value, 0.0)
        return np.maximum(self.net.value + dis, 0.0), dis


class GroupedPlanner:
    """The window problem with identical batteries planned as one (an exact reduction).

    Batteries with the same capacity, power limit, efficiencies and state (SoC at the
    window's start and its lowest allowed end) are interchangeable in the window
    problem: the community's import depends only on the sum of the houses' consumptions.
    The problem is convex and the smoothing tie-break makes every battery's net power
    unique at the optimum, so the optimum gives identical batteries identical
    schedules (any optimum averaged over permutations of them is an optimum). A group
    of ``m`` identical batteries is thus one row with ``m`` times the capacity, power
    and state, the group's summed load, and ``1/m`` of a battery's smoothing weight
    (``Σ_i net_i² = NET²/m`` when every ``net_i = NET/m``); each battery gets ``1/m`` of
    the row's schedule. Different batteries stay separate rows, so with no two alike
    this is the plain :class:`CentralPlanner`. Identical batteries stay identical from
    window to window (same schedules, same arithmetic), so the grouping and its compiled
    problem are reused.

    Parameters
    ----------
    batteries
        The houses' batteries.
    window_steps
        Window length H, steps.
    time_step_h
        Step length, h.

    """

    def __init__(self, batteries: Batteries, window_steps: int, time_step_h: float):
        self.batteries = batteries
        self.window_steps = window_steps
        self.time_step_h = time_step_h
        self._grouping = b""
        self._planner: CentralPlanner | None = None
        #: Starts of the windows Clarabel only "almost solved" (:func:`solve_window`).
        self.inaccurate_windows: list[int] = []

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Solve one window and return every battery's charging and discharging powers, kW."""
        first, label, count = identical_groups(self.batteries, window)
        grouping = np.concatenate([first, label]).tobytes()
        if self._planner is None or grouping != self._grouping:
            self._grouping = grouping
            self._planner = CentralPlanner(
                self.batteries.eta_ch[first],
                self.batteries.eta_dis[first],
                self.window_steps,
                self.time_step_h,
                smooth_weight=smooth_weights(self.batteries.p_kw[first]) / count,
            )
        load = np.zeros((len(first), self.window_steps))
        np.add.at(load, label, window.load_kw)
        grouped = Window(
            start=window.start,
            load_kw=load,
            pv_kw=window.pv_kw,
            p_max_kw=count[:, None] * window.p_max_kw[first],
            e_start_kwh=count * window.e_start_kwh[first],
            e_end_min_kwh=count * window.e_end_min_kwh[first],
            e_max_kwh=count * window.e_max_kwh[first],
        )
        solved = len(self._planner.inaccurate_windows)
        ch, dis = self._planner(grouped)
        self.inaccurate_windows += self._planner.inaccurate_windows[solved:]
        share = 1.0 / count[label, None]
        return ch[label] * share, dis[label] * share


class MovableOnly:
    """Plans only the batteries that can move; the others stay idle.

    A battery without capacity or power (``battery: null``, size 0, ``c_rate_per_h: 0``)
    cannot move, and in the window problem its row has every variable pinned to a bound,
    which leaves Clarabel "almost solved" (seen with one such member among 16 identical
    batteries). Its load enters the community's import as a fixed term (subtracted from
    the PV, which the problem lets go negative), and its planned powers are 0. With every
    battery movable this is the wrapped planner itself, on the same numbers.

    Parameters
    ----------
    batteries
        Every house's battery.
    make_planner
        Builds the planner of the movable batteries (given as :class:`Batteries`).

    """

    def __init__(self, batteries: Batteries, make_planner: Callable[[Batteries], Planner]):
        self.keep = batteries.movable
        self.n = batteries.n
        self.planner = make_planner(batteries.select(self.keep)) if self.keep.any() else None

    @property
    def inaccurate_windows(self) -> list[int]:
        """Starts of the windows Clarabel only "almost solved" (:func:`solve_window`)."""
        return list(getattr(self.planner, "inaccurate_windows", []))

    def __call__(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Solve one window and return every battery's charging and discharging powers, kW."""
        ch = np.zeros((self.n, len(window.pv_kw)))
        dis = np.zeros_like(ch)
        if self.planner is None:
            return ch, dis
        keep = self.keep
        if keep.all():
            return self.planner(window)
        movable = Window(
            start=window.start,
            load_kw=window.load_kw[keep],
            pv_kw=window.pv_kw - window.load_kw[~keep].sum(axis=0),
            p_max_kw=window.p_max_kw[keep],
            e_start_kwh=window.e_start_kwh[keep],
            e_end_min_kwh=window.e_end_min_kwh[keep],
            e_max_kwh=window.e_max_kwh[keep],
        )
        ch[keep], dis[keep] = self.planner(movable)
        return ch, dis
