"""Mode ``community``: battery coordination for collective self-consumption.

``python -m dec.run inputs/community/community.yaml --sweep-battery 0.25,1,2,4,6,10``
runs every mechanism for every battery size and writes ``sweep.csv``,
``self_production.png``, one ``setpoints/<member>.json`` per household (schedules of
the policy mechanism at the reference size), ``timeseries.csv``, ``week.png`` and
``summary.json``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from agents.community import build_community_model
from dec.admm.engine import make_engine
from dec.community.config import (
    MAX_BATTERY_KWH,
    MAX_KW,
    MAX_WINDOW_H,
    SECTION,
    CommunityConfig,
    parse_config,
)
from dec.community.data import CommunityData, build_community
from dec.community.metrics import flows, member_cycles
from dec.community.plots import plot_sweep, plot_week
from dec.community.sweep import Case, Runner, run_sweep
from dec.errors import InputError
from dec.options import COMMAND_LINE, comma_items, refuse_ignored, was_given
from dec.options.community import MECHANISMS
from dec.progress import progress
from dec.result import RunResult
from dec.scenario import Scenario

SWEEP_COLUMNS = [
    "mechanism",
    "battery_kwh",
    "self_production_pct",
    "self_sufficiency_pct",
    "upper_bound_pct",
    "cost_eur",
]
#: Decimals of the exported kW and kWh values: below the solvers' tolerances, so balances
#: and energies recomputed from the files hold to 1e-8.
DECIMALS = 9
#: Largest relative gap of ``mpc-distributed``'s import to ``mpc``'s (the issue's 1e-4) for a
#: run of both to count as converged; relative to mpc's import, or to ``GAP_FLOOR_SHARE`` of
#: the households' load if that is larger (a community that imports next to nothing is
#: compared on the scale of what it consumes: 3e-6 kWh over three days is not a mismatch).
MATCH_REL = 1e-4
GAP_FLOOR_SHARE = 0.01


def _sizes(text: str, config: CommunityConfig) -> list[float]:
    """Return the battery sizes of ``--sweep-battery``, kWh, checked with every c-rate."""
    items = comma_items(text, "--sweep-battery")
    try:
        values = [float(v) for v in items]
    except ValueError:
        raise InputError(
            f"Option '--sweep-battery' must be comma-separated numbers of kWh, found {text!r}.",
            COMMAND_LINE,
        ) from None
    bad = [v for v in values if not 0 <= v <= MAX_BATTERY_KWH]  # also NaN and inf
    if bad or not values:
        raise InputError(
            f"Option '--sweep-battery' needs battery sizes from 0 to {MAX_BATTERY_KWH:g} kWh, "
            f"found {text!r}.",
            COMMAND_LINE,
        )
    c_rate = max((m.battery.c_rate_per_h for m in config.members if m.battery), default=0.0)
    if c_rate * max(values) > MAX_KW:
        raise InputError(
            f"Option '--sweep-battery': a battery of {max(values):g} kWh at c_rate_per_h "
            f"{c_rate:g} would have {c_rate * max(values):g} kW, more than {MAX_KW:g} kW.",
            COMMAND_LINE,
        )
    return values


def _mechanisms(text: str | None, config: CommunityConfig) -> list[str]:
    if text is None:
        return list(config.mechanisms)
    if text.strip() == "all":
        return list(MECHANISMS)
    names = comma_items(text, "--mechanisms")
    unknown = [v for v in names if v not in MECHANISMS]
    if unknown or not names:
        raise InputError(
            f"Option '--mechanisms' has unknown names {', '.join(unknown) or text!r}; "
            f"allowed: {', '.join(MECHANISMS)}, all.",
            COMMAND_LINE,
        )
    return names


def _refuse_unused_options(args: argparse.Namespace, mechanisms: list[str], n_sizes: int) -> None:
    """Raise an InputError for an option that no mechanism run (at these sizes) would use."""
    mpc = {"mpc", "mpc-distributed"} & set(mechanisms)
    distributed = "mpc-distributed" in mechanisms
    ignored = [
        f"{option} ({user})"
        for option, given, used, user in (
            ("--horizon", args.horizon is not None, mpc, "mpc or mpc-distributed"),
            ("--max-iter", args.max_iter is not None, distributed, "mpc-distributed"),
            (
                "--engine",
                was_given(args, "engine"),
                distributed or n_sizes >= 2,
                "mpc-distributed, or two battery sizes or more",
            ),
        )
        if given and not used
    ]
    refuse_ignored(
        ignored,
        f"This run's mechanisms are {', '.join(mechanisms)}",
        "remove the option or add what uses it (--mechanisms, --sweep-battery)",
    )


def _policy(config: CommunityConfig, mechanisms: list[str], source: str) -> str:
    """Return the mechanism whose schedules are written per member.

    A policy the scenario names must be among the mechanisms run (its schedules would
    otherwise silently come from another one); without one, ``mpc`` if it runs, else the
    last mechanism run.
    """
    if config.policy is None:
        return "mpc" if "mpc" in mechanisms else mechanisms[-1]
    if config.policy not in mechanisms:
        raise InputError(
            f"Field 'policy' names {config.policy!r}, whose schedules go to "
            f"setpoints/<member>.json, but it is not among the mechanisms run "
            f"({', '.join(mechanisms)}); add it to 'mechanisms' (or --mechanisms), or set "
            "'policy' to one of them.",
            source,
        )
    return config.policy


def prepare(scenario: Scenario, args: argparse.Namespace) -> tuple[CommunityConfig, CommunityData]:
    """Validate the scenario and the options and return the configuration and the data."""
    config = parse_config(scenario.section(SECTION), scenario.source)
    for option, value in (("--horizon", args.horizon), ("--max-iter", args.max_iter)):
        if value is not None and value < 1:
            raise InputError(f"Option '{option}' must be at least 1, found {value}.", COMMAND_LINE)
    data = build_community(config, scenario.resolve, scenario.source)
    if args.horizon is not None:
        if args.horizon * data.time_step_h > MAX_WINDOW_H:
            raise InputError(
                f"Option '--horizon' ({args.horizon} steps) exceeds the longest MPC window, "
                f"{MAX_WINDOW_H:g} h.",
                COMMAND_LINE,
            )
        window_h = args.horizon * data.time_step_h
        config = replace(config, window_h=window_h, apply_h=min(config.apply_h, window_h))
    if args.max_iter is not None:
        config = replace(config, admm={**config.admm, "max_iter": float(args.max_iter)})
    first = 0 if args.start is None else _start_step(data, args.start)
    left = data.n_steps - first
    if args.steps is not None and not 1 <= args.steps <= left:
        raise InputError(
            f"Option '--steps' must be between 1 and {left} (the scenario's period from its "
            f"step {data.times[first]}), found {args.steps}.",
            COMMAND_LINE,
        )
    return config, data.window(first, left if args.steps is None else args.steps)


def _start_step(data: CommunityData, start: datetime) -> int:
    """Index of the step that begins at ``start`` (option ``--start``)."""
    found = np.flatnonzero(data.times == pd.Timestamp(start))
    if not found.size:
        raise InputError(
            f"Option '--start' ({start.isoformat(timespec='minutes')}) is not the start of a "
            f"step of the scenario's period, which runs from {data.times[0]} to "
            f"{data.times[-1]} in steps of {data.time_step_h * 60:g} min.",
            COMMAND_LINE,
        )
    return int(found[0])


def _rounded(values: np.ndarray) -> np.ndarray:
    return np.round(values, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _series(values: np.ndarray) -> list[float]:
    return _rounded(values).tolist()


def member_records(case: Case, converged: bool) -> list[dict[str, Any]]:
    """Return one setpoint record per household (and one for the community PV)."""
    data, schedule = case.data, case.schedule
    cycles = member_cycles(data, schedule)
    common = {
        "bus": None,
        "element": None,
        "mode": "community",
        "converged": converged,
        "time_step_h": data.time_step_h,
        "start_time": data.times[0].isoformat(),
        "mechanism": case.mechanism,
    }
    records = []
    for i, member_id in enumerate(data.member_ids):
        records.append(
            {
                **common,
                "agent_id": member_id,
                "agent_type": "household",
                "unit": "kW",
                "battery_e_kwh": float(data.batteries.e_kwh[i]),
                "battery_p_kw": float(data.batteries.p_kw[i]),
                "soc_initial_kwh": float(schedule.e_initial_kwh[i]),
                "load_kwh": float(data.load_kw[i].sum() * data.time_step_h),
                "battery_cycles": float(cycles[i]),
                "load_kw": _series(data.load_kw[i]),
                "battery_kw": _series(schedule.battery_kw[i]),
                "soc_kwh": _series(schedule.soc_kwh[i]),
            }
        )
    records.append(
        {
            **common,
            "agent_id": "community_pv",
            "agent_type": "pv",
            "unit": "kW",
            "p_kw": _series(data.pv_kw),
        }
    )
    return records


def timeseries(case: Case) -> pd.DataFrame:
    """Return the community's per-step flows of a case."""
    f = flows(case.data, case.schedule)
    columns = {
        "pv_kw": case.data.pv_kw,
        "load_kw": case.data.load_kw.sum(axis=0),
        "battery_kw": case.schedule.battery_kw.sum(axis=0),
        "import_kw": f.import_kw,
        "export_kw": f.export_kw,
        "soc_kwh": case.schedule.soc_kwh.sum(axis=0),
    }
    return pd.DataFrame(
        {
            "time": case.data.times.strftime("%Y-%m-%dT%H:%M"),
            **{name: _rounded(values) for name, values in columns.items()},
        }
    )


