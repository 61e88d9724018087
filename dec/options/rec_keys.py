"""Options of ``rec-keys`` (REC control with repartition keys)."""

from __future__ import annotations

import argparse

HELP = (
    "battery actions and repartition keys of a renewable energy community, by receding-"
    "horizon policies (--policy optimal|look-ahead|look-ahead-billing|look-ahead-decoupling|"
    "distributed, --horizon K steps; defaults: the scenario's policy and horizon_steps, else "
    "look-ahead-billing and one day of steps; --steps N simulates the first N steps)"
)


#: The options of dec.run shared by several modes that this mode uses (argparse dests).
SHARED_OPTIONS = frozenset({"engine", "max_iter", "horizon", "policy", "steps"})


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """Add ``--sweep``."""
    group.add_argument(
        "--sweep",
        metavar="K1,K2,...",
        default=None,
        help="run every policy for each horizon K (steps) and write sweep.csv instead of a "
        "single run",
    )
