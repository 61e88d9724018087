"""Pricing mechanisms of dec.rec: every edge case of the issue, values checked by hand.

Offers are {'origin', 'amount' (kWh), 'value' (EUR/kWh)}; sell amounts may be negative.
"""

from __future__ import annotations

import copy

import pytest

import dec.rec as rec
from dec.rec import (
    accepted_offers,
    vanilla_crossing_value,
    vanilla_crossing_value_plus,
    vanilla_mmr,
    vanilla_mmr_plus,
    vanilla_sdr,
    vanilla_sdr_plus,
)
from dec.rec.pricing_mechanisms.helpers.pricing_helpers import make_offers
from dec.rec.pricing_mechanisms.module.PricingMechanisms import (
    compute_crossing_value,
    compute_mmr,
    compute_pruned_mmr,
    compute_pruned_sdr,
    compute_sdr,
    do_offers_cross,
    get_accepted_offers,
    stop_criterion,
)


def buy(origin, amount, value):
    return {"origin": origin, "amount": amount, "value": value}


def sell(origin, amount, value):
    return {"origin": origin, "amount": -amount, "value": value}


# Demand curve (descending): 0.30 for 2 kWh, 0.25 for 2 kWh (cum 4), 0.12 for 2 kWh (cum 6)
BUYS = [buy("b1", 2, 0.30), buy("b3", 2, 0.12), buy("b2", 2, 0.25)]
# Supply curve (ascending): 0.05 for 3 kWh, 0.10 for 2 kWh (cum 5), 0.20 for 3 kWh (cum 8)
SELLS = [sell("s3", 3, 0.20), sell("s1", 3, 0.05), sell("s2", 2, 0.10)]


# --- crossing value --------------------------------------------------------------------------


def test_crossing_value_edge_cases():
    assert compute_crossing_value([], []) == 0  # no offers
    assert compute_crossing_value(BUYS, []) == 0.30  # only buyers: highest buy value
    assert compute_crossing_value([], SELLS) == 0.05  # only sellers: lowest sell value


def test_crossing_value_walk():
    # cumB = 2, 4, 6 (0.30, 0.25, 0.12); cumS = 3, 5, 8 (0.05, 0.10, 0.20)
    # s0 b0: 0.05 < 0.30, last=0.05, cumB 2 > cumS 3? no -> price 0.05, b=1
    # s0 b1: 0.05 < 0.25, last=0.05, 4 > 3 -> price 0.25, s=1
    # s1 b1: 0.10 < 0.25, last=0.10, 4 > 5? no -> price 0.10, b=2
    # s1 b2: 0.10 < 0.12, last=0.10, 6 > 5 -> price 0.12, s=2
    # s2 b2: 0.20 >= 0.12 -> return last = 0.10
    assert vanilla_crossing_value(BUYS, SELLS) == pytest.approx(0.10, abs=1e-12)
    # the increment shifts every sort key alike, so it cannot change the result
    assert compute_crossing_value(BUYS, SELLS, small_increment=0.05) == pytest.approx(0.10)


def test_crossing_value_when_a_side_runs_out():
    # one buyer of 5 kWh at 0.3, sellers 1 kWh at 0.1 and 1 kWh at 0.2 (cum 1, 2):
    # s0: 0.1 < 0.3, last 0.1, 5 > 1 -> price 0.3, s=1; s1: 0.2 < 0.3, 5 > 2 -> price 0.3,
    # s=2: sellers exhausted -> the last price set, 0.3
    offers = ([buy("b", 5, 0.3)], [sell("s1", 1, 0.1), sell("s2", 1, 0.2)])
    assert compute_crossing_value(*offers) == 0.3


# --- accepted offers -------------------------------------------------------------------------


def test_accepted_offers_walk_and_completion():
    # cumB 2, 4, 6 vs cumS 3, 5, 8:
    # b0 (2 < 3) accepted; s0 (3 < 4) accepted; b1 (4 < 5) accepted; s1 (5 < 6) accepted;
    # s2 (0.20) > b2 (0.12): stop; the last step accepted a sell -> also the current buy b2
    buys, sells = accepted_offers(BUYS, SELLS)
    assert [o["origin"] for o in buys] == ["b1", "b2", "b3"]
    assert [o["origin"] for o in sells] == ["s1", "s2"]
    # returned from the sorted lists, with their own (positive) amounts
    assert [o["amount"] for o in sells] == [3, 2]
    assert [o["amount"] for o in buys] == [2, 2, 2]


