"""Figures are written in forked children where the machine allows, and the same as drawn here.

References: the serial drawing of the same figures (PNG bytes equal; Agg is deterministic);
a draw function that fails is drawn again by the parent, which raises its error.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import pytest

import dec.files
from dec.files import write_figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _line(slope: float):
    def draw():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, slope])
        ax.set_xlabel("x (–)")
        return fig

    return draw


def _figures(folder, n=5):
    return {folder / f"line{k}.png": _line(float(k)) for k in range(n)}


@pytest.mark.skipif(not dec.files._can_fork(), reason="this machine or process cannot fork")
def test_forked_figures_equal_the_serial_ones(tmp_path, monkeypatch):
    forked = write_figures(_figures(tmp_path / "forked"))
    monkeypatch.setattr(dec.files, "_can_fork", lambda: False)
    serial = write_figures(_figures(tmp_path / "serial"))
    assert len(forked) == len(serial) == 5
    for path in forked:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert data == (tmp_path / "serial" / path.name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "forked").iterdir()) == sorted(
        p.name for p in forked
    ), "no temporary file is left behind"


def test_no_figure_writes_nothing(tmp_path):
    assert write_figures({}) == set()
    assert not list(tmp_path.iterdir())


def test_a_figure_that_cannot_be_drawn_raises_its_error(tmp_path):
    def broken():
        raise ValueError("no data to draw")

    figures = {**_figures(tmp_path), tmp_path / "broken.png": broken}
    with pytest.raises(ValueError, match="no data to draw"):
        write_figures(figures)
    assert not (tmp_path / "broken.png").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_figure_a_child_failed_to_write_is_drawn_by_the_parent(tmp_path):
    parent = os.getpid()
    draw_line = _line(2.0)

    def only_in_parent():
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return draw_line()

    figures = {tmp_path / f"fig{k}.png": only_in_parent for k in range(4)}
    assert write_figures(figures) == set(figures)
    for path in figures:
        assert path.read_bytes().startswith(PNG_SIGNATURE)
