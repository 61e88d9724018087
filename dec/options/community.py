"""Options of ``community`` (energy-community batteries) and its mechanisms."""

from __future__ import annotations

import argparse

from dec.options import local_time, non_empty_text

MECHANISMS = ("none", "low-tech", "mpc", "mpc-distributed")

HELP = (
    "energy-community batteries for collective self-consumption: none, low-tech (rule), "
    "mpc (receding-horizon LP), mpc-distributed (ADMM); --steps: default the rest of the "
    "scenario's period"
)


#: The options of dec.run shared by several modes that this mode uses (argparse dests).
SHARED_OPTIONS = frozenset({"engine", "seed", "max_iter", "horizon", "steps"})


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """Add the options of ``community``."""
    group.add_argument(
        "--sweep-battery",
        type=non_empty_text,
        default=None,
        metavar="KWH,...",
        help="battery capacities per household to sweep, kWh (default: the scenario's batteries)",
    )
    group.add_argument(
        "--mechanisms",
        default=None,
        metavar="NAME,...",
        help=f"mechanisms to run, of {', '.join(MECHANISMS)} or 'all' "
        "(default: the scenario's 'mechanisms')",
    )
    group.add_argument(
        "--start",
        type=local_time,
        default=None,
        metavar="TIMESTAMP",
        help="first step of the run, a timestamp of the scenario's period, e.g. "
        "2016-06-06T00:00 (default: the period's start)",
    )
