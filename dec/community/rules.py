"""Non-predictive mechanisms: ``none`` (batteries idle) and ``low-tech`` (react to a signal).

Low-tech: the community agent broadcasts one signal per step, the community PV
output. Every battery reacts to it alone, with no forecast:

- PV above ``threshold_kw``: charge at up to its power rating (limited by the room left);
- PV at or below ``no_pv_kw`` (night): discharge to cover its own house's load;
- otherwise: idle.

End guard: the battery model requires a run to end at least as charged as it began.
During the last ``n_guard`` steps, where ``n_guard`` is the number of steps a battery
needs to recharge from empty to its initial state at full power, a battery does not
discharge below its initial state and charges back up to it if it is below.
"""

from __future__ import annotations

import math

import numpy as np

from dec.community.battery import Batteries, Schedule, idle, step_limits
from dec.community.data import CommunityData


def run_none(data: CommunityData) -> Schedule:
    """Return the schedule of mechanism ``none``: batteries stay idle."""
    return idle(data.batteries, data.n_steps)


def guard_steps(batteries: Batteries, time_step_h: float) -> int:
    """Return the number of end-guard steps: the longest recharge from empty to initial SoC."""
    has = batteries.p_kw > 0
    if not has.any():
        return 0
    hours = batteries.e_initial_kwh[has] / (batteries.eta_ch[has] * batteries.p_kw[has])
    return math.ceil(float(hours.max()) / time_step_h - 1e-9)


def run_low_tech(data: CommunityData, threshold_kw: float, no_pv_kw: float) -> Schedule:
    """Return the schedule of mechanism ``low-tech``.

    Parameters
    ----------
    data
        The community.
    threshold_kw
        Community PV above which batteries charge, kW.
    no_pv_kw
        Community PV at or below which batteries discharge to cover their house, kW.

    """
    b = data.batteries
    dt_h = data.time_step_h
    n_steps = data.n_steps
    charge_signal = data.pv_kw > threshold_kw
    discharge_signal = data.pv_kw <= no_pv_kw
    guard_from = n_steps - guard_steps(b, dt_h)
    ch = np.zeros((b.n, n_steps))
    dis = np.zeros((b.n, n_steps))
    soc = np.zeros((b.n, n_steps))
    e = b.e_initial_kwh.copy()
    for t in range(n_steps):
        ch_max, dis_max = step_limits(b, e, dt_h)
        if t >= guard_from:
            above_start = np.maximum(e - b.e_initial_kwh, 0.0)
            dis_max = np.minimum(dis_max, above_start * b.eta_dis / dt_h)
            below_start = np.maximum(b.e_initial_kwh - e, 0.0)
            ch[:, t] = np.minimum(ch_max, below_start / (b.eta_ch * dt_h))
        if charge_signal[t]:
            ch[:, t] = ch_max
        elif discharge_signal[t]:
            dis[:, t] = np.minimum(dis_max, data.load_kw[:, t]) * (ch[:, t] == 0)
        e = e + dt_h * (b.eta_ch * ch[:, t] - dis[:, t] / b.eta_dis)
        e = np.clip(e, 0.0, b.e_kwh)
        soc[:, t] = e
    return Schedule(ch, dis, soc, b.e_initial_kwh.copy())
