"""Energy flows and metrics of a run: self-production, self-sufficiency, cost, battery cycles.

With ``load`` the households' consumption, ``c = load + ch - dis`` their consumption
including batteries and ``pv`` the community PV output (all kW, per step):

- community import ``max(Σc - pv, 0)`` and export ``max(pv - Σc, 0)``;
- self-production % = ``100 Σ_t min(pv_t, Σc_t) / Σ_t Σload_t`` (the issue's formula,
  its denominator the households' load as in the upper bound): the PV energy the community
  consumes when it is produced (directly or into its batteries), as a share of the
  households' consumption. PV stored counts when it is stored, losses and energy left in
  the batteries included, so like the upper bound it can exceed 100 % in a community whose
  PV output exceeds its load (self-sufficiency cannot);
- upper bound % = ``100 Σ pv / Σ load``: no mechanism can exceed it;
- self-sufficiency % = ``100 (1 - Σ import / Σ load)``: the share of the households'
  consumption not bought from the grid (battery losses count against it);
- cost: import at the two-period tariff, minus paid export;
- battery cycles: discharged energy over capacity (equivalent full cycles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dec.community.battery import Schedule
from dec.community.data import CommunityData
from dec.community.tariff import TwoPeriodTariff


@dataclass(frozen=True)
class Flows:
    """Per-step power flows of a run, kW (``(n, T)`` per house, ``(T,)`` for the community)."""

    consumption_kw: np.ndarray
    community_kw: np.ndarray
    import_kw: np.ndarray
    export_kw: np.ndarray


def flows(data: CommunityData, schedule: Schedule) -> Flows:
    """Return the houses' consumption with batteries and the community's grid exchange."""
    consumption = data.load_kw + schedule.ch_kw - schedule.dis_kw
    community = consumption.sum(axis=0)
    return Flows(
        consumption_kw=consumption,
        community_kw=community,
        import_kw=np.maximum(community - data.pv_kw, 0.0),
        export_kw=np.maximum(data.pv_kw - community, 0.0),
    )


def metrics(data: CommunityData, schedule: Schedule, tariff: TwoPeriodTariff) -> dict[str, float]:
    """Return the metrics of a run (energies in kWh, shares in %, cost in EUR)."""
    dt_h = data.time_step_h
    f = flows(data, schedule)
    load_kwh = float(data.load_kw.sum() * dt_h)
    pv_kwh = float(data.pv_kw.sum() * dt_h)
    import_kwh = float(f.import_kw.sum() * dt_h)
    used_pv_kwh = float(np.minimum(data.pv_kw, f.community_kw).sum() * dt_h)
    cycles = member_cycles(data, schedule)
    has_battery = data.batteries.e_kwh > 0
    return {
        "load_kwh": load_kwh,
        "pv_kwh": pv_kwh,
        "import_kwh": import_kwh,
        "export_kwh": float(f.export_kw.sum() * dt_h),
        "self_production_pct": 100.0 * used_pv_kwh / load_kwh,
        "self_sufficiency_pct": 100.0 * (1.0 - import_kwh / load_kwh),
        "upper_bound_pct": 100.0 * pv_kwh / load_kwh,
        "cost_eur": tariff.cost_eur(data.times, f.import_kw, f.export_kw, dt_h),
        "battery_charged_kwh": float(schedule.ch_kw.sum() * dt_h),
        "battery_discharged_kwh": float(schedule.dis_kw.sum() * dt_h),
        "battery_cycles_mean": float(cycles[has_battery].mean()) if has_battery.any() else 0.0,
    }


def member_cycles(data: CommunityData, schedule: Schedule) -> np.ndarray:
    """Return every member's equivalent full cycles (0 without battery)."""
    discharged = schedule.dis_kw.sum(axis=1) * data.time_step_h
    capacity = data.batteries.e_kwh
    return np.divide(discharged, capacity, out=np.zeros_like(discharged), where=capacity > 0)
