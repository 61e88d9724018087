"""Users' own pandapower JSON nets through the command line (``python -m dec.run NET.json``).

Each net is built here with pandapower and saved with ``pandapower.to_json``: a 20/0.4 kV
transformer feeding a chain of six LV buses (HV bus 0, LV buses 1..6), a 2 kW load and a
20 kWp PV unit (sgen) on each of LV buses 2..6 (load and sgen ``k`` on bus ``k + 2``),
source at 1.02 pu.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path

import pandapower as pp
import pandas as pd
import pytest

import feeders
from dec.network.powerflow import run_ac
from dec.run import main

SOURCE_PU = 1.02
PV_KWP = 20.0
LOAD_KW = 2.0
DAY_WINDOW = ["--day", "--steps", "2", "--first-step", "46"]
CUT_OFF_HELP = (
    "(an open switch, an out-of-service bus or branch, or a separate island cuts {it} off), "
    "yet field 'bus' of {elements} names {it}. Connect {it}, or set those elements' "
    "'in_service' to False."
)


def chain_net(n_lv: int = 6) -> pp.pandapowerNet:
    """The test feeder of the module docstring."""
    net = pp.create_empty_network()
    hv = pp.create_bus(net, 20, name="HV")
    lv = [pp.create_bus(net, 0.4, name=f"LV{i}") for i in range(n_lv)]
    pp.create_ext_grid(net, hv, vm_pu=SOURCE_PU)
    pp.create_transformer(net, hv, lv[0], std_type="0.4 MVA 20/0.4 kV")
    for a, b in itertools.pairwise(lv):
        pp.create_line(net, a, b, 0.1, std_type="NAYY 4x50 SE")
    for bus in lv[1:]:
        pp.create_load(net, bus, p_mw=LOAD_KW / 1000, q_mvar=0.0005)
        pp.create_sgen(net, bus, p_mw=PV_KWP / 1000, name=f"PV{bus}")
    return net


def one_bus_net() -> pp.pandapowerNet:
    """A single bus holding the source and nothing else."""
    net = pp.create_empty_network()
    pp.create_ext_grid(net, pp.create_bus(net, 0.4))
    return net


def save(net: pp.pandapowerNet, tmp_path: Path, name: str = "user") -> Path:
    """Write the net with ``pandapower.to_json`` and return its path."""
    path = tmp_path / f"{name}.json"
    pp.to_json(net, str(path))
    return path


def run(path: Path, tmp_path: Path, capsys, *args: str) -> tuple[int, str, Path]:
    """Run the command line on a net: exit code, stderr and the mode's output folder."""
    out = tmp_path / "out"
    mode = args[args.index("--mode") + 1] if "--mode" in args else "curtail"
    code = main([str(path), *args, "--out", str(out), "--no-plots"])
    return code, capsys.readouterr().err, out / path.stem / mode


def summary_of(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def records_of(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "setpoints").glob("*.json"))]


