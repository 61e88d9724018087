"""Reading the CSV tables of a scenario: pandas, with the checks every reader needs.

pandas renames a column named twice (``Cluster_0``, ``Cluster_0.1``), so a profile
asked for by name would silently be the first of the two; such a header is refused.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from pathlib import Path

import pandas as pd

from dec.errors import InputError


def _reason(err: Exception) -> str:
    """Return why pandas could not read a table, in one line."""
    text = " ".join(str(err).split())
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if ragged is None:
        return text
    columns, line, fields = ragged.groups()
    return (
        f"its line {line} holds {fields} fields, its header names {columns} columns "
        "(one value per column on every line)"
    )


def read_table(path: Path, what: str, source: str | None = None) -> pd.DataFrame:
    """Read a CSV table (optionally compressed) whose columns are named once each.

    Parameters
    ----------
    path
        The CSV file.
    what
        What the file holds (``"load profile"``), named in messages.
    source
        What messages name as the input (default: ``path``).

    Returns
    -------
    pandas.DataFrame
        The table, columns from its header line.

    Raises
    ------
    InputError
        If the file is a directory or cannot be read as a CSV table, or its header names a
        column twice.

    """
    source = str(path) if source is None else source
    name = f"The {what} file" if source == str(path) else f"The {what} file {str(path)!r}"
    if Path(path).is_dir():
        # a folder is no input file to blame: without the caller's scenario file, the
        # command line names the scenario the path came from (a source of None)
        folder = str(Path(path).absolute())
        raise InputError(
            f"The {what} file {folder!r} is a directory, not a file: give the path of a CSV "
            "table, not of a folder.",
            None if source == str(path) else source,
        )
    try:
        frame = pd.read_csv(path)
        header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
    except (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError) as err:
        # pandas's ParserError and EmptyDataError are ValueErrors; a truncated or corrupt
        # compressed file raises EOFError, zlib.error or OSError (BadGzipFile)
        raise InputError(f"{name} is not a readable CSV table: {_reason(err)}.", source) from None
    repeated = sorted(str(name) for name, count in Counter(header).items() if count > 1)
    if repeated:
        raise InputError(
            f"{name} names the column(s) {repeated} more than once; "
            "each column must be named once.",
            source,
        )
    return frame
