"""Cost of one Anderson-accelerated step at the scale the ADMM engines aim for.

Run: ``python benchmarks/anderson_overhead.py``. A curtail ADMM round with 100,000 PV
agents and reactive power carries a vector of about 5 × 100,000 consensus variables and
duals. The benchmark times :meth:`dec.admm.anderson.AndersonAcceleration.next_point`
(memory 5) on a 500,000-component linear contraction and reports it as a multiple of a
baseline measured in the same run: one pass of the map itself (``s ↦ λ s + c``, two
vector operations).

Measured 2026-11-23 on the 2-core machine, quiet, three runs: 6.9 ms per accelerated
step, 12-14× the map pass (0.5-0.6 ms); about 25 passes over the vector. The first
version, which rebuilt the difference matrices and their Gram matrix every round, took
about 30 ms; the differences and the Gram matrix are now updated incrementally,
``m + 2`` inner products and one combination per step.
"""

from __future__ import annotations

import time

import numpy as np

from dec.admm.anderson import AndersonAcceleration

N_COMPONENTS = 500_000
ROUNDS = 50


def main() -> None:
    rng = np.random.default_rng(0)
    rate = rng.uniform(0.0, 0.99, N_COMPONENTS)
    offset = rng.normal(size=N_COMPONENTS)
    metric_sqrt = np.ones(N_COMPONENTS)

    s = np.zeros(N_COMPONENTS)
    start = time.perf_counter()
    for _ in range(ROUNDS):
        s = rate * s + offset
    map_ms = 1e3 * (time.perf_counter() - start) / ROUNDS

    anderson = AndersonAcceleration(5)
    s = np.zeros(N_COMPONENTS)
    step_s = 0.0
    for _ in range(ROUNDS):
        out = rate * s + offset
        start = time.perf_counter()
        s = anderson.next_point(s, out, metric_sqrt)
        step_s += time.perf_counter() - start
    step_ms = 1e3 * step_s / ROUNDS
    print(
        f"{N_COMPONENTS} components: accelerated step {step_ms:.2f} ms, map pass {map_ms:.2f} ms, "
        f"ratio {step_ms / map_ms:.1f} ({anderson.extrapolations} extrapolations, "
        f"{anderson.rejections} rejections)"
    )


if __name__ == "__main__":
    main()
