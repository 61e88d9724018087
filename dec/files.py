"""Atomic file writing: every output file appears complete or not at all.

Each writer writes to a temporary file in the destination folder and renames it
over the destination (``os.replace`` is atomic on POSIX and Windows), so a crash
or a concurrent reader never sees a half-written file. Files are not fsync'ed:
the rename gives atomicity to readers, and syncing hundreds of setpoint files cost
more than the whole solve; durability across a power loss is not a goal.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np


def _file_mode() -> int:
    """Permissions of a new file under the process umask (mkstemp alone would give 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic(path: Path, write: Callable[[IO], None], mode: str = "w") -> Path:
    path = Path(path)
    if path.is_dir():  # os.replace would name the temporary file instead
        raise IsADirectoryError(f"{str(path)!r} is a directory, not a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            write(handle)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)

    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and non-finite floats to plain JSON values.

    NaN and infinities become ``None`` (JSON has no representation for them).
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def ordered(record: dict[str, Any], first: Iterable[str] = ()) -> dict[str, Any]:
    """Return ``record`` with the keys of ``first`` in that order, then the rest sorted."""
    first = [k for k in first if k in record]
    rest = sorted(k for k in record if k not in first)
    return {k: record[k] for k in [*first, *rest]}


def write_json(path: Path, document: Any, first_keys: Iterable[str] = ()) -> Path:
    """Write ``document`` as UTF-8 JSON atomically, with a stable key order.

    Parameters
    ----------
    path
        Destination file.
    document
        A JSON-compatible structure (numpy values are converted).
    first_keys
        Top-level keys written first, in this order; other keys follow sorted.

    """
    data = to_jsonable(document)
    if isinstance(data, dict):
        data = ordered(data, first_keys)
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return _atomic(path, lambda h: h.write(text))


def write_text(path: Path, text: str) -> Path:
    """Write a text file atomically."""
    return _atomic(path, lambda h: h.write(text))


def write_csv(path: Path, frame: Any, index: bool = False) -> Path:
    """Write a pandas DataFrame as CSV atomically."""
    return _atomic(path, lambda h: frame.to_csv(h, index=index, lineterminator="\n"))


def write_figures(figures: dict[Path, Callable[[], Any]]) -> set[Path]:
    """Draw every figure and save it as PNG atomically; return the paths written.

    ``figures`` maps a path to a function that draws its matplotlib figure. Drawing and
    rasterising a figure takes 0.15–0.3 s, a large share of a short run, so on a Linux
    machine with several cores, forked children draw all figures but this process's
    share (up to two per core; the children inherit the data, so nothing is pickled).
    A process running other Python threads does not fork. Figures a child did not write
    are drawn again here, which raises the error if there is one.
    """
    items = list(figures.items())
    n_parts = max(1, min(len(items), 2 * (os.cpu_count() or 1))) if _can_fork() else 1
    children = {}
    for part in range(1, n_parts):
        pid = os.fork()
        if pid == 0:  # the child: write its part and leave without running exit handlers
            code = 1
            with contextlib.suppress(BaseException):
                for path, draw in items[part::n_parts]:
                    write_figure(path, draw())
                code = 0
            os._exit(code)
        children[pid] = items[part::n_parts]
    try:
        for path, draw in items[::n_parts]:
            write_figure(path, draw())
    finally:  # also when this process's share failed: no child outlives the call
        failed = [part for pid, part in children.items() if not _child_succeeded(pid)]
    for part in failed:
        for path, draw in part:
            write_figure(path, draw())
    return {path for path, _ in items}


def _can_fork() -> bool:
    """Whether drawing may fork: Linux, several cores, no Python thread but this one."""
    import threading

    several_cores = (os.cpu_count() or 1) > 1
    return sys.platform.startswith("linux") and several_cores and threading.active_count() == 1


def _child_succeeded(pid: int) -> bool:
    """Wait for a forked child and tell whether it exited with code 0."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): its outcome is unknown
        return False
    return os.waitstatus_to_exitcode(status) == 0


def write_figure(path: Path, figure: Any, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        return _atomic(path, lambda h: figure.savefig(h, format="png", dpi=dpi), mode="wb")
    finally:
        plt.close(figure)
