"""Options of ``rec-pricing`` (LEM prices of a REC) and its pricing mechanisms."""

from __future__ import annotations

import argparse

from dec.options import number_from, open_fraction, positive_number

#: The pricing mechanisms as rec_op_lem_prices names them (in summary.json and the API).
MECHANISMS = ("mmr", "sdr", "crossing_value", "dual")
#: Relative optimality tolerance of the mode's MILPs: rec_op_lem_prices's (CBC's MIPGAP).
#: The compatibility functions of :mod:`dec.rec` use the tighter dec.rec.solve.MIP_REL_GAP.
MODE_MIP_REL_GAP = 1e-3
#: HiGHS time limit per MILP of the mode, s: a run on degenerate prices (a free market
#: price, say) cannot run unbounded; it stops with a clear message instead.
MODE_TIME_LIMIT_S = 120.0

HELP = (
    "local energy market prices and the two-stage schedule of a renewable energy community "
    "(rec_op_lem_prices compatible); reads the scenario's 'rec_pricing' section"
)


def mechanism_name(text: str) -> str:
    """Return the name in :data:`MECHANISMS` that ``text`` spells with hyphens, else ``text``.

    ``crossing-value`` (the command line's spelling, like ``equal-kw`` and ``pay-as-ask``)
    and ``crossing_value`` (rec_op_lem_prices's) both give ``crossing_value``.
    """
    name = text.replace("-", "_")
    return name if name in MECHANISMS else text


def _hyphenated(text: str) -> str:
    """Return a ``--lem-mechanism`` value spelt as its choices are (with hyphens)."""
    return text.replace("_", "-") if text in MECHANISMS else text


#: The options of dec.run shared by several modes that this mode uses (argparse dests).
SHARED_OPTIONS = frozenset({"engine", "load_scale", "pv_scale", "max_iter", "steps"})


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """Add the mode's own options (each defaults to the scenario file's value)."""
    group.add_argument(
        "--lem-timeframe",
        choices=["pre", "post"],
        default=None,
        help="pre-delivery iterative loop (forecasts, batteries scheduled) or post-delivery "
        "settlement of measured data; default: the scenario's, else pre",
    )
    group.add_argument(
        "--lem-market",
        choices=["pool", "bilateral"],
        default=None,
        help="market structure; default: the scenario's, else pool",
    )
    group.add_argument(
        "--lem-mechanism",
        type=_hyphenated,
        choices=[_hyphenated(name) for name in MECHANISMS],
        default=None,
        help="pricing mechanism (crossing_value is accepted too); default: the scenario's, "
        "else mmr",
    )
    group.add_argument(
        "--lem-unpruned",
        action="store_true",
        help="MMR/SDR on all offers instead of those a pool clearing accepts",
    )
    group.add_argument(
        "--lem-divider",
        type=number_from(0.0, 1.0),
        default=None,
        help="MMR divider in [0, 1]; default 0.5",
    )
    group.add_argument(
        "--lem-compensation",
        type=number_from(0.0, 1.0),
        default=None,
        help="SDR compensation in [0, 1] (> 0: SDRC); default 0",
    )
    group.add_argument(
        "--lem-mip-gap",
        type=open_fraction,
        default=None,
        help="relative optimality tolerance of the MILPs; default "
        f"{MODE_MIP_REL_GAP:g}, the reference's (CBC's) own",
    )
    group.add_argument(
        "--lem-time-limit",
        type=positive_number,
        default=None,
        help=f"time limit per MILP solve in seconds, default {MODE_TIME_LIMIT_S:g}; a pre-delivery "
        "loop stopped by it after its first iteration keeps its best iteration, any other "
        "MILP stopped by it ends the run; either way the run exits 3",
    )
