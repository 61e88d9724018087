"""Local energy market pricing mechanisms on buy and sell offers (one market session).

An offer is ``{'origin': id, 'amount': kWh, 'value': EUR/kWh}``; sell amounts may
be negative and count by their absolute value. Offers are never modified: the
functions sort copies (sells by ascending value, buys by descending value, ties in
their given order) and walk the cumulative amounts of the two curves.

- Crossing value (pool clearing): the price where the supply and demand curves cross.
- Accepted offers: the offers a pool clearing would (totally or partially) accept.
- MMR (mid-market rate): ``λs + (λb - λs) * divider`` between the lowest buy value λb
  and the highest sell value λs (of all offers, or of the accepted ones when pruned).
- SDR / SDRC (supply and demand ratio, compensated): from the ratio of the total
  sell amount to the total buy amount, with compensation ``(λb - λs) * c``.

When offers cross (λb < λs), MMR and SDR return the crossing value of the same offers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

import numpy as np

from dec.errors import InputError
from dec.validation import is_finite_number

Offer = Mapping[str, Any]
OffersList = Sequence[Offer]

#: Increment used by the crossing-value fallback inside MMR and SDR (as the reference).
FALLBACK_INCREMENT = 0.001


def _check_offers(buys: OffersList, sells: OffersList) -> None:
    """Raise InputError naming every malformed offer."""
    problems = []
    for side, offers in (("buy", buys), ("sell", sells)):
        if not isinstance(offers, Sequence) or isinstance(offers, (str, bytes)):
            problems.append(f"The {side} offers must be a list (found {type(offers).__name__}).")
            continue
        for i, offer in enumerate(offers):
            if not isinstance(offer, Mapping):
                problems.append(f"{side.capitalize()} offer {i} is not a mapping.")
                continue
            for key in ("amount", "value"):
                if not is_finite_number(offer.get(key)):
                    problems.append(
                        f"Field '{key}' of {side} offer {i} (origin {offer.get('origin')!r}) "
                        f"is not a finite number (found {offer.get(key)!r})."
                    )
            if side == "buy" and is_finite_number(offer.get("amount")) and offer["amount"] < 0:
                problems.append(
                    f"Field 'amount' of buy offer {i} (origin {offer.get('origin')!r}) is "
                    f"negative ({offer['amount']!r}); a buy offer asks for energy (kWh >= 0)."
                )
    if problems:
        raise InputError(problems, "offers")


def check_number(value: float, name: str) -> None:
    """Raise InputError unless ``value`` is a finite number."""
    if not is_finite_number(value):
        raise InputError(f"Field '{name}' must be a finite number (found {value!r}).")


def check_flag(value: bool, name: str) -> None:
    """Raise InputError unless ``value`` is true or false."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"Field '{name}' must be true or false (found {value!r}).")


def check_fraction(value: float, name: str) -> None:
    """Raise InputError unless ``value`` is a number in [0, 1]."""
    if not is_finite_number(value) or not 0.0 <= value <= 1.0:
        raise InputError(f"Field '{name}' must be a number between 0 and 1 (found {value!r}).")


def sorted_offers(
    buys: OffersList, sells: OffersList, small_increment: float = 0.0
) -> tuple[list[dict], list[dict]]:
    """Return copies of the offers, buys by descending and sells by ascending value.

    Sell amounts are made positive. ``small_increment`` is added to the sell values
    and subtracted from the buy values used as sort keys (a uniform shift, so it
    cannot change the order; kept for the reference's signature).
    """
    _check_offers(buys, sells)
    check_number(small_increment, "small_increment")
    sells_sorted = sorted(
        ({**o, "amount": abs(o["amount"])} for o in sells),
        key=lambda o: o["value"] + small_increment,
    )
    buys_sorted = sorted(
        (dict(o) for o in buys), key=lambda o: o["value"] - small_increment, reverse=True
    )
    return buys_sorted, sells_sorted


def _cumulative(offers: list[dict]) -> list[float]:
    return list(accumulate(o["amount"] for o in offers))


def compute_crossing_value(
    buys: OffersList, sells: OffersList, small_increment: float = FALLBACK_INCREMENT
) -> float:
    """Clear a pool and return its crossing value, EUR/kWh.

    Walks the sorted offers with a sell pointer s and a buy pointer b, remembering
    the value of the last sell passed: when sell s is not cheaper than buy b, the
    remembered value is the price; otherwise the price is the buy value (and s moves)
    if the cumulative demand exceeds the cumulative supply, else the sell value (and
    b moves). When a side runs out, the last price set is returned. No offers -> 0;
    only buys -> the highest buy value; only sells -> the lowest sell value.
    """
    buyers, sellers = sorted_offers(buys, sells, small_increment)
    if not buyers and not sellers:
        return 0.0
    if not sellers:
        return float(buyers[0]["value"])
    if not buyers:
        return float(sellers[0]["value"])
    cum_b, cum_s = _cumulative(buyers), _cumulative(sellers)
    last_sold = sellers[0]["value"]
    price = None
    s = b = 0
    while s < len(sellers) and b < len(buyers):
        if sellers[s]["value"] >= buyers[b]["value"]:
            price = last_sold
            break
        last_sold = sellers[s]["value"]
        if cum_b[b] > cum_s[s]:
            price = buyers[b]["value"]
            s += 1
        else:
            price = sellers[s]["value"]
            b += 1
    return float(price)


