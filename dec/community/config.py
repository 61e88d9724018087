"""The ``community`` section of a scenario file: members, PV, batteries, mechanisms, tariff.

Every field is checked before any work starts; all problems are reported together
(:class:`dec.validation.Problems`). See ``inputs/community/community.yaml`` for a
commented example and the README for the meaning of each field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from dec.community.tariff import TwoPeriodTariff, parse_time_of_day
from dec.options.community import MECHANISMS
from dec.validation import (
    MAX_EUR_PER_KWH,
    MAX_KW,
    Problems,
    is_finite_number,
    non_negative,
    one_of,
    positive,
    required,
    shown,
    within,
)

SECTION = "community"

_SECTION_KEYS = (
    "profiles",
    "reference_annual_kwh",
    "period",
    "pv",
    "battery",
    "low_tech",
    "mpc",
    "admm",
    "tariff",
    "mechanisms",
    "policy",
    "members",
)
_BATTERY_DEFAULTS = {
    "e_kwh": 4.0,
    "c_rate_per_h": 0.5,
    "eta_ch": 0.95,
    "eta_dis": 0.95,
    "soc_initial_frac": 0.5,
}
_MEMBER_KEYS = ("id", "profile", "annual_kwh", "shift_days", "profile_file", "battery")

# Plausible ranges of the numeric inputs (closed intervals), checked before any profile is
# read or any problem built. They are far wider than any energy community's data and keep
# the MPC's QP well scaled: a capacity or a load of 1e308 kWh made Clarabel fail.

#: Battery capacity, kWh (e_kwh, and the sizes of --sweep-battery): 100 MWh, 10,000 times
#: a household's battery (the study sweeps 0.25 to 10 kWh). On two June days of the study,
#: the ADMM of mpc-distributed meets its tolerances at 1 MWh per household, stops at its
#: round limit near the optimum at 10 and 100 MWh, and far from it at 1 GWh.
MAX_BATTERY_KWH = 1e5
# MAX_KW of dec.validation bounds the powers (a battery's p_kw, given or c_rate_per_h ×
# e_kwh; the low-tech threshold_kw and no_pv_kw; every member's load and the community PV
# at every step), MAX_EUR_PER_KWH the tariff prices.
#: C-rate, per hour: a full charge in 36 s, far beyond any battery (home batteries charge
#: at 0.25 to 2 per hour).
MAX_C_RATE_PER_H = 100.0
#: Community PV peak power, kWp: 1 GWp.
MAX_KWP = 1e6
#: Low-tech threshold per kWp of PV, kW/kWp: PV yields at most about 1 kW per kWp, so a
#: threshold of 10 already never charges.
MAX_THRESHOLD_KW_PER_KWP = 10.0
#: Consumption over the profile file, kWh (annual_kwh, reference_annual_kwh): 1e8 kWh,
#: 11 MW on average over a year. The reference is at least 1 kWh, so that scaling a load
#: column by annual_kwh / reference_annual_kwh cannot overflow.
ANNUAL_KWH_RANGE = (0.0, 1e8)
REFERENCE_KWH_RANGE = (1.0, 1e8)
#: Days (period.days, and shift_days in absolute value): a century of profiles.
MAX_DAYS = 36_600
#: MPC window and its applied part, h: a window longer than the run plans the whole run
#: (it is clipped to the run); the bound only keeps hours-to-steps arithmetic finite.
MAX_WINDOW_H = 1e9
#: Upper bounds of the ADMM settings (each greater than zero): penalty rho, tolerances,
#: rounds per window and inner OSQP iterations per round.
ADMM_MAXIMA = {"rho": 1e6, "eps_abs": 1.0, "eps_rel": 1.0, "max_iter": 1e6, "inner_iter": 1e4}

_TARIFF_DEFAULTS = {
    "peak_eur_per_kwh": 0.1821,
    "offpeak_eur_per_kwh": 0.1360,
    "offpeak_start": "22:00",
    "offpeak_end": "06:00",
    "export_eur_per_kwh": 0.0,
}


@dataclass(frozen=True)
class BatteryConfig:
    """A member's battery: capacity ``e_kwh``, power ``p_kw`` (charge and discharge), efficiencies."""

    e_kwh: float
    p_kw: float
    eta_ch: float
    eta_dis: float
    soc_initial_frac: float
    c_rate_per_h: float

    def resized(self, e_kwh: float) -> BatteryConfig:
        """Return the battery with capacity ``e_kwh`` and power ``c_rate_per_h × e_kwh``.

        A ``p_kw`` given in the scenario is not kept: its C-rate is ``c_rate_per_h`` (the
        member's, else the section's), so every battery of a ``--sweep-battery`` size has the
        power that C-rate gives (efficiencies and initial SoC fraction are kept).
        """
        return replace(self, e_kwh=e_kwh, p_kw=self.c_rate_per_h * e_kwh)


