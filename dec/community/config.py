"""The ``community`` section of a scenario file: members, PV, batteries, mechanisms, tariff.

Every field is checked before any work starts; all problems are reported together
(:class:`dec.validation.Problems`). See ``inputs/community/community.yaml`` for a
commented example and the README for the meaning of each field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from dec.community.tariff import TwoPeriodTariff, parse_time_of_day
from dec.options.community import MECHANISMS
from dec.validation import (
    Problems,
    is_finite_number,
    non_negative,
    one_of,
    positive,
    required,
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
        """Return the battery with capacity ``e_kwh`` and power ``c_rate_per_h × e_kwh``."""
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
        Mechanism whose schedules are written per member.

    """

    members: tuple[MemberConfig, ...]
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
    policy: str

    def with_battery_kwh(self, e_kwh: float) -> CommunityConfig:
        """Return the configuration with every member battery resized to ``e_kwh``."""
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
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        problems.add(
            f"Section '{where}' has unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(allowed)}."
        )


def _battery(spec: dict, defaults: dict, name: str, problems: Problems) -> BatteryConfig | None:
    fields = {**defaults, **spec}
    _unknown_keys(spec, (*_BATTERY_DEFAULTS, "p_kw"), name, problems)
    checks = [
        non_negative({name: fields["e_kwh"]}, "e_kwh", "battery"),
        non_negative({name: fields["c_rate_per_h"]}, "c_rate_per_h", "battery"),
        within({name: fields["eta_ch"]}, "eta_ch", "battery", 0.01, 1.0),
        within({name: fields["eta_dis"]}, "eta_dis", "battery", 0.01, 1.0),
        within({name: fields["soc_initial_frac"]}, "soc_initial_frac", "battery", 0.0, 1.0),
    ]
    if "p_kw" in fields:
        checks.append(non_negative({name: fields["p_kw"]}, "p_kw", "battery"))
    bad = False
    for check in checks:
        problems.extend(check)
        bad = bad or bool(check)
    if bad:
        return None
    e_kwh = float(fields["e_kwh"])
    return BatteryConfig(
        e_kwh=e_kwh,
        p_kw=float(fields.get("p_kw", fields["c_rate_per_h"] * e_kwh)),
        eta_ch=float(fields["eta_ch"]),
        eta_dis=float(fields["eta_dis"]),
        soc_initial_frac=float(fields["soc_initial_frac"]),
        c_rate_per_h=float(fields["c_rate_per_h"]),
    )


