"""A progress bar on a terminal, silence elsewhere (pipes, CI, tests)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str = "") -> Any:
    """Wrap ``iterable`` (or count to ``total``) in a tqdm bar shown only on a terminal."""
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        disable=not sys.stderr.isatty(),
        leave=False,
        dynamic_ncols=True,
    )