@dataclass(frozen=True)
class MemberConfig:
    """A household of the community."""

    member_id: str
    profile: str
    annual_kwh: float
    shift_days: int
    profile_file: str
    battery: BatteryConfig | None


@dataclass(frozen=True)
class CommunityConfig:
    """The validated ``community`` section.

    Attributes
    ----------
    members
        Households, in file order.
    profiles_file
        The default profile file (field ``profiles``).
    pv_kwp, pv_column, pv_file
        Community PV plant: peak power, kWp, and its profile (kW per kWp).
    reference_annual_kwh
        Consumption the load columns are normalised to, kWh.
    start, days
        Simulated period: first timestamp (None: the file's first) and length in days
        (None: to the end of the file).
    threshold_kw, no_pv_kw
        Low-tech signal levels: charge above ``threshold_kw`` of community PV, discharge
        at or below ``no_pv_kw``.
    window_h, apply_h
        MPC window and the part of it applied before re-planning, h.
    group_identical
        Whether ``mpc`` plans identical batteries as one (an exact reduction,
        :class:`dec.community.mpc.GroupedPlanner`) or every battery as its own row.
    admm
        ADMM settings (``rho``, ``eps_abs``, ``eps_rel``, ``max_iter``, ``inner_iter``).
    tariff
        Two-period import tariff.
    mechanisms
        Mechanisms run by default.
    policy
        Mechanism whose schedules are written per member; None when not given (then
        ``mpc`` if it runs, else the last mechanism run).

    """

    members: tuple[MemberConfig, ...]
    profiles_file: str
    pv_kwp: float
    pv_column: str
    pv_file: str
    reference_annual_kwh: float
    start: str | None
    days: float | None
    threshold_kw: float
    no_pv_kw: float
    window_h: float
    apply_h: float
    group_identical: bool
    admm: dict[str, float]
    tariff: TwoPeriodTariff
    mechanisms: tuple[str, ...]
    policy: str | None

    def with_battery_kwh(self, e_kwh: float) -> CommunityConfig:
        """Return the configuration with every member battery resized to ``e_kwh``.

        Power ``c_rate_per_h × e_kwh``, a given ``p_kw`` not kept (:meth:`BatteryConfig.resized`);
        members without a battery (``battery: null``) stay without one.
        """
        members = tuple(
            replace(m, battery=m.battery.resized(e_kwh) if m.battery else None)
            for m in self.members
        )
        return replace(self, members=members)


def _mapping(value: Any, name: str, problems: Problems) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"Field '{name}' must be a mapping, found {value!r}.")
        return {}
    return value


def _unknown_keys(given: dict, allowed: tuple[str, ...], where: str, problems: Problems) -> None:
    unknown = sorted(map(str, set(given) - set(allowed)))
    if unknown:
        problems.add(
            f"Section '{where}' has unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(allowed)}."
        )


def _ranged(
    rule: Callable[..., list[str]], value: Any, field: str, where: str, high: float
) -> list[str]:
    """Return the problems ``rule`` finds (the sign of the field), else those of [0, high]."""
    return rule({where: value}, field, "section") or within(
        {where: value}, field, "section", 0.0, high
    )


