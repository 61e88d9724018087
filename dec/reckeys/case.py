"""The data of a renewable energy community (REC) decision process, as arrays.

Units and conventions (written once here, used everywhere in :mod:`dec.reckeys`):

- A control step lasts ``time_step_h`` hours; step ``t`` covers the interval
  ``[t·Δc, (t+1)·Δc)``. Metering period ``m`` is the steps ``m·Δm … (m+1)·Δm − 1``.
- Consumption, production, charge and discharge are **energies per step in kWh**.
  Battery power limits are given in kW; the energy limit of one step is
  ``power_kw × time_step_h`` (with 1-h steps both read the same).
- The state of charge (SoC) is an **energy in kWh**, with bounds in kWh:
  ``soc' = soc + η_c · charge − discharge / η_d`` (``soc' = soc + charge − discharge``
  with efficiencies 1).
- Net position ``n = production − consumption + discharge − charge`` (kWh per step,
  generation positive). The consumption meter of a period accumulates ``max(−n, 0)``
  and the production meter ``max(n, 0)``, step by step (never netted within a period).
- Prices are per step (EUR/kWh). A period's price is the **arithmetic mean of its
  steps' prices** (steps have equal length, so this is the time-weighted mean); with
  prices constant within periods, as in the paper, it is that constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Battery:
    """A member's battery.

    Attributes
    ----------
    capacity_kwh
        Usable energy capacity, kWh.
    soc_min_kwh, soc_max_kwh
        Bounds of the state of charge, kWh (``0 ≤ soc_min ≤ soc_max ≤ capacity``).
    soc_initial_kwh
        State of charge at the start of the horizon, kWh.
    charge_max_kw, discharge_max_kw
        Power limits, kW (energy per step ≤ limit × step length).
    charge_efficiency, discharge_efficiency
        η_c and η_d in (0, 1].

    """

    capacity_kwh: float
    soc_min_kwh: float
    soc_max_kwh: float
    soc_initial_kwh: float
    charge_max_kw: float
    discharge_max_kw: float
    charge_efficiency: float = 1.0
    discharge_efficiency: float = 1.0


@dataclass(frozen=True)
class Member:
    """One REC member: its id, exogenous profiles, tariffs and optional battery.

    Attributes
    ----------
    member_id
        Unique id (the stem of its output file).
    consumption_kwh, production_kwh
        Non-controllable consumption and production per step, kWh (length T).
    buying_price_eur_per_kwh, selling_price_eur_per_kwh
        Retail tariffs per step, EUR/kWh (length T).
    battery
        The member's battery, or None.

    """

    member_id: str
    consumption_kwh: np.ndarray
    production_kwh: np.ndarray
    buying_price_eur_per_kwh: np.ndarray
    selling_price_eur_per_kwh: np.ndarray
    battery: Battery | None = None


@dataclass
class RecCase:
    """A REC decision process: members, horizon and billing rules, as arrays.

    Attributes
    ----------
    name
        Case name (for messages and outputs).
    members
        The members, in input order.
    time_step_h
        Control step Δc, hours.
    metering_period_steps
        Δm, control steps per metering period; divides ``n_steps``.
    discharge_fee_eur_per_kwh
        ε, operating cost of discharging, EUR per kWh discharged.
    meter_model
        ``auto``, ``lp`` or ``milp`` (see :mod:`dec.reckeys.exactness`).

    """

    name: str
    members: list[Member]
    time_step_h: float
    metering_period_steps: int
    discharge_fee_eur_per_kwh: float = 1e-5
    meter_model: str = "auto"
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    # -- sizes -------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        """T, number of control steps."""
        return len(self.members[0].consumption_kwh)

    @property
    def n_periods(self) -> int:
        """Number of metering periods."""
        return self.n_steps // self.metering_period_steps

    @property
    def n_members(self) -> int:
        """Number of members."""
        return len(self.members)

    @property
    def member_ids(self) -> list[str]:
        """Member ids, in input order."""
        return [m.member_id for m in self.members]

    @property
    def battery_index(self) -> np.ndarray:
        """Indices of the members that own a battery."""
        return np.array([i for i, m in enumerate(self.members) if m.battery], dtype=int)

    @property
    def plain_index(self) -> np.ndarray:
        """Indices of the members without a battery."""
        return np.array([i for i, m in enumerate(self.members) if not m.battery], dtype=int)

    # -- stacked arrays (members × steps) ----------------------------------------------
    def _stack(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            self._arrays[name] = np.array([getattr(m, name) for m in self.members], dtype=float)
        return self._arrays[name]

    @property
    def consumption_kwh(self) -> np.ndarray:
        """Consumption, kWh per step, shape (N, T)."""
        return self._stack("consumption_kwh")

    @property
    def production_kwh(self) -> np.ndarray:
        """Production, kWh per step, shape (N, T)."""
        return self._stack("production_kwh")

    @property
    def buying_price_eur_per_kwh(self) -> np.ndarray:
        """Buying prices per step, EUR/kWh, shape (N, T)."""
        return self._stack("buying_price_eur_per_kwh")

    @property
    def selling_price_eur_per_kwh(self) -> np.ndarray:
        """Selling prices per step, EUR/kWh, shape (N, T)."""
        return self._stack("selling_price_eur_per_kwh")

    def period_prices(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the buying and selling prices of every period, EUR/kWh, shape (N, M).

        A period's price is the mean of its steps' prices.
        """
        shape = (self.n_members, self.n_periods, self.metering_period_steps)
        return (
            self.buying_price_eur_per_kwh.reshape(shape).mean(axis=2),
            self.selling_price_eur_per_kwh.reshape(shape).mean(axis=2),
        )

    def battery_arrays(self) -> dict[str, np.ndarray]:
        """Return the batteries' parameters as arrays over battery members (per-step energies).

        Keys: ``soc_min_kwh``, ``soc_max_kwh``, ``soc_initial_kwh``, ``charge_max_kwh``,
        ``discharge_max_kwh`` (energy per step), ``charge_efficiency``,
        ``discharge_efficiency``.
        """
        batteries = [self.members[i].battery for i in self.battery_index]
        dt = self.time_step_h
        return {
            "soc_min_kwh": np.array([b.soc_min_kwh for b in batteries], dtype=float),
            "soc_max_kwh": np.array([b.soc_max_kwh for b in batteries], dtype=float),
            "soc_initial_kwh": np.array([b.soc_initial_kwh for b in batteries], dtype=float),
            "charge_max_kwh": np.array([b.charge_max_kw * dt for b in batteries], dtype=float),
            "discharge_max_kwh": np.array(
                [b.discharge_max_kw * dt for b in batteries], dtype=float
            ),
            "charge_efficiency": np.array([b.charge_efficiency for b in batteries], dtype=float),
            "discharge_efficiency": np.array(
                [b.discharge_efficiency for b in batteries], dtype=float
            ),
        }

    def truncated(self, n_steps: int) -> RecCase:
        """Return the same case restricted to its first ``n_steps`` steps."""
        members = [
            Member(
                member_id=m.member_id,
                consumption_kwh=m.consumption_kwh[:n_steps],
                production_kwh=m.production_kwh[:n_steps],
                buying_price_eur_per_kwh=m.buying_price_eur_per_kwh[:n_steps],
                selling_price_eur_per_kwh=m.selling_price_eur_per_kwh[:n_steps],
                battery=m.battery,
            )
            for m in self.members
        ]
        return RecCase(
            name=self.name,
            members=members,
            time_step_h=self.time_step_h,
            metering_period_steps=self.metering_period_steps,
            discharge_fee_eur_per_kwh=self.discharge_fee_eur_per_kwh,
            meter_model=self.meter_model,
        )
