"""Benchmark: ``mpc-distributed`` (ADMM) against ``mpc`` (centralized) on one week.

17 households, 40 kWp, 15-minute steps, 72 h windows applying 24 h, 4 kWh per household,
week of 2016-06-06 (run with a start date and a size as arguments for another case).
Timed in the same run: the ADMM, the centralized solve of the same per-battery problem
(``group_identical: false``) and the default ``mpc``, which plans identical batteries as
one (exact; the house agents, each owning its battery, cannot). The issue's target: the
ADMM within 10× of the centralized solve and its import within 1e-4 relative.

Measured on this machine (2 cores, load average about 1, 2026-11-23), week of 2016-06-06,
4 kWh, after the tie-break weights (0.05) and the ADMM tolerances (1e-7) were raised and
tightened so that the schedules, not only the import, match: mpc-distributed 22.8 s,
per-battery mpc 3.9 s (ratio 5.8), grouped mpc 0.20 s (ratio 113); import gap 3.1e-7
relative; ADMM rounds per window 203, 87, 97, 91, 198, 108, 56 (up to 50 inner OSQP
iterations per round). Before (looser, 2026-11-23 morning): 10.4 s against 3.1 s (ratio
3.4) with an import gap of 1.1e-5 and battery schedules up to 1.2 kWh apart on larger
batteries. Week of 2016-01-01, 4 kWh (2026-11-24): mpc-distributed 28.0 s, per-battery
mpc 2.70 s (ratio 10.4, just above the target), grouped mpc 0.13 s (ratio 213): the
target is met on the June week only, and against the grouped default not at all (each
round solves every house; see the closing notes of the issue).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import yaml

from agents.community import build_community_model
from dec.admm.engine import SerialEngine
from dec.community.config import parse_config
from dec.community.data import build_community
from dec.community.sweep import Runner

STUDY = Path("inputs/community/community.yaml")


def main(start: str, battery_kwh: float) -> None:
    section = yaml.safe_load(STUDY.read_text())["community"]
    section["period"] = {"start": start, "days": 7}
    config = parse_config(section, str(STUDY))
    data = build_community(config, lambda p: STUDY.parent / p, str(STUDY))
    agent = build_community_model(data.member_ids).agents_of("community")[0]
    per_battery = Runner(replace(config, group_identical=False), data, SerialEngine(), agent)
    grouped = Runner(replace(config, group_identical=True), data, SerialEngine(), agent)
    central = per_battery.run("mpc", battery_kwh)
    fast = grouped.run("mpc", battery_kwh)
    distributed = per_battery.run("mpc-distributed", battery_kwh)
    imports = [case.metrics["import_kwh"] for case in (central, fast, distributed)]
    rounds = [s.iterations for s in distributed.admm]
    print(f"week from {start}, {battery_kwh} kWh per household")
    print(f"mpc, per battery: {central.runtime_s:7.2f} s, import {imports[0]:.4f} kWh")
    print(f"mpc, grouped:     {fast.runtime_s:7.2f} s, import {imports[1]:.4f} kWh")
    print(
        f"mpc-distributed:  {distributed.runtime_s:7.2f} s, import {imports[2]:.4f} kWh, "
        f"ADMM rounds per window {rounds}, all converged "
        f"{all(s.converged for s in distributed.admm)}"
    )
    print(
        f"time ratio {distributed.runtime_s / central.runtime_s:.2f} (per battery), "
        f"{distributed.runtime_s / fast.runtime_s:.1f} (grouped); import gap "
        f"{abs(imports[2] - imports[0]) / imports[0]:.2e} relative"
    )


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "2016-06-06T00:00",
        float(sys.argv[2]) if len(sys.argv) > 2 else 4.0,
    )
