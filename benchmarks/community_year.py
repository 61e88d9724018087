"""Benchmark: the study over a year (15-minute steps, 17 households, 40 kWp).

Mechanisms none, low-tech and mpc for six battery sizes per household, as the command::

    python -m dec.run inputs/community/community.yaml --sweep-battery 0.25,1,2,4,6,10

(serial by default; ``python benchmarks/community_year.py OUT process`` runs the sizes in
parallel). Target (issue 8): under 10 minutes on this machine (2 cores). Baseline measured
in the same run: ``mpc`` at 4 kWh solved with one row per battery (``group_identical:
false``) instead of the default grouping of identical batteries; both must give the same
import (exact reduction).

Measured on this machine (2 cores, quiet, 2026-11-23), serial: the whole command 69.5-72.9 s
wall (69.3-73.4 s CPU; mpc 5.4-7.5 s per battery size, low-tech 0.6-1.0 s, none < 0.01 s; the
rest is reading the year of profiles and writing the outputs). Before grouping, every
battery its own row: 1409 s wall, 581 s CPU on the machine shared with other jobs (load
average 4-6), mpc 131-339 s wall per battery size. In the same run as the 72.9 s sweep,
mpc at 4 kWh took 8.2 s grouped and 81.7 s per battery (ratio 10.0), both importing
34187.542 kWh.

Self-production % (upper bound 46.49, none 28.65), the same with and without grouping:
low-tech 29.63, 32.45, 34.04, 34.09, 33.84, 33.18 and mpc 30.58, 35.04, 39.57, 44.57, 45.66,
45.99 for 0.25, 1, 2, 4, 6, 10 kWh per household.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import yaml

from agents.community import build_community_model
from dec.admm.engine import SerialEngine
from dec.community.config import parse_config
from dec.community.data import build_community
from dec.community.sweep import Runner
from dec.run import main

SIZES = "0.25,1,2,4,6,10"
STUDY = Path("inputs/community/community.yaml")


def per_battery_baseline(battery_kwh: float) -> None:
    """Time ``mpc`` over the year with and without grouping identical batteries."""
    config = parse_config(yaml.safe_load(STUDY.read_text())["community"], str(STUDY))
    data = build_community(config, lambda p: STUDY.parent / p, str(STUDY))
    agent = build_community_model(data.member_ids).agents_of("community")[0]
    cases = {
        grouped: Runner(replace(config, group_identical=grouped), data, SerialEngine(), agent).run(
            "mpc", battery_kwh
        )
        for grouped in (True, False)
    }
    imports = {grouped: case.metrics["import_kwh"] for grouped, case in cases.items()}
    print(
        f"mpc over the year at {battery_kwh} kWh: grouped {cases[True].runtime_s:.1f} s, "
        f"per battery {cases[False].runtime_s:.1f} s (ratio "
        f"{cases[False].runtime_s / cases[True].runtime_s:.1f}); import {imports[True]:.3f} vs "
        f"{imports[False]:.3f} kWh"
    )


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "outputs"
    start = time.perf_counter()
    args = [str(STUDY), "--sweep-battery", SIZES, "--out", out]
    code = main([*args, "--engine", sys.argv[2] if len(sys.argv) > 2 else "serial"])
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu_s = sum(u.ru_utime + u.ru_stime for u in usage)
    print(
        f"year sweep: {time.perf_counter() - start:.1f} s wall, {cpu_s:.1f} s CPU "
        f"(this process and its workers; exit code {code})"
    )
    per_battery_baseline(4.0)