#: Battery fields: the rule of their sign (None: the interval only) and their closed interval.
_BATTERY_RANGES = {
    "e_kwh": (non_negative, 0.0, MAX_BATTERY_KWH),
    "c_rate_per_h": (non_negative, 0.0, MAX_C_RATE_PER_H),
    "eta_ch": (None, 0.01, 1.0),
    "eta_dis": (None, 0.01, 1.0),
    "soc_initial_frac": (None, 0.0, 1.0),
    "p_kw": (non_negative, 0.0, MAX_KW),
}


def _battery_problems(specs: dict[str, dict]) -> list[str]:
    """Return the problems of the fields given in ``specs``, by battery name.

    The names are ``battery`` (the section's defaults) or ``members.<id>.battery``. Each field
    is checked over every battery at once: a value given for many members is one sentence
    listing them.
    """
    found = []
    for key, (sign, low, high) in _BATTERY_RANGES.items():
        values = {name: spec[key] for name, spec in specs.items() if key in spec}
        found += (sign(values, key, "battery") if sign else []) or within(
            values, key, "battery", low, high
        )
    return found


def _battery(fields: dict, name: str, problems: Problems | None) -> BatteryConfig | None:
    """Return the battery of ``fields`` (the defaults completed), None if a field is bad.

    The bad fields are reported by :func:`_battery_problems`; a power ``c_rate_per_h ×
    e_kwh`` above ``MAX_KW`` is reported to ``problems`` (None: by the section's defaults).
    """
    if _battery_problems({name: fields}):
        return None
    e_kwh = float(fields["e_kwh"])
    p_kw = float(fields.get("p_kw", fields["c_rate_per_h"] * e_kwh))
    if p_kw > MAX_KW:
        if problems is not None:
            problems.add(
                f"Section '{name}': the battery's power c_rate_per_h × e_kwh ({p_kw:g} kW) "
                f"exceeds {MAX_KW:g} kW."
            )
        return None
    return BatteryConfig(
        e_kwh=e_kwh,
        p_kw=p_kw,
        eta_ch=float(fields["eta_ch"]),
        eta_dis=float(fields["eta_dis"]),
        soc_initial_frac=float(fields["soc_initial_frac"]),
        c_rate_per_h=float(fields["c_rate_per_h"]),
    )


def _member_records(raw: Any, problems: Problems) -> dict[str, dict]:
    """Return the members' mappings by id (as text), reporting ids and unknown fields."""
    if not isinstance(raw, list) or not raw:
        problems.add("Field 'members' must be a non-empty list of households.")
        return {}
    records = {}
    for k, item in enumerate(raw):
        if not isinstance(item, dict):
            problems.add(f"Member {k + 1} of 'members' must be a mapping, found {item!r}.")
            continue
        member_id = item.get("id", f"#{k + 1}")
        if isinstance(member_id, bool) or not isinstance(member_id, (str, int)) or member_id == "":
            problems.add(
                f"Field 'id' of member {k + 1} must be a name or a whole number, found "
                f"{member_id!r}."
            )
        _unknown_keys(item, _MEMBER_KEYS, f"members.{member_id}", problems)
        records[str(member_id)] = item
    if len(records) < len(raw):
        problems.add("Field 'id' of 'members' holds duplicate ids; every member needs its own.")
    return records


def _shifts(records: dict[str, dict], problems: Problems) -> dict[str, int]:
    """Return every member's valid ``shift_days`` (0 for a bad one, which is reported)."""
    shifts = {k: r.get("shift_days", 0) for k, r in records.items()}
    bad = [k for k, v in shifts.items() if not isinstance(v, int) or isinstance(v, bool)]
    if bad:
        problems.add(
            f"Field 'shift_days' must be a whole number of days for member(s): {', '.join(bad)}."
        )
    far = {k: v for k, v in shifts.items() if k not in bad and abs(v) > MAX_DAYS}
    problems.extend(within(far, "shift_days", "member", -MAX_DAYS, MAX_DAYS))
    return {k: 0 if k in bad or k in far else int(v) for k, v in shifts.items()}


