"""The ``p2p`` section of a scenario: defaults, command-line overrides and validation.

A scenario YAML file holds a ``p2p:`` mapping (every key optional except the
placement, which falls back to the feeder's published scenario)::

    p2p:
      households: {buses: [12, 17, 19, 35, 37, 41], profile: Cluster_0}
      pv: {buses: [16, 18, 22, 36, 40, 42], profile: Cluster_1}
      bidding: fixed            # fixed | valuation
      market: auction           # auction | admm
      pricing: uniform          # uniform | discriminatory | pay_as_ask
      retail_price_eur_per_kwh: 0.20
      feed_in_price_eur_per_kwh: 0.05

``households.buses`` may be ``leaves`` (every leaf bus of the feeder) and PV may
be placed by ``pv.penetration`` (a share of the leaf buses, seeded) instead of
``pv.buses``. Every value is checked here, before any work starts, and all
problems are reported together.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dec.conventions import SOURCE_VM_PU_RANGE
from dec.errors import InputError
from dec.options import COMMAND_LINE, refuse_ignored, was_given
from dec.options.p2p import (
    BIDDING_STRATEGIES,
    K_RANGE,
    MARKETS,
    NETWORK_CHARGE_RANGE,
    PENETRATION_RANGE,
    PRICING_RULES,
)
from dec.p2p.profiles import HOURS_PER_DAY
from dec.scenario import Scenario, YamlLoader
from dec.validation import (
    MAX_EUR_PER_KWH,
    MAX_KW,
    MAX_ROUNDS,
    MAX_SCALE,
    Problems,
    is_finite_number,
    is_number,
    one_of,
    positive,
    within,
)
from feeders import feeder_defaults

SECTION = "p2p"
INPUT_DIR = Path(__file__).resolve().parents[2] / "inputs" / "p2p"
#: Default p2p scenario of each feeder id (the published cases of the reference study).
DEFAULT_SCENARIOS = {
    "cigre_lv": INPUT_DIR / "cigre_lv_published.yaml",
    "village": INPUT_DIR / "village_published.yaml",
}
LEAVES = "leaves"
#: Profile column of households and PV units when their section names none.
DEFAULT_PROFILE = "Cluster_0"

SCALARS: dict[str, Any] = {
    "market": "auction",
    "bidding": "fixed",
    "pricing": "uniform",
    "k": 0.5,
    "retail_price_eur_per_kwh": 0.20,
    "feed_in_price_eur_per_kwh": 0.05,
    "network_charge_eur_per_kwh_km": 0.0,
    "load_scale": 1.0,
    "pv_scale": 1.0,
    "load_power_factor": 0.99,
    "pv_power_factor": 0.99,
    "vm_ext_pu": 1.0,
    "vm_min_pu": 0.9,
    "vm_max_pu": 1.1,
    "max_loading_percent": 100.0,
    "hours": 24,
    "min_order_kw": 1e-6,
    "seed": 0,
    "reference": None,
}
#: Settings that are plain numbers.
FLOAT_FIELDS = (
    "k",
    "retail_price_eur_per_kwh",
    "feed_in_price_eur_per_kwh",
    "network_charge_eur_per_kwh_km",
    "load_scale",
    "pv_scale",
    "load_power_factor",
    "pv_power_factor",
    "vm_ext_pu",
    "vm_min_pu",
    "vm_max_pu",
    "max_loading_percent",
    "min_order_kw",
)
ADMM_DEFAULTS: dict[str, Any] = {
    "tie_break": 1e-3,
    "rho": 0.05,
    "max_iter": 20000,
    "eps_abs": 1e-7,
    "eps_rel": 1e-6,
}
#: Ranges of the ADMM market's numbers (both ends included): the tie-break relative to the
#: market's scale (dimensionless), the initial penalty (EUR/kWh²), the absolute (kW) and
#: relative stopping tolerances. ``max_iter`` is a round limit, 1 to ``MAX_ROUNDS``.
ADMM_RANGES = {
    "tie_break": (1e-6, 1e-2),
    "rho": (1e-6, 1e3),
    "eps_abs": (1e-12, 1.0),
    "eps_rel": (1e-12, 0.1),
}
PROFILE_DEFAULTS = {"load": "cluster_medians.csv", "pv": "cluster_medians_solar.csv"}
SUBSECTIONS = ("households", "pv", "admm", "profiles")


@dataclass(frozen=True)
class Placement:
    """Where the traders are and which profile each kind follows.

    Attributes
    ----------
    household_buses
        Buses of the households, or None for every leaf bus of the feeder.
    load_profile
        Column of the load profile table every household follows.
    pv_buses
        Buses of the PV units (None when placed by ``pv_penetration``).
    pv_penetration
        Share of the leaf buses that get a PV unit (seeded draw), or None.
    pv_profile
        Column of the PV profile table every PV unit follows.
    pv_owned
        True: each PV unit is the rooftop PV of the household on its bus and
        only the household's net position trades; False: PV units trade on
        their own (the reference study).

    """

    household_buses: tuple[int, ...] | None
    load_profile: str
    pv_buses: tuple[int, ...] | None
    pv_penetration: float | None
    pv_profile: str
    pv_owned: bool


@dataclass(frozen=True)
class AdmmSettings:
    """Settings of the bilateral ADMM market.

    Attributes
    ----------
    tie_break
        Weight of the quadratic tie-break that makes every agent's problem strictly
        convex, relative to the market's scale (dimensionless; see
        :mod:`dec.p2p.admm_market`): it lowers the welfare by at most this fraction of
        the largest margin per kWh traded.
    rho
        Initial ADMM penalty (EUR per kWh²), adapted by residual balancing.
    max_iter
        Round limit.
    eps_abs, eps_rel
        Boyd stopping tolerances.

    """

    tie_break: float
    rho: float
    max_iter: int
    eps_abs: float
    eps_rel: float


@dataclass(frozen=True)
class P2PSettings:
    """A validated p2p scenario (see the module docstring for the fields)."""

    source: str
    placement: Placement
    load_profiles: Path
    pv_profiles: Path
    reference: Path | None
    market: str
    solver: str
    bidding: str
    pricing: str
    k: float
    retail_price_eur_per_kwh: float
    feed_in_price_eur_per_kwh: float
    network_charge_eur_per_kwh_km: float
    load_scale: float
    pv_scale: float
    load_power_factor: float
    pv_power_factor: float
    vm_ext_pu: float
    vm_min_pu: float
    vm_max_pu: float
    max_loading_percent: float
    hours: tuple[int, ...]
    min_order_kw: float
    seed: int
    admm: AdmmSettings


def _read_default(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=YamlLoader)
    return dict(data[SECTION])


def _section(scenario: Scenario) -> tuple[dict[str, Any], Path, str]:
    """Return the p2p section, the folder its paths are relative to, and its source."""
    if SECTION in scenario.sections:  # an empty section (``p2p:``) reads as {}
        return dict(scenario.section(SECTION, required=False)), scenario.base_dir, scenario.source
    feeder = scenario.require_feeder()
    path = DEFAULT_SCENARIOS.get(feeder.feeder_id)
    if path is None:
        return {}, scenario.base_dir, scenario.source
    return _read_default(path), path.parent, str(path)


def _check_feeder_knobs(scenario: Scenario, args: argparse.Namespace) -> None:
    """Refuse feeder knobs p2p would silently ignore (it builds its own placement)."""
    feeder = scenario.require_feeder()
    try:
        defaults = feeder_defaults(feeder.feeder_id)
    except InputError:
        return
    given = {"load_scale": args.load_scale, "pv_scale": args.pv_scale}
    moved = [
        key
        for key in ("load_scale", "pv_scale", "vm_ext_pu")
        if key in feeder.knobs
        and given.get(key) is None
        and feeder.knobs[key] != defaults.get(key, feeder.knobs[key])
    ]
    if moved:
        raise InputError(
            f"Feeder knob(s) {', '.join(moved)} parametrise the feeder's own agents, which the "
            f"p2p mode replaces by its placement; set them in the '{SECTION}' section instead "
            f"(e.g. '{SECTION}: {{{moved[0]}: ...}}') or on the command line.",
            scenario.source,
        )


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Command-line values that override the section (None = not given)."""
    return {
        key: value
        for key, value in {
            "market": getattr(args, "market", None),
            "bidding": getattr(args, "bidding", None),
            "pricing": getattr(args, "auction_pricing", None),
            "k": getattr(args, "auction_k", None),
            "network_charge_eur_per_kwh_km": getattr(args, "p2p_network_charge", None),
            "load_scale": getattr(args, "load_scale", None),
            "pv_scale": getattr(args, "pv_scale", None),
            "seed": getattr(args, "seed", None),
        }.items()
        if value is not None
    }


