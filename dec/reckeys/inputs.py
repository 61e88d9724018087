"""Validate a scenario file's ``rec_keys`` section and build a :class:`~dec.reckeys.case.RecCase`.

Every problem of the section is collected and reported at once, naming the member
and the field (``Field 'battery.capacity_kwh' is not greater than zero for 1 member:
PVB (-1.0).``), before any work starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dec.errors import InputError
from dec.reckeys.case import Battery, Member, RecCase
from dec.reckeys.exactness import selling_above_buying
from dec.reckeys.profiles import expand, profile_problem
from dec.validation import (
    MAX_EUR_PER_KWH,
    MAX_KW,
    MAX_KWH,
    Problems,
    is_finite_number,
    non_negative,
    one_of,
    positive,
    required,
    series,
    within,
)

SECTION = "rec_keys"
POLICIES = ("optimal", "look-ahead", "look-ahead-billing", "look-ahead-decoupling", "distributed")
METER_MODELS = ("auto", "lp", "milp")
FORECASTERS = ("perfect", "persistence")

SECTION_FIELDS = {
    "time_step_h",
    "n_steps",
    "metering_period_steps",
    "discharge_fee_eur_per_kwh",
    "meter_model",
    "policy",
    "horizon_steps",
    "forecaster",
    "members",
}
MEMBER_FIELDS = {
    "id",
    "consumption_kwh",
    "production_kwh",
    "buying_price_eur_per_kwh",
    "selling_price_eur_per_kwh",
    "battery",
}
BATTERY_FIELDS = {
    "capacity_kwh",
    "soc_min_kwh",
    "soc_max_kwh",
    "soc_initial_kwh",
    "charge_max_kw",
    "discharge_max_kw",
    "charge_efficiency",
    "discharge_efficiency",
}
PROFILE_DEFAULTS = {"consumption_kwh": 0.0, "production_kwh": 0.0, "selling_price_eur_per_kwh": 0.0}

# Plausible ranges of the numeric inputs (closed intervals), checked before any profile is
# generated or any problem built. They are far wider than any REC's data and keep the
# window LPs/QPs well scaled: HiGHS reads 1e20 and more as infinite and 1e308 overflows to
# inf in the window's arithmetic, so such values used to crash the solvers.

#: Steps of the horizon (n_steps, horizon_steps): a year at one-minute steps is 525,600.
MAX_STEPS = 1_000_000
#: Members of a community.
MAX_MEMBERS = 10_000
#: Members × steps. Every run solves the whole horizon as one LP (the ``optimal``
#: benchmark), whose memory grows by about 12 KB per battery member-step (cvxpy and
#: HiGHS; measured: 2.3 GB for 2 battery members over 100,000 steps, 0.8 GB for Case I
#: over a year of 15-min steps): about 6 GB at the bound, e.g. 14 members over a year
#: of 15-min steps or 57 over a year of hourly steps.
MAX_MEMBER_STEPS = 500_000
#: Control step time_step_h, h: 3.6 s to one day.
TIME_STEP_RANGE_H = (1e-3, 24.0)
# Fields bounded by the shared magnitudes of dec.validation: MAX_KWH (consumption and
# production per step, battery capacity, SoC bounds and initial SoC), MAX_KW (charge_max_kw,
# discharge_max_kw) and MAX_EUR_PER_KWH (buying and selling prices in absolute value, and
# the discharge fee).
#: Range of every profile field, kWh per step or EUR/kWh.
PROFILE_RANGES = {
    "consumption_kwh": (0.0, MAX_KWH),
    "production_kwh": (0.0, MAX_KWH),
    "buying_price_eur_per_kwh": (-MAX_EUR_PER_KWH, MAX_EUR_PER_KWH),
    "selling_price_eur_per_kwh": (-MAX_EUR_PER_KWH, MAX_EUR_PER_KWH),
}
#: Upper bound of every battery field (kWh or kW; each is at least zero).
BATTERY_MAXIMA = {
    "capacity_kwh": MAX_KWH,
    "soc_min_kwh": MAX_KWH,
    "soc_max_kwh": MAX_KWH,
    "soc_initial_kwh": MAX_KWH,
    "charge_max_kw": MAX_KW,
    "discharge_max_kw": MAX_KW,
}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def count_problems(value: Any, name: str) -> list[str]:
    """Return why ``value`` is not a number of steps from 1 to :data:`MAX_STEPS` (or nothing).

    ``name`` says where the value comes from, e.g. ``Field 'n_steps'`` or ``Option '--horizon'``.
    """
    if not _is_count(value):
        return [f"{name} must be a whole number of steps, at least 1; found {value!r}."]
    if value > MAX_STEPS:
        return [
            f"{name} ({value}) exceeds {MAX_STEPS:,} steps, the most a case may have (a year "
            "at one-minute steps is 525,600)."
        ]
    return []


def _check_section(section: Mapping[str, Any], problems: Problems) -> None:
    unknown = sorted(set(section) - SECTION_FIELDS)
    if unknown:
        problems.add(
            f"Section '{SECTION}' has unknown field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(SECTION_FIELDS))}."
        )
    problems.extend(
        required(
            {SECTION: section},
            ["time_step_h", "n_steps", "metering_period_steps", "members"],
            "section",
        )
    )
    if "time_step_h" in section:
        step = {SECTION: section["time_step_h"]}
        problems.extend(
            positive(step, "time_step_h", "section")
            or within(step, "time_step_h", "section", *TIME_STEP_RANGE_H)
        )
    for key in ("n_steps", "metering_period_steps", "horizon_steps"):
        if key in section:
            problems.extend(count_problems(section[key], f"Field '{key}'"))
    steps, period = section.get("n_steps"), section.get("metering_period_steps")
    if _is_count(steps) and _is_count(period) and steps % period:
        problems.add(
            f"Field 'metering_period_steps' ({period}) does not divide 'n_steps' "
            f"({steps}): the horizon must end at the end of a metering period."
        )
    if "discharge_fee_eur_per_kwh" in section:
        fee = {SECTION: section["discharge_fee_eur_per_kwh"]}
        problems.extend(
            non_negative(fee, "discharge_fee_eur_per_kwh", "section")
            or within(fee, "discharge_fee_eur_per_kwh", "section", 0.0, MAX_EUR_PER_KWH)
        )
    for key, allowed in (
        ("meter_model", METER_MODELS),
        ("policy", POLICIES),
        ("forecaster", FORECASTERS),
    ):
        if key in section:
            problems.extend(one_of({SECTION: section[key]}, key, "section", allowed))


def _member_records(section: Mapping[str, Any], problems: Problems) -> dict[str, dict]:
    members = section.get("members")
    if not isinstance(members, list) or not members:
        if "members" in section:
            problems.add("Field 'members' must be a non-empty list of member mappings.")
        return {}
    if len(members) > MAX_MEMBERS:
        problems.add(
            f"Field 'members' lists {len(members):,} members; at most {MAX_MEMBERS:,} are allowed."
        )
        return {}
    records: dict[str, dict] = {}
    for position, member in enumerate(members, start=1):
        if not isinstance(member, dict):
            problems.add(f"Member number {position} is not a mapping of fields: {member!r}.")
            continue
        member_id = member.get("id")
        if not isinstance(member_id, str) or not member_id:
            problems.add(
                f"Field 'id' of member number {position} must be a non-empty text, "
                f"found {member_id!r}."
            )
            continue
        if member_id in records:
            problems.add(f"Field 'id' repeats the member id {member_id!r}; ids must be unique.")
            continue
        unknown = sorted(set(member) - MEMBER_FIELDS)
        if unknown:
            problems.add(
                f"Member {member_id} has unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(MEMBER_FIELDS))}."
            )
        records[member_id] = member
    problems.extend(required(records, ["buying_price_eur_per_kwh"], "member"))
    return records


def _profile_steps(n_steps: Any, n_members: int, problems: Problems) -> int | None:
    """Return ``n_steps`` if every member's profiles can be built over it, else None.

    A bad ``n_steps`` is reported by the section's check; too many member-steps here.
    """
    if count_problems(n_steps, "n_steps"):
        return None
    if n_members * n_steps > MAX_MEMBER_STEPS:
        problems.add(
            f"The case has {n_members:,} members over {n_steps:,} steps, "
            f"{n_members * n_steps:,} member-steps; at most {MAX_MEMBER_STEPS:,} are allowed "
            "(fewer members or steps)."
        )
        return None
    return n_steps


def _profiles(
    records: dict[str, dict], n_steps: int | None, time_step_h: float | None, problems: Problems
) -> dict[str, dict[str, np.ndarray]]:
    fields = (
        "consumption_kwh",
        "production_kwh",
        "buying_price_eur_per_kwh",
        "selling_price_eur_per_kwh",
    )
    values: dict[str, dict[str, Any]] = {f: {} for f in fields}
    for member_id, record in records.items():
        for name in fields:
            if name not in record and name not in PROFILE_DEFAULTS:
                continue
            value = record.get(name, PROFILE_DEFAULTS.get(name))
            problem = profile_problem(value)
            if problem:
                problems.add(f"Field '{name}' of member {member_id} {problem}.")
            elif n_steps is not None and time_step_h is not None:
                with np.errstate(all="ignore"):  # non-finite values are reported below
                    values[name][member_id] = expand(value, n_steps, time_step_h)
    arrays: dict[str, dict[str, np.ndarray]] = {f: {} for f in fields}
    for name, by_member in values.items():
        lists = {k: list(v) for k, v in by_member.items()}
        found = series(lists, name, "member", length=n_steps)
        problems.extend(found)
        if found:
            continue
        if name in ("consumption_kwh", "production_kwh"):
            negative = {k: float(min(v)) for k, v in lists.items() if v and min(v) < 0}
            problems.extend(non_negative(negative, name, "member"))
        low, high = PROFILE_RANGES[name]
        problems.extend(within(_first_outside(lists, low, high), name, "member", low, high))
        arrays[name] = {k: np.asarray(v, dtype=float) for k, v in lists.items()}
    return arrays


def _first_outside(values: Mapping[str, list], low: float, high: float) -> dict[str, float]:
    """Return, per member, the first value above ``high`` or below a negative ``low``.

    Values below a lower bound of zero are left to the rule that reports them as negative.
    """
    found = {}
    for key, items in values.items():
        bad = [x for x in items if x > high or (low < 0 and x < low)]
        if bad:
            found[key] = float(bad[0])
    return found


def _battery_field_problems(member_id: str, spec: Mapping[str, Any]) -> list[str]:
    """Return the problems of a battery's fields taken one by one (signs and ranges)."""
    found = []
    for key, high in BATTERY_MAXIMA.items():
        if key not in spec:
            continue
        one, field = {member_id: spec[key]}, f"battery.{key}"
        rule = positive if key == "capacity_kwh" else non_negative
        found += rule(one, field, "member") or within(one, field, "member", 0.0, high)
    for key in ("charge_efficiency", "discharge_efficiency"):
        value = spec.get(key, 1.0)
        if not is_finite_number(value) or not 0 < value <= 1:
            found.append(
                f"Field 'battery.{key}' is outside (0, 1] for member {member_id} ({value!r})."
            )
    return found


