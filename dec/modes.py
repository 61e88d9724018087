"""Registry of run modes.

Each mode is a module with

- ``HELP``: one line describing the mode;
- ``add_arguments(group)``: adds the mode's own options to an argparse group
  (options shared by several modes are defined once in :mod:`dec.run`);
- ``run(scenario, args) -> RunResult``: validates the mode's input, solves, and
  returns the result for the exporter.

Modules are imported lazily, so a mode's dependencies load only when it runs
(``--help`` imports them all to list every option).
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


def load_mode(name: str) -> ModuleType:
    """Import and return the module implementing mode ``name``."""
    return importlib.import_module(MODES[name])
