"""Options of ``curtail`` (fair PV curtailment) and its fairness schemes."""

from __future__ import annotations

import argparse

from dec.options import number_from, tolerance, whole_number

SCHEMES = ("feeder", "transformer", "equal-kw", "efficient", "proportional")

#: Defaults of the ADMM options (see the README on why the tolerances are tight).
EPS_ABS = 1e-10
EPS_REL = 1e-9
ANDERSON_MEMORY = 5

#: Range of the voltage limits (``--vmax``, ``vmax_pu``, ``vmin_pu``), pu.
VOLTAGE_LIMIT_RANGE_PU = (0.5, 1.5)

HELP = "fair PV curtailment (and reactive power) that removes over-voltage"


#: The options of dec.run shared by several modes that this mode uses (argparse dests).
SHARED_OPTIONS = frozenset(
    {"solver", "engine", "seed", "load_scale", "pv_scale", "max_iter", "steps"}
)


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """Options of the curtailment mode."""
    group.add_argument(
        "--fairness",
        choices=SCHEMES,
        default=None,
        help="how curtailment is shared: one fraction for all (feeder), per service "
        "transformer, equal kW, least total kW (efficient), or proportional fairness "
        "(default: the scenario file's curtail.fairness, else feeder)",
    )
    group.add_argument(
        "--compare-fairness",
        action="store_true",
        help="also run every fairness scheme and write the price-of-fairness table and plot",
    )
    group.add_argument(
        "--reactive",
        action="store_true",
        help="let inverters absorb reactive power within their kVA rating before curtailing",
    )
    group.add_argument(
        "--day",
        action="store_true",
        help="run the 96 quarter hours of a day (GridAPPS-D case A shapes) from --first-step; "
        "--steps N runs N of them; --load-scale/--pv-scale then multiply the shapes",
    )
    group.add_argument(
        "--first-step", type=int, default=0, help="first quarter hour of a time series"
    )
    group.add_argument(
        "--vmax",
        type=number_from(*VOLTAGE_LIMIT_RANGE_PU),
        default=None,
        help="upper voltage limit, pu, from 0.5 to 1.5 (default: the scenario file's "
        "curtail.vmax_pu, else the feeder's, 1.05)",
    )
    group.add_argument(
        "--eps-abs",
        type=tolerance,
        default=EPS_ABS,
        help="ADMM absolute tolerance (curtail)",
    )
    group.add_argument(
        "--eps-rel",
        type=tolerance,
        default=EPS_REL,
        help="ADMM relative tolerance (curtail)",
    )
    group.add_argument(
        "--anderson",
        type=whole_number,
        default=ANDERSON_MEMORY,
        help="memory of the Anderson acceleration of the ADMM rounds (curtail; 0: plain ADMM)",
    )