def _reference(cases: list[Case], policy: str, config: CommunityConfig) -> Case:
    sizes = [c.battery_kwh for c in cases]
    wanted = [m.battery.e_kwh for m in config.members if m.battery]
    size = (
        wanted[0]
        if wanted and wanted[0] in sizes
        else max((s for s in sizes if s is not None), default=None)
    )
    runs = [c for c in cases if c.battery_kwh == size]
    return next((c for c in runs if c.mechanism == policy), runs[-1])


def import_gaps(cases: list[Case]) -> dict[float | None, float]:
    """Return, per battery size where both ran, the relative import gap of ``mpc-distributed``.

    The gap is ``|import_distributed - import_mpc| / max(import_mpc, GAP_FLOOR_SHARE load)``:
    the two solve the same window problems (unique optimum), so their applied schedules,
    and the imports, must agree.
    """
    imports = {(c.mechanism, c.battery_kwh): c.metrics["import_kwh"] for c in cases}
    loads = {(c.mechanism, c.battery_kwh): c.metrics["load_kwh"] for c in cases}
    return {
        size: abs(imports[("mpc-distributed", size)] - central)
        / max(central, GAP_FLOOR_SHARE * loads[(mechanism, size)])
        for (mechanism, size), central in imports.items()
        if mechanism == "mpc" and ("mpc-distributed", size) in imports
    }


