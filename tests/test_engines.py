"""Engines run the same agents' local updates with identical results (serial, process, Ray)."""

from __future__ import annotations

import numpy as np
import pytest

from agents.pv import CurtailLocalMessage, curtail_local_update
from dec.admm.engine import make_engine, split
from dec.errors import InputError


def _messages(n: int, chunks: int) -> list[CurtailLocalMessage]:
    rng = np.random.default_rng(0)
    target_a, target_b = rng.uniform(-0.5, 1.5, n), rng.uniform(-1, 0.5, n)
    w_a, w_b, b_max = rng.uniform(0.2, 5, n), rng.uniform(0.2, 5, n), rng.uniform(0, 0.6, n)
    return [
        CurtailLocalMessage(
            "proportional",
            1.7,
            target_a[c],
            target_b[c],
            None,
            w_a[c],
            w_b[c],
            b_max[c],
            1.0,
            0.0,
            0.1,
        )
        for c in split(n, chunks)
    ]


def test_split_covers_every_item_once():
    for n, k in [(10, 3), (3, 10), (1000, 7), (1, 1)]:
        slices = split(n, k)
        assert np.array_equal(np.concatenate([np.arange(n)[s] for s in slices]), np.arange(n))
        assert len(slices) == min(n, k)


@pytest.mark.parametrize("engine_name", ["process", "ray"])
def test_engines_equal_serial(engine_name):
    if engine_name == "ray":
        pytest.importorskip("ray", reason="the Ray engine is the optional 'ray' extra")
    serial = make_engine("serial").map(curtail_local_update, _messages(1000, 1))
    engine = make_engine(engine_name, n_workers=2)
    try:
        chunked = engine.map(curtail_local_update, _messages(1000, 4))
    finally:
        engine.close()
    assert np.array_equal(np.concatenate([r.a for r in chunked]), serial[0].a)
    assert np.array_equal(np.concatenate([r.b for r in chunked]), serial[0].b)


def test_unknown_engine_is_an_input_error():
    with pytest.raises(InputError, match="Unknown engine 'mpi'"):
        make_engine("mpi")