def _members(
    raw: Any, default_file: str, battery_defaults: dict, problems: Problems
) -> tuple[MemberConfig, ...]:
    records = _member_records(raw, problems)
    problems.extend(required(records, ["id", "profile", "annual_kwh"], "member"))
    annual = {k: r["annual_kwh"] for k, r in records.items() if "annual_kwh" in r}
    problems.extend(
        positive(annual, "annual_kwh", "member")
        or within(annual, "annual_kwh", "member", *ANNUAL_KWH_RANGE)
    )
    shifts = _shifts(records, problems)
    specs: dict[str, dict | None] = {}  # the battery fields each member gives (None: none)
    for member_id, rec in records.items():
        name, spec = f"members.{member_id}.battery", rec.get("battery", {})
        specs[name] = None if spec is None else _mapping(spec, name, problems)
        _unknown_keys(specs[name] or {}, (*_BATTERY_DEFAULTS, "p_kw"), name, problems)
    # a field a member does not give is the section's default, checked (and reported) once,
    # as 'battery'; one given by many members is reported in one sentence
    problems.extend(_battery_problems({k: s for k, s in specs.items() if s}))
    members = []
    for member_id, rec in records.items():
        name = f"members.{member_id}.battery"
        spec = specs[name]
        # a power above MAX_KW is reported for the member if it gives its e_kwh or c-rate
        own = spec is not None and bool({"e_kwh", "c_rate_per_h"} & set(spec))
        battery = (
            None
            if spec is None
            else _battery({**battery_defaults, **spec}, name, problems if own else None)
        )
        members.append(
            MemberConfig(
                member_id=member_id,
                profile=str(rec.get("profile", "")),
                annual_kwh=float(rec["annual_kwh"])
                if is_finite_number(rec.get("annual_kwh"))
                else 0.0,
                shift_days=shifts[member_id],
                profile_file=str(rec.get("profile_file", default_file)),
                battery=battery,
            )
        )
    return tuple(members)


def _tariff(raw: dict, problems: Problems) -> TwoPeriodTariff | None:
    _unknown_keys(raw, tuple(_TARIFF_DEFAULTS), "tariff", problems)
    fields = {**_TARIFF_DEFAULTS, **raw}
    prices = {k: fields[k] for k in _TARIFF_DEFAULTS if k.endswith("_eur_per_kwh")}
    price_problems = [
        p
        for k, v in prices.items()
        for p in non_negative({"tariff": v}, k, "tariff")
        or within({"tariff": v}, k, "tariff", 0.0, MAX_EUR_PER_KWH)
    ]
    problems.extend(price_problems)
    times = {k: parse_time_of_day(fields[k]) for k in ("offpeak_start", "offpeak_end")}
    for key, value in times.items():
        if value is None:
            problems.add(
                f"Field 'tariff.{key}' must be a time of day HH:MM, found {fields[key]!r}."
            )
    empty_window = None not in times.values() and times["offpeak_start"] == times["offpeak_end"]
    if empty_window:
        problems.add(
            "Fields 'tariff.offpeak_start' and 'tariff.offpeak_end' are equal "
            f"({fields['offpeak_start']!r}): the off-peak window would be empty (or the whole "
            "day); give it different start and end times (equal prices make a one-period "
            "tariff)."
        )
    if empty_window or price_problems or None in times.values():
        return None
    return TwoPeriodTariff(
        peak_eur_per_kwh=float(fields["peak_eur_per_kwh"]),
        offpeak_eur_per_kwh=float(fields["offpeak_eur_per_kwh"]),
        offpeak_start=times["offpeak_start"],
        offpeak_end=times["offpeak_end"],
        export_eur_per_kwh=float(fields["export_eur_per_kwh"]),
    )


