"""Turn a :class:`~dec.reckeys.simulate.Trajectory` into tables, per-member records and a summary.

The tables are the results (long format, one row per member and step or period); the
per-member JSON records are a serialisation of the same tables.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from dec.reckeys.case import RecCase
from dec.reckeys.keys import key_fractions, retail_cost
from dec.reckeys.simulate import Trajectory

STEP_COLUMNS = (
    "consumption_kwh",
    "production_kwh",
    "charge_kwh",
    "discharge_kwh",
    "battery_kw",
    "soc_kwh",
    "net_position_kwh",
)
PERIOD_COLUMNS = (
    "consumption_meter_kwh",
    "production_meter_kwh",
    "import_kwh",
    "export_kwh",
    "import_key",
    "export_key",
    "buying_price_eur_per_kwh",
    "selling_price_eur_per_kwh",
    "retail_cost_eur",
    "battery_fee_eur",
    "bill_eur",
)


def _long(
    values: dict[str, np.ndarray], index: dict[str, np.ndarray], member_ids: list[str]
) -> pd.DataFrame:
    n, count = len(member_ids), next(iter(values.values())).shape[1]
    frame = {key: np.tile(col, n) for key, col in index.items()}
    frame["member_id"] = np.repeat(member_ids, count)
    frame.update({key: np.asarray(v, dtype=float).ravel() for key, v in values.items()})
    return pd.DataFrame(frame)


def step_table(case: RecCase, tr: Trajectory) -> pd.DataFrame:
    """Per member and step: exogenous energies, battery actions, SoC and net position.

    Members without a battery have zero actions and an empty (NaN) SoC; ``soc_kwh`` is
    the SoC at the end of the step; ``battery_kw`` is the battery's mean power over the
    step, generation (discharge) positive.
    """
    n, T = case.n_members, case.n_steps
    charge, discharge = np.zeros((n, T)), np.zeros((n, T))
    soc = np.full((n, T), np.nan)
    rows = case.battery_index
    charge[rows], discharge[rows], soc[rows] = tr.charge_kwh, tr.discharge_kwh, tr.soc_kwh
    values = {
        "consumption_kwh": case.consumption_kwh,
        "production_kwh": case.production_kwh,
        "charge_kwh": charge,
        "discharge_kwh": discharge,
        "battery_kw": (discharge - charge) / case.time_step_h,
        "soc_kwh": soc,
        "net_position_kwh": tr.net_kwh,
    }
    steps = np.arange(T)
    return _long(values, {"step": steps, "time_h": steps * case.time_step_h}, case.member_ids)


def period_table(case: RecCase, tr: Trajectory) -> pd.DataFrame:
    """Per member and metering period: meters, keys (energies and fractions), prices, bill."""
    import_key, export_key = key_fractions(
        tr.imports_kwh.T, tr.exports_kwh.T, tr.production_meter_kwh.T
    )
    values = {
        "consumption_meter_kwh": tr.consumption_meter_kwh,
        "production_meter_kwh": tr.production_meter_kwh,
        "import_kwh": tr.imports_kwh,
        "export_kwh": tr.exports_kwh,
        "import_key": import_key.T,
        "export_key": export_key.T,
        "buying_price_eur_per_kwh": tr.buy_eur_per_kwh,
        "selling_price_eur_per_kwh": tr.sell_eur_per_kwh,
        "retail_cost_eur": retail_cost(
            tr.consumption_meter_kwh,
            tr.production_meter_kwh,
            tr.imports_kwh,
            tr.exports_kwh,
            tr.buy_eur_per_kwh,
            tr.sell_eur_per_kwh,
        ),
        "battery_fee_eur": tr.fee_eur,
        "bill_eur": tr.bill_eur,
    }
    periods = np.arange(case.n_periods)
    return _long(
        values,
        {"period": periods, "first_step": periods * case.metering_period_steps},
        case.member_ids,
    )


def member_records(
    case: RecCase, steps: pd.DataFrame, periods: pd.DataFrame, run: dict[str, Any]
) -> list[dict[str, Any]]:
    """Return one JSON record per member (``setpoints/<member>.json``) from the tables.

    ``run`` holds the run's ``policy``, ``horizon_steps`` and ``converged``.
    """
    records = []
    for member in case.members:
        own_steps = steps[steps["member_id"] == member.member_id]
        own_periods = periods[periods["member_id"] == member.member_id]
        record: dict[str, Any] = {
            "agent_id": member.member_id,
            "agent_type": "member",
            "bus": None,
            "element": None,
            "mode": "rec-keys",
            "unit": "kWh",
            "converged": run["converged"],
            "policy": run["policy"],
            "horizon_steps": run["horizon_steps"],
            "time_step_h": case.time_step_h,
            "metering_period_steps": case.metering_period_steps,
            "battery": asdict(member.battery) if member.battery else None,
        }
        for column in STEP_COLUMNS:
            values = own_steps[column].to_numpy()
            record[column] = None if column == "soc_kwh" and not member.battery else values
        record["periods"] = {"first_step": own_periods["first_step"].to_numpy()}
        record["periods"].update({c: own_periods[c].to_numpy() for c in PERIOD_COLUMNS})
        record["bill_eur"] = float(own_periods["bill_eur"].sum())
        record["battery_fee_eur"] = float(own_periods["battery_fee_eur"].sum())
        records.append(record)
    return records


def summary_fields(case: RecCase, tr: Trajectory) -> dict[str, Any]:
    """Return the rec-keys fields of ``summary.json`` that come from the trajectory."""
    return {
        "n_steps": case.n_steps,
        "time_step_h": case.time_step_h,
        "metering_period_steps": case.metering_period_steps,
        "total_bill": tr.total_bill_eur,
        "bill_per_member": dict(zip(case.member_ids, tr.member_bill_eur.tolist(), strict=True)),
        "community_energy_kwh": float(tr.imports_kwh.sum()),
        "total_consumption_meter_kwh": float(tr.consumption_meter_kwh.sum()),
    }
