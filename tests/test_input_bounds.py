"""Plausible ranges of the numeric inputs, unknown nested fields, the community's policy and
solver failures on valid input, for modes rec-keys, community and rec-pricing and dec.rec.

Values far outside the documented ranges (1e308, 1e20) used to pass validation and crash
the solvers with tracebacks; they are now refused before any solve (exit code 2) with a
message naming the field, the member and the value. A solver that fails on valid input
stops the run with exit code 3.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
import yaml
from rec_cases import STORAGE, two_members

import dec.rec as rec
from dec.community.admm import _check_replies
from dec.community.config import MAX_BATTERY_KWH
from dec.errors import SolverFailed
from dec.rec.data import parse_collective
from dec.reckeys.inputs import MAX_MEMBER_STEPS, MAX_MEMBERS, MAX_STEPS
from dec.run import main
from dec.validation import MAX_EUR_PER_KWH, MAX_KW, MAX_KWH
from tests.community_cases import PROFILES, section

INPUTS = Path(__file__).parents[1] / "inputs"
CASE0 = INPUTS / "rec" / "case0.yaml"
REC12 = INPUTS / "rec_pricing" / "rec12.yaml"


def write(tmp_path: Path, doc: dict, name: str = "case.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str]:
    """Run the command line; return its exit code and standard error."""
    code = main([*argv, "--no-plots"])
    return code, capsys.readouterr().err


def refused(capsys, path: str, tmp_path: Path, *options: str) -> str:
    """Run a scenario that must be refused as bad input (exit 2); return the message."""
    code, err = run(capsys, path, "--out", str(tmp_path / "out"), *options)
    assert code == 2, err
    assert "Traceback" not in err and "dec: error: Invalid input" in err
    return err


# --- rec-keys --------------------------------------------------------------------------------


def reckeys(tmp_path: Path, edit=None) -> str:
    doc = yaml.safe_load(CASE0.read_text())
    if edit is not None:
        edit(doc["rec_keys"])
    return write(tmp_path, doc)


def consumer(section: dict) -> dict:
    return section["members"][0]


def battery(section: dict) -> dict:
    return section["members"][1]["battery"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda s: consumer(s).update(consumption_kwh=1e308),
            "Field 'consumption_kwh' is outside [0, 1e+06] for 1 member: C (1e+308).",
        ),
        (
            lambda s: consumer(s).update(production_kwh=[2e6] + [0.0] * 23),
            "Field 'production_kwh' is outside [0, 1e+06] for 1 member: C (2000000.0).",
        ),
        (
            lambda s: consumer(s).update(buying_price_eur_per_kwh=1e20),
            "Field 'buying_price_eur_per_kwh' is outside [-1000, 1000] for 1 member: C (1e+20).",
        ),
        (
            lambda s: consumer(s).update(selling_price_eur_per_kwh=-1e308),
            "Field 'selling_price_eur_per_kwh' is outside [-1000, 1000] for 1 member: C (-1e+308).",
        ),
        (
            lambda s: battery(s).update(charge_max_kw=1e308),
            "Field 'battery.charge_max_kw' is outside [0, 1e+06] for 1 member: PVB (1e+308).",
        ),
        (
            lambda s: battery(s).update(capacity_kwh=1e308, soc_max_kwh=1e308),
            "Field 'battery.capacity_kwh' is outside [0, 1e+06] for 1 member: PVB (1e+308).",
        ),
        (
            lambda s: s.update(discharge_fee_eur_per_kwh=1e4),
            "Field 'discharge_fee_eur_per_kwh' is outside [0, 1000] for 1 section: "
            "rec_keys (10000.0).",
        ),
        (
            lambda s: s.update(time_step_h=1e308),
            "Field 'time_step_h' is outside [0.001, 24] for 1 section: rec_keys (1e+308).",
        ),
        (
            lambda s: s.update(horizon_steps=10**9),
            "Field 'horizon_steps' (1000000000) exceeds 1,000,000 steps",
        ),
    ],
)
def test_reckeys_values_outside_their_range_exit_2(tmp_path, capsys, edit, expected):
    assert expected in refused(capsys, reckeys(tmp_path, edit), tmp_path)


def test_reckeys_huge_generated_profile_is_refused_without_warnings(tmp_path, capsys):
    bumps = [{"scale": 1e308, "mean": 0.0, "std": 1e-3}]

    def edit(s):
        consumer(s)["consumption_kwh"] = {"generator": "normal_bumps", "x_start": 0, "bumps": bumps}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = refused(capsys, reckeys(tmp_path, edit), tmp_path)
    assert (
        "Field 'consumption_kwh' holds a value that is not a finite number for 1 member: C" in err
    )


def test_reckeys_a_billion_steps_is_refused_at_once(tmp_path, capsys):
    err = refused(capsys, reckeys(tmp_path, lambda s: s.update(n_steps=10**9)), tmp_path)
    assert f"Field 'n_steps' (1000000000) exceeds {MAX_STEPS:,} steps" in err


def test_reckeys_too_many_member_steps_are_refused_before_profiles_are_built(tmp_path, capsys):
    steps = MAX_STEPS
    n = MAX_MEMBER_STEPS // steps + 1

    def edit(s):
        s.update(n_steps=steps, metering_period_steps=4)
        s["members"] = [dict(consumer(s), id=f"m{i}") for i in range(n)]

    err = refused(capsys, reckeys(tmp_path, edit), tmp_path)
    assert f"The case has {n} members over {steps:,} steps" in err
    assert f"at most {MAX_MEMBER_STEPS:,} are allowed" in err


def test_reckeys_too_many_members_are_refused(tmp_path, capsys):
    def edit(s):
        s["members"] = [dict(consumer(s), id=f"m{i}") for i in range(MAX_MEMBERS + 1)]

    err = refused(capsys, reckeys(tmp_path, edit), tmp_path)
    assert f"Field 'members' lists {MAX_MEMBERS + 1:,} members; at most {MAX_MEMBERS:,}" in err


@pytest.fixture
def solve_fails(monkeypatch):
    """Every cvxpy solve raises, as a solver failing numerically on valid data would."""

    def fail(self, *args, **kwargs):
        raise cp.SolverError("Solver 'CLARABEL' failed.")

    monkeypatch.setattr(cp.Problem, "solve", fail)


@pytest.mark.parametrize("option", [["--horizon", "2000000"], ["--sweep", "4,2000000"]])
def test_reckeys_horizon_options_are_bounded(tmp_path, capsys, option):
    err = refused(capsys, reckeys(tmp_path), tmp_path, *option)
    assert "1,000,000" in err


def test_reckeys_solver_failure_on_valid_input_exits_3(tmp_path, capsys, solve_fails):
    code, err = run(capsys, reckeys(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 3
    assert "could not solve the window problem at step 0" in err
    assert "SolverError: Solver 'CLARABEL' failed." in err
    assert "Traceback" not in err and "Invalid input" not in err
    assert "No output was written." in err


def test_reckeys_solver_without_an_optimum_on_valid_input_exits_3(tmp_path, capsys, monkeypatch):
    def unknown(self, *args, **kwargs):
        self._status = "unknown"  # what cvxpy keeps of a HiGHS run that found nothing

    monkeypatch.setattr(cp.Problem, "solve", unknown)
    code, err = run(capsys, reckeys(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 3
    assert "could not solve the window problem at step 0 (status unknown)" in err


def test_reckeys_values_at_their_bounds_run(tmp_path, capsys):
    def edit(s):
        consumer(s).update(consumption_kwh=1e6, buying_price_eur_per_kwh=1e3)
        battery(s).update(capacity_kwh=1e6, soc_max_kwh=1e6, charge_max_kw=1e6)

    path = reckeys(tmp_path, edit)
    code, err = run(capsys, path, "--out", str(tmp_path / "out"), "--policy", "optimal")
    assert code == 0, err


# --- community -------------------------------------------------------------------------------


def community(tmp_path: Path, **extra) -> str:
    doc = {"name": "small", "mode": "community", "community": section(days=1, members=4, **extra)}
    return write(tmp_path, doc)


def edited(tmp_path: Path, edit) -> str:
    doc = {"name": "small", "mode": "community", "community": section(days=1, members=4)}
    edit(doc["community"])
    return write(tmp_path, doc)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c.update(battery={"e_kwh": 1e308}),
            "Field 'e_kwh' is outside [0, 100000] for 1 battery: battery (1e+308).",
        ),
        (
            lambda c: c.update(battery={"c_rate_per_h": 1e6}),
            "Field 'c_rate_per_h' is outside [0, 100] for 1 battery: battery (1000000.0).",
        ),
        (
            lambda c: c.update(battery={"e_kwh": 1e5, "c_rate_per_h": 100.0}),
            "Section 'battery': the battery's power c_rate_per_h × e_kwh (1e+07 kW) exceeds",
        ),
        (
            lambda c: c["members"][0].update(annual_kwh=1e308),
            "Field 'annual_kwh' is outside [0, 1e+08] for 1 member: h01 (1e+308).",
        ),
        (
            lambda c: c["members"][1].update(shift_days=10**30),
            "Field 'shift_days' is outside [-36600, 36600] for 1 member: h02",
        ),
        (
            lambda c: c["pv"].update(kwp=1e308),
            "Field 'kwp' is outside [0, 1e+06] for 1 section: pv (1e+308).",
        ),
        (
            lambda c: c.update(reference_annual_kwh=1e-300),
            "Field 'reference_annual_kwh' is outside [1, 1e+08] for 1 section: community",
        ),
        (
            lambda c: c.update(mpc={"window_h": 1e308, "apply_h": 24}),
            "Field 'window_h' is outside [0, 1e+09] for 1 section: mpc (1e+308).",
        ),
        (
            lambda c: c.update(tariff={"peak_eur_per_kwh": 1e308}),
            "Field 'peak_eur_per_kwh' is outside [0, 1000] for 1 tariff: tariff (1e+308).",
        ),
        (
            lambda c: c.update(admm={"rho": 1e308}),
            "Field 'rho' is outside [0, 1e+06] for 1 section: admm (1e+308).",
        ),
        (
            lambda c: c.update(low_tech={"no_pv_kw": 1e308}),
            "Field 'no_pv_kw' is outside [0, 1e+06] for 1 section: low_tech (1e+308).",
        ),
        (
            lambda c: c["period"].update(days=1e308),
            "Field 'days' is outside [0, 36600] for 1 period: period (1e+308).",
        ),
    ],
)
def test_community_values_outside_their_range_exit_2(tmp_path, capsys, edit, expected):
    assert expected in refused(capsys, edited(tmp_path, edit), tmp_path)


def test_community_battery_defaults_are_reported_once(tmp_path, capsys):
    err = refused(capsys, community(tmp_path, battery={"e_kwh": 1e308}), tmp_path)
    assert err.count("e_kwh") == 1


def test_community_huge_profile_cell_is_refused(tmp_path, capsys):
    frame = pd.read_csv(PROFILES, nrows=96 * 3)
    frame.loc[3, "H0-A"] = 1e308
    frame.to_csv(tmp_path / "profiles.csv", index=False)
    path = community(tmp_path, profiles=str(tmp_path / "profiles.csv"))
    err = refused(capsys, path, tmp_path)
    assert "Profiles hold values above 1e+06" in err
    assert "h01 (1e+308 in 'H0-A' of" in err and "at 2016-01-01 00:45:00)" in err


def test_community_scaled_load_above_a_gigawatt_is_refused(tmp_path, capsys):
    def edit(c):
        c["members"][0]["annual_kwh"] = 1e8
        c["reference_annual_kwh"] = 1.0

    err = refused(capsys, edited(tmp_path, edit), tmp_path)
    assert "Loads (profile × annual_kwh / reference_annual_kwh) or PV reach more than" in err
    assert "h01 (" in err


@pytest.mark.parametrize("sizes", ["1e308", "4,1e6", "nan"])
def test_community_sweep_battery_sizes_are_bounded(tmp_path, capsys, sizes):
    err = refused(capsys, community(tmp_path), tmp_path, "--sweep-battery", sizes)
    assert f"needs battery sizes from 0 to {MAX_BATTERY_KWH:g} kWh" in err


def test_community_sweep_battery_power_is_bounded(tmp_path, capsys):
    path = community(tmp_path, battery={"c_rate_per_h": 100.0})
    err = refused(capsys, path, tmp_path, "--sweep-battery", "1,20000")
    assert "a battery of 20000 kWh at c_rate_per_h 100 would have 2e+06 kW" in err


def test_community_horizon_option_is_bounded(tmp_path, capsys):
    err = refused(capsys, community(tmp_path), tmp_path, "--horizon", str(10**13))
    assert "Option '--horizon' (10000000000000 steps) exceeds the longest MPC window" in err


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c.update(battery={"e_kwh": 4, "foo": 1}),
            "Section 'battery' has unknown field(s) foo; allowed: e_kwh, c_rate_per_h,",
        ),
        (
            lambda c: c["members"][0].update(foo=1),
            "Section 'members.h01' has unknown field(s) foo; allowed: id, profile, annual_kwh,",
        ),
    ],
)
def test_community_unknown_nested_fields_exit_2(tmp_path, capsys, edit, expected):
    assert expected in refused(capsys, edited(tmp_path, edit), tmp_path)


def test_community_policy_that_is_not_run_exits_2(tmp_path, capsys):
    path = community(tmp_path, policy="mpc-distributed", mechanisms=["none", "low-tech", "mpc"])
    err = refused(capsys, path, tmp_path)
    assert (
        "Field 'policy' names 'mpc-distributed', whose schedules go to setpoints/<member>.json, "
        "but it is not among the mechanisms run (none, low-tech, mpc)"
    ) in err


def test_community_policy_not_in_the_mechanisms_option_exits_2(tmp_path, capsys):
    path = community(tmp_path, policy="mpc")
    err = refused(capsys, path, tmp_path, "--mechanisms", "none,low-tech")
    assert "Field 'policy' names 'mpc'" in err and "(none, low-tech)" in err


def test_community_without_a_policy_writes_the_last_mechanism_run(tmp_path, capsys):
    doc = {"name": "small", "mode": "community", "community": section(days=1, members=4)}
    doc["community"].pop("policy")
    out = tmp_path / "out"
    code, err = run(
        capsys, write(tmp_path, doc), "--out", str(out), "--mechanisms", "none,low-tech"
    )
    assert code == 0, err
    summary = yaml.safe_load((out / "case" / "community" / "summary.json").read_text())
    assert summary["reference"]["mechanism"] == "low-tech"


def test_community_solver_failure_on_valid_input_exits_3(tmp_path, capsys, solve_fails):
    code, err = run(capsys, community(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 3
    assert "CLARABEL could not solve the MPC window starting at step 0" in err
    assert "Traceback" not in err and "Invalid input" not in err


def test_community_house_agents_returning_nan_is_a_solver_failure():
    good = {"ch_kw": np.zeros((2, 3)), "dis_kw": np.zeros((2, 3))}
    _check_replies([good], 0)
    bad = {"ch_kw": np.full((2, 3), np.nan), "dis_kw": np.zeros((2, 3))}
    with pytest.raises(SolverFailed, match="OSQP could not solve the house agents' local"):
        _check_replies([good, bad], 96)


# --- rec-pricing and dec.rec -----------------------------------------------------------------


def rec_pricing(tmp_path: Path, edit) -> str:
    doc = yaml.safe_load(REC12.read_text())
    doc["rec_pricing"]["timeseries"] = str(REC12.parent / doc["rec_pricing"]["timeseries"])
    edit(doc["rec_pricing"])
    return write(tmp_path, doc)


def h02_battery(section: dict) -> dict:
    return section["meters"]["h02"]["btm_storage"]["b1"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda s: s["meters"]["h01"].update(max_p=1e308),
            "Field 'max_p' is outside [0, 1e+06] for 1 meter: h01 (1e+308).",
        ),
        (
            lambda s: s["meters"]["h01"].update(e_c=1e308),
            "Field 'e_c' is outside [0, 1e+06] for 1 meter: h01 (1e+308).",
        ),
        (
            lambda s: s.update(l_extra=1e308),
            "Field 'l_extra' is outside [0, 1000] (found 1e+308).",
        ),
        (
            lambda s: s.update(l_grid=1e308),
            "Field 'l_grid' holds a value outside [-1000, 1000]: 1e+308.",
        ),
        (
            lambda s: h02_battery(s).update(e_bn=1e308),
            "Field 'e_bn' is outside [0, 1e+06] for 1 storage: h02/b1 (1e+308).",
        ),
        (
            lambda s: h02_battery(s).update(p_max=1e308),
            "Field 'p_max' is outside [0, 1e+06] for 1 storage: h02/b1 (1e+308).",
        ),
        (
            lambda s: h02_battery(s).update(degradation_cost=1e308),
            "Field 'degradation_cost' is outside [0, 1000] for 1 storage: h02/b1 (1e+308).",
        ),
        (
            lambda s: h02_battery(s).update(foo=2),
            "Field 'rec_pricing.meters.h02.btm_storage.b1' has unknown field(s) foo; allowed: "
            "degradation_cost, e_bn,",
        ),
        (
            lambda s: h02_battery(s).update(soc_min=0.1, soc_max=0.95),
            "Field 'init_e' is outside the state-of-charge bounds soc_min..soc_max (percent of "
            "e_bn) for 1 storage(s): h02/b1 (1.5 kWh, bounds [0.005, 0.0475] kWh)",
        ),
    ],
)
def test_rec_pricing_bad_values_exit_2_without_warnings(tmp_path, capsys, edit, expected):
    path = rec_pricing(tmp_path, edit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = refused(capsys, path, tmp_path, "--steps", "8")
    assert expected in err


def test_rec_pricing_huge_capacity_is_reported_once(tmp_path, capsys):
    err = refused(
        capsys, rec_pricing(tmp_path, lambda s: h02_battery(s).update(e_bn=1e308)), tmp_path
    )
    assert "inf" not in err and "'init_e'" not in err


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda b: b["meters"]["A"].update(e_g=[1e308]),
            "Field 'e_g' is outside [0, 1e+06] for 1 meter: A (1e+308).",
        ),
        (
            lambda b: b["meters"]["B"].update(l_buy=[-1e20]),
            "Field 'l_buy' is outside [-1000, 1000] for 1 meter: B (-1e+20).",
        ),
        (
            lambda b: b.update(l_market_buy=[1e308]),
            "Field 'l_market_buy' holds a value outside [-1000, 1000]: 1e+308.",
        ),
        (
            lambda b: b.update(delta_t=1e308, horizon=1e308),
            "Field 'delta_t' is outside [0.001, 24] (found 1e+308).",
        ),
        (
            lambda b: b["meters"]["A"].update(btm_storage={"b1": dict(STORAGE, soc_min=10.0)}),
            "Field 'init_e' is outside the state-of-charge bounds soc_min..soc_max (percent of "
            "e_bn) for 1 storage(s): A/b1 (0.0 kWh, bounds [0.2, 2] kWh)",
        ),
    ],
)
def test_rec_api_refuses_values_outside_their_range_before_any_solve(edit, expected):
    backpack = two_members()
    edit(backpack)
    with pytest.raises(ValueError) as raised:
        rec.loop_pre_pool_mmr(backpack)
    assert expected in str(raised.value)


def test_rec_api_refuses_a_huge_stage_one_cost():
    backpack = two_members()
    for meter in backpack["meters"].values():
        meter["c_ind"] = 1e308
    with pytest.raises(
        ValueError, match=r"Field 'c_ind' is outside .* for 2 meters: A \(1e\+308\)"
    ):
        parse_collective(backpack, "pool", need_c_ind=True)


def test_rec_api_accepts_storage_fields_it_does_not_know():
    # dictionaries written for the reference may carry more keys; the API ignores them
    backpack = two_members()
    backpack["meters"]["A"]["btm_storage"] = {"b1": dict(STORAGE, comment="ignored")}
    assert parse_collective(backpack, "pool").storages.storage_id == ("b1",)


def test_rec_api_solves_values_at_their_bounds():
    backpack = two_members()
    backpack["meters"]["A"].update(
        e_g=[MAX_KWH],
        l_buy=[MAX_EUR_PER_KWH],
        max_p=MAX_KW,
        btm_storage={"b1": dict(STORAGE, e_bn=MAX_KWH, init_e=MAX_KWH, p_max=MAX_KW)},
    )
    backpack["meters"]["B"].update(e_c=[MAX_KWH], l_sell=[-MAX_EUR_PER_KWH], max_p=MAX_KW)
    backpack.update(l_market_buy=[MAX_EUR_PER_KWH], l_grid=[-MAX_EUR_PER_KWH])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prices, _, _, (stage2, _) = rec.loop_pre_pool_mmr(copy.deepcopy(backpack))
    assert stage2["milp_status"] == "Optimal"
    assert np.isfinite(prices).all()
