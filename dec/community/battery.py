"""Batteries of the members as arrays (struct-of-arrays), and their step-by-step dynamics.

Model, per battery ``i`` and step ``t`` of length ``Δt`` h::

    e[t+1] = e[t] + Δt (η_ch ch[t] - dis[t] / η_dis),   0 ≤ e ≤ E,   0 ≤ ch, dis ≤ P

``ch`` and ``dis`` are the charging and discharging powers (kW) seen from the house
(its consumption rises by ``ch`` and falls by ``dis``). The run must end with
``e[T] ≥ e[0]``. A step never charges and discharges at once (:func:`apply` nets a
request for both into one direction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dec.community.config import BatteryConfig


@dataclass(frozen=True)
class Batteries:
    """Every member's battery as arrays of length ``n`` (zero capacity: no battery).

    Attributes
    ----------
    e_kwh
        Capacity, kWh.
    p_kw
        Charge and discharge power limit, kW.
    eta_ch, eta_dis
        Charge and discharge efficiencies.
    e_initial_kwh
        Initial state of charge, kWh.

    """

    e_kwh: np.ndarray
    p_kw: np.ndarray
    eta_ch: np.ndarray
    eta_dis: np.ndarray
    e_initial_kwh: np.ndarray

    @classmethod
    def from_configs(cls, configs: Sequence[BatteryConfig | None]) -> Batteries:
        """Build the arrays from the members' battery configurations (None: no battery)."""

        def field(name: str, default: float) -> np.ndarray:
            return np.array([getattr(c, name) if c else default for c in configs], dtype=float)

        e_kwh = field("e_kwh", 0.0)
        return cls(
            e_kwh=e_kwh,
            p_kw=field("p_kw", 0.0),
            eta_ch=field("eta_ch", 1.0),
            eta_dis=field("eta_dis", 1.0),
            e_initial_kwh=e_kwh * field("soc_initial_frac", 0.0),
        )

    @property
    def n(self) -> int:
        """Number of members."""
        return len(self.e_kwh)

    @property
    def movable(self) -> np.ndarray:
        """Which batteries can move at all (some capacity and some power), ``(n,)`` bool."""
        return (self.e_kwh > 0) & (self.p_kw > 0)

    def select(self, rows: np.ndarray) -> Batteries:
        """Return the batteries of ``rows`` (a boolean mask or indices)."""
        return Batteries(
            e_kwh=self.e_kwh[rows],
            p_kw=self.p_kw[rows],
            eta_ch=self.eta_ch[rows],
            eta_dis=self.eta_dis[rows],
            e_initial_kwh=self.e_initial_kwh[rows],
        )


@dataclass(frozen=True)
class Schedule:
    """Applied battery decisions of every member over a run.

    Attributes
    ----------
    ch_kw, dis_kw
        Charging and discharging power, kW, shape ``(n, T)``.
    soc_kwh
        State of charge at the end of every step, kWh, shape ``(n, T)``.
    e_initial_kwh
        State of charge before the first step, kWh, shape ``(n,)``.

    """

    ch_kw: np.ndarray
    dis_kw: np.ndarray
    soc_kwh: np.ndarray
    e_initial_kwh: np.ndarray

    @property
    def battery_kw(self) -> np.ndarray:
        """Battery output, kW, generation positive (discharging > 0), shape ``(n, T)``."""
        return self.dis_kw - self.ch_kw


def idle(batteries: Batteries, n_steps: int) -> Schedule:
    """Return the schedule of batteries that never move."""
    zeros = np.zeros((batteries.n, n_steps))
    soc = np.repeat(batteries.e_initial_kwh[:, None], n_steps, axis=1)
    return Schedule(zeros, zeros.copy(), soc, batteries.e_initial_kwh.copy())


def step_limits(
    batteries: Batteries, e_kwh: np.ndarray, time_step_h: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the largest charge and discharge powers possible from state ``e_kwh``, kW."""
    room = np.maximum(batteries.e_kwh - e_kwh, 0.0)
    ch_max = np.minimum(batteries.p_kw, room / (batteries.eta_ch * time_step_h))
    dis_max = np.minimum(batteries.p_kw, np.maximum(e_kwh, 0.0) * batteries.eta_dis / time_step_h)
    return ch_max, dis_max


def apply(
    batteries: Batteries,
    e_start_kwh: np.ndarray,
    ch_kw: np.ndarray,
    dis_kw: np.ndarray,
    time_step_h: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply requested powers step by step, within power and SoC limits.

    A request to charge and discharge in the same step is netted first. Planned
    schedules (MPC) are feasible up to solver tolerance; this keeps the applied
    schedule exactly feasible and its energy balance exact.

    Parameters
    ----------
    batteries
        The batteries.
    e_start_kwh
        State of charge before the first step, kWh, shape ``(n,)``.
    ch_kw, dis_kw
        Requested charging and discharging power, kW, shape ``(n, T)``.
    time_step_h
        Step length, h.

    Returns
    -------
    tuple of numpy.ndarray
        Applied ``ch_kw``, ``dis_kw`` and the state of charge at the end of every step,
        kWh, each of shape ``(n, T)``.

    """
    net = ch_kw - dis_kw
    ch_out = np.zeros_like(net)
    dis_out = np.zeros_like(net)
    soc = np.zeros_like(net)
    e = e_start_kwh.astype(float).copy()
    for t in range(net.shape[1]):
        ch_max, dis_max = step_limits(batteries, e, time_step_h)
        ch = np.clip(net[:, t], 0.0, ch_max)
        dis = np.clip(-net[:, t], 0.0, dis_max)
        e = e + time_step_h * (batteries.eta_ch * ch - dis / batteries.eta_dis)
        e = np.clip(e, 0.0, batteries.e_kwh)
        ch_out[:, t], dis_out[:, t], soc[:, t] = ch, dis, e
    return ch_out, dis_out, soc


def restore_final_soc(
    batteries: Batteries,
    e_start_kwh: np.ndarray,
    ch_kw: np.ndarray,
    dis_kw: np.ndarray,
    time_step_h: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut discharge back from the last step so every battery ends at least at its initial SoC.

    For planners whose solutions meet the end-of-run SoC only to a tolerance (ADMM).

    Returns
    -------
    tuple of numpy.ndarray
        Discharging power, kW, and the state of charge at the end of every step, kWh.

    """
    dis = dis_kw.copy()
    soc = soc_after(batteries, e_start_kwh, ch_kw, dis, time_step_h)
    deficit = np.maximum(batteries.e_initial_kwh - soc[:, -1], 0.0)
    for t in range(dis.shape[1] - 1, -1, -1):
        if not (deficit > 0).any():
            break
        cut = np.minimum(dis[:, t], deficit * batteries.eta_dis / time_step_h)
        dis[:, t] -= cut
        deficit -= cut * time_step_h / batteries.eta_dis
    return dis, soc_after(batteries, e_start_kwh, ch_kw, dis, time_step_h)


def soc_after(
    batteries: Batteries,
    e_start_kwh: np.ndarray,
    ch_kw: np.ndarray,
    dis_kw: np.ndarray,
    dt_h: float,
) -> np.ndarray:
    """Return the state of charge at the end of every step of a schedule, kWh, shape ``(n, T)``."""
    flow = dt_h * (batteries.eta_ch[:, None] * ch_kw - dis_kw / batteries.eta_dis[:, None])
    return e_start_kwh[:, None] + np.cumsum(flow, axis=1)