def test_accepted_offers_tie_accepts_both_and_empty_side():
    offers = ([buy("b", 2, 0.3)], [sell("s", 2, 0.1), sell("t", 1, 0.2)])
    buys, sells = get_accepted_offers(*offers)
    # equal cumulative amounts (2 = 2): both accepted, both advance, the walk ends
    assert [o["origin"] for o in buys] == ["b"]
    assert [o["origin"] for o in sells] == ["s"]
    assert get_accepted_offers(BUYS, []) == ([], [])
    assert get_accepted_offers([], SELLS) == ([], [])


def test_offers_are_never_modified():
    buys, sells = copy.deepcopy(BUYS), copy.deepcopy(SELLS)
    for fn in (
        compute_crossing_value,
        compute_mmr,
        compute_sdr,
        compute_pruned_mmr,
        compute_pruned_sdr,
        get_accepted_offers,
        do_offers_cross,
    ):
        fn(buys, sells)
    assert buys == BUYS and sells == SELLS


# --- MMR ---------------------------------------------------------------------------------------


def test_mmr_edge_cases():
    assert compute_mmr(BUYS, []) == 0.30  # only buyers -> highest buy value
    assert compute_mmr([], SELLS) == 0.05  # only sellers -> lowest sell value
    assert compute_mmr([], []) == 0
    # pruned: nothing is accepted when a side is empty -> 0
    assert compute_pruned_mmr(BUYS, []) == 0
    assert compute_pruned_mmr([], SELLS) == 0


def test_mmr_without_crossing():
    offers = ([buy("b1", 1, 0.30), buy("b2", 1, 0.20)], [sell("s1", 1, 0.05), sell("s2", 1, 0.10)])
    # lambda_b = 0.20, lambda_s = 0.10: 0.10 + (0.20 - 0.10) * 0.5 = 0.15
    assert vanilla_mmr(*offers, pruned=False) == pytest.approx(0.15)
    # divider 0.25: 0.10 + 0.10 * 0.25 = 0.125
    assert vanilla_mmr(*offers, pruned=False, divider=0.25) == pytest.approx(0.125)


def test_mmr_crossing_falls_back_to_crossing_value():
    # all offers: lambda_b = 0.12 < lambda_s = 0.20 -> crossing value 0.10 (walk above)
    assert vanilla_mmr(BUYS, SELLS, pruned=False) == pytest.approx(0.10)
    # pruned: accepted buys 0.30, 0.25, 0.12 and sells 0.05, 0.10: lambda_b 0.12 >= 0.10,
    # so 0.10 + (0.12 - 0.10) * 0.5 = 0.11
    assert vanilla_mmr(BUYS, SELLS) == pytest.approx(0.11)
    price, buys, sells = vanilla_mmr_plus(BUYS, SELLS)
    assert price == pytest.approx(0.11) and len(buys) == 3 and len(sells) == 2


def test_mmr_rejects_divider_outside_unit_interval():
    with pytest.raises(ValueError, match="divider"):
        compute_mmr(BUYS, SELLS, divider=1.5)


# --- SDR / SDRC --------------------------------------------------------------------------------


def test_sdr_supply_exceeds_demand():
    offers = ([buy("b", 2, 0.30)], [sell("s1", 2, 0.05), sell("s2", 2, 0.10)])
    # E = 4, D = 2, SDR = 2 >= 1: lambda_s + lc / SDR; lc = (0.30 - 0.10) * c
    assert compute_sdr(*offers) == pytest.approx(0.10)
    assert compute_sdr(*offers, compensation=0.5) == pytest.approx(0.10 + 0.10 / 2)


def test_sdr_demand_exceeds_supply():
    offers = ([buy("b1", 3, 0.30), buy("b2", 1, 0.20)], [sell("s", 2, 0.10)])
    # E = 2, D = 4, SDR = 0.5; lambda_b = 0.20, lambda_s = 0.10
    # c = 0: 0.20 * 0.10 / ((0.20 - 0.10) * 0.5 + 0.10) = 0.02 / 0.15
    assert vanilla_sdr(*offers, pruned=False) == pytest.approx(0.02 / 0.15)
    # SDRC c = 0.5: lc = 0.05 -> 0.20 * 0.15 / ((0.20 - 0.15) * 0.5 + 0.15) = 0.03 / 0.175
    assert vanilla_sdr(*offers, pruned=False, compensation=0.5) == pytest.approx(0.03 / 0.175)


