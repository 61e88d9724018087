"""The REC control process: a policy acts each step, meters run, keys settle each period.

Algorithm 2 of Aittahar et al. (2023): at each step the policy observes the state
(SoC, meters of the current period) and returns the battery actions; the actions are
applied to the batteries, the actual consumption and production are metered (net
consumption and net production separately), and at the end of each metering period
the keys are optimised for the realised meters and the period is billed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dec.progress import progress
from dec.reckeys.case import RecCase
from dec.reckeys.forecast import Forecaster, PerfectForecaster
from dec.reckeys.keys import allocate, retail_cost
from dec.reckeys.policies import Policy, State

#: Actions below this energy (kWh, i.e. 1 mWh) are solver residue and applied as 0.
NOISE_KWH = 1e-6
#: Net positions below this in magnitude are the rounding of a difference of equal energies
#: (a battery charging exactly a member's surplus): metered as 0, kWh.
ROUNDING_KWH = 1e-9


@dataclass
class Trajectory:
    """Everything a run produced, as arrays (N members, B battery members, T steps, M periods).

    Attributes
    ----------
    charge_kwh, discharge_kwh
        Applied battery actions per step, kWh (B, T).
    soc_kwh
        SoC at the end of each step, kWh (B, T).
    net_kwh
        Net position per member and step, kWh (N, T), generation positive.
    consumption_meter_kwh, production_meter_kwh
        Meters of each period, kWh (N, M).
    imports_kwh, exports_kwh
        Keys as energies, kWh (N, M).
    buy_eur_per_kwh, sell_eur_per_kwh
        Period prices, EUR/kWh (N, M).
    fee_eur
        Discharge fees per member and period, EUR (N, M).
    bill_eur
        Bill per member and period (retail cost plus fees), EUR (N, M).
    runtime_s
        Wall time of the run, s.
    info
        Facts reported by the policy (solves, ADMM rounds, ...).

    """

    charge_kwh: np.ndarray
    discharge_kwh: np.ndarray
    soc_kwh: np.ndarray
    net_kwh: np.ndarray
    consumption_meter_kwh: np.ndarray
    production_meter_kwh: np.ndarray
    imports_kwh: np.ndarray
    exports_kwh: np.ndarray
    buy_eur_per_kwh: np.ndarray
    sell_eur_per_kwh: np.ndarray
    fee_eur: np.ndarray
    bill_eur: np.ndarray
    runtime_s: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def total_bill_eur(self) -> float:
        """Sum of every member's bill over the horizon, EUR."""
        return float(self.bill_eur.sum())

    @property
    def member_bill_eur(self) -> np.ndarray:
        """Bill of each member over the horizon, EUR (N,)."""
        return self.bill_eur.sum(axis=1)


def feasible_actions(
    case: RecCase, soc_kwh: np.ndarray, charge_kwh: np.ndarray, discharge_kwh: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Clip actions to their limits and to the SoC bounds (removes solver round-off).

    Returns the charge and discharge energies (kWh, (B,)) that keep the SoC within its
    bounds; an action is only reduced, never increased.
    """
    a = case.battery_arrays()
    charge = np.clip(charge_kwh, 0.0, a["charge_max_kwh"])
    discharge = np.clip(discharge_kwh, 0.0, a["discharge_max_kwh"])
    charge[charge < NOISE_KWH] = 0.0
    discharge[discharge < NOISE_KWH] = 0.0
    eta_c, eta_d = a["charge_efficiency"], a["discharge_efficiency"]
    excess = soc_kwh + eta_c * charge - discharge / eta_d - a["soc_max_kwh"]
    charge = np.where(excess > 0, np.maximum(charge - excess / eta_c, 0.0), charge)
    deficit = a["soc_min_kwh"] - (soc_kwh + eta_c * charge - discharge / eta_d)
    discharge = np.where(deficit > 0, np.maximum(discharge - deficit * eta_d, 0.0), discharge)
    return charge, discharge


def simulate(case: RecCase, policy: Policy, forecaster: Forecaster | None = None) -> Trajectory:
    """Run ``policy`` on ``case`` over the whole horizon and bill every period.

    Parameters
    ----------
    case
        The decision process.
    policy
        The control policy.
    forecaster
        What the policy believes about coming steps (default: perfect forecasts).

    Returns
    -------
    Trajectory

    """
    start = time.perf_counter()
    forecaster = forecaster or PerfectForecaster(case)
    n, T, M = case.n_members, case.n_steps, case.n_periods
    period_steps = case.metering_period_steps
    battery = case.battery_index
    arrays = case.battery_arrays()
    eta_c, eta_d = arrays["charge_efficiency"], arrays["discharge_efficiency"]
    buy, sell = case.period_prices()
    nb = len(battery)
    charge, discharge, soc_path = np.zeros((nb, T)), np.zeros((nb, T)), np.zeros((nb, T))
    net = case.production_kwh - case.consumption_kwh
    cons_meter, prod_meter = np.zeros((n, M)), np.zeros((n, M))
    imports, exports, fee = np.zeros((n, M)), np.zeros((n, M)), np.zeros((n, M))
    info: dict = {"solves": 0}
    policy.start(case, forecaster)
    soc = arrays["soc_initial_kwh"].copy()
    for t in progress(range(T), desc=policy.name):
        m = t // period_steps
        decision = policy.act(
            State(t, soc.copy(), cons_meter[:, m].copy(), prod_meter[:, m].copy())
        )
        for key, value in decision.info.items():
            if isinstance(value, (int, float)) and key != "window_bill_eur":
                info[key] = info.get(key, 0) + value
            else:
                info.setdefault(key, value)
        ch, dis = feasible_actions(case, soc, decision.charge_kwh, decision.discharge_kwh)
        charge[:, t], discharge[:, t] = ch, dis
        # feasible actions keep the SoC within bounds up to a rounding error (-3e-18 kWh)
        soc = np.clip(soc + eta_c * ch - dis / eta_d, arrays["soc_min_kwh"], arrays["soc_max_kwh"])
        soc_path[:, t] = soc
        net[battery, t] += dis - ch
        net[np.abs(net[:, t]) < ROUNDING_KWH, t] = 0.0
        cons_meter[:, m] += np.maximum(-net[:, t], 0.0)
        prod_meter[:, m] += np.maximum(net[:, t], 0.0)
        fee[battery, m] += case.discharge_fee_eur_per_kwh * dis
        if (t + 1) % period_steps == 0:
            imports[:, m], exports[:, m] = allocate(
                cons_meter[:, m], prod_meter[:, m], buy[:, m], sell[:, m]
            )
    finish = getattr(policy, "finish", None)
    if finish is not None:
        info.update(finish())
    bill = retail_cost(cons_meter, prod_meter, imports, exports, buy, sell) + fee
    return Trajectory(
        charge_kwh=charge,
        discharge_kwh=discharge,
        soc_kwh=soc_path,
        net_kwh=net,
        consumption_meter_kwh=cons_meter,
        production_meter_kwh=prod_meter,
        imports_kwh=imports,
        exports_kwh=exports,
        buy_eur_per_kwh=buy,
        sell_eur_per_kwh=sell,
        fee_eur=fee,
        bill_eur=bill,
        runtime_s=time.perf_counter() - start,
        info=info,
    )
