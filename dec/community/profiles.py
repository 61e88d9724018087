"""Profile files of a community: reading, timestamp checks and member series.

A profile file is a CSV (optionally gzip-compressed) with a ``time`` column of ISO
timestamps, evenly spaced, and one column per profile. The shipped sample
(``inputs/community/profiles_simbench_2016.csv.gz``) holds household loads in kW for a
household using 1,000 kWh over the file's year and PV output in kW per kWp.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dec.csv_input import read_table
from dec.errors import InputError
from dec.validation import shown

TIME_COLUMN = "time"


@dataclass(frozen=True)
class ProfileTable:
    """One profile file: evenly spaced timestamps and its columns.

    Attributes
    ----------
    path
        File the table was read from.
    times
        Timestamps, evenly spaced by ``time_step_h``.
    columns
        Values by column name, each of ``len(times)`` values.
    time_step_h
        Step between consecutive timestamps, h.

    """

    path: Path
    times: pd.DatetimeIndex
    columns: dict[str, np.ndarray]
    time_step_h: float


def _as_found(path: Path, column: int, row: int) -> str:
    """Return the end of a message showing a cell as the file has it.

    That is ``: 'abc'``, or ``, which is empty`` for a blank cell. pandas reads a blank cell
    and the text ``NaN`` alike; the column (by position) is read again as text, only when a
    message needs it, to tell them apart.
    """
    text = pd.read_csv(path, usecols=[column], dtype=str, keep_default_na=False).iloc[row, 0]
    return f": {shown(text)}" if isinstance(text, str) and text.strip() else ", which is empty"


def _parse_times(raw: pd.Series, column: int, path: Path) -> pd.DatetimeIndex:
    offsets = raw.astype(str).str.contains(r"(?:[+-]\d\d:?\d\d|Z)$", regex=True)
    if offsets.any():
        row = int(np.flatnonzero(offsets.to_numpy())[0])
        raise InputError(
            f"Column '{TIME_COLUMN}' holds timestamps with a UTC offset, the first at data row "
            f"{row + 1}: {raw.iloc[row]!r}. Give wall-clock times without offsets, evenly "
            "spaced (e.g. local standard time or UTC all year): the tariff's off-peak window "
            "and the period are read on that clock.",
            str(path),
        )
    times = pd.to_datetime(raw, errors="coerce", format="ISO8601")
    bad = np.flatnonzero(times.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"Column '{TIME_COLUMN}' holds {bad.size} value(s) that are not timestamps, the "
            f"first at data row {row + 1}{_as_found(path, column, row)}.",
            str(path),
        )
    return pd.DatetimeIndex(times)


def _count(n: float, thing: str) -> str:
    """Return ``1 timestamp``, ``2 timestamps``."""
    return f"{n:g} {thing}{'' if n == 1 else 's'}"


def check_even_spacing(times: pd.DatetimeIndex, source: str) -> float:
    """Return the step of evenly spaced timestamps, h.

    Raises
    ------
    InputError
        If there are fewer than two timestamps, if they do not increase, or if some are
        missing (a gap larger than the step of the first two).

    """
    if len(times) < 2:
        raise InputError(f"Column '{TIME_COLUMN}' needs at least two timestamps.", source)
    steps = np.diff(times.asi8)
    step = steps[0]
    if step <= 0 or (steps <= 0).any():
        where = int(np.flatnonzero(steps <= 0)[0])
        raise InputError(
            f"Column '{TIME_COLUMN}' does not increase strictly: {times[where]} is followed by "
            f"{times[where + 1]}.",
            source,
        )
    gaps = np.flatnonzero(steps != step)
    if gaps.size:
        where = int(gaps[0])
        first, then = f"{times[where]:%Y-%m-%dT%H:%M}", f"{times[where + 1]:%Y-%m-%dT%H:%M}"
        missing = steps[where] / step - 1
        if missing >= 1 and float(missing).is_integer():
            verb = "is" if missing == 1 else "are"
            what = f"{_count(missing, 'timestamp')} {verb} missing between {first} and {then}"
        else:  # not a whole number of steps apart
            what = f"{first} is followed by {then}, {steps[where] / 6e10:g} min later"
        more = gaps.size - 1
        raise InputError(
            f"Column '{TIME_COLUMN}' is not evenly spaced at {step / 6e10:g} min: {what}"
            + (f", and the spacing differs at {_count(more, 'further place')}." if more else "."),
            source,
        )
    return step / 3.6e12


def read_profile_table(path: Path) -> ProfileTable:
    """Read and check a profile file.

    Parameters
    ----------
    path
        CSV or CSV.gz file with a ``time`` column and numeric profile columns.

    Raises
    ------
    InputError
        Missing or unreadable file, no ``time`` column, bad or missing timestamps,
        non-numeric or non-finite values.

    """
    if not path.exists():  # a directory: read_table says so
        raise InputError(f"The profile file {str(path)!r} does not exist.")
    frame = read_table(path, "profile")
    if TIME_COLUMN not in frame.columns:
        raise InputError(
            f"The profile file has no '{TIME_COLUMN}' column (found: "
            f"{', '.join(map(str, frame.columns))}).",
            str(path),
        )
    times = _parse_times(frame[TIME_COLUMN], frame.columns.get_loc(TIME_COLUMN), path)
    step_h = check_even_spacing(times, str(path))
    columns = {}
    problems = []
    for name in frame.columns.drop(TIME_COLUMN):
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            row = int(bad[0])
            problems.append(
                f"Column '{name}' holds {bad.size} value(s) that are not finite numbers, the "
                f"first at data row {row + 1} ({times[row]:%Y-%m-%dT%H:%M})"
                f"{_as_found(path, frame.columns.get_loc(name), row)}."
            )
        columns[str(name)] = values
    if problems:
        raise InputError(problems, str(path))
    return ProfileTable(path=path, times=times, columns=columns, time_step_h=step_h)


def member_load_kw(
    table: ProfileTable, column: str, annual_kwh: float, shift_days: int, reference_kwh: float
) -> np.ndarray:
    """Return a member's load, kW: a profile column scaled and shifted by whole days.

    Parameters
    ----------
    table
        The profile file.
    column
        Profile column (kW for a household using ``reference_kwh`` over the file).
    annual_kwh
        The member's consumption over the file, kWh.
    shift_days
        Rotation of the column by whole days (the last days move to the front); a
        multiple of 7 keeps weekdays aligned.
    reference_kwh
        Consumption the columns are normalised to, kWh.

    """
    steps_per_day = round(24 / table.time_step_h)
    values = table.columns[column] * (annual_kwh / reference_kwh)
    return np.roll(values, shift_days * steps_per_day)
