"""Timing of the rec-pricing pre-delivery loop: 50 members x 96 steps (target: under 60 s).

The community repeats the 12 members of ``inputs/rec_pricing/rec12.yaml`` (profiles
scaled by a seeded factor in [0.8, 1.2], batteries kept), pool market, pruned MMR,
two-stage MILP. Baseline, measured in the same run: one stage-2 MILP (every cost
bound enforced) solved by cvxpy's own HiGHS interface, as a direct port of the
reference's MILP would, against dec.rec's solve of the same problem.

Run: ``python benchmarks/rec_pricing_loop.py`` (add ``--members N``).

Measured on the 2-core machine (HiGHS 1.15, cvxpy 1.9), 2026-11-22:

- whole loop, 50 x 96, serial stage 1: 14.9 s (stage 1: 2.9 s; 5 iterations, stop
  criterion 0.0); with the process engine for stage 1: 14.3 s (stage 1: 2.2 s);
- one stage-2 MILP, all bounds enforced: dec.rec 2.4 s; plain cvxpy + HiGHS MILP
  stopped at its 120 s limit (gap 0.14 %): ratio > 50;
- 12 x 96 (the example, ``python -m dec.run inputs/rec_pricing/rec12.yaml``): about 25 s.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import cvxpy as cp
import numpy as np

from dec.admm.engine import make_engine
from dec.rec.data import parse_collective
from dec.rec.loops import LoopTrace, pre_delivery_loop, pricing_function
from dec.rec.model import build_model, round_up
from dec.rec.scenario import read_section
from dec.rec.solve import ModelSolver
from dec.rec.stages import solve_stage_one
from dec.scenario import load_scenario

EXAMPLE = Path(__file__).parents[1] / "inputs" / "rec_pricing" / "rec12.yaml"


def community(n_members: int, seed: int = 7) -> dict:
    """The example's members repeated to ``n_members``, profiles scaled by a seeded factor."""
    base, _ = read_section(load_scenario(str(EXAMPLE)))
    rng = np.random.default_rng(seed)
    templates = list(base["meters"].items())
    meters = {}
    for i in range(n_members):
        name, meter = templates[i % len(templates)]
        meter = copy.deepcopy(meter)
        for key in ("e_c", "e_g"):
            meter[key] = (np.asarray(meter[key]) * rng.uniform(0.8, 1.2)).round(4).tolist()
        meters[f"{name}_{i:02d}"] = meter
    return {**base, "meters": meters}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--baseline-limit", type=float, default=120.0)
    parser.add_argument("--gap", type=float, default=1e-3, help="mip_rel_gap of the loop")
    parser.add_argument("--engines", default="serial,process")
    args = parser.parse_args()
    backpack = community(args.members)
    data = parse_collective(backpack, "pool")
    print(f"{args.members} members x {data.n_steps} steps, {data.storages.count} batteries")

    options = {"mip_rel_gap": args.gap}
    for engine_name in args.engines.split(","):
        engine = make_engine(engine_name, 2)
        try:
            t_stage1, stage1 = timed(solve_stage_one, data, engine, **options)
            trace = LoopTrace()
            t_loop, result = timed(
                pre_delivery_loop,
                backpack,
                "pool",
                pricing_function("mmr"),
                engine,
                trace,
                **options,
            )
        finally:
            engine.close()
        print(
            f"{engine_name:8s} stage 1 {t_stage1:6.1f} s | loop {t_loop:6.1f} s "
            f"({result[2]} iterations, criterion {result[1]})"
        )

    l_lem = np.asarray(result[0])
    bound = np.array([round_up(s["c_ind"]) for s in stage1])
    solver = ModelSolver(data, "pool", bounded=True, **options)
    t_ours, _ = timed(solver.solve, "benchmark", l_lem, bound)
    plain = build_model(data, "pool", bounded=True)
    plain.l_lem.value, plain.bound.value = l_lem, bound
    t_plain, _ = timed(
        plain.problem.solve, solver=cp.HIGHS, mip_rel_gap=args.gap, time_limit=args.baseline_limit
    )
    print(
        f"one stage-2 MILP: dec.rec {t_ours:.1f} s | plain cvxpy+HiGHS {t_plain:.1f} s "
        f"({plain.problem.status}) | ratio {t_plain / t_ours:.1f}"
    )


if __name__ == "__main__":
    main()