def _refuse_other_markets_options(cli: dict[str, Any], values: dict[str, Any], solver: str) -> None:
    """Raise an InputError for a command-line option the run's market would ignore."""
    auction = values["market"] == "auction"
    rounds = not auction and solver != "centralized"
    ignored = [
        f"--{option} ({used})"
        for key, option, applies, used in (
            ("pricing", "auction-pricing", auction, "market auction"),
            ("k", "auction-k", auction and values["pricing"] == "uniform", "uniform auction"),
            ("network_charge_eur_per_kwh_km", "p2p-network-charge", not auction, "market admm"),
            ("max_iter", "max-iter", rounds, "market admm, --solver admm"),
            ("engine", "engine", rounds, "market admm, --solver admm"),
            ("solver", "solver", not auction, "market admm"),
        )
        if key in cli and not applies
    ]
    detail = f" priced {values['pricing'].replace('_', '-')}" if auction else ""
    if not auction and solver == "centralized":  # why it has no rounds
        detail = " solved directly (--solver centralized: one QP, no ADMM rounds)"
    refuse_ignored(
        ignored,
        f"This run is market {values['market']}{detail}",
        "remove the option or choose what uses it (--market, --solver, --auction-pricing)",
    )


def _refuse_other_markets_fields(
    section: dict[str, Any], cli: dict[str, Any], values: dict[str, Any], problems: Problems
) -> None:
    """Add a problem for a field of the scenario file the run's market would ignore.

    As for the options (:func:`_refuse_other_markets_options`), whatever its value; a field
    overridden by its option is the option's matter.
    """
    key = "network_charge_eur_per_kwh_km"
    if key in section and key not in cli and values["market"] == "auction":
        chosen = " (--market auction)" if "market" in cli else ""
        problems.add(
            f"Field '{SECTION}.{key}' ({section[key]!r}) is a charge of the ADMM market, but "
            f"this run's market is auction{chosen}, which does not use it; remove the field or "
            "choose the ADMM market (market: admm, or --market admm)."
        )