def _members(
    raw: Any, default_file: str, battery_defaults: dict, problems: Problems
) -> tuple[MemberConfig, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add("Field 'members' must be a non-empty list of households.")
        return ()
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
        records[str(member_id)] = item
    if len(records) < len(raw):
        problems.add("Field 'id' of 'members' holds duplicate ids; every member needs its own.")
    problems.extend(required(records, ["id", "profile", "annual_kwh"], "member"))
    problems.extend(
        positive(
            {k: r["annual_kwh"] for k, r in records.items() if "annual_kwh" in r},
            "annual_kwh",
            "member",
        )
    )
    shifts = {k: r.get("shift_days", 0) for k, r in records.items()}
    bad_shift = [k for k, v in shifts.items() if not isinstance(v, int) or isinstance(v, bool)]
    if bad_shift:
        problems.add(
            f"Field 'shift_days' must be a whole number of days for member(s): "
            f"{', '.join(bad_shift)}."
        )
    members = []
    for member_id, rec in records.items():
        battery_spec = rec.get("battery", {})
        battery = None
        if battery_spec is not None:
            spec = _mapping(battery_spec, f"members.{member_id}.battery", problems)
            battery = _battery(spec, battery_defaults, f"members.{member_id}.battery", problems)
        members.append(
            MemberConfig(
                member_id=member_id,
                profile=str(rec.get("profile", "")),
                annual_kwh=float(rec["annual_kwh"])
                if is_finite_number(rec.get("annual_kwh"))
                else 0.0,
                shift_days=int(shifts[member_id]) if member_id not in bad_shift else 0,
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
        p for k, v in prices.items() for p in non_negative({"tariff": v}, k, "tariff")
    ]
    problems.extend(price_problems)
    times = {k: parse_time_of_day(fields[k]) for k in ("offpeak_start", "offpeak_end")}
    for key, value in times.items():
        if value is None:
            problems.add(
                f"Field 'tariff.{key}' must be a time of day HH:MM, found {fields[key]!r}."
            )
    if price_problems or None in times.values():
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
        problems.extend(positive({"period": days}, "days", "period"))
    return (str(start) if start is not None else None), days


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
    problems.extend(positive({"community": reference}, "reference_annual_kwh", "section"))
    start, days = _period(_mapping(section.get("period"), "period", problems), problems)

    pv = _mapping(section.get("pv"), "pv", problems)
    _unknown_keys(pv, ("kwp", "column", "file"), "pv", problems)
    problems.extend(required({"pv": pv}, ["kwp", "column"], "section"))
    kwp = pv.get("kwp", 0.0)
    problems.extend(non_negative({"pv": kwp}, "kwp", "section"))

    battery_defaults = {
        **_BATTERY_DEFAULTS,
        **_mapping(section.get("battery"), "battery", problems),
    }
    _battery({}, battery_defaults, "battery", problems)
    members = _members(section.get("members"), default_file, battery_defaults, problems)

    low_tech = _mapping(section.get("low_tech"), "low_tech", problems)
    _unknown_keys(
        low_tech, ("threshold_kw", "threshold_kw_per_kwp", "no_pv_kw"), "low_tech", problems
    )
    per_kwp = low_tech.get("threshold_kw_per_kwp", 0.375)
    problems.extend(non_negative({"low_tech": per_kwp}, "threshold_kw_per_kwp", "section"))
    no_pv_kw = low_tech.get("no_pv_kw", 0.0)
    problems.extend(non_negative({"low_tech": no_pv_kw}, "no_pv_kw", "section"))
    threshold = low_tech.get("threshold_kw")
    if threshold is not None:
        problems.extend(non_negative({"low_tech": threshold}, "threshold_kw", "section"))

    mpc = _mapping(section.get("mpc"), "mpc", problems)
    _unknown_keys(mpc, ("window_h", "apply_h", "group_identical"), "mpc", problems)
    window_h, apply_h = mpc.get("window_h", 72.0), mpc.get("apply_h", 24.0)
    group_identical = mpc.get("group_identical", True)
    if not isinstance(group_identical, bool):
        problems.add(
            f"Field 'mpc.group_identical' must be true or false, found {group_identical!r}."
        )
    problems.extend(positive({"mpc": window_h}, "window_h", "section"))
    problems.extend(positive({"mpc": apply_h}, "apply_h", "section"))
    if is_finite_number(window_h) and is_finite_number(apply_h) and apply_h > window_h:
        problems.add(f"Field 'mpc.apply_h' ({apply_h}) exceeds 'mpc.window_h' ({window_h}).")

    admm_defaults = {
        "rho": 1.0,
        "eps_abs": 1e-5,
        "eps_rel": 1e-5,
        "max_iter": 3000,
        "inner_iter": 15,
    }
    admm = {**admm_defaults, **_mapping(section.get("admm"), "admm", problems)}
    _unknown_keys(admm, tuple(admm_defaults), "admm", problems)
    for key in admm_defaults:
        problems.extend(positive({"admm": admm[key]}, key, "section"))
    for key in ("max_iter", "inner_iter"):
        if is_finite_number(admm[key]) and not float(admm[key]).is_integer():
            problems.add(f"Field 'admm.{key}' must be a whole number, found {admm[key]!r}.")

    tariff = _tariff(_mapping(section.get("tariff"), "tariff", problems), problems)
    mechanisms = section.get("mechanisms", ["none", "low-tech", "mpc"])
    if not isinstance(mechanisms, list) or not mechanisms:
        problems.add(f"Field 'mechanisms' must be a non-empty list, found {mechanisms!r}.")
        mechanisms = []
    names = [m for m in mechanisms if isinstance(m, str)]
    if len(names) < len(mechanisms):
        problems.add(f"Field 'mechanisms' must list mechanism names, found {mechanisms!r}.")
    problems.extend(one_of({m: m for m in names}, "mechanisms", "entry", MECHANISMS))

    policy = section.get("policy", "mpc")
    problems.extend(one_of({"community": policy}, "policy", "section", MECHANISMS))
    problems.raise_if_any()

    return CommunityConfig(
        members=members,
        pv_kwp=float(kwp),
        pv_column=str(pv["column"]),
        pv_file=str(pv.get("file", default_file)),
        reference_annual_kwh=float(reference),
        start=start,
        days=float(days) if days is not None else None,
        threshold_kw=float(threshold) if threshold is not None else float(per_kwp) * float(kwp),
        no_pv_kw=float(no_pv_kw),
        window_h=float(window_h),
        apply_h=float(apply_h),
        group_identical=group_identical,
        admm={k: float(v) for k, v in admm.items()},
        tariff=tariff,
        mechanisms=tuple(mechanisms),
        policy=str(policy),
    )
