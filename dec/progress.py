"""A progress bar on a terminal, silence elsewhere (pipes, CI, tests)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


class _Bar(tqdm):
    """tqdm drawn by the driving process only, so under a thread lock.

    tqdm's default lock also holds a multiprocessing lock: a named semaphore, which
    starts the resource-tracker process and must be released at interpreter exit.
    Nor does it start tqdm's monitor thread (which only shortens the refresh interval
    of a stalled bar): a process with one thread can fork (see ``dec.files``).
    """

    monitor_interval = 0


_Bar.set_lock(threading.RLock())


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str = "") -> Any:
    """Wrap ``iterable`` (or count to ``total``) in a tqdm bar shown only on a terminal."""
    return _Bar(
        iterable,
        total=total,
        desc=desc,
        disable=not sys.stderr.isatty(),
        leave=False,
        dynamic_ncols=True,
    )
