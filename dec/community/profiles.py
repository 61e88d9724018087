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


def _parse_times(raw: pd.Series, path: Path) -> pd.DatetimeIndex:
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
            f"first at data row {row + 1}: {raw.iloc[row]!r}.",
            str(path),
        )
    return pd.DatetimeIndex(times)


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
        step_min = step / 6e10
        missing = steps[where] / step - 1
        raise InputError(
            f"Column '{TIME_COLUMN}' is not evenly spaced at {step_min:g} min: timestamps are "
            f"missing between {times[where]:%Y-%m-%dT%H:%M} and {times[where + 1]:%Y-%m-%dT%H:%M} "
            f"({missing:g} steps) and at {gaps.size - 1} further place(s).",
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
    times = _parse_times(frame[TIME_COLUMN], path)
    step_h = check_even_spacing(times, str(path))
    columns = {}
    problems = []
    for name in frame.columns.drop(TIME_COLUMN):
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            problems.append(
                f"Column '{name}' holds a value that is not a finite number at data row "
                f"{row + 1} ({times[row]:%Y-%m-%dT%H:%M})."
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
