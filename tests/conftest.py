"""Shared fixtures: feeders are built once per test session (building is deterministic)."""

from __future__ import annotations

import copy

import pytest

import feeders

FEEDER_IDS = ["ieee123", "cigre_lv", "village"]


@pytest.fixture(scope="session")
def feeder_cache():
    cache = {}

    def get(feeder_id: str, **knobs):
        key = (feeder_id, tuple(sorted(knobs.items())))
        if key not in cache:
            cache[key] = feeders.load(feeder_id, **knobs)
        return copy.deepcopy(cache[key])

    return get