def _battery(member_id: str, spec: Any, problems: Problems) -> Battery | None:
    if not isinstance(spec, dict):
        problems.add(f"Field 'battery' of member {member_id} must be a mapping, found {spec!r}.")
        return None
    unknown = sorted(set(spec) - BATTERY_FIELDS)
    if unknown:
        problems.add(
            f"Field 'battery' of member {member_id} has unknown field(s) "
            f"{', '.join(unknown)}; allowed: {', '.join(sorted(BATTERY_FIELDS))}."
        )
    needed = ["capacity_kwh", "soc_initial_kwh", "charge_max_kw", "discharge_max_kw"]
    missing = [k for k in needed if k not in spec]
    for key in missing:
        problems.add(f"Field 'battery.{key}' is missing for member {member_id}.")
    found = _battery_field_problems(member_id, spec)
    problems.extend(found)
    if missing or found:
        return None
    capacity = float(spec["capacity_kwh"])
    soc_min = float(spec.get("soc_min_kwh", 0.0))
    soc_max = float(spec.get("soc_max_kwh", capacity))
    soc0 = float(spec["soc_initial_kwh"])
    if not soc_min <= soc_max <= capacity:
        problems.add(
            f"Fields 'battery.soc_min_kwh' ({soc_min}) and 'battery.soc_max_kwh' "
            f"({soc_max}) of member {member_id} must satisfy 0 <= soc_min <= soc_max "
            f"<= capacity_kwh ({capacity})."
        )
        return None
    if not soc_min <= soc0 <= soc_max:
        problems.add(
            f"Field 'battery.soc_initial_kwh' is outside [{soc_min}, {soc_max}] "
            f"(the SoC bounds, kWh) for member {member_id} ({soc0})."
        )
        return None
    return Battery(
        capacity_kwh=capacity,
        soc_min_kwh=soc_min,
        soc_max_kwh=soc_max,
        soc_initial_kwh=soc0,
        charge_max_kw=float(spec["charge_max_kw"]),
        discharge_max_kw=float(spec["discharge_max_kw"]),
        charge_efficiency=float(spec.get("charge_efficiency", 1.0)),
        discharge_efficiency=float(spec.get("discharge_efficiency", 1.0)),
    )


