"""Hourly profile tables: 24 rows (hours 0-23), one column per profile, kWh per hour.

The shipped tables (``inputs/p2p/``, MIT licence) are the K-means cluster
medians of the reference study: residential load (``cluster_medians.csv``) and
the output of a 3 kWp PV system (``cluster_medians_solar.csv``). A value in kWh
per hour is the hour's average power in kW.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dec.csv_input import read_table
from dec.errors import InputError
from dec.validation import MAX_KWH, Problems, interval

HOURS_PER_DAY = 24
HOUR_COLUMN = "Hour"


def read_profiles(path: Path, kind: str) -> pd.DataFrame:
    """Read and validate a profile table.

    Parameters
    ----------
    path
        CSV file with a ``Hour`` column (0..23) and one column per profile.
    kind
        What the profiles are (``"load"``, ``"pv"``), named in messages.

    Returns
    -------
    pandas.DataFrame
        Index: hour 0..23; columns: profile names; values: kW (= kWh per hour), all
        finite, from 0 to ``MAX_KWH``.

    Raises
    ------
    InputError
        Missing or unreadable file, a row count other than 24, hours other than
        0..23, or values that are not finite numbers from 0 to ``MAX_KWH`` (1e6 kWh per
        hour).

    """
    source = str(path)
    if not Path(path).exists():  # a directory: read_table says so
        raise InputError(f"The {kind} profile file does not exist.", source)
    frame = read_table(Path(path), f"{kind} profile", source)
    problems = Problems(source)
    if HOUR_COLUMN not in frame.columns:
        one_column = len(frame.columns) == 1  # no comma in the header: ';'-separated, say
        hint = (
            " The file must be comma-separated, with '.' as the decimal mark." if one_column else ""
        )
        problems.add(
            f"Column '{HOUR_COLUMN}' is missing; found columns {list(frame.columns)}.{hint}"
        )
    elif len(frame) != HOURS_PER_DAY:
        problems.add(
            f"The {kind} profiles must have {HOURS_PER_DAY} hourly rows (hours 0 to 23), "
            f"found {len(frame)}."
        )
    elif frame[HOUR_COLUMN].tolist() != list(range(HOURS_PER_DAY)):
        problems.add(
            f"Column '{HOUR_COLUMN}' must hold the hours 0 to 23 in order, "
            f"found {frame[HOUR_COLUMN].tolist()}."
        )
    problems.raise_if_any()
    values = frame.drop(columns=HOUR_COLUMN).set_index(frame[HOUR_COLUMN].rename("hour"))
    numeric = values.apply(pd.to_numeric, errors="coerce")
    for column in numeric.columns:
        bad = numeric.index[~np.isfinite(numeric[column].to_numpy(dtype=float))].tolist()
        if bad:
            problems.add(
                f"Column {column!r} holds values that are not finite numbers at hours "
                f"{bad[:5]}: {values.loc[bad[:5], column].tolist()}."
            )
            continue
        outside = numeric.index[~numeric[column].between(0, MAX_KWH)].tolist()
        if outside:
            problems.add(
                f"Column {column!r} holds {kind} values outside {interval(0, MAX_KWH)} kWh per "
                f"hour at hours {outside[:5]}: {numeric.loc[outside[:5], column].tolist()}."
            )
    problems.raise_if_any()
    return numeric.astype(float)


def profile(frame: pd.DataFrame, column: str, kind: str, source: str) -> np.ndarray:
    """Return one profile column as a 24-value array, kW.

    Raises
    ------
    InputError
        If the column does not exist.

    """
    if column not in frame.columns:
        raise InputError(
            f"The {kind} profile {column!r} is not a column of the profile table; "
            f"available: {', '.join(map(repr, frame.columns))} (names are matched exactly, "
            "spaces included).",
            source,
        )
    return frame[column].to_numpy(dtype=float)