def _mapping(section: dict[str, Any], key: str, problems: Problems) -> dict[str, Any]:
    value = section.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(f"Field '{SECTION}.{key}' must be a mapping, found {value!r}.")
        return {}
    return value


def _bus_list(value: Any, field: str, problems: Problems) -> tuple[int, ...] | None:
    """Return the buses of a placement field, None for ``leaves`` (every leaf bus).

    Anything else than a non-empty list of bus indices or ``leaves`` (null included) is a
    problem; the result is then ().
    """
    if value == LEAVES:
        return None
    if not isinstance(value, list) or not value:
        problems.add(
            f"Field '{field}' must be a non-empty list of pandapower bus indices or "
            f"'{LEAVES}', found {value!r}."
        )
        return ()
    bad = [b for b in value if not (is_number(b) and float(b).is_integer())]
    if bad:
        problems.add(f"Field '{field}' holds values that are not bus indices: {bad[:5]}.")
        return ()
    return tuple(int(b) for b in value)


def _placement(
    section: dict[str, Any], pv_penetration: float | None, problems: Problems
) -> Placement:
    households = _mapping(section, "households", problems)
    pv = _mapping(section, "pv", problems)
    for name, given, allowed in (
        ("households", households, {"buses", "profile"}),
        ("pv", pv, {"buses", "profile", "penetration", "owned"}),
    ):
        unknown = sorted(set(given) - allowed)
        if unknown:
            problems.add(
                f"Unknown field(s) {', '.join(unknown)} in '{SECTION}.{name}'; "
                f"allowed: {', '.join(sorted(allowed))}."
            )
    penetration = pv.get("penetration") if pv_penetration is None else pv_penetration
    if pv_penetration is not None:
        household_buses, pv_buses = None, None
    else:
        field = f"{SECTION}.households.buses"
        if "buses" in households:
            household_buses = _bus_list(households["buses"], field, problems)
        else:
            problems.add(f"Field '{field}' is missing: give a list of buses or '{LEAVES}'.")
            household_buses = ()
        pv_buses = (
            None
            if pv.get("buses") is None
            else _bus_list(pv["buses"], f"{SECTION}.pv.buses", problems)
        )
        if pv.get("buses") is not None and penetration is not None:
            problems.add(
                f"Give either '{SECTION}.pv.buses' or '{SECTION}.pv.penetration', not both."
            )
        if pv.get("buses") is None and penetration is None:
            problems.add(f"Field '{SECTION}.pv' needs 'buses' or 'penetration'.")
    if penetration is not None:
        problems.extend(
            within({"penetration": penetration}, "pv.penetration", "setting", *PENETRATION_RANGE)
        )
    owned = pv.get("owned", False)
    if not isinstance(owned, bool):
        problems.add(f"Field '{SECTION}.pv.owned' must be true or false, found {owned!r}.")
    return Placement(
        household_buses=household_buses,
        load_profile=_profile_name(households, "households", "load", problems),
        pv_buses=pv_buses,
        pv_penetration=float(penetration) if is_finite_number(penetration) else None,
        pv_profile=_profile_name(pv, "pv", "PV", problems),
        pv_owned=bool(owned),
    )


