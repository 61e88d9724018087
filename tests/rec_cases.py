"""Small REC inputs shared by the rec-pricing tests (built in code, values in the tests)."""

from __future__ import annotations

import numpy as np

STORAGE = {
    "degradation_cost": 0.01,
    "e_bn": 2.0,
    "eff_bc": 0.9,
    "eff_bd": 0.9,
    "init_e": 0.0,
    "p_max": 1.0,
    "soc_max": 100.0,
    "soc_min": 0.0,
}


def battery_meter() -> dict:
    """One meter, two 1-hour steps: cheap energy first, a 1 kWh load in the second step."""
    return {
        "id": "m1",
        "btm_storage": {"b1": dict(STORAGE)},
        "delta_t": 1.0,
        "horizon": 2.0,
        "e_c": [0.0, 1.0],
        "e_g": [0.0, 0.0],
        "l_buy": [0.1, 0.3],
        "l_sell": [0.0, 0.0],
        "l_market_buy": [1.0, 1.0],
        "l_market_sell": [0.0, 0.0],
        "l_extra": 10.0,
        "max_p": 5.0,
    }


def two_members(l_lem: float | None = 0.1) -> dict:
    """A (1 kWh surplus) and B (2 kWh load) in one 1-hour step."""
    backpack = {
        "meters": {
            "A": {
                "e_c": [0.0],
                "e_g": [1.0],
                "l_buy": [0.2],
                "l_sell": [0.05],
                "max_p": 5.0,
                "btm_storage": None,
            },
            "B": {
                "e_c": [2.0],
                "e_g": [0.0],
                "l_buy": [0.2],
                "l_sell": [0.05],
                "max_p": 5.0,
                "btm_storage": None,
            },
        },
        "delta_t": 1.0,
        "horizon": 1.0,
        "l_extra": 10.0,
        "l_grid": [0.02],
        "l_market_buy": [0.3],
        "l_market_sell": [0.0],
        "strict_pos_coeffs": True,
        "total_share_coeffs": False,
    }
    if l_lem is not None:
        backpack["l_lem"] = [l_lem]
    return backpack


def random_community(seed: int, n: int = 3, steps: int = 8) -> dict:
    rng = np.random.default_rng(seed)
    meters = {}
    for i in range(n):
        storage = {"b": dict(STORAGE, e_bn=3.0, p_max=1.5, init_e=1.0)} if i % 2 == 0 else None
        meters[f"m{i}"] = {
            "e_c": rng.uniform(0.0, 1.5, steps).round(3).tolist(),
            "e_g": (rng.uniform(0.0, 2.0, steps) * (rng.random(steps) < 0.6)).round(3).tolist(),
            "l_buy": rng.choice([0.12, 0.16, 0.2], steps).tolist(),
            "l_sell": [0.04] * steps,
            "max_p": 4.0,
            "btm_storage": storage,
        }
    return {
        "meters": meters,
        "delta_t": 0.5,
        "horizon": steps * 0.5,
        "l_extra": 10.0,
        "l_grid": [0.015] * steps,
        "l_market_buy": rng.uniform(0.1, 0.25, steps).round(3).tolist(),
        "l_market_sell": rng.uniform(0.02, 0.08, steps).round(3).tolist(),
        "strict_pos_coeffs": True,
        "total_share_coeffs": bool(seed % 2),
    }
