"""When the LP meters are not exact, the policies switch to binaries (MILP) and stay exact.

Hand case (8 steps of 1 h, metering period 4): consumer A buys at 1 EUR/kWh and uses
0.5 kWh every step; battery owner B buys at 0.2 and sells at 0, has no load and a
battery of 1 kWh (SoC 0.5, ±0.25 kWh per step, efficiency 1). No one produces.

Exact optimum (derivation): B's discharges are metered as production and given to A
(saving 1 EUR/kWh); its charges are metered as consumption at 0.2 EUR/kWh. A step can
usefully either charge or discharge 0.25 kWh. With D discharging and C charging steps,
D + C ≤ 8 and 0.25 D ≤ 0.5 + 0.25 C; the saving 0.25 (D − 0.2 C) is largest at D = 5,
C = 3. Bill = 4 (A's consumption) − 1.25 + 0.2 · 0.75 + ε · 1.25 = 2.9 + 1.25 ε.

The LP relaxation instead raises both of B's meters in the same step (a fictitious
surplus bought at 0.2 and given to A), so its value is far below what its actions cost.

A member that sells above its own buying price (a feed-in tariff above retail) makes the
relaxation unbounded: it gets binaries too.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from dec.errors import InputError
from dec.reckeys import load_case, make_policy, simulate
from dec.reckeys.exactness import binary_members, lp_is_exact

FEE = 1e-5
CASE0 = Path(__file__).parents[1] / "inputs" / "rec" / "case0.yaml"


def section(meter_model: str = "auto") -> dict:
    return {
        "time_step_h": 1.0,
        "n_steps": 8,
        "metering_period_steps": 4,
        "discharge_fee_eur_per_kwh": FEE,
        "meter_model": meter_model,
        "members": [
            {"id": "A", "consumption_kwh": 0.5, "buying_price_eur_per_kwh": 1.0},
            {
                "id": "B",
                "buying_price_eur_per_kwh": 0.2,
                "battery": {
                    "capacity_kwh": 1.0,
                    "soc_initial_kwh": 0.5,
                    "charge_max_kw": 0.25,
                    "discharge_max_kw": 0.25,
                },
            },
        ],
    }


def test_condition_detects_the_low_tariff_battery_owner():
    case = load_case(section(), "hand")
    assert lp_is_exact(case).tolist() == [False]
    assert binary_members(case).tolist() == [True]
    assert binary_members(load_case(section("lp"), "hand")).tolist() == [False]


def test_milp_optimal_equals_hand_optimum():
    tr = simulate(load_case(section(), "hand"), make_policy("optimal", 8))
    assert tr.total_bill_eur == pytest.approx(2.9 + 1.25 * FEE, abs=1e-7)
    assert tr.info["window_bill_eur"] == pytest.approx(tr.total_bill_eur, abs=1e-7)
    # A step charges or discharges, never both.
    assert not np.any((tr.charge_kwh > 0) & (tr.discharge_kwh > 0))


def test_lp_relaxation_is_not_exact_here():
    tr = simulate(load_case(section("lp"), "hand"), make_policy("optimal", 8))
    assert tr.info["window_bill_eur"] < 2.0  # the fictitious surplus
    assert tr.total_bill_eur > 2.9 + 1e-3  # what its actions really cost


def test_receding_horizon_policies_with_binaries_are_not_better_than_optimal():
    case = load_case(section(), "hand")
    for policy in ("look-ahead", "look-ahead-billing", "look-ahead-decoupling"):
        assert simulate(case, make_policy(policy, 4)).total_bill_eur >= 2.9 - 1e-9


def test_distributed_refuses_binaries():
    with pytest.raises(InputError, match="B"):
        simulate(load_case(section(), "hand"), make_policy("distributed", 4))


def test_a_member_selling_above_its_own_buying_price_is_not_exact():
    # B buys at the community's top price (1, like A) and sells at 0: exact. Selling at
    # 1.5 (above its own buying price) in a single step makes the relaxation unbounded
    # there (buy and sell back the same energy), so B needs binaries.
    data = section()
    data["members"][1]["buying_price_eur_per_kwh"] = 1.0
    assert lp_is_exact(load_case(data, "hand")).tolist() == [True]
    data["members"][1]["selling_price_eur_per_kwh"] = [0.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0]
    case = load_case(data, "hand")
    assert lp_is_exact(case).tolist() == [False]
    assert binary_members(case).tolist() == [True]


def feed_in_section(meter_model: str) -> dict:
    """Case 0 with a feed-in tariff above retail: both members buy at 0.23, sell at 0.43."""
    data = yaml.safe_load(CASE0.read_text())["rec_keys"]
    for member in data["members"]:
        member.update(buying_price_eur_per_kwh=0.23, selling_price_eur_per_kwh=0.43)
    return dict(data, meter_model=meter_model)


def test_feed_in_tariff_above_retail_gets_the_milp_meters():
    # The LP meters were kept here and every policy failed (HiGHS: unbounded).
    auto = load_case(feed_in_section("auto"), "fit")
    milp = load_case(feed_in_section("milp"), "fit")
    assert binary_members(auto).tolist() == [True]
    optimal = simulate(auto, make_policy("optimal", 24))
    assert optimal.total_bill_eur == pytest.approx(
        simulate(milp, make_policy("optimal", 24)).total_bill_eur, abs=1e-9
    )
    assert optimal.info["window_bill_eur"] == pytest.approx(optimal.total_bill_eur, abs=1e-7)
    assert simulate(auto, make_policy("look-ahead-billing", 4)).total_bill_eur >= (
        optimal.total_bill_eur - 1e-9
    )


def test_lp_meters_are_refused_where_they_are_unbounded():
    message = "'meter_model' is 'lp', but battery member(s) PVB sell above"
    with pytest.raises(InputError, match=re.escape(message)):
        load_case(feed_in_section("lp"), "fit")


def test_distributed_refusal_does_not_suggest_lp_meters_where_they_are_refused():
    # PVB sells above its own buying price: 'meter_model: lp' is refused for it, so the
    # distributed policy's refusal must not suggest it (it did), but a centralised policy
    for meter_model in ("auto", "milp"):
        case = load_case(feed_in_section(meter_model), "fit")
        with pytest.raises(InputError) as raised:
            simulate(case, make_policy("distributed", 4))
        message = str(raised.value)
        assert "battery member(s) PVB need binaries" in message
        assert "'meter_model: lp' cannot be used either" in message
        assert "PVB sell above their own buying price" in message
        assert "the distributed policy cannot run this case: choose a centralised policy" in (
            message
        )
        assert "set 'meter_model: lp'" not in message


def test_distributed_refusal_suggests_lp_meters_where_they_are_allowed():
    # B needs binaries (it buys below the community's top price) but never sells above its
    # own buying price: the LP relaxation may be used
    with pytest.raises(InputError, match="set 'meter_model: lp' to run it on the relaxation"):
        simulate(load_case(section(), "hand"), make_policy("distributed", 4))


def test_milp_windows_leave_a_battery_idle_when_no_bill_is_at_stake():
    # Four members, 8 steps of 1 h, metering period 2, no discharge fee; M0's battery needs
    # binaries. With look-ahead K = 1, the window of step t is step t alone and bills only
    # a period that ends inside it: at odd t (a period's last step) it does, at even t it
    # holds no period end, so nothing is billed and the idle tie-break must leave the
    # battery idle. With HiGHS's default feasibility tolerances (1e-7) the MILP returned a
    # charge of 0.2385 kWh at step 2, worth 2.4e-7 of tie-break,
    # as optimal (an independent model gives the bill 0.693795 EUR; the charge made it
    # 0.740922 EUR).
    members = [
        {
            "id": "M0",
            "consumption_kwh": [0.8142, 0.0919, 0.6001, 0.7286, 0.1879, 0.0551, 0.275, 0.6574],
            "production_kwh": [0.0, 0.3653, 0.8386, 0.3456, 0.7664, 1.4349, 0.8661, 0.2832],
            "buying_price_eur_per_kwh": [0.304, 0.456, 0.41, 0.227, 0.47, 0.288, 0.378, 0.143],
            "selling_price_eur_per_kwh": [0.016, 0.071, 0.054, 0.068, 0.052, 0.033, 0.041, 0.047],
            "battery": {
                "capacity_kwh": 1.6,
                "soc_min_kwh": 0.16,
                "soc_max_kwh": 1.6,
                "soc_initial_kwh": 1.354,
                "charge_max_kw": 0.45,
                "discharge_max_kw": 0.58,
                "charge_efficiency": 0.91,
                "discharge_efficiency": 0.91,
            },
        },
        {
            "id": "M1",
            "buying_price_eur_per_kwh": [0.108, 0.433, 0.14, 0.28, 0.295, 0.348, 0.302, 0.475],
            "selling_price_eur_per_kwh": 0.046,
        },
        {
            "id": "M2",
            "consumption_kwh": [0.5066, 0.9648, 0.2266, 0.689, 0.5551, 0.042, 0.2961, 0.9272],
            "production_kwh": [0.0, 0.0933, 0.0, 1.1549, 0.0, 0.0, 1.4638, 0.3917],
            "buying_price_eur_per_kwh": [0.256, 0.246, 0.309, 0.103, 0.159, 0.184, 0.276, 0.221],
            "selling_price_eur_per_kwh": 0.023,
        },
        {
            "id": "M3",
            "consumption_kwh": [0.9619, 0.0594, 0.2091, 0.563, 0.7707, 0.064, 0.1848, 0.4567],
            "buying_price_eur_per_kwh": [0.279, 0.422, 0.43, 0.319, 0.417, 0.262, 0.49, 0.342],
            "selling_price_eur_per_kwh": 0.004,
        },
    ]
    case = load_case(
        {
            "time_step_h": 1.0,
            "n_steps": 8,
            "metering_period_steps": 2,
            "discharge_fee_eur_per_kwh": 0.0,
            "members": members,
        },
        "idle",
    )
    assert binary_members(case).tolist() == [True]
    run = simulate(case, make_policy("look-ahead", 1))
    even = np.arange(8) % 2 == 0
    assert (run.charge_kwh[:, even] == 0).all() and (run.discharge_kwh[:, even] == 0).all()
    assert run.total_bill_eur == pytest.approx(0.693795, abs=1e-6)