def _period(raw: dict, problems: Problems) -> tuple[str | None, float | None]:
    _unknown_keys(raw, ("start", "days"), "period", problems)
    start = raw.get("start")
    if start is not None:
        try:
            dt.datetime.fromisoformat(str(start))
        except ValueError:
            problems.add(f"Field 'period.start' must be an ISO timestamp, found {start!r}.")
    days = raw.get("days")
    if days is not None:
        days_of = {"period": days}
        problems.extend(
            positive(days_of, "days", "period") or within(days_of, "days", "period", 0, MAX_DAYS)
        )
    return (str(start) if start is not None else None), days


def _low_tech(raw: dict, kwp: Any, problems: Problems) -> tuple[float, float]:
    """Return the low-tech charging threshold and no-PV level, kW (0 where invalid)."""
    _unknown_keys(raw, ("threshold_kw", "threshold_kw_per_kwp", "no_pv_kw"), "low_tech", problems)
    per_kwp = raw.get("threshold_kw_per_kwp", 0.375)
    no_pv_kw = raw.get("no_pv_kw", 0.0)
    threshold = raw.get("threshold_kw")
    found = _ranged(
        non_negative, per_kwp, "threshold_kw_per_kwp", "low_tech", MAX_THRESHOLD_KW_PER_KWP
    ) + _ranged(non_negative, no_pv_kw, "no_pv_kw", "low_tech", MAX_KW)
    if threshold is not None:
        found += _ranged(non_negative, threshold, "threshold_kw", "low_tech", MAX_KW)
        if raw.get("threshold_kw_per_kwp") is not None:
            found.append(
                "Give either 'low_tech.threshold_kw' or 'low_tech.threshold_kw_per_kwp', not "
                f"both (found {shown(threshold)} and {shown(per_kwp)})."
            )
    problems.extend(found)
    if found or not is_finite_number(kwp):
        return 0.0, 0.0
    if threshold is None:
        threshold = float(per_kwp) * float(kwp)
    return float(threshold), float(no_pv_kw)


def _mpc(raw: dict, problems: Problems) -> tuple[float, float, bool]:
    """Return the MPC window and applied part, h, and whether identical batteries group."""
    _unknown_keys(raw, ("window_h", "apply_h", "group_identical"), "mpc", problems)
    window_h, apply_h = raw.get("window_h", 72.0), raw.get("apply_h", 24.0)
    group_identical = raw.get("group_identical", True)
    if not isinstance(group_identical, bool):
        problems.add(
            f"Field 'mpc.group_identical' must be true or false, found {group_identical!r}."
        )
    problems.extend(_ranged(positive, window_h, "window_h", "mpc", MAX_WINDOW_H))
    problems.extend(_ranged(positive, apply_h, "apply_h", "mpc", MAX_WINDOW_H))
    if is_finite_number(window_h) and is_finite_number(apply_h) and apply_h > window_h:
        problems.add(f"Field 'mpc.apply_h' ({apply_h}) exceeds 'mpc.window_h' ({window_h}).")
    return window_h, apply_h, group_identical


def _admm(raw: dict, problems: Problems) -> dict[str, Any]:
    """Return the ADMM settings (defaults completed by ``raw``)."""
    defaults = {"rho": 1.0, "eps_abs": 1e-7, "eps_rel": 1e-7, "max_iter": 5000, "inner_iter": 50}
    admm = {**defaults, **raw}
    _unknown_keys(admm, tuple(defaults), "admm", problems)
    for key in defaults:
        problems.extend(_ranged(positive, admm[key], key, "admm", ADMM_MAXIMA[key]))
    for key in ("max_iter", "inner_iter"):
        if is_finite_number(admm[key]) and not float(admm[key]).is_integer():
            problems.add(f"Field 'admm.{key}' must be a whole number, found {admm[key]!r}.")
    return admm


