"""Small community cases for the tests: a few households over a few days of the shipped data."""

from __future__ import annotations

from pathlib import Path

import yaml

from dec.community.config import parse_config
from dec.community.data import build_community

SHIPPED = Path(__file__).resolve().parents[1] / "inputs" / "community"
PROFILES = SHIPPED / "profiles_simbench_2016.csv.gz"
SIZES_KWH = [0.25, 1, 2, 4, 6, 10]


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