def load_case(section: Mapping[str, Any], name: str, source: str | None = None) -> RecCase:
    """Validate a ``rec_keys`` section and return the case it describes.

    Parameters
    ----------
    section
        The mapping under ``rec_keys:`` of a scenario file.
    name
        Case name (the scenario's name).
    source
        File the section comes from, named in error messages.

    Returns
    -------
    RecCase

    Raises
    ------
    InputError
        Listing every problem, each naming the member (or section) and the field.

    """
    problems = Problems(source)
    _check_section(section, problems)
    records = _member_records(section, problems)
    n_steps = _profile_steps(section.get("n_steps"), len(records), problems)
    dt = section.get("time_step_h")
    low, high = TIME_STEP_RANGE_H
    dt = dt if is_finite_number(dt) and low <= dt <= high else None
    profiles = _profiles(records, n_steps, dt, problems)
    batteries = {
        member_id: _battery(member_id, record["battery"], problems)
        for member_id, record in records.items()
        if record.get("battery") is not None
    }
    problems.raise_if_any()
    members = [
        Member(
            member_id=member_id,
            consumption_kwh=profiles["consumption_kwh"][member_id],
            production_kwh=profiles["production_kwh"][member_id],
            buying_price_eur_per_kwh=profiles["buying_price_eur_per_kwh"][member_id],
            selling_price_eur_per_kwh=profiles["selling_price_eur_per_kwh"][member_id],
            battery=batteries.get(member_id),
        )
        for member_id in records
    ]
    case = RecCase(
        name=name,
        members=members,
        time_step_h=float(section["time_step_h"]),
        metering_period_steps=int(section["metering_period_steps"]),
        discharge_fee_eur_per_kwh=float(section.get("discharge_fee_eur_per_kwh", 1e-5)),
        meter_model=section.get("meter_model", "auto"),
    )
    above = selling_above_buying(case) if case.meter_model == "lp" else []
    if above:
        raise InputError(
            f"Field 'meter_model' is 'lp', but battery member(s) {', '.join(above)} sell "
            "above their own buying price at some step ('selling_price_eur_per_kwh' > "
            "'buying_price_eur_per_kwh'), where the LP meters are unbounded (buying and "
            "selling the same energy in one step gains without limit); use 'meter_model: "
            "auto' or 'milp'.",
            source,
        )
    return case
