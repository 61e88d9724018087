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

The columns the fields name are checked over the whole file whatever ``--steps`` (numbers,
finite, within the field's range), each problem naming the file, the column, the rows and
the values. Meter ids are non-empty texts (or numbers). Energies that are within range in
the file but not once multiplied by ``--load-scale``/``--pv-scale`` are blamed on the option.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from dec.csv_input import read_table
from dec.errors import InputError
from dec.options import COMMAND_LINE
from dec.options.rec_pricing import MECHANISMS, mechanism_name
from dec.rec.checks import EV_FIELDS, METER_RANGES, PRICE_RANGE, STORAGE_FIELDS, n_steps
from dec.rec.data import Market
from dec.scenario import Scenario
from dec.validation import Problems, interval, is_finite_number

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


#: Range of each per-step field (by its name in the backpack), as :mod:`dec.rec.checks`
#: bounds it: checked here on the timeseries file's columns, so that a value out of range
#: is named by its column, row and file.
SERIES_RANGES = {
    **METER_RANGES,
    "l_market_buy": PRICE_RANGE,
    "l_market_sell": PRICE_RANGE,
    "l_grid": PRICE_RANGE,
}
#: Columns (or rows) a message lists at most.
LISTED = 5


def _at_rows(rows: Sequence[int], values: Sequence[Any], kind: str = "rows") -> str:
    """Return where bad cells are, e.g. ``at rows [39]: [-1.0]`` (at most :data:`LISTED`)."""
    head = f"at {kind} {list(rows[:LISTED])}: {list(values[:LISTED])}"
    return head if len(rows) <= LISTED else f"at {len(rows)} {kind}, the first {head}"


def _at_steps(steps: Sequence[int], values: Sequence[Any]) -> str:
    """Return where bad values of a list are, e.g. ``at steps [90]: [nan]``."""
    return _at_rows(steps, values, "steps")


class _Series:
    """Resolves per-step fields to lists of ``length`` values, collecting problems.

    A field naming a column of the timeseries file has the column's cells checked over
    the whole file (numbers, finite, within the field's range of :data:`SERIES_RANGES`),
    whatever the run's steps, and each column once per range; the values of the first
    ``length`` rows are returned. Columns the file does not have are collected in
    ``missing`` (reported together by :func:`_report_missing_columns`). A list given in
    the file must have one value per step of the horizon (``horizon_length``) and, when
    the run uses fewer steps (``--steps``), its later values are checked too, so that a
    file is refused or accepted whatever ``--steps``.
    """

    def __init__(
        self,
        table: pd.DataFrame | None,
        length: int,
        problems: Problems,
        name: str | None,
        horizon_length: int,
    ):
        self.table = table
        self.length = length
        self.horizon_length = horizon_length
        self.problems = problems
        self.name = name
        self.missing: list[tuple[str, str]] = []
        self.checked: set[tuple[str, tuple | None]] = set()

    def __call__(self, value: Any, where: str, field: str) -> Any:
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
                self.missing.append((where, value))
                return value
            return self._column(value, where, SERIES_RANGES[field])
        if is_finite_number(value):
            return [float(value)] * self.length
        if isinstance(value, list) and self.length < self.horizon_length:
            return self._list(value, where, SERIES_RANGES[field])
        return value

    def _list(self, value: list, where: str, bounds: tuple[float, float]) -> list:
        """Check a list of a run shorter than the horizon; return its first ``length`` values.

        The run's values are checked with the backpack; the others here.
        """
        if len(value) != self.horizon_length:
            self.problems.add(
                f"Field '{where}' has {len(value)} values; the horizon needs one per step: "
                f"{self.horizon_length} (whatever --steps)."
            )
            return value
        low, high = bounds
        later = range(self.length, self.horizon_length)
        bad = [
            i
            for i in later
            if isinstance(value[i], bool)
            or not is_finite_number(value[i])
            or not low <= value[i] <= high
        ]
        if bad:
            self.problems.add(
                f"Field '{where}' holds values that are not numbers in {interval(low, high)} "
                f"{_at_steps(bad, [value[i] for i in bad])} (after the run's first "
                f"{self.length} steps)."
            )
        return value[: self.length]

    def _column(self, name: str, where: str, bounds: tuple[float, float]) -> list[float]:
        """Check the column ``name`` over the whole file; return its first ``length`` values."""
        column = self.table[name]
        numbers = pd.to_numeric(column, errors="coerce")
        values = numbers.to_numpy(dtype=float)
        of = f"Column {name!r} of the timeseries file {self.name!r} (field '{where}')"
        if (name, None) not in self.checked:
            self.checked.add((name, None))
            text = np.flatnonzero(numbers.isna() & column.notna())
            if text.size:
                self.problems.add(
                    f"{of} holds text that is not a number "
                    f"{_at_rows(text.tolist(), column.iloc[text].tolist())}."
                )
            empty = np.setdiff1d(np.flatnonzero(column.isna() | ~np.isfinite(values)), text)
            if empty.size:
                self.problems.add(
                    f"{of} has empty or non-finite cells "
                    f"{_at_rows(empty.tolist(), column.iloc[empty].tolist())}; give a number "
                    "in every row."
                )
        if (name, bounds) not in self.checked:
            self.checked.add((name, bounds))
            low, high = bounds
            finite = np.isfinite(values)  # other cells are reported above
            negative = np.flatnonzero(finite & (values < 0) & (low == 0))
            outside = np.flatnonzero(finite & ((values > high) | ((values < low) & (low < 0))))
            if negative.size:
                self.problems.add(
                    f"{of} holds negative values "
                    f"{_at_rows(negative.tolist(), values[negative].tolist())}; energies must "
                    f"be from 0 to {high:g} kWh per step."
                )
            if outside.size:
                unit = "kWh per step" if low == 0 else "EUR/kWh"
                self.problems.add(
                    f"{of} holds values outside {interval(low, high)} {unit} "
                    f"{_at_rows(outside.tolist(), values[outside].tolist())}."
                )
        return values[: self.length].tolist()


def _report_missing_columns(
    series: _Series, table: pd.DataFrame | None, problems: Problems
) -> None:
    """Report the columns that fields name but the timeseries file does not have, briefly.

    A file read as a single column whose name holds ``;`` or a tab is not comma-separated:
    that is said instead of listing every field. Otherwise one field is reported as such,
    and several in one sentence naming the first :data:`LISTED` and how many more.
    """
    missing = series.missing
    if not missing or table is None:
        return
    name = series.name
    header = str(table.columns[0]) if len(table.columns) == 1 else ""
    if ";" in header or "\t" in header:
        shown = header if len(header) <= 60 else f"{header[:57]}..."
        problems.add(
            f"The timeseries file {name!r} has a single column, {shown!r}, so none of the "
            f"{len({c for _, c in missing})} columns the fields name is found; the file must be "
            "comma-separated, with '.' as the decimal mark."
        )
        return
    if len(missing) == 1:
        where, column = missing[0]
        problems.add(
            f"Field '{where}' names the column {column!r}, which the timeseries file {name!r} "
            "does not have."
        )
        return
    listed = ", ".join(f"'{where}' ({column!r})" for where, column in missing[:LISTED])
    more = f" and {len(missing) - LISTED} more" if len(missing) > LISTED else ""
    columns = [repr(str(c)) for c in table.columns]
    found = ", ".join(columns[: 2 * LISTED]) + (
        f", ... ({len(columns)} in all)" if len(columns) > 2 * LISTED else ""
    )
    problems.add(
        f"{len(missing)} fields name columns that the timeseries file {name!r} does not have: "
        f"{listed}{more}. Its columns are {found} (names are matched exactly, spaces included)."
    )


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
        Naming the file, field and value of every problem found; blamed on the command
        line (:data:`~dec.options.COMMAND_LINE`) for ``steps`` out of range and for
        ``load_scale``/``pv_scale`` that take a meter's energies out of range.

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
    ratio = horizon / delta_t
    if not math.isclose(ratio, round(ratio), rel_tol=1e-9):  # as n_steps absorbs noise
        raise InputError(
            f"Field 'horizon' ({horizon:g} h) is not a whole number of steps of 'delta_t' "
            f"({delta_t:g} h): {ratio:.6g} steps.",
            scenario.source,
        )
    length = full_length = n_steps(horizon, delta_t)
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
    series = _Series(table, length, problems, section.get("timeseries"), full_length)
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
        backpack[key] = series(section.get(key), f"{SECTION}.{key}", key)
    meters = section["meters"]
    if not isinstance(meters, Mapping) or not meters:
        raise InputError(
            f"Field '{SECTION}.meters' must be a mapping of meter ids to fields.", scenario.source
        )
    _check_meter_ids(meters, problems)
    backpack["meters"] = {}
    too_large: dict[str, list[tuple[str, float, int]]] = {"e_c": [], "e_g": []}
    for meter_id, meter in meters.items():
        where = f"{SECTION}.meters.{meter_id}"
        if not _usable_id(meter_id):
            continue
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
                record[key] = series(record[key], f"{where}.{key}", key)
        record.setdefault("btm_storage", None)
        scales = {"e_c": load_scale, "e_g": pv_scale}
        backpack["meters"][str(meter_id)] = _scaled(record, str(meter_id), scales, too_large)
    fields = {k: section[k] for k in OPTION_KEYS if k in section}
    if isinstance(fields.get("mechanism"), str):  # crossing-value as on the command line
        fields["mechanism"] = mechanism_name(fields["mechanism"])
    options = with_overrides(RunOptions(**fields), market=market)
    backpack["l_grid"] = _grid(section.get("l_grid"), options.market, backpack["meters"], series)
    _report_missing_columns(series, table, problems)
    problems.raise_if_any()
    _refuse_scaled_energies(too_large, {"e_c": load_scale, "e_g": pv_scale})
    return backpack, options


def _usable_id(meter_id: Any) -> bool:
    """Whether a meter id can name a member: a number or a text with more than blanks."""
    if isinstance(meter_id, str):
        return bool(meter_id.strip())
    return meter_id is not None and not isinstance(meter_id, bool)


def _check_meter_ids(meters: Mapping[Any, Any], problems: Problems) -> None:
    """Report meter ids that name no member (empty, blank, null, true/false) or the same one.

    YAML reads a key ``~`` or ``null`` as no value (it would become the member "None"),
    and an empty id has no setpoint file; ``1`` and ``'1'`` would be the same member.
    """
    for position, meter_id in enumerate(meters, start=1):
        if not _usable_id(meter_id):
            problems.add(
                f"Field '{SECTION}.meters' has a meter whose id is {meter_id!r} (meter number "
                f"{position}); a meter id must be a non-empty text (YAML reads a key ~ or null "
                "as no id)."
            )
    texts = [str(k) for k in meters if _usable_id(k)]
    twice = sorted({t for t in texts if texts.count(t) > 1})
    if twice:
        problems.add(
            f"Field '{SECTION}.meters' names the meter(s) {', '.join(map(repr, twice))} twice (as "
            "different keys with the same text, e.g. 1 and '1'); every meter needs its own id."
        )


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


#: The command-line option that scales each energy field, and what the field is.
SCALE_OPTIONS = {"e_c": ("--load-scale", "consumption"), "e_g": ("--pv-scale", "generation")}


def _scaled(
    meter: dict[str, Any],
    meter_id: str,
    scales: Mapping[str, float],
    too_large: dict[str, list[tuple[str, float, int]]],
) -> dict[str, Any]:
    """Scale a meter's ``e_c`` and ``e_g`` lists (in place); return the meter.

    A meter whose values are within range (:data:`SERIES_RANGES`) but not once scaled is
    added to ``too_large[key]`` as ``(meter id, its largest value, step of it)``: the
    option is at fault, not the file. Values out of range before scaling are the file's,
    reported by the backpack's checks.
    """
    for key, scale in scales.items():
        value = meter.get(key)
        if scale == 1.0 or not isinstance(value, list) or not value:
            continue
        if not all(map(is_finite_number, value)):
            continue
        raw = np.asarray(value, dtype=float)
        with np.errstate(over="ignore"):  # 1e308 × 10 is inf: reported below
            scaled = raw * scale
        meter[key] = scaled.tolist()
        high = SERIES_RANGES[key][1]
        if raw.max() <= high < scaled.max():
            step = int(np.argmax(raw))
            too_large[key].append((meter_id, float(raw[step]), step))
    return meter


def _refuse_scaled_energies(
    too_large: Mapping[str, list[tuple[str, float, int]]], scales: Mapping[str, float]
) -> None:
    """Raise an InputError, blamed on the command line, for energies scaled out of range."""
    problems = Problems(COMMAND_LINE)
    for key, found in too_large.items():
        if not found:
            continue
        option, what = SCALE_OPTIONS[key]
        scale, high = scales[key], SERIES_RANGES[key][1]
        with np.errstate(over="ignore"):
            listed = ", ".join(
                f"{meter} ({value:g} kWh at step {step} becomes {value * scale:g})"
                for meter, value, step in found[:LISTED]
            )
        more = f" and {len(found) - LISTED} more" if len(found) > LISTED else ""
        largest = max(value for _, value, _ in found)
        problems.add(
            f"Option {option} {scale:g} makes the {what} '{key}' of {len(found)} "
            f"meter{'s' * (len(found) != 1)} exceed "
            f"{high:g} kWh per step, the most allowed: {listed}{more}; with this scenario's data "
            f"{option} can be at most {high / largest:.6g}."
        )
    problems.raise_if_any()


def _grid(value: Any, market: str, meters: Mapping[str, Any], series: _Series) -> Any:
    where = f"{SECTION}.l_grid"
    if market != "bilateral":
        return series(value, where, "l_grid")
    ids = list(meters)
    if isinstance(value, Mapping):
        return {
            n: {m: series(v, f"{where}.{n}.{m}", "l_grid") for m, v in (row or {}).items()}
            for n, row in value.items()
        }
    per_step = series(value, where, "l_grid")
    return {n: {m: list(per_step) for m in ids if m != n} for n in ids}


def with_overrides(options: RunOptions, **overrides: Any) -> RunOptions:
    """Return ``options`` with the given (non-None) command-line values."""
    return replace(options, **{k: v for k, v in overrides.items() if v is not None})