def _mechanisms(section: dict[str, Any], problems: Problems) -> tuple[list, str | None]:
    """Return the mechanisms to run by default and the policy (None: not given)."""
    mechanisms = section.get("mechanisms", ["none", "low-tech", "mpc"])
    if not isinstance(mechanisms, list) or not mechanisms:
        problems.add(f"Field 'mechanisms' must be a non-empty list, found {mechanisms!r}.")
        mechanisms = []
    names = [m for m in mechanisms if isinstance(m, str)]
    if len(names) < len(mechanisms):
        problems.add(f"Field 'mechanisms' must list mechanism names, found {mechanisms!r}.")
    problems.extend(one_of({m: m for m in names}, "mechanisms", "entry", MECHANISMS))
    twice = sorted({m for m in names if names.count(m) > 1})
    if twice:  # as the command line's --mechanisms: each mechanism runs once
        problems.add(
            f"Field 'community.mechanisms' lists {', '.join(twice)} more than once, in "
            f"{mechanisms!r}; list each mechanism once."
        )
    policy = section.get("policy")
    if policy is not None:
        problems.extend(one_of({"community": policy}, "policy", "section", MECHANISMS))
    return mechanisms, policy


def parse_config(section: dict[str, Any], source: str) -> CommunityConfig:
    """Validate the ``community`` section and return it as a :class:`CommunityConfig`.

    Raises
    ------
    InputError
        Listing every problem found (field, member ids, values).

    """
    problems = Problems(source)
    _unknown_keys(section, _SECTION_KEYS, SECTION, problems)
    default_file = str(section.get("profiles", ""))
    if not default_file:
        problems.add("Field 'profiles' (the default profile file) is missing.")
    reference = section.get("reference_annual_kwh", 1000.0)
    problems.extend(
        positive({"community": reference}, "reference_annual_kwh", "section")
        or within({"community": reference}, "reference_annual_kwh", "section", *REFERENCE_KWH_RANGE)
    )
    start, days = _period(_mapping(section.get("period"), "period", problems), problems)

    pv = _mapping(section.get("pv"), "pv", problems)
    _unknown_keys(pv, ("kwp", "column", "file"), "pv", problems)
    problems.extend(required({"pv": pv}, ["kwp", "column"], "section"))
    kwp = pv.get("kwp", 0.0)
    problems.extend(_ranged(non_negative, kwp, "kwp", "pv", MAX_KWP))

    battery = _mapping(section.get("battery"), "battery", problems)
    _unknown_keys(battery, (*_BATTERY_DEFAULTS, "p_kw"), "battery", problems)
    problems.extend(_battery_problems({"battery": battery}))
    _battery({**_BATTERY_DEFAULTS, **battery}, "battery", problems)
    battery_defaults = {**_BATTERY_DEFAULTS, **battery}
    members = _members(section.get("members"), default_file, battery_defaults, problems)
    threshold_kw, no_pv_kw = _low_tech(
        _mapping(section.get("low_tech"), "low_tech", problems), kwp, problems
    )
    window_h, apply_h, group_identical = _mpc(
        _mapping(section.get("mpc"), "mpc", problems), problems
    )
    admm = _admm(_mapping(section.get("admm"), "admm", problems), problems)
    tariff = _tariff(_mapping(section.get("tariff"), "tariff", problems), problems)
    mechanisms, policy = _mechanisms(section, problems)
    problems.raise_if_any()

    return CommunityConfig(
        members=members,
        profiles_file=default_file,
        pv_kwp=float(kwp),
        pv_column=str(pv["column"]),
        pv_file=str(pv.get("file", default_file)),
        reference_annual_kwh=float(reference),
        start=start,
        days=float(days) if days is not None else None,
        threshold_kw=threshold_kw,
        no_pv_kw=no_pv_kw,
        window_h=float(window_h),
        apply_h=float(apply_h),
        group_identical=group_identical,
        admm={k: float(v) for k, v in admm.items()},
        tariff=tariff,
        mechanisms=tuple(mechanisms),
        policy=policy,
    )