def summarise(
    scenario: Scenario,
    config: CommunityConfig,
    data: CommunityData,
    cases: list[Case],
    reference: Case,
    runtime_s: float,
) -> dict[str, Any]:
    """Return the content of ``summary.json``."""
    stats = [s for c in cases for s in c.admm]
    last = reference.admm[-1] if reference.admm else None
    central = next(
        (c for c in cases if c.mechanism == "mpc" and c.battery_kwh == reference.battery_kwh), None
    )
    objective = reference.metrics["import_kwh"]
    gaps = import_gaps(cases)
    gap = gaps.get(reference.battery_kwh) if reference.mechanism == "mpc-distributed" else None
    worst = max(gaps.values(), default=None)
    unconverged = sum(not s.converged for s in stats)
    problems = []
    if unconverged:
        problems.append(
            f"{unconverged} of {len(stats)} ADMM windows of mpc-distributed stopped at the "
            "round limit (--max-iter, scenario field admm.max_iter) before the tolerances"
        )
    if worst is not None and worst > MATCH_REL:
        problems.append(
            f"mpc-distributed's import is {worst:.3g} (relative) away from mpc's, above the "
            f"tolerance {MATCH_REL:g}"
        )
    notes = list(problems)
    inaccurate = [(c, start) for c in cases for start in c.inaccurate_windows]
    if inaccurate:  # used as solved: Clarabel's default accuracy, not the tight one
        case, start = inaccurate[0]
        size = "" if case.battery_kwh is None else f" at {case.battery_kwh:g} kWh"
        notes.append(
            f"Clarabel solved {len(inaccurate)} mpc window(s) only to its reduced tolerances "
            f"(1e-8, 'almost solved'), not the tight ones (1e-12), the first starting at step "
            f"{start}{size}; their schedules are used"
        )
    return {
        "scenario": scenario.name,
        "mode": "community",
        "n_agents": len(data.member_ids) + 1,
        "iterations": sum(s.iterations for s in stats) if stats else None,
        # the ADMM's windows converged and, where mpc ran too, the imports agree
        "converged": not problems,
        "message": "; ".join(notes) + "." if notes else None,
        "primal_residual": last.primal_residual if last else None,
        "dual_residual": last.dual_residual if last else None,
        "objective": objective,
        "objective_centralized": central.metrics["import_kwh"] if central else None,
        "objective_gap_rel": gap,
        "runtime_s": runtime_s,
        "time_step_h": data.time_step_h,
        "n_steps": data.n_steps,
        "start_time": data.times[0].isoformat(),
        "end_time": (data.times[-1] + pd.Timedelta(hours=data.time_step_h)).isoformat(),
        "n_households": len(data.member_ids),
        "pv_kwp": config.pv_kwp,
        "low_tech_threshold_kw": config.threshold_kw,
        "mpc_window_h": data.steps(config.window_h) * data.time_step_h,
        "mpc_apply_h": data.steps(config.apply_h) * data.time_step_h,
        "admm_windows": len(stats),
        "admm_windows_not_converged": unconverged,
        "distributed_import_gap_rel": worst,
        "distributed_import_gap_tolerance": MATCH_REL,
        "reference": {"mechanism": reference.mechanism, "battery_kwh": reference.battery_kwh},
        "results": [c.row() for c in cases],
    }


