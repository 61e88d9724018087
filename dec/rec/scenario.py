"""The ``rec_pricing`` section of a scenario file -> a rec_op_lem_prices backpack and run options.

The section holds the backpack's fields (``delta_t``, ``horizon``, ``l_extra``,
``l_grid``, ``l_market_buy``, ``l_market_sell``, ``strict_pos_coeffs``,
``total_share_coeffs`` and ``meters`` with ``e_c``, ``e_g``, ``l_buy``, ``l_sell``,
``max_p``, ``btm_storage``) and the run options (``timeframe``, ``market``,
``mechanism``, ``pruned``, ``divider``, ``compensation``). A per-step field is a
number (the same every step), a list, or the name of a column of the CSV file given
by ``timeseries`` (one row per step, in order: its optional ``step`` column counts
0, 1, ... and ``time_h`` is step × ``delta_t``). For bilateral markets ``l_grid`` may also be a
mapping ``{n: {m: value}}``; a single value applies to every pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from dec.csv_input import read_table
from dec.errors import InputError
from dec.options import COMMAND_LINE
from dec.options.rec_pricing import MECHANISMS, mechanism_name
from dec.rec.checks import EV_FIELDS, STORAGE_FIELDS, n_steps
from dec.rec.data import Market
from dec.scenario import Scenario
from dec.validation import Problems, is_finite_number

SECTION = "rec_pricing"
Timeframe = Literal["pre", "post"]
Mechanism = Literal["mmr", "sdr", "crossing_value", "dual"]

BACKPACK_KEYS = (
    "delta_t",
    "horizon",
    "l_extra",
    "l_grid",
    "l_market_buy",
    "l_market_sell",
    "strict_pos_coeffs",
    "total_share_coeffs",
    "meters",
)
OPTION_KEYS = ("timeframe", "market", "mechanism", "pruned", "divider", "compensation")
METER_KEYS = ("e_c", "e_g", "l_buy", "l_sell", "max_p", "btm_storage", "btm_evs")
#: The fields of a meter's batteries and vehicles (the API, :mod:`dec.rec.data`, ignores
#: others, as the reference does; a scenario file refuses them).
ASSET_KEYS = {"btm_storage": STORAGE_FIELDS, "btm_evs": EV_FIELDS}


@dataclass(frozen=True)
class RunOptions:
    """How the mode runs (scenario file values, overridden by command-line options).

    Attributes
    ----------
    timeframe
        ``pre`` (iterative loop on forecasts) or ``post`` (two passes on measured data).
    market
        ``pool`` or ``bilateral``.
    mechanism
        ``mmr``, ``sdr``, ``crossing_value`` or ``dual`` (dual prices, pool only).
    pruned
        MMR/SDR on the offers a pool clearing accepts.
    divider
        MMR position in [0, 1].
    compensation
        SDR compensation in [0, 1] (> 0: SDRC).
    max_iterations
        Iteration limit of the pre-delivery loop.
    mip_rel_gap
        Relative optimality tolerance of the MILPs (None: the default).
    time_limit_s
        HiGHS time limit per MILP (None: none).

    """

    timeframe: Timeframe = "pre"
    market: Market = "pool"
    mechanism: Mechanism = "mmr"
    pruned: bool = True
    divider: float = 0.5
    compensation: float = 0.0
    max_iterations: int = 20
    mip_rel_gap: float | None = None
    time_limit_s: float | None = None

    def check(self, source: str) -> None:
        """Raise InputError for a value that is not allowed."""
        problems = Problems(source)
        for name, allowed in (
            ("timeframe", ("pre", "post")),
            ("market", ("pool", "bilateral")),
            ("mechanism", MECHANISMS),
        ):
            if getattr(self, name) not in allowed:
                problems.add(
                    f"Field '{name}' has the value {getattr(self, name)!r}; allowed: "
                    f"{', '.join(allowed)}."
                )
        for name in ("divider", "compensation"):
            value = getattr(self, name)
            if not is_finite_number(value) or not 0 <= value <= 1:
                problems.add(f"Field '{name}' must be between 0 and 1 (found {value!r}).")
        if not isinstance(self.pruned, bool):
            problems.add(f"Field 'pruned' must be true or false (found {self.pruned!r}).")
        if self.mechanism == "dual" and self.market != "pool":
            problems.add("Mechanism 'dual' needs market 'pool' (dual prices are a pool's).")
        if not isinstance(self.max_iterations, int) or self.max_iterations < 1:
            problems.add(f"The iteration limit must be at least 1 (found {self.max_iterations!r}).")
        for name, high in (("mip_rel_gap", 1.0), ("time_limit_s", math.inf)):
            value = getattr(self, name)
            if value is not None and (not is_finite_number(value) or not 0 < value < high):
                allowed = "from 0 to 1, both excluded" if high == 1.0 else "greater than zero"
                problems.add(f"Option '{name}' must be {allowed} (found {value!r}).")
        problems.raise_if_any()


def _columns(scenario: Scenario, section: Mapping[str, Any]) -> pd.DataFrame | None:
    path = section.get("timeseries")
    if path is None:
        return None
    if not isinstance(path, str) or not path:
        raise InputError(
            f"Field 'timeseries' must be a file name, found {path!r}.", scenario.source
        )
    file = scenario.resolve(path)

    if not file.exists():  # a directory: read_table says so
        raise InputError(
            f"Field 'timeseries' names {str(file)!r}, which does not exist.", scenario.source
        )
    return read_table(file, "timeseries", scenario.source)


class _Series:
    """Resolves per-step fields to lists of ``length`` values, collecting problems."""

    def __init__(self, table: pd.DataFrame | None, length: int, problems: Problems):
        self.table = table
        self.length = length
        self.problems = problems

    def __call__(self, value: Any, where: str) -> Any:
        if value is None:
            self.problems.add(
                f"Field '{where}' is missing or empty; give a number, a list of one value per "
                "step or the name of a column of the timeseries file."
            )
            return value
        if isinstance(value, str):
            if self.table is None:
                self.problems.add(
                    f"Field '{where}' names the column {value!r} but no 'timeseries' file is given."
                )
                return value
            if value not in self.table.columns:
                self.problems.add(
                    f"Field '{where}' names the column {value!r}, which the timeseries file "
                    "does not have."
                )
                return value
            column = self.table[value]
            numbers = pd.to_numeric(column, errors="coerce")
            text = column.index[numbers.isna() & column.notna()]
            if len(text):
                self.problems.add(
                    f"Column {value!r} of the timeseries file (field '{where}') holds text that "
                    f"is not a number at rows {text[:5].tolist()}: {column[text[:5]].tolist()}."
                )
            used = numbers.iloc[: self.length]
            empty = used.index[column.iloc[: self.length].isna() | ~np.isfinite(used)]
            empty = empty.difference(text)
            if len(empty):
                self.problems.add(
                    f"Column {value!r} of the timeseries file (field '{where}') has empty or "
                    f"non-finite cells at rows {empty[:5].tolist()}: "
                    f"{column[empty[:5]].tolist()}; give a number in every row."
                )
            return numbers.to_numpy(dtype=float)[: self.length].tolist()
        if is_finite_number(value):
            return [float(value)] * self.length
        if isinstance(value, list):
            return value[: self.length] if len(value) > self.length else value
        return value


def _check_step_columns(table: pd.DataFrame, delta_t: float, name: str, problems: Problems) -> None:
    """Check that the optional ``step`` and ``time_h`` columns count the rows in order."""
    expected = {"step": np.arange(len(table)), "time_h": np.arange(len(table)) * delta_t}
    for column, values in expected.items():
        if column not in table.columns:
            continue
        found = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        wrong = np.flatnonzero(~(np.abs(found - values) <= 1e-6 * max(1.0, delta_t)))
        if wrong.size:
            problems.add(
                f"Column '{column}' of the timeseries file {name!r} must be "
                f"{'0, 1, 2, ...' if column == 'step' else 'step × delta_t (h)'} with one row "
                f"per step in order; rows {wrong[:5].tolist()} hold "
                f"{table[column].iloc[wrong[:5]].tolist()} (expected "
                f"{np.round(values[wrong[:5]], 9).tolist()})."
            )


def read_section(
    scenario: Scenario,
    steps: int | None = None,
    load_scale: float = 1.0,
    pv_scale: float = 1.0,
    market: Market | None = None,
) -> tuple[dict[str, Any], RunOptions]:
    """Return the backpack and run options of a scenario's ``rec_pricing`` section.

    Parameters
    ----------
    scenario
        The loaded scenario.
    steps
        Use only the first ``steps`` steps (None: the whole horizon).
    load_scale, pv_scale
        Multipliers of every meter's consumption ``e_c`` and generation ``e_g``.
    market
        Overrides the section's ``market`` (it decides the form of ``l_grid``).

    Raises
    ------
    InputError
        Naming the file, field and value of every problem found.

    """
    section = scenario.section(SECTION)
    problems = Problems(scenario.source)
    allowed = {*BACKPACK_KEYS, *OPTION_KEYS, "timeseries"}
    unknown = sorted(set(section) - allowed)
    if unknown:
        problems.add(
            f"Section '{SECTION}' has unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(allowed))}."
        )
    for key in ("delta_t", "horizon", "meters"):
        if key not in section:
            problems.add(f"Field '{SECTION}.{key}' is missing.")
    problems.raise_if_any()
    delta_t, horizon = section["delta_t"], section["horizon"]
    if not (is_finite_number(delta_t) and is_finite_number(horizon) and delta_t > 0 < horizon):
        raise InputError(
            f"Fields 'delta_t' and 'horizon' must be positive numbers (found {delta_t!r}, "
            f"{horizon!r}).",
            scenario.source,
        )
    length = n_steps(horizon, delta_t)
    table = _columns(scenario, section)
    if table is not None and len(table) != length:
        problems.add(
            f"The timeseries file {section['timeseries']!r} has {len(table)} rows; 'horizon' "
            f"({horizon} h) over 'delta_t' ({delta_t} h) needs one row per step: {length}."
        )
    elif table is not None:
        _check_step_columns(table, delta_t, section["timeseries"], problems)
    if steps is not None:
        if steps < 1 or steps > length:
            raise InputError(
                f"Option --steps {steps} is outside 1..{length} (the scenario's steps).",
                COMMAND_LINE,
            )
        length, horizon = steps, steps * delta_t
    series = _Series(table, length, problems)
    backpack: dict[str, Any] = {
        "delta_t": delta_t,
        "horizon": horizon,
        "l_extra": section.get("l_extra", 10.0),
        "strict_pos_coeffs": section.get("strict_pos_coeffs", True),
        "total_share_coeffs": section.get("total_share_coeffs", False),
    }
    for key in ("strict_pos_coeffs", "total_share_coeffs"):
        if not isinstance(backpack[key], bool):
            problems.add(f"Field '{SECTION}.{key}' must be true or false, found {backpack[key]!r}.")
    for key in ("l_market_buy", "l_market_sell"):
        backpack[key] = series(section.get(key), f"{SECTION}.{key}")
    meters = section["meters"]
    if not isinstance(meters, Mapping) or not meters:
        raise InputError(
            f"Field '{SECTION}.meters' must be a mapping of meter ids to fields.", scenario.source
        )
    backpack["meters"] = {}
    for meter_id, meter in meters.items():
        where = f"{SECTION}.meters.{meter_id}"
        if not isinstance(meter, Mapping):
            problems.add(f"Field '{where}' must be a mapping of fields.")
            continue
        extra = sorted(set(meter) - set(METER_KEYS))
        if extra:
            problems.add(
                f"Field '{where}' has unknown field(s) {', '.join(extra)}; allowed: "
                f"{', '.join(METER_KEYS)}."
            )
        _check_asset_keys(meter, where, problems)
        record = dict(meter)
        for key in ("e_c", "e_g", "l_buy", "l_sell"):
            if key in record:
                record[key] = series(record[key], f"{where}.{key}")
        record.setdefault("btm_storage", None)
        backpack["meters"][str(meter_id)] = _scaled(record, load_scale, pv_scale)
    fields = {k: section[k] for k in OPTION_KEYS if k in section}
    if isinstance(fields.get("mechanism"), str):  # crossing-value as on the command line
        fields["mechanism"] = mechanism_name(fields["mechanism"])
    options = with_overrides(RunOptions(**fields), market=market)
    backpack["l_grid"] = _grid(section.get("l_grid"), options.market, backpack["meters"], series)
    problems.raise_if_any()
    return backpack, options


def _check_asset_keys(meter: Mapping[str, Any], where: str, problems: Problems) -> None:
    """Refuse unknown fields of a meter's batteries and vehicles (like a meter's own fields).

    Assets that are not mappings are reported by the backpack's validation.
    """
    for key, allowed in ASSET_KEYS.items():
        assets = meter.get(key)
        if not isinstance(assets, Mapping):
            continue
        for asset_id, params in assets.items():
            extra = (
                sorted(map(str, set(params) - set(allowed))) if isinstance(params, Mapping) else []
            )
            if extra:
                problems.add(
                    f"Field '{where}.{key}.{asset_id}' has unknown field(s) {', '.join(extra)}; "
                    f"allowed: {', '.join(allowed)}."
                )


def _scaled(meter: dict[str, Any], load_scale: float, pv_scale: float) -> dict[str, Any]:
    for key, scale in (("e_c", load_scale), ("e_g", pv_scale)):
        value = meter.get(key)
        if scale != 1.0 and isinstance(value, list) and all(map(is_finite_number, value)):
            meter[key] = (np.asarray(value, dtype=float) * scale).tolist()
    return meter


def _grid(value: Any, market: str, meters: Mapping[str, Any], series: _Series) -> Any:
    where = f"{SECTION}.l_grid"
    if market != "bilateral":
        return series(value, where)
    ids = list(meters)
    if isinstance(value, Mapping):
        return {
            n: {m: series(v, f"{where}.{n}.{m}") for m, v in (row or {}).items()}
            for n, row in value.items()
        }
    per_step = series(value, where)
    return {n: {m: list(per_step) for m in ids if m != n} for n in ids}


def with_overrides(options: RunOptions, **overrides: Any) -> RunOptions:
    """Return ``options`` with the given (non-None) command-line values."""
    return replace(options, **{k: v for k, v in overrides.items() if v is not None})
