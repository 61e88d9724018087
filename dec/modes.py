"""Registry of run modes.

Each mode has

- an options module ``dec.options.<mode>`` (``-`` as ``_``) with ``HELP``, one line
  describing the mode, and ``add_arguments(group)``, which adds the mode's own options to
  an argparse group (options shared by several modes are defined once in
  :mod:`dec.run`); it imports nothing of the mode, so the parser builds fast;
- a module with ``run(scenario, args) -> RunResult``, which validates the mode's input,
  solves, and returns the result for the exporter. It is imported only when the mode
  runs, so a mode's dependencies load only then.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODES: dict[str, str] = {
    "community": "dec.community.mode",
    "curtail": "dec.curtail.mode",
    "inspect": "dec.inspect",
    "p2p": "dec.p2p.mode",
    "rec-keys": "dec.reckeys.mode",
    "rec-pricing": "dec.rec.mode",
}

DEFAULT_MODE = "curtail"


def load_options(name: str) -> ModuleType:
    """Import and return the options module of mode ``name``."""
    return importlib.import_module(f"dec.options.{name.replace('-', '_')}")


def load_mode(name: str) -> ModuleType:
    """Import and return the module implementing mode ``name``."""
    return importlib.import_module(MODES[name])
