"""Mode ``inspect``: a feeder summary and a plot of the feeder coloured by AC voltage."""

from __future__ import annotations

import argparse
import time

import pandapower as pp
import pandas as pd

from dec.network.grid import Grid
from dec.network.injections import net_injections
from dec.plots.feeder import plot_feeder_voltage
from dec.result import RunResult
from dec.scenario import Scenario


def run(scenario: Scenario, args: argparse.Namespace) -> RunResult:
    """Summarise the scenario's feeder and run one AC power flow."""
    start = time.perf_counter()
    feeder = scenario.require_feeder()
    net = feeder.net
    grid = Grid.from_feeder(feeder)
    vm_all = grid.run_ac(net)
    tree = grid.tree
    # per tree node: the highest phase voltage (the one a limit would catch)
    vm = vm_all.groupby(level="bus").max().loc[tree.node_bus].to_numpy()
    lowest, highest = vm_all.idxmin(), vm_all.idxmax()  # (bus, phase) nodes
    injections = net_injections(net)
    total_pv_kw = float(injections.loc[injections["p_kw"] > 0, "p_kw"].sum())
    total_load_kw = float(-injections.loc[injections["p_kw"] < 0, "p_kw"].sum())
    households = feeder.agents_of_type("household")
    pvs = feeder.agents_of_type("pv")
    summary = {
        "scenario": scenario.name,
        "mode": "inspect",
        "n_agents": len(feeder.agents),
        "iterations": None,
        "converged": True,
        "n_buses": len(net.bus),
        "n_lines": len(net.line),
        "three_phase": feeder.three_phase,
        "n_transformers": len(net.trafo),
        "n_households": len(households),
        "n_pv": len(pvs),
        "total_load_kw": total_load_kw,
        "total_pv_kw": total_pv_kw,
        "vmin_pu": float(vm_all.min()),
        "vmax_pu": float(vm_all.max()),
        "vmin_bus": int(lowest[0]),
        "vmax_bus": int(highest[0]),
        "knobs": feeder.knobs,
        "runtime_s": time.perf_counter() - start,
    }
    console = [
        ("buses", summary["n_buses"]),
        ("lines", summary["n_lines"]),
        ("transformers", summary["n_transformers"]),
        ("households", summary["n_households"]),
        ("PV units", summary["n_pv"]),
        ("total load (kW)", summary["total_load_kw"]),
        ("total PV output (kW)", summary["total_pv_kw"]),
        ("AC power flow", "per phase (runpp_3ph)" if feeder.three_phase else "balanced (runpp)"),
        ("AC min voltage (pu)", _at(net, vm_all, lowest)),
        ("AC max voltage (pu)", _at(net, vm_all, highest)),
    ]
    per_bus = ", highest phase per bus" if feeder.three_phase else ""
    title = f"{scenario.name}: AC voltage{per_bus}, {feeder.description}"
    return RunResult(
        scenario=scenario.name,
        mode="inspect",
        summary=summary,
        figures={"feeder": lambda: plot_feeder_voltage(tree, vm, title, feeder.vm_max_pu)},
        console=console,
    )


def _at(net: pp.pandapowerNet, vm_pu: pd.Series, node: tuple[int, int]) -> str:
    """``'1.0711 at bus 7 (name), phase c'``: the voltage of a (bus, phase) node, pu."""
    bus, phase = node
    where = f"{vm_pu.loc[node]:.6g} at bus {bus} ({net.bus.at[bus, 'name']})"
    return where + (f", phase {'abc'[phase - 1]}" if phase else "")
