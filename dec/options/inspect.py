"""Options of ``inspect`` (feeder summary): none of its own."""

from __future__ import annotations

import argparse

HELP = "print a feeder summary and draw the feeder coloured by AC voltage"


#: The options of dec.run shared by several modes that this mode uses (argparse dests).
SHARED_OPTIONS = frozenset({"seed", "load_scale", "pv_scale"})


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """``inspect`` has no options of its own."""