def _sizes_text(data: CommunityData) -> str:
    """Return the scenario's battery capacities per household, kWh, as the console prints them."""
    e_kwh = data.batteries.e_kwh
    if e_kwh.min() == e_kwh.max():
        return f"{e_kwh[0]:g}"
    return f"{e_kwh.min():g} to {e_kwh.max():g} (mean {e_kwh.mean():g})"


#: Metrics of the console's mechanism x battery-size matrix: label, metric, format.
CONSOLE_METRICS = (
    ("self-production (%)", "self_production_pct", "{:.2f}"),
    ("self-sufficiency (%)", "self_sufficiency_pct", "{:.2f}"),
    ("cost (EUR)", "cost_eur", "{:.2f}"),
)


def _metric_rows(cases: list[Case]) -> list[tuple[str, str]]:
    """Return the console rows of the metrics, a mechanism x battery-size matrix.

    One row per metric and battery size, with one value per mechanism in the order of the
    header row ``mechanisms`` ("-" where a pair did not run).
    """
    mechanisms = list(dict.fromkeys(c.mechanism for c in cases))
    sizes = list(dict.fromkeys(c.battery_kwh for c in cases))
    by_pair = {(c.mechanism, c.battery_kwh): c for c in cases}
    rows = [("mechanisms", " / ".join(mechanisms))]
    for label, metric, fmt in CONSOLE_METRICS:
        for size in sizes:
            values = [
                fmt.format(by_pair[m, size].metrics[metric]) if (m, size) in by_pair else "-"
                for m in mechanisms
            ]
            at = "" if size is None else f", {size:g} kWh"
            rows.append((f"{label}{at}", " / ".join(values)))
    return rows


def run(scenario: Scenario, args: argparse.Namespace) -> RunResult:
    """Run the mechanisms (for every battery size of ``--sweep-battery``) on the community."""
    start = time.perf_counter()
    config, data = prepare(scenario, args)
    mechanisms = _mechanisms(args.mechanisms, config)
    sizes = _sizes(args.sweep_battery, config) if args.sweep_battery else [None]
    _refuse_unused_options(args, mechanisms, len(sizes))
    policy = _policy(config, mechanisms, scenario.source)
    model = build_community_model(data.member_ids, seed=args.seed)
    community = model.agents_of("community")[0]
    engine = make_engine(args.engine)
    n_mpc = sum(m.startswith("mpc") for m in mechanisms) * len(sizes)
    with progress(total=n_mpc * data.n_steps, desc="community MPC steps") as bar:
        runner = Runner(config, data, engine, community, on_window=bar.update)
        try:
            cases = run_sweep(runner, mechanisms, sizes)
        finally:
            engine.close()
    reference = _reference(cases, policy, config)
    for agent in model.agents_of("household"):
        agent.state["battery_kw"] = reference.schedule.battery_kw[agent.batch_index]
    table = pd.DataFrame([c.row() for c in cases])
    table["battery_kwh"] = [
        c.battery_kwh if c.battery_kwh is not None else float(c.data.batteries.e_kwh.mean())
        for c in cases
    ]
    summary = summarise(scenario, config, data, cases, reference, time.perf_counter() - start)
    sweep = table[SWEEP_COLUMNS + [c for c in table.columns if c not in SWEEP_COLUMNS]]
    tables = {"sweep": sweep.round(DECIMALS), "timeseries": timeseries(reference)}
    history = [
        {"battery_kwh": size, **row}
        for c, size in zip(cases, table["battery_kwh"], strict=True)
        for row in c.history
    ]
    if history:
        tables["admm_history"] = pd.DataFrame(history)
    title = f"{scenario.name}: {len(data.member_ids)} households, {config.pv_kwp:g} kWp PV"
    ref_title = (
        f"{reference.mechanism}, {reference.data.batteries.e_kwh.mean():g} kWh per household"
    )
    console = [] if args.sweep_battery else [("battery per household (kWh)", _sizes_text(data))]
    console += _metric_rows(cases)
    if summary["distributed_import_gap_rel"] is not None:
        console.append(
            ("mpc-distributed vs mpc import gap (rel.)", summary["distributed_import_gap_rel"])
        )
    console += [
        ("upper bound (%)", cases[0].metrics["upper_bound_pct"]),
        ("runtime (s)", summary["runtime_s"]),
    ]
    if summary["converged"] and summary["message"]:
        console.append(("note", summary["message"]))
    return RunResult(
        scenario=scenario.name,
        mode="community",
        summary=summary,
        agents=member_records(reference, summary["converged"]),
        tables=tables,
        figures={
            "self_production": lambda: plot_sweep(table, title),
            "week": lambda: plot_week(reference.data, reference.schedule, f"{title}: {ref_title}"),
        },
        console=console,
    )