def _profile_name(subsection: dict[str, Any], name: str, kind: str, problems: Problems) -> str:
    """Return the profile column ``<name>.profile`` names (default ``Cluster_0``).

    A value that is not text (a list, a number) is a problem: column names are text.
    """
    column = subsection.get("profile", DEFAULT_PROFILE)
    if not isinstance(column, str) or not column:
        problems.add(
            f"Field '{SECTION}.{name}.profile' must be a column name of the {kind} profile "
            f"table (text, e.g. {DEFAULT_PROFILE}), found {column!r}."
        )
        return DEFAULT_PROFILE
    return column


def _check_scalars(values: dict[str, Any], problems: Problems) -> None:
    problems.extend(one_of({"market": values["market"]}, "market", "setting", MARKETS))
    problems.extend(
        one_of({"bidding": values["bidding"]}, "bidding", "setting", BIDDING_STRATEGIES)
    )
    problems.extend(one_of({"pricing": values["pricing"]}, "pricing", "setting", PRICING_RULES))
    problems.extend(within({"k": values["k"]}, "k", "setting", *K_RANGE))
    for key in ("retail_price_eur_per_kwh", "feed_in_price_eur_per_kwh"):
        problems.extend(within({key: values[key]}, key, "setting", 0, MAX_EUR_PER_KWH))
    for key in ("load_power_factor", "pv_power_factor"):
        problems.extend(within({key: values[key]}, key, "setting", 0.1, 1))
    key = "network_charge_eur_per_kwh_km"
    problems.extend(within({key: values[key]}, key, "setting", *NETWORK_CHARGE_RANGE))
    for key, high in (("load_scale", MAX_SCALE), ("pv_scale", MAX_SCALE), ("min_order_kw", MAX_KW)):
        problems.extend(within({key: values[key]}, key, "setting", 0, high))
    problems.extend(
        positive(
            {k: values[k] for k in ("vm_min_pu", "vm_max_pu", "max_loading_percent")},
            "limit",
            "setting",
        )
    )
    problems.extend(
        within({"vm_ext_pu": values["vm_ext_pu"]}, "vm_ext_pu", "setting", *SOURCE_VM_PU_RANGE)
    )
    if all(is_finite_number(values[k]) for k in ("vm_min_pu", "vm_max_pu")) and not (
        values["vm_min_pu"] < values["vm_max_pu"]
    ):
        problems.add(
            f"Field 'vm_min_pu' ({values['vm_min_pu']}) must be below 'vm_max_pu' "
            f"({values['vm_max_pu']})."
        )
    if all(is_finite_number(values[k]) for k in SCALARS if k.endswith("price_eur_per_kwh")) and (
        values["feed_in_price_eur_per_kwh"] > values["retail_price_eur_per_kwh"]
    ):
        problems.add(
            f"Field 'feed_in_price_eur_per_kwh' ({values['feed_in_price_eur_per_kwh']}) must not "
            f"exceed 'retail_price_eur_per_kwh' ({values['retail_price_eur_per_kwh']})."
        )
    seed = values["seed"]
    if not (is_number(seed) and float(seed).is_integer() and 0 <= seed < 2**32):
        problems.add(f"Field 'seed' must be a whole number from 0 to 2**32 - 1, found {seed!r}.")