def get_accepted_offers(buys: OffersList, sells: OffersList) -> tuple[list[dict], list[dict]]:
    """Return the buy and sell offers a pool clearing accepts (totally or partially).

    The walk compares cumulative amounts: the side with the smaller cumulative amount
    is accepted and advances (both on a tie) until a sell is dearer than the current
    buy; the offer that completes the last accepted one on the other side is accepted
    too. Either side empty -> nothing is accepted. Returns copies from the sorted
    lists (sell amounts positive).
    """
    buyers, sellers = sorted_offers(buys, sells)
    if not buyers or not sellers:
        return [], []
    cum_b, cum_s = _cumulative(buyers), _cumulative(sellers)
    accepted_b: list[dict] = []
    accepted_s: list[dict] = []
    s = b = 0
    last = "both"
    while s < len(sellers) and b < len(buyers):
        if sellers[s]["value"] > buyers[b]["value"]:
            break
        if cum_b[b] < cum_s[s]:
            accepted_b.append(buyers[b])
            b, last = b + 1, "buy"
        elif cum_s[s] < cum_b[b]:
            accepted_s.append(sellers[s])
            s, last = s + 1, "sell"
        else:
            accepted_b.append(buyers[b])
            accepted_s.append(sellers[s])
            b, s, last = b + 1, s + 1, "both"
    if last == "buy":
        accepted_s.append(sellers[s])
    elif last == "sell":
        accepted_b.append(buyers[b])
    return accepted_b, accepted_s


def do_offers_cross(buys: OffersList, sells: OffersList) -> bool:
    """Return True when some sell offer is dearer than some buy offer (λb < λs)."""
    buyers, sellers = sorted_offers(buys, sells)
    if not buyers or not sellers:
        return False
    return buyers[-1]["value"] < sellers[-1]["value"]


def _one_sided(buyers: list[dict], sellers: list[dict]) -> float | None:
    """Price when a side is empty (None when both sides have offers)."""
    if not sellers and buyers:
        return float(max(o["value"] for o in buyers))
    if not buyers and sellers:
        return float(min(o["value"] for o in sellers))
    if not buyers and not sellers:
        return 0.0
    return None


def compute_mmr(buys: OffersList, sells: OffersList, divider: float = 0.5) -> float:
    """Mid-market rate (intermediate rate for ``divider`` != 0.5), EUR/kWh.

    ``λs + (λb - λs) * divider`` with λb the lowest buy value and λs the highest sell
    value; the crossing value when λb < λs. Only buys -> highest buy value; only
    sells -> lowest sell value; no offers -> 0.
    """
    check_fraction(divider, "divider")
    buyers, sellers = sorted_offers(buys, sells)
    edge = _one_sided(buyers, sellers)
    if edge is not None:
        return edge
    min_buy = buyers[-1]["value"]
    max_sell = sellers[-1]["value"]
    if min_buy < max_sell:
        return compute_crossing_value(buys, sells)
    return float(max_sell + (min_buy - max_sell) * divider)


def compute_sdr(buys: OffersList, sells: OffersList, compensation: float = 0.0) -> float:
    """Supply and demand ratio price (SDRC when ``compensation`` > 0), EUR/kWh.

    With E the total sell amount, D the total buy amount, SDR = E / D and
    ``lc = (λb - λs) * compensation``: SDR >= 1 -> ``λs + lc / SDR``;
    0 <= SDR < 1 -> ``λb (λs + lc) / ((λb - λs - lc) SDR + λs + lc)``; D = 0 (SDR
    infinite) -> 0. Edge cases and the crossing fallback as :func:`compute_mmr`.
    """
    check_fraction(compensation, "compensation")
    buyers, sellers = sorted_offers(buys, sells)
    edge = _one_sided(buyers, sellers)
    if edge is not None:
        return edge
    supply = sum(o["amount"] for o in sellers)
    demand = sum(o["amount"] for o in buyers)
    min_buy = buyers[-1]["value"]
    max_sell = sellers[-1]["value"]
    if min_buy < max_sell:
        return compute_crossing_value(buys, sells)
    l_comp = (min_buy - max_sell) * compensation
    if demand == 0:
        return 0.0
    sdr = supply / demand
    if sdr >= 1:
        return float(max_sell + l_comp / sdr)
    denominator = (min_buy - max_sell - l_comp) * sdr + max_sell + l_comp
    if denominator == 0:
        # the formula has no value: 0/0 (no supply and λs + lc = 0) or, with negative sell
        # values, a pole (λs + lc < 0); return its value at SDR = 0, the lowest buy value
        return float(min_buy)
    return float((min_buy * (max_sell + l_comp)) / denominator)


