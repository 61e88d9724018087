"""Run every mechanism for every battery size and collect the metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agents.community import CommunityAgent, build_community_model
from dec.admm.engine import Engine, SerialEngine
from dec.community.admm import DistributedPlanner, WindowStats
from dec.community.battery import Batteries, Schedule
from dec.community.config import CommunityConfig
from dec.community.data import CommunityData
from dec.community.metrics import metrics
from dec.community.mpc import (
    CentralPlanner,
    GroupedPlanner,
    MovableOnly,
    Planner,
    receding_horizon,
    smooth_weights,
)
from dec.community.rules import run_low_tech, run_none


@dataclass
class Case:
    """One mechanism at one battery size: its schedule, metrics and ADMM figures."""

    mechanism: str
    battery_kwh: float | None
    data: CommunityData
    schedule: Schedule
    metrics: dict[str, float]
    runtime_s: float
    admm: list[WindowStats] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    #: Starts of the ``mpc`` windows Clarabel solved only to its reduced tolerances.
    inaccurate_windows: list[int] = field(default_factory=list)

    def row(self) -> dict[str, float | str | None]:
        """Return the case as a row of the sweep table."""
        return {
            "mechanism": self.mechanism,
            "battery_kwh": self.battery_kwh,
            **self.metrics,
            "runtime_s": self.runtime_s,
        }


@dataclass
class Runner:
    """Runs the mechanisms of one community, at its configured or any uniform battery size.

    Parameters
    ----------
    config
        The community section.
    data
        The community with its configured batteries.
    engine
        Engine of the house agents' local updates (``mpc-distributed``).
    community
        The community agent.
    on_window
        Progress callback (steps applied).

    """

    config: CommunityConfig
    data: CommunityData
    engine: Engine
    community: CommunityAgent
    on_window: Callable[[int], None] | None = None

    @property
    def window_steps(self) -> int:
        """MPC window, steps, at most the run's steps.

        A longer window would only add idle padding past the end of the data: the same
        problem, in more memory.
        """
        return min(self.data.steps(self.config.window_h), self.data.n_steps)

    @property
    def apply_steps(self) -> int:
        """Steps applied per window."""
        return min(self.data.steps(self.config.apply_h), self.window_steps)

    def _central_planner(self, batteries: Batteries, time_step_h: float) -> Planner:
        """Return the ``mpc`` window planner of movable ``batteries`` (grouped or not)."""
        if self.config.group_identical:
            return GroupedPlanner(batteries, self.window_steps, time_step_h)
        return CentralPlanner(
            batteries.eta_ch,
            batteries.eta_dis,
            self.window_steps,
            time_step_h,
            smooth_weights(batteries.p_kw),
        )

    def schedule(self, mechanism: str, data: CommunityData) -> tuple[Schedule, list, list, list]:
        """Return the schedule of ``mechanism`` on ``data``, with ADMM stats and history.

        The fourth item lists the starts of the ``mpc`` windows that Clarabel solved only
        to its reduced tolerances.
        """
        if mechanism == "none":
            return run_none(data), [], [], []
        if mechanism == "low-tech":
            rules = run_low_tech(data, self.config.threshold_kw, self.config.no_pv_kw)
            return rules, [], [], []
        if mechanism == "mpc":
            planner = MovableOnly(
                data.batteries, lambda b: self._central_planner(b, data.time_step_h)
            )
            schedule = receding_horizon(
                data, self.window_steps, self.apply_steps, planner, self.on_window
            )
            return schedule, [], [], planner.inaccurate_windows
        planner = DistributedPlanner(
            data.batteries,
            self.window_steps,
            self.apply_steps,
            data.time_step_h,
            self.community,
            self.engine,
            self.config.admm,
            group_identical=self.config.group_identical,
        )
        schedule = receding_horizon(
            data, self.window_steps, self.apply_steps, planner, self.on_window
        )
        return schedule, planner.stats, planner.history, []

    def run(self, mechanism: str, battery_kwh: float | None) -> Case:
        """Run one mechanism with every battery resized to ``battery_kwh`` (None: as configured).

        A resized battery's power is ``c_rate_per_h × battery_kwh``: a member's given ``p_kw``
        is not kept (:meth:`~dec.community.config.BatteryConfig.resized`).
        """
        data = self.data
        if battery_kwh is not None:
            sized = self.config.with_battery_kwh(battery_kwh)
            data = data.with_batteries(Batteries.from_configs([m.battery for m in sized.members]))
        start = time.perf_counter()
        schedule, stats, history, inaccurate = self.schedule(mechanism, data)
        runtime = time.perf_counter() - start
        return Case(
            mechanism,
            battery_kwh,
            data,
            schedule,
            metrics(data, schedule, self.config.tariff),
            runtime,
            stats,
            history,
            inaccurate,
        )


def _sweep_size(task: tuple) -> list[Case]:
    """Run every mechanism at one battery size in a worker (an engine task)."""
    config, data, mechanisms, size = task
    model = build_community_model(data.member_ids)
    runner = Runner(config, data, SerialEngine(), model.agents_of("community")[0])
    return [runner.run(m, size) for m in mechanisms]


def run_sweep(
    runner: Runner, mechanisms: Sequence[str], sizes: Sequence[float | None]
) -> list[Case]:
    """Run every mechanism for every battery size (sizes outer, mechanisms inner).

    On a process or Ray engine the battery sizes run in parallel, one task per size (the
    house agents of ``mpc-distributed`` then run serially inside each task); otherwise
    they run one after the other and the engine runs the house agents.
    """
    if runner.engine.name == "serial" or len(sizes) < 2:
        return [runner.run(m, size) for size in sizes for m in mechanisms]
    tasks = [(runner.config, runner.data, list(mechanisms), size) for size in sizes]
    return [case for cases in runner.engine.map(_sweep_size, tasks) for case in cases]