def _hours(value: Any, problems: Problems) -> tuple[int, ...]:
    """Hours of the day to run: ``N`` (the first N) or an increasing list of hours."""
    if is_number(value) and float(value).is_integer() and 1 <= value <= HOURS_PER_DAY:
        return tuple(range(int(value)))
    if (
        isinstance(value, list)
        and value
        and all(is_number(h) and float(h).is_integer() and 0 <= h < HOURS_PER_DAY for h in value)
        and all(a < b for a, b in itertools.pairwise(value))
    ):
        return tuple(int(h) for h in value)
    problems.add(
        f"Field 'hours' must be a whole number from 1 to {HOURS_PER_DAY} (the first hours of "
        f"the day) or an increasing list of hours 0..{HOURS_PER_DAY - 1}, found {value!r}."
    )
    return tuple(range(HOURS_PER_DAY))


def _first_hours(hours: tuple[int, ...], steps: int | None) -> tuple[int, ...]:
    """Return the first ``steps`` of the scenario's hours (all of them if None).

    Raises
    ------
    InputError
        Blamed on the command line, if ``steps`` is not from 1 to the number of hours.

    """
    if steps is None:
        return hours
    if not 1 <= steps <= len(hours):
        raise InputError(
            f"argument --steps: must be a whole number from 1 to {len(hours)} (the hours of "
            f"the scenario), found {steps}.",
            COMMAND_LINE,
        )
    return hours[:steps]


def _admm(section: dict[str, Any], max_iter: int | None, problems: Problems) -> AdmmSettings:
    values = ADMM_DEFAULTS | _mapping(section, "admm", problems)
    if max_iter is not None:
        values["max_iter"] = max_iter
    unknown = sorted(set(values) - set(ADMM_DEFAULTS))
    if unknown:
        problems.add(
            f"Unknown field(s) {', '.join(unknown)} in '{SECTION}.admm'; "
            f"allowed: {', '.join(ADMM_DEFAULTS)}."
        )
    for key, (low, high) in ADMM_RANGES.items():
        problems.extend(within({key: values[key]}, f"admm.{key}", "setting", low, high))
    rounds = values["max_iter"]
    if not (is_number(rounds) and float(rounds).is_integer() and 1 <= rounds <= MAX_ROUNDS):
        problems.add(
            f"Field 'admm.max_iter' must be a whole number from 1 to {MAX_ROUNDS:,}, "
            f"found {rounds!r}."
        )
    if problems:
        return AdmmSettings(**ADMM_DEFAULTS)
    return AdmmSettings(
        **{
            k: (int(v) if k == "max_iter" else float(v))
            for k, v in values.items()
            if k in ADMM_DEFAULTS
        }
    )