def test_sdr_edge_cases():
    assert compute_sdr(BUYS, []) == 0.30
    assert compute_sdr([], SELLS) == 0.05
    assert compute_sdr([], []) == 0
    assert compute_pruned_sdr(BUYS, []) == 0
    # infinite SDR (no demand amount) -> 0
    assert compute_sdr([buy("b", 0, 0.3)], [sell("s", 1, 0.1)]) == 0
    # crossing offers -> crossing value
    assert compute_sdr(BUYS, SELLS) == pytest.approx(0.10)
    # pruned SDR of the accepted offers: E = 5, D = 6, SDR = 5/6, lambda_b 0.12, lambda_s 0.10
    expected = 0.12 * 0.10 / ((0.12 - 0.10) * 5 / 6 + 0.10)
    price, buys, sells = vanilla_sdr_plus(BUYS, SELLS)
    assert price == pytest.approx(expected)
    assert (len(buys), len(sells)) == (3, 2)


def test_crossing_value_plus_returns_accepted_offers():
    price, buys, sells = vanilla_crossing_value_plus(BUYS, SELLS)
    assert price == pytest.approx(0.10)
    assert [o["origin"] for o in buys] == ["b1", "b2", "b3"]
    assert [o["origin"] for o in sells] == ["s1", "s2"]


def test_do_offers_cross():
    assert do_offers_cross(BUYS, SELLS)  # 0.12 < 0.20
    assert not do_offers_cross([buy("b", 1, 0.3)], [sell("s", 1, 0.1)])
    assert not do_offers_cross([], [])


# --- offers and stopping -------------------------------------------------------------------------


def test_make_offers():
    meters = {
        "m1": {
            "e_met": [1.5, -0.5, 0.0],
            "l_buy": [0.20, 0.20, 0.20],
            "l_sell": [0.05, 0.04, 0.05],
        },
        "m2": {
            "e_met": [-1.0, 2.0, 0.0],
            "l_buy": [0.10, 0.30, 0.20],
            "l_sell": [0.02, 0.05, 0.05],
        },
    }
    buys, sells = make_offers(meters, 3, [0.15, 0.25, 0.2], [0.03, 0.06, 0.0])
    # buy at min(l_buy, l_market_buy); sell |e_met| at max(l_sell, l_market_sell)
    assert buys == [[buy("m1", 1.5, 0.15)], [buy("m2", 2.0, 0.25)], []]
    assert sells == [
        [{"origin": "m2", "amount": 1.0, "value": 0.03}],
        [{"origin": "m1", "amount": 0.5, "value": 0.06}],
        [],
    ]


def test_make_offers_names_meter_and_key_of_a_wrong_length():
    meters = {"m1": {"e_met": [1.0], "l_buy": [0.2, 0.2], "l_sell": [0.05, 0.05]}}
    with pytest.raises(ValueError, match="'e_met' of meter m1 has 1 values; expected 2"):
        make_offers(meters, 2, [0.2, 0.2], [0.0, 0.0])


def test_stop_criterion():
    # distance between (0, 0) and (0.003, 0.004) is 0.005 < 0.01
    stop, distance = stop_criterion([0.0, 0.0], [0.003, 0.004])
    assert stop and distance == pytest.approx(0.005)
    stop, distance = stop_criterion([0.0, 0.0], [0.03, 0.04])
    assert not stop and distance == pytest.approx(0.05)


def test_malformed_offer_is_reported():
    with pytest.raises(ValueError, match="Field 'value' of buy offer 0"):
        compute_mmr([{"origin": "x", "amount": 1.0, "value": float("nan")}], [])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: rec.vanilla_sdr(
                [{"amount": -500, "value": 45}], [{"amount": -100, "value": 10}]
            ),
            "'amount' of buy offer 0 .* is negative",
        ),
        (
            lambda: rec.vanilla_crossing_value(BUYS, SELLS, small_increment=float("nan")),
            "Field 'small_increment' must be a finite number",
        ),
        (lambda: rec.vanilla_mmr(BUYS, SELLS, pruned="no"), "Field 'pruned' must be true or false"),
        (
            lambda: rec.loop_pre_pool_crossing_value({}, small_increment="abc"),
            "Field 'small_increment' must be a finite number",
        ),
    ],
)
def test_bad_pricing_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
