"""Options of ``p2p`` (peer-to-peer trading) and the markets, pricing rules and bidding strategies."""

from __future__ import annotations

import argparse

from dec.options import number_from
from dec.validation import MAX_EUR_PER_KWH

MARKETS = ("auction", "admm")
PRICING_RULES = ("uniform", "discriminatory", "pay_as_ask")
BIDDING_STRATEGIES = ("fixed", "valuation")
#: Ranges of the settings that options override, the same in the scenario's p2p section:
#: the bid weight k, the PV penetration (a share of the leaf buses) and the network
#: charge (EUR per kWh and km of path).
K_RANGE = (0.0, 1.0)
PENETRATION_RANGE = (0.0, 1.0)
NETWORK_CHARGE_RANGE = (0.0, MAX_EUR_PER_KWH)

HELP = (
    "peer-to-peer trades per hour (double auction or bilateral ADMM market), checked against "
    "the network with a DC PTDF LP and the AC power flow; 24 hourly blocks by default "
    "(--steps N: the first N), --solver applies to the ADMM market"
)


#: The options of dec.run shared by several modes that this mode uses (argparse dests).
SHARED_OPTIONS = frozenset(
    {"solver", "engine", "seed", "load_scale", "pv_scale", "max_iter", "steps"}
)


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """Add the p2p options; each overrides the scenario's p2p section when given."""
    unset = argparse.SUPPRESS  # absent unless given: the scenario's value (or the default) holds
    group.add_argument(
        "--market",
        choices=MARKETS,
        default=unset,
        help="market: double auction or bilateral ADMM market (default: the scenario's, else auction)",
    )
    group.add_argument(
        "--bidding",
        choices=BIDDING_STRATEGIES,
        default=unset,
        help="bidding strategy: fixed retail/feed-in prices or seeded private values "
        "(default: the scenario's, else fixed)",
    )
    group.add_argument(
        "--auction-pricing",
        choices=[r.replace("_", "-") for r in PRICING_RULES],
        default=unset,
        help="pricing rule of the double auction (default: the scenario's, else uniform; the "
        "published cases use pay-as-ask)",
    )
    group.add_argument(
        "--auction-k",
        type=number_from(*K_RANGE),
        default=unset,
        help="bid weight k of the uniform price k*bid + (1-k)*ask, from 0 to 1 (default: 0.5)",
    )
    group.add_argument(
        "--pv-penetration",
        type=number_from(*PENETRATION_RANGE),
        default=unset,
        help="place households on every leaf bus and PV units on this share of them, from 0 to 1 "
        "(seeded by --seed), e.g. 0.1, 0.3, 0.5 (default: not set, the scenario's placement)",
    )
    group.add_argument(
        "--p2p-network-charge",
        type=number_from(*NETWORK_CHARGE_RANGE),
        default=unset,
        help="network usage charge of the ADMM market, EUR per kWh and km of path, from 0 to "
        f"{NETWORK_CHARGE_RANGE[1]:g} (default: 0)",
    )