def settings_from(scenario: Scenario, args: argparse.Namespace) -> P2PSettings:
    """Validate the scenario's p2p section with the command-line overrides.

    Parameters
    ----------
    scenario
        The loaded scenario (feeder id or YAML file).
    args
        Parsed command line (common and p2p options).

    Returns
    -------
    P2PSettings

    Raises
    ------
    InputError
        Listing every problem of the section (unknown keys, values out of range, a
        missing placement, feeder knobs that p2p would ignore).

    """
    _check_feeder_knobs(scenario, args)
    section, base_dir, source = _section(scenario)
    problems = Problems(source)
    pv_penetration = getattr(args, "pv_penetration", None)
    if not section and pv_penetration is None:
        empty = f"Section '{SECTION}' is empty. " if SECTION in scenario.sections else ""
        raise InputError(
            f"{empty}The p2p mode needs a placement: a '{SECTION}' section with 'households' and 'pv', "
            "or --pv-penetration (households on every leaf bus, PV on a share of them). "
            f"Published scenarios exist for {', '.join(DEFAULT_SCENARIOS)}.",
            source,
        )
    allowed = set(SCALARS) | set(SUBSECTIONS)
    unknown = sorted(set(section) - allowed)
    if unknown:
        problems.add(
            f"Unknown field(s) {', '.join(unknown)} in section '{SECTION}'; "
            f"allowed: {', '.join(sorted(allowed))}."
        )
    cli = _overrides(args)
    if isinstance(cli.get("pricing"), str):
        cli["pricing"] = cli["pricing"].replace("-", "_")
    on_command_line = Problems(COMMAND_LINE)
    _check_scalars(SCALARS | cli, on_command_line)  # the defaults are valid: name the options
    on_command_line.raise_if_any()
    values = {k: section.get(k, v) for k, v in SCALARS.items()} | cli
    if isinstance(values["pricing"], str):
        values["pricing"] = values["pricing"].replace("-", "_")
    _check_scalars(values, problems)
    given = cli | {
        d: getattr(args, d) for d in ("max_iter", "solver", "engine") if was_given(args, d)
    }
    _refuse_other_markets_options(given, values, getattr(args, "solver", "admm"))
    _refuse_other_markets_fields(section, cli, values, problems)
    placement = _placement(section, pv_penetration, problems)
    hours = _hours(values["hours"], problems)
    admm = _admm(section, getattr(args, "max_iter", None), problems)
    given_paths = _mapping(section, "profiles", problems)
    paths = PROFILE_DEFAULTS | given_paths
    unknown = sorted(set(paths) - set(PROFILE_DEFAULTS))
    if unknown:
        problems.add(
            f"Unknown field(s) {', '.join(unknown)} in '{SECTION}.profiles'; allowed: load, pv."
        )
    files = {f"profiles.{k}": v for k, v in given_paths.items()}
    if values["reference"] is not None:
        files["reference"] = values["reference"]
    for field, name in files.items():
        if not isinstance(name, str) or not name:
            problems.add(f"Field '{field}' must be a file name, found {name!r}.")
    problems.raise_if_any()
    hours = _first_hours(hours, getattr(args, "steps", None))

    def resolve(path: str, shipped: bool) -> Path:
        path = Path(path)
        if path.is_absolute():
            return path
        return (INPUT_DIR if shipped else base_dir) / path

    for field, name in files.items():
        path = resolve(name, False).absolute()
        if not path.exists():  # a directory: read_table says so
            problems.add(
                f"Field '{SECTION}.{field}' names {name!r}, which does not exist (looked for "
                f"{str(path)!r}; a relative path is relative to the scenario file)."
            )
    problems.raise_if_any()
    profiles = {k: resolve(v, k not in given_paths) for k, v in paths.items()}
    floats = {key: float(values[key]) for key in FLOAT_FIELDS}
    return P2PSettings(
        source=source,
        placement=placement,
        load_profiles=profiles["load"],
        pv_profiles=profiles["pv"],
        reference=None if values["reference"] is None else resolve(values["reference"], False),
        market=values["market"],
        solver=getattr(args, "solver", "admm") or "admm",
        bidding=values["bidding"],
        pricing=values["pricing"],
        hours=hours,
        seed=int(values["seed"]),
        admm=admm,
        **floats,
    )