def numbers_in(value) -> list[float]:
    """Every number in a JSON value (bools excluded)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in numbers_in(v)]
    if isinstance(value, list):
        return [x for v in value for x in numbers_in(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def refused(path: Path, message: str) -> str:
    """The exact stderr of a refused net."""
    return f"dec: error: Invalid input in {path}: {message}\n"


# --- 1. nets without PV ---------------------------------------------------------------


def _no_sgen() -> pp.pandapowerNet:
    net = chain_net()
    net.sgen.drop(net.sgen.index, inplace=True)
    return net


NETS_WITHOUT_PV = {"no sgen": (_no_sgen, 5, SOURCE_PU), "one bus": (one_bus_net, 0, 1.0)}


@pytest.mark.parametrize("extra", [[], DAY_WINDOW, ["--reactive", "--fairness", "equal-kw"]])
@pytest.mark.parametrize("case", sorted(NETS_WITHOUT_PV))
def test_net_without_pv_curtails_nothing(tmp_path, capsys, case, extra):
    make, n_households, vmax_pu = NETS_WITHOUT_PV[case]
    code, err, out = run(save(make(), tmp_path), tmp_path, capsys, *extra)
    assert (code, err) == (0, "")
    summary = summary_of(out)
    assert all(math.isfinite(x) for x in numbers_in(summary))
    assert summary["n_agents"] == 0
    assert summary["n_households"] == n_households
    for total in ("total_available_kw", "total_curtailment_kw", "total_q_kvar"):
        assert summary[total] == 0.0
    assert summary["curtailment_share"] == 0.0
    assert summary["alpha"] is None
    assert summary["vmax_pu_before"] == pytest.approx(vmax_pu, abs=1e-12)
    assert summary["ac_within_limit"] is True
    assert records_of(out) == []
    assert json.loads((out / "cim_difference.json").read_text())["messages"] == []
    if extra == DAY_WINDOW:
        assert summary["n_steps"] == 2
        assert summary["total_available_kwh"] == summary["total_curtailment_kwh"] == 0.0
        steps = (out / "steps.csv").read_text().splitlines()
        assert steps[0].startswith("step,p_available_kw,p_setpoint_kw,curtailment_kw,time_h")
        assert [row.split(",")[:5] for row in steps[1:]] == [
            ["0", "0.0", "0.0", "0.0", "11.5"],
            ["1", "0.0", "0.0", "0.0", "11.75"],
        ]


# --- 2. the source's bus ----------------------------------------------------------------


def _source_bus_out_of_service(net: pp.pandapowerNet) -> None:
    net.bus.at[0, "in_service"] = False


def _source_bus_missing(net: pp.pandapowerNet) -> None:
    net.ext_grid.at[0, "bus"] = 999


SOURCE_HELP = "; the source must sit on an in-service bus of the net."


# --- 3. elements out of service ----------------------------------------------------------


def _with_units_out_of_service() -> pp.pandapowerNet:
    net = chain_net()
    net.sgen.at[4, "in_service"] = False
    net.load.at[2, "in_service"] = False
    return net


def test_out_of_service_elements_are_not_agents(tmp_path):
    path = save(_with_units_out_of_service(), tmp_path)
    feeder = feeders.load(path)
    assert [a.agent_id for a in feeder.agents] == [
        "h0",
        "h1",
        "h3",
        "h4",
        "pv0",
        "pv1",
        "pv2",
        "pv3",
    ]
    assert feeder.net.sgen.at[4, "p_mw"] == PV_KWP / 1000  # left as the file has it


def test_out_of_service_elements_are_not_counted(tmp_path, capsys):
    path = save(_with_units_out_of_service(), tmp_path)
    code, err, out = run(path, tmp_path, capsys, "--mode", "inspect")
    assert (code, err) == (0, "")
    summary = summary_of(out)
    assert (summary["n_agents"], summary["n_households"], summary["n_pv"]) == (8, 4, 4)
    assert summary["total_pv_kw"] == pytest.approx(4 * PV_KWP, abs=1e-9)
    assert summary["total_load_kw"] == pytest.approx(4 * LOAD_KW, abs=1e-9)

    code, err, out = run(path, tmp_path, capsys)
    assert code == 0
    summary, records = summary_of(out), records_of(out)
    assert [r["agent_id"] for r in records] == ["pv0", "pv1", "pv2", "pv3"]
    assert (summary["n_agents"], summary["n_households"]) == (4, 4)
    assert summary["total_available_kw"] == pytest.approx(4 * PV_KWP, abs=1e-9)
    ratios = [r["curtailment_kw"] / r["p_available_kw"] for r in records]
    assert ratios == pytest.approx([summary["alpha"]] * 4, abs=1e-12)  # the common fraction
    assert summary["jain_index"] == pytest.approx(1.0, abs=1e-12)
    messages = json.loads((out / "cim_difference.json").read_text())["messages"]
    assert len(messages) == 4
    assert "pv4" not in json.dumps(messages)


# --- 4. loads and PV cut off from the source ----------------------------------------------


def _source_on_isolated_bus(net: pp.pandapowerNet) -> None:
    net.ext_grid.at[0, "bus"] = pp.create_bus(net, 20)


def _transformer_switch_open(net: pp.pandapowerNet) -> None:
    pp.create_switch(net, 1, 0, et="t", closed=False)


def _pv_on_island(net: pp.pandapowerNet) -> None:
    a, b = pp.create_bus(net, 0.4), pp.create_bus(net, 0.4)
    pp.create_line(net, a, b, 0.1, std_type="NAYY 4x50 SE")
    pp.create_sgen(net, b, 0.01)


WHOLE_FEEDER = CUT_OFF_HELP.format(it="them", elements="load 0, 1, 2, 3, 4; sgen 0, 1, 2, 3, 4")
CUT_OFF = {
    "source bus out of service": (
        _source_bus_out_of_service,
        "Field 'bus' of ext_grid 0 is 0, a bus that is out of service" + SOURCE_HELP,
    ),
    "source bus missing": (
        _source_bus_missing,
        "Field 'bus' of ext_grid 0 is 999, a bus that is not in table 'bus'" + SOURCE_HELP,
    ),
    "source on an isolated bus": (
        _source_on_isolated_bus,
        "Buses 2, 3, 4, 5, 6 are not connected to the feeder's source " + WHOLE_FEEDER,
    ),
    "transformer switch open": (
        _transformer_switch_open,
        "Buses 2, 3, 4, 5, 6 are not connected to the feeder's source " + WHOLE_FEEDER,
    ),
    "PV on a separate island": (
        _pv_on_island,
        "Bus 8 is not connected to the feeder's source "
        + CUT_OFF_HELP.format(it="it", elements="sgen 5"),
    ),
}


@pytest.mark.parametrize("mode", ["inspect", "curtail"])
@pytest.mark.parametrize("case", sorted(CUT_OFF))
def test_elements_cut_off_from_the_source_are_refused(tmp_path, capsys, case, mode):
    mutate, message = CUT_OFF[case]
    net = chain_net()
    mutate(net)
    path = save(net, tmp_path)
    code, err, _ = run(path, tmp_path, capsys, "--mode", mode)
    assert code == 2
    assert err == refused(path, message)


def test_a_cut_off_tail_without_elements_runs(tmp_path, capsys):
    """Buses cut off by an open switch but holding nothing: the rest of the feeder runs."""
    net = chain_net()
    net.load.drop([3, 4], inplace=True)
    net.sgen.drop([3, 4], inplace=True)
    pp.create_switch(net, 4, 3, et="l", closed=False)  # line 3 joins buses 4 and 5
    code, err, out = run(save(net, tmp_path), tmp_path, capsys, "--mode", "inspect")
    assert (code, err) == (0, "")
    summary = summary_of(out)
    assert all(math.isfinite(x) for x in numbers_in(summary))
    assert summary["total_pv_kw"] == pytest.approx(3 * PV_KWP, abs=1e-9)


# --- 5. voltage-controlled generators -------------------------------------------------------


@pytest.mark.parametrize("mode", ["inspect", "curtail"])
def test_gen_in_service_is_refused(tmp_path, capsys, mode):
    net = chain_net()
    pp.create_gen(net, 6, p_mw=0.01, vm_pu=1.0)
    path = save(net, tmp_path)
    code, err, _ = run(path, tmp_path, capsys, "--mode", mode)
    assert code == 2
    assert err == refused(
        path,
        "Table 'gen' is not supported by the radial tree model (in-service row with index 0): "
        "voltage-controlled generators are not modelled; model PV units as sgen (fixed active "
        "and reactive power), or set their 'in_service' to False.",
    )


def test_negative_load_is_refused(tmp_path, capsys):
    # a load is a household whose peak is its p_mw: a negative one is generation (an sgen)
    net = chain_net()
    pp.create_load(net, 3, p_mw=-0.02)
    path = save(net, tmp_path)
    code, err, _ = run(path, tmp_path, capsys, "--mode", "inspect")
    assert code == 2
    assert "p_mw" in err and "load (household peak)" in err and "is negative" in err


def test_gen_out_of_service_is_ignored(tmp_path, capsys):
    net = chain_net()
    pp.create_gen(net, 6, p_mw=0.01, vm_pu=1.0, in_service=False)
    code, err, out = run(save(net, tmp_path), tmp_path, capsys, "--mode", "inspect")
    assert (code, err) == (0, "")
    assert summary_of(out)["total_pv_kw"] == pytest.approx(5 * PV_KWP, abs=1e-9)


# --- 6. the file's sgen reactive power ------------------------------------------------------


def _vmax_runpp(path: Path, edit: Callable[[pp.pandapowerNet], None]) -> float:
    net = pp.from_json(str(path))
    edit(net)
    return float(run_ac(net).res_bus["vm_pu"].max())


def test_pv_starts_at_unity_power_factor(tmp_path, capsys):
    """The README: sgen q_mvar is set to 0; voltages are runpp on the file with that q."""
    net = chain_net()
    net.sgen["q_mvar"] = -0.005
    path = save(net, tmp_path)
    assert (feeders.load(path).net.sgen["q_mvar"] == 0.0).all()
    at_unity = _vmax_runpp(path, lambda n: n.sgen.__setitem__("q_mvar", 0.0))
    as_saved = _vmax_runpp(path, lambda n: None)
    assert at_unity - as_saved > 1e-3  # the file's absorption lowers the voltages

    code, _, out = run(path, tmp_path, capsys, "--mode", "inspect")
    assert code == 0
    assert summary_of(out)["vmax_pu"] == pytest.approx(at_unity, abs=1e-9)
    code, _, out = run(path, tmp_path, capsys)
    assert code == 0
    assert summary_of(out)["vmax_pu_before"] == pytest.approx(at_unity, abs=1e-9)


# --- 7. --pv-scale and the inverter rating --------------------------------------------------


@pytest.mark.parametrize(("pv_scale", "s_kva"), [(0.5, 22.0), (1.0, 22.0), (3.0, 66.0)])
def test_inverter_rating_covers_the_scaled_output(tmp_path, pv_scale, s_kva):
    """1.1 kVA per kWp, and per kW of output above kWp (more PV installed)."""
    feeder = feeders.load(save(chain_net(), tmp_path), pv_scale=pv_scale)
    pvs = feeder.agents_of_type("pv")
    assert [a.s_rated_kva for a in pvs] == pytest.approx([s_kva] * 5, abs=1e-12)
    assert [a.p_rated_kw for a in pvs] == pytest.approx([PV_KWP] * 5, abs=1e-12)
    assert feeder.net.sgen["sn_mva"].tolist() == pytest.approx([s_kva / 1000] * 5, abs=1e-15)
    assert feeder.net.sgen["p_mw"].tolist() == pytest.approx([pv_scale * PV_KWP / 1000] * 5)


@pytest.mark.parametrize("feeder_id", ["cigre_lv", "village"])
def test_registered_feeders_scale_the_rating(feeder_cache, feeder_id):
    pvs = feeder_cache(feeder_id, pv_scale=3.0).agents_of_type("pv")
    assert [a.s_rated_kva for a in pvs] == pytest.approx([3.3 * a.p_rated_kw for a in pvs])


def test_setpoints_respect_the_rating_with_scaled_pv(tmp_path, capsys):
    path = save(chain_net(), tmp_path)
    code, _, out = run(
        path, tmp_path, capsys, "--pv-scale", "3", "--fairness", "equal-kw", "--reactive"
    )
    assert code == 0
    summary, records = summary_of(out), records_of(out)
    assert summary["total_q_kvar"] < -1.0  # the inverters have room to absorb
    for r in records:
        assert r["s_rated_kva"] == pytest.approx(66.0, abs=1e-12)
        assert r["p_available_kw"] == pytest.approx(60.0, abs=1e-12)
        assert math.hypot(r["p_setpoint_kw"], r["q_setpoint_kvar"]) <= r["s_rated_kva"] + 1e-6


def test_transformer_fairness_groups_pv_by_the_transformer_that_feeds_it(tmp_path, capsys):
    # The CIGRE LV net with its PV, as a plain pandapower JSON file: three MV/LV
    # transformers feed three parts; `transformer` gives one fraction per part (as many
    # PVs as there are, they were one group each, i.e. the `efficient` scheme).
    net = feeders.load("cigre_lv").net
    path = save(net, tmp_path, "cigre_pv")
    code, _, out = run(path, tmp_path, capsys, "--fairness", "transformer")
    assert code == 0
    records = records_of(out)
    groups = feeders.pandapower_json.transformer_groups(pp.from_json(str(path)))
    ratios: dict[str, set[float]] = {}
    for r in records:
        assert r["group"] == groups[r["bus"]]
        ratios.setdefault(r["group"], set()).add(round(r["curtailment_ratio"], 9))
    assert all(len(v) == 1 for v in ratios.values()), ratios
    assert max(max(v) for v in ratios.values()) > 0, "the scenario needs curtailment"
    assert {r["group"] for r in records} <= {f"trafo_{i}" for i in net.trafo.index} | {"source"}


# --- 8. tables with a repeated index or a missing column ------------------------------------

INDEX_HELP = "each row needs its own index (other tables and dec's agents refer to rows by it)."
COLUMN_HELP = (
    "which dec or pandapower's power flow reads; write the net with pandapower.to_json, which "
    "keeps every standard column."
)


def _repeat_row(table: str, position: int) -> Callable[[pp.pandapowerNet], None]:
    def repeat(net: pp.pandapowerNet) -> None:
        net[table] = pd.concat([net[table], net[table].iloc[[position]]])

    return repeat


@pytest.mark.parametrize("mode", ["inspect", "curtail"])
@pytest.mark.parametrize(
    ("table", "position", "index"),
    [("sgen", 0, 0), ("load", 2, 2), ("bus", 3, 3), ("line", 1, 1), ("trafo", 0, 0)],
)
def test_a_repeated_index_is_refused_naming_the_table_and_the_index(
    tmp_path, capsys, mode, table, position, index
):
    # it crashed (zip() of the PV agents, int() of a load's bus, a bus's voltage level),
    # and a line given twice was reported as a loop
    net = chain_net()
    _repeat_row(table, position)(net)
    path = save(net, tmp_path)
    code, err, out = run(path, tmp_path, capsys, "--mode", mode)
    assert code == 2
    assert err == refused(
        path, f"Table '{table}' gives the index {index} to more than one row; {INDEX_HELP}"
    )
    assert not out.exists()


def test_every_repeated_index_of_a_table_is_named(tmp_path, capsys):
    net = chain_net()
    net.load.index = [0, 0, 1, 1, 2]
    path = save(net, tmp_path)
    code, err, _ = run(path, tmp_path, capsys, "--mode", "inspect")
    assert code == 2
    assert err == refused(
        path, f"Table 'load' gives the indices 0, 1 to more than one row; {INDEX_HELP}"
    )


@pytest.mark.parametrize("mode", ["inspect", "curtail"])
@pytest.mark.parametrize(
    ("table", "columns", "named"),
    [
        ("sgen", ["p_mw"], "column 'p_mw'"),
        ("load", ["scaling"], "column 'scaling'"),
        ("bus", ["vn_kv"], "column 'vn_kv'"),
        ("line", ["x_ohm_per_km", "c_nf_per_km"], "columns 'x_ohm_per_km', 'c_nf_per_km'"),
        ("trafo", ["pfe_kw"], "column 'pfe_kw'"),
        ("ext_grid", ["vm_pu"], "column 'vm_pu'"),
    ],
)
def test_a_missing_column_is_refused_naming_the_table_and_the_column(
    tmp_path, capsys, mode, table, columns, named
):
    net = chain_net()
    net[table] = net[table].drop(columns=columns)
    path = save(net, tmp_path)
    code, err, out = run(path, tmp_path, capsys, "--mode", mode)
    assert code == 2
    assert err == refused(path, f"Table '{table}' has no {named}, {COLUMN_HELP}")
    assert not out.exists()


def test_problems_of_several_tables_are_reported_at_once(tmp_path, capsys):
    net = chain_net()
    _repeat_row("sgen", 0)(net)
    net.load = net.load.drop(columns=["p_mw"])
    path = save(net, tmp_path)
    code, err, _ = run(path, tmp_path, capsys, "--mode", "inspect")
    assert code == 2
    assert err == refused(
        path,
        f"Table 'load' has no column 'p_mw', {COLUMN_HELP} "
        f"Table 'sgen' gives the index 0 to more than one row; {INDEX_HELP}",
    )


def test_unsupported_rows_are_named_by_their_indices(tmp_path, capsys):
    net = chain_net()
    for bus in (4, 5):
        pp.create_gen(net, bus, p_mw=0.01, vm_pu=1.0)
    path = save(net, tmp_path)
    code, err, _ = run(path, tmp_path, capsys, "--mode", "inspect")
    assert code == 2
    assert "Table 'gen' is not supported by the radial tree model (in-service rows with " in err
    assert "indices 0, 1): voltage-controlled generators are not modelled" in err