def compute_pruned_mmr(buys: OffersList, sells: OffersList, divider: float = 0.5) -> float:
    """MMR of the offers a pool clearing accepts (0 when either side is empty)."""
    return compute_pruned_mmr_plus(buys, sells, divider)[0]


def compute_pruned_sdr(buys: OffersList, sells: OffersList, compensation: float = 0.0) -> float:
    """SDR/SDRC of the offers a pool clearing accepts (0 when either side is empty)."""
    return compute_pruned_sdr_plus(buys, sells, compensation)[0]


def compute_pruned_mmr_plus(
    buys: OffersList, sells: OffersList, divider: float = 0.5
) -> tuple[float, list[dict], list[dict]]:
    """Pruned MMR, with the accepted buy and sell offers it was computed from."""
    accepted_b, accepted_s = get_accepted_offers(buys, sells)
    return compute_mmr(accepted_b, accepted_s, divider), accepted_b, accepted_s


def compute_pruned_sdr_plus(
    buys: OffersList, sells: OffersList, compensation: float = 0.0
) -> tuple[float, list[dict], list[dict]]:
    """Pruned SDR/SDRC, with the accepted buy and sell offers it was computed from."""
    accepted_b, accepted_s = get_accepted_offers(buys, sells)
    return compute_sdr(accepted_b, accepted_s, compensation), accepted_b, accepted_s


def stop_criterion(
    old_prices: Sequence[float], new_prices: Sequence[float], tolerance: float = 0.01
) -> tuple[bool, float]:
    """Return (Euclidean distance < ``tolerance``, distance) between two price vectors."""
    distance = float(np.sqrt(np.sum(np.square(np.asarray(old_prices) - np.asarray(new_prices)))))
    return distance < tolerance, distance


def make_offers(
    meters: Mapping[str, Mapping[str, Sequence[float]]],
    nr_sessions: int,
    l_market_buy: Sequence[float],
    l_market_sell: Sequence[float],
) -> tuple[list[list[dict]], list[list[dict]]]:
    """Build every session's offers from the meters' net loads and tariffs.

    Per session a meter with net load ``e_met > 0`` offers to buy ``e_met`` at
    ``min(l_buy, l_market_buy)``; with ``e_met < 0`` it offers to sell ``|e_met|`` at
    ``max(l_sell, l_market_sell)``; zero makes no offer.

    Parameters
    ----------
    meters
        ``{meter_id: {'e_met': kWh per session, 'l_buy': ..., 'l_sell': ...}}``.
    nr_sessions
        Number of sessions (length of every list).
    l_market_buy, l_market_sell
        Market-indexed tariffs per session, EUR/kWh.

    Returns
    -------
    tuple
        Buy offers per session and sell offers per session.

    Raises
    ------
    InputError
        When a list does not have ``nr_sessions`` values (naming meter and key).

    """
    problems = [
        f"Field '{key}' has {len(values)} values; expected {nr_sessions}."
        for key, values in (("l_market_buy", l_market_buy), ("l_market_sell", l_market_sell))
        if len(values) != nr_sessions
    ]
    for meter_id, meter in meters.items():
        for key in ("e_met", "l_buy", "l_sell"):
            if key not in meter:
                problems.append(f"Field '{key}' is missing for meter {meter_id}.")
            elif len(meter[key]) != nr_sessions:
                problems.append(
                    f"Field '{key}' of meter {meter_id} has {len(meter[key])} values; "
                    f"expected {nr_sessions}."
                )
    if problems:
        raise InputError(problems, "meters")
    buys: list[list[dict]] = [[] for _ in range(nr_sessions)]
    sells: list[list[dict]] = [[] for _ in range(nr_sessions)]
    for meter_id, meter in meters.items():
        for t in range(nr_sessions):
            e_met = meter["e_met"][t]
            if e_met > 0:
                value = min(meter["l_buy"][t], l_market_buy[t])
                buys[t].append({"origin": meter_id, "amount": e_met, "value": value})
            elif e_met < 0:
                value = max(meter["l_sell"][t], l_market_sell[t])
                sells[t].append({"origin": meter_id, "amount": abs(e_met), "value": value})
    return buys, sells
