"""Small community cases for the tests: a few households over a few days of the shipped data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from dec.community.config import parse_config
from dec.community.data import CommunityData, build_community
from dec.community.metrics import flows

SHIPPED = Path(__file__).resolve().parents[1] / "inputs" / "community"
PROFILES = SHIPPED / "profiles_simbench_2016.csv.gz"
SIZES_KWH = [0.25, 1, 2, 4, 6, 10]
ENERGY_TOL_KWH = 1e-9


def section(start: str = "2016-06-06T00:00", days: float = 2, members: int = 6, **extra) -> dict:
    """Return a community section on the shipped profiles (the first members of the study)."""
    study = yaml.safe_load((SHIPPED / "community.yaml").read_text())["community"]
    kwp = 40 * members / len(study["members"])
    return {
        **{k: v for k, v in study.items() if k not in ("period", "members", "pv", "profiles")},
        "profiles": str(PROFILES),
        "period": {"start": start, "days": days},
        "pv": {"kwp": kwp, "column": "PV"},
        "mpc": {"window_h": 36, "apply_h": 12},
        "members": study["members"][:members],
        **extra,
    }


def community(battery_kwh: float | None = None, **kwargs):
    """Return ``(config, data)`` of a small case, batteries resized to ``battery_kwh``."""
    config = parse_config(section(**kwargs), "test")
    if battery_kwh is not None:
        config = config.with_battery_kwh(battery_kwh)
    return config, build_community(config, Path, "test")


def check_physics(data: CommunityData, schedule) -> None:
    b, dt_h = data.batteries, data.time_step_h
    e_before = np.concatenate([schedule.e_initial_kwh[:, None], schedule.soc_kwh[:, :-1]], axis=1)
    # battery energy balance of every house at every step
    expected = e_before + dt_h * (
        b.eta_ch[:, None] * schedule.ch_kw - schedule.dis_kw / b.eta_dis[:, None]
    )
    np.testing.assert_allclose(schedule.soc_kwh, expected, atol=ENERGY_TOL_KWH)
    # SoC and power within bounds, no simultaneous charge and discharge, end SoC ≥ start
    assert (schedule.soc_kwh >= -ENERGY_TOL_KWH).all()
    assert (schedule.soc_kwh <= b.e_kwh[:, None] + ENERGY_TOL_KWH).all()
    assert (schedule.ch_kw >= 0).all() and (schedule.dis_kw >= 0).all()
    assert (schedule.ch_kw <= b.p_kw[:, None] + 1e-12).all()
    assert (schedule.dis_kw <= b.p_kw[:, None] + 1e-12).all()
    assert (np.minimum(schedule.ch_kw, schedule.dis_kw) == 0).all()
    assert (schedule.soc_kwh[:, -1] >= schedule.e_initial_kwh - ENERGY_TOL_KWH).all()
    # power balance of every house and of the community at every step
    f = flows(data, schedule)
    np.testing.assert_allclose(
        f.consumption_kw, data.load_kw + schedule.ch_kw - schedule.dis_kw, atol=1e-12
    )
    np.testing.assert_allclose(f.community_kw, f.consumption_kw.sum(axis=0), atol=1e-12)
    np.testing.assert_allclose(data.pv_kw + f.import_kw - f.export_kw, f.community_kw, atol=1e-9)
    assert (np.minimum(f.import_kw, f.export_kw) == 0).all()
