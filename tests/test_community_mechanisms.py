from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.community import build_community_model
from dec.admm.engine import SerialEngine
from dec.community.battery import Batteries
from dec.community.config import BatteryConfig
from dec.community.data import CommunityData
from dec.community.rules import run_low_tech
from dec.community.sweep import Runner, run_sweep
from tests.community_cases import SIZES_KWH, check_physics, community

MECHANISMS = ["none", "low-tech", "mpc"]


@pytest.fixture(scope="module")
def sweep():
    config, data = community()
    model = build_community_model(data.member_ids)
    runner = Runner(config, data, SerialEngine(), model.agents_of("community")[0])
    return run_sweep(runner, MECHANISMS, SIZES_KWH)


def test_energy_balance_and_bounds_every_case(sweep):
    for case in sweep:
        check_physics(case.data, case.schedule)


def test_mpc_beats_low_tech_beats_none_below_upper_bound(sweep):
    table = pd.DataFrame([c.row() for c in sweep]).set_index(["battery_kwh", "mechanism"])
    for size in SIZES_KWH:
        sp = table.loc[size, "self_production_pct"]
        bound = table.loc[size, "upper_bound_pct"].iloc[0]
        assert sp["mpc"] >= sp["low-tech"] - 1e-9, size
        assert sp["low-tech"] >= sp["none"] - 1e-9, size
        assert sp.max() <= bound + 1e-9, size
        # the MPC also imports least (its objective)
        imports = table.loc[size, "import_kwh"]
        assert imports["mpc"] <= imports.min() + 1e-6, size
    # mpc gains with battery size, none does not depend on it
    mpc = table.xs("mpc", level="mechanism")["self_production_pct"]
    assert (np.diff(mpc.to_numpy()) >= -1e-6).all()
    none = table.xs("none", level="mechanism")["self_production_pct"]
    assert np.ptp(none.to_numpy()) == 0


def test_self_sufficiency_is_self_production_minus_losses(sweep):
    # Σ min(pv, c) = Σ c - Σ import and Σ c = Σ load + Σ ch - Σ dis, so
    # self-production - self-sufficiency = 100 (Σ ch - Σ dis) Δt / Σ load
    for case in sweep:
        m = case.metrics
        gap = 100 * (m["battery_charged_kwh"] - m["battery_discharged_kwh"]) / m["load_kwh"]
        assert m["self_production_pct"] - m["self_sufficiency_pct"] == pytest.approx(gap, abs=1e-9)


def test_low_tech_hand_computed():
    # One house, 1 h steps, battery 2 kWh / 1 kW, η = 0.95 both ways, starting at 1 kWh,
    # threshold 15 kW, no-PV level 0.  PV 20, 5, 0, 0 kW; load 0.5 kW.
    # End guard: recharging 1 kWh at 0.95 × 1 kW takes 1.05 h → 2 steps (t2, t3).
    #  t0: PV 20 > 15 → charge min(1, (2 - 1)/0.95) = 1 kW → e = 1 + 0.95 = 1.95
    #  t1: PV 5 (small) → idle → e = 1.95
    #  t2: no PV → discharge min(1 kW, load 0.5, guard (1.95 - 1)·0.95) = 0.5 → e2 = 1.95 - 0.5/0.95
    #  t3: no PV → discharge min(0.5, guard (e2 - 1)·0.95) = (e2 - 1)·0.95 → e = 1 exactly
    battery = BatteryConfig(2.0, 1.0, 0.95, 0.95, 0.5, 0.5)
    data = CommunityData(
        member_ids=("h",),
        times=pd.date_range("2016-06-01", periods=4, freq="h"),
        time_step_h=1.0,
        load_kw=np.full((1, 4), 0.5),
        pv_kw=np.array([20.0, 5.0, 0.0, 0.0]),
        batteries=Batteries.from_configs([battery]),
    )
    s = run_low_tech(data, threshold_kw=15.0, no_pv_kw=0.0)
    e2 = 1.95 - 0.5 / 0.95
    dis3 = (e2 - 1.0) * 0.95
    np.testing.assert_allclose(s.ch_kw[0], [1.0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(s.dis_kw[0], [0, 0, 0.5, dis3], atol=1e-12)
    np.testing.assert_allclose(s.soc_kwh[0], [1.95, 1.95, e2, 1.0], atol=1e-12)


def test_batteries_without_power_stay_idle_in_every_mechanism():
    # c_rate 0: no power; the MPC's end-of-window margin made such windows infeasible.
    # Every mechanism must equal "none": no charge, no discharge, SoC at its initial value.
    config, data = community(battery={"e_kwh": 4, "c_rate_per_h": 0.0, "soc_initial_frac": 0.5})
    model = build_community_model(data.member_ids)
    runner = Runner(config, data, SerialEngine(), model.agents_of("community")[0])
    cases = run_sweep(runner, ["none", "low-tech", "mpc", "mpc-distributed"], [None])
    for case in cases:
        check_physics(case.data, case.schedule)
        assert not case.schedule.ch_kw.any() and not case.schedule.dis_kw.any()
        np.testing.assert_allclose(case.schedule.soc_kwh, 2.0, atol=1e-9)
        assert case.metrics == pytest.approx(cases[0].metrics, abs=1e-9)
