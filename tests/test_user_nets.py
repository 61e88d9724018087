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


# --- 9. values pandapower or dec cannot use, refused when the net is read --------------------
# Each crashed (a traceback) or ended in "The AC power flow did not converge" with numpy and
# scipy warnings and no field named; each is now one paragraph naming table, column, row and
# value, before any power flow.


def _set(table: str, column: str, value, index: int = 0) -> Callable[[pp.pandapowerNet], None]:
    """Set one cell; a value of another type than the column's turns the column to objects."""

    def mutate(net: pp.pandapowerNet) -> None:
        cells = net[table][column]
        floats = isinstance(value, float) and cells.dtype.kind == "f"
        cells = cells.copy() if floats else cells.astype(object)
        cells.loc[index] = value
        net[table][column] = cells

    return mutate


def _both(*mutations: Callable[[pp.pandapowerNet], None]) -> Callable[[pp.pandapowerNet], None]:
    def mutate(net: pp.pandapowerNet) -> None:
        for m in mutations:
            m(net)

    return mutate


def _with_shunt_and_storage(net: pp.pandapowerNet) -> None:
    pp.create_shunt(net, 3, q_mvar=0.001, p_mw=0.0)
    pp.create_storage(net, 4, p_mw=0.002, max_e_mwh=0.01)


def _refused_net(tmp_path, capsys, mutate, mode: str = "inspect", *options: str) -> tuple:
    """Build the chain net, break it, run the mode: (path, exit code, stderr, output folder)."""
    net = chain_net()
    mutate(net)
    path = save(net, tmp_path)
    code, err, out = run(path, tmp_path, capsys, "--mode", mode, *options)
    return path, code, err, out


LOAD_MODEL_HELP = (
    "they are the shares of a load's power that are constant impedance and constant current, "
    "% of it (the rest is constant power)."
)
LOAD_MODEL = {
    # pandapower raised "ValueError: const_z_p_percent + const_i_p_percent need to be less or
    # equal to 100%!" from inside the power flow (a traceback, exit 1)
    "z share 200": (
        _set("load", "const_z_p_percent", 200.0),
        "Field 'const_z_p_percent' is outside [0, 100] for 1 load: 0 (200.0).",
    ),
    "z + i above 100": (
        _both(
            _set("load", "const_z_p_percent", 80.0, 1), _set("load", "const_i_p_percent", 40.0, 1)
        ),
        f"Fields 'const_z_p_percent' and 'const_i_p_percent' add up to more than 100 for load "
        f"1 (80.0 + 40.0); {LOAD_MODEL_HELP}",
    ),
    "reactive z + i above 100, on a load out of service too": (
        _both(
            _set("load", "const_z_q_percent", 70.0, 2),
            _set("load", "const_i_q_percent", 70.0, 2),
            _set("load", "in_service", False, 2),
        ),
        f"Fields 'const_z_q_percent' and 'const_i_q_percent' add up to more than 100 for load "
        f"2 (70.0 + 70.0); {LOAD_MODEL_HELP}",
    ),
    "NaN share": (
        _set("load", "const_i_q_percent", math.nan, 3),
        "Field 'const_i_q_percent' is not a finite number for 1 load: 3 (nan).",
    ),
    "negative share": (
        _set("load", "const_i_p_percent", -5.0, 4),
        "Field 'const_i_p_percent' is outside [0, 100] for 1 load: 4 (-5.0).",
    ),
    "text share": (
        _set("load", "const_z_p_percent", "50"),
        "Field 'const_z_p_percent' is not a finite number for 1 load: 0 ('50').",
    ),
}


@pytest.mark.parametrize("mode", ["inspect", "curtail"])
@pytest.mark.parametrize("case", sorted(LOAD_MODEL))
def test_a_load_model_pandapower_refuses_is_named(tmp_path, capsys, case, mode):
    mutate, message = LOAD_MODEL[case]
    path, code, err, out = _refused_net(tmp_path, capsys, mutate, mode)
    assert code == 2
    assert err == refused(path, message)
    assert not out.exists()


def test_a_load_model_of_100_percent_runs(tmp_path, capsys):
    # constant impedance and constant current together up to the whole power: pandapower runs
    net = chain_net()
    net.load["const_z_p_percent"] = 60.0
    net.load["const_i_p_percent"] = 40.0
    net.load["const_z_q_percent"] = 100.0
    path = save(net, tmp_path)
    code, err, out = run(path, tmp_path, capsys, "--mode", "inspect")
    assert (code, err) == (0, "")
    feeder = feeders.load(path)
    assert summary_of(out)["vmax_pu"] == pytest.approx(
        float(run_ac(feeder.net).res_bus["vm_pu"].max()), abs=1e-12
    )


INTEGER_INDEX_HELP = (
    "other tables, pandapower's power flow and dec's agents (named after the index, e.g. "
    "pv<index>) refer to rows by integer indices, as pandapower's create functions give them."
)


def _index(table: str, index: list) -> Callable[[pp.pandapowerNet], None]:
    def mutate(net: pp.pandapowerNet) -> None:
        net[table].index = index

    return mutate


TEXT_INDEX = {
    # sgen: "ValueError: invalid literal for int() with base 10: 'a0'" building the PV agents
    "sgen": (
        _index("sgen", ["a0", "a1", "a2", "a3", "a4"]),
        "Table 'sgen' has indices that are not integers: 'a0', 'a1', 'a2', 'a3', 'a4'; ",
    ),
    "load": (
        _index("load", [0, 1, "two", 3, 4]),
        "Table 'load' has an index that is not an integer: 'two'; ",
    ),
    "bus": (
        _index("bus", [f"b{i}" for i in range(7)]),
        "Table 'bus' has indices that are not integers: 'b0', 'b1', 'b2', 'b3', 'b4' and 2 more; ",
    ),
    "line": (
        _index("line", [0.5, 1.5, 2.5, 3.5, 4.5]),
        "Table 'line' has indices that are not integers: 0.5, 1.5, 2.5, 3.5, 4.5; ",
    ),
    "trafo": (_index("trafo", ["T1"]), "Table 'trafo' has an index that is not an integer: 'T1'; "),
}


@pytest.mark.parametrize("mode", ["inspect", "curtail"])
@pytest.mark.parametrize("table", sorted(TEXT_INDEX))
def test_an_index_that_is_not_an_integer_is_refused(tmp_path, capsys, table, mode):
    mutate, message = TEXT_INDEX[table]
    path, code, err, out = _refused_net(tmp_path, capsys, mutate, mode)
    assert code == 2
    assert err == refused(path, message + INTEGER_INDEX_HELP)
    assert not out.exists()


def test_negative_integer_indices_run(tmp_path, capsys):
    net = chain_net()
    net.sgen.index = [-1, -2, -3, -4, -5]
    code, err, out = run(save(net, tmp_path), tmp_path, capsys, "--mode", "inspect")
    assert (code, err) == (0, "")
    assert summary_of(out)["total_pv_kw"] == pytest.approx(5 * PV_KWP, abs=1e-9)


ELECTRICAL = {
    ("line", "r_ohm_per_km", -0.1): "is negative (must be zero or more) for 1 line: 0 (-0.1)",
    ("line", "x_ohm_per_km", 0.0): "is not greater than zero for 1 line: 0 (0.0)",
    ("line", "c_nf_per_km", math.nan): "is not a finite number for 1 line: 0 (nan)",
    ("line", "g_us_per_km", math.nan): "is not a finite number for 1 line: 0 (nan)",
    ("line", "length_km", -0.5): "is not greater than zero for 1 line: 0 (-0.5)",
    ("line", "length_km", 0.0): "is not greater than zero for 1 line: 0 (0.0)",
    ("trafo", "sn_mva", math.nan): "is not a finite number for 1 trafo: 0 (nan)",
    ("trafo", "vn_hv_kv", -20.0): "is not greater than zero for 1 trafo: 0 (-20.0)",
    ("trafo", "vn_lv_kv", 0.0): "is not greater than zero for 1 trafo: 0 (0.0)",
    ("trafo", "vn_lv_kv", math.nan): "is not a finite number for 1 trafo: 0 (nan)",
    ("trafo", "vk_percent", 0.0): "is not greater than zero for 1 trafo: 0 (0.0)",
    ("trafo", "vkr_percent", -1.0): "is negative (must be zero or more) for 1 trafo: 0 (-1.0)",
    ("trafo", "pfe_kw", math.nan): "is not a finite number for 1 trafo: 0 (nan)",
    ("trafo", "i0_percent", 1e9): "is outside [0, 100] for 1 trafo: 0 (1000000000.0)",
    ("trafo", "shift_degree", math.nan): "is not a finite number for 1 trafo: 0 (nan)",
    # pandapower raised "Rating factor df must be positive" (NaN runs: p2p refuses it, below)
    ("trafo", "df", 0.0): "is not greater than zero for 1 trafo: 0 (0.0)",
    ("sgen", "q_mvar", math.nan): "is not a finite number for 1 sgen: 0 (nan)",
    ("shunt", "q_mvar", math.nan): "is not a finite number for 1 shunt: 0 (nan)",
    ("shunt", "p_mw", "0"): "is not a finite number for 1 shunt: 0 ('0')",
    ("shunt", "vn_kv", 0.0): "is not greater than zero for 1 shunt: 0 (0.0)",
    ("storage", "p_mw", math.nan): "is not a finite number for 1 storage: 0 (nan)",
    ("bus", "vn_kv", math.nan): "is not a finite number for 1 bus: 0 (nan)",
    ("ext_grid", "vm_pu", math.nan): "is not a finite number for 1 ext_grid: 0 (nan)",
}


@pytest.mark.parametrize(("table", "column", "value"), list(ELECTRICAL), ids=str)
def test_electrical_data_the_power_flow_cannot_use_is_named(tmp_path, capsys, table, column, value):
    mutate = _both(_with_shunt_and_storage, _set(table, column, value))
    path, code, err, out = _refused_net(tmp_path, capsys, mutate)
    assert code == 2
    assert err == refused(path, f"Field '{column}' {ELECTRICAL[table, column, value]}.")
    assert not out.exists()


def test_every_problem_of_the_electrical_data_is_reported_at_once(tmp_path, capsys):
    mutate = _both(
        _with_shunt_and_storage,
        _set("line", "c_nf_per_km", math.nan, 1),
        _set("line", "c_nf_per_km", math.nan, 3),
        _set("trafo", "pfe_kw", math.nan),
        _set("load", "const_z_p_percent", 101.0, 2),
        _set("storage", "p_mw", math.nan),
    )
    path, code, err, _ = _refused_net(tmp_path, capsys, mutate, "curtail")
    assert code == 2
    assert err == refused(
        path,
        "Field 'const_z_p_percent' is outside [0, 100] for 1 load: 2 (101.0). "
        "Field 'c_nf_per_km' is not a finite number for 2 lines: 1 (nan), 3 (nan). "
        "Field 'pfe_kw' is not a finite number for 1 trafo: 0 (nan). "
        "Field 'p_mw' is not a finite number for 1 storage: 0 (nan).",
    )


def test_impedance_data_of_lines_out_of_service_is_not_checked(tmp_path, capsys):
    # pandapower leaves such a line out of its model: the net runs as without it
    net = chain_net()
    pp.create_line_from_parameters(
        net, 2, 6, length_km=math.nan, r_ohm_per_km=math.nan, x_ohm_per_km=math.nan,
        c_nf_per_km=math.nan, max_i_ka=math.nan, g_us_per_km=math.nan, in_service=False,
    )  # fmt: skip
    code, err, out = run(save(net, tmp_path), tmp_path, capsys, "--mode", "inspect")
    assert (code, err) == (0, "")
    reference = chain_net()
    reference.sgen["q_mvar"] = 0.0
    assert summary_of(out)["vmax_pu"] == pytest.approx(
        float(run_ac(reference).res_bus["vm_pu"].max()), abs=1e-12
    )


@pytest.mark.parametrize(
    ("table", "column"), [("shunt", "q_mvar"), ("storage", "p_mw"), ("trafo", "pfe_kw")]
)
def test_data_pandapower_reads_out_of_service_too_is_checked(tmp_path, capsys, table, column):
    # pandapower multiplies these by in_service: NaN × 0 is NaN, and the power flow failed
    mutate = _both(
        _with_shunt_and_storage,
        _set(table, column, math.nan),
        _set(table, "in_service", False),
    )
    path, code, err, _ = _refused_net(tmp_path, capsys, mutate)
    assert code == 2
    assert err == refused(path, f"Field '{column}' is not a finite number for 1 {table}: 0 (nan).")


FLAG_HELP = (
    "is not true or false; pandapower reads it as a boolean (true or false in the file), and "
    "misreads text or numbers (the text 'no' counts as true)."
)


def _as_integers(table: str, column: str = "in_service") -> Callable[[pp.pandapowerNet], None]:
    def mutate(net: pp.pandapowerNet) -> None:
        net[table][column] = net[table][column].astype(int)

    return mutate


def _as_floats(table: str) -> Callable[[pp.pandapowerNet], None]:
    def mutate(net: pp.pandapowerNet) -> None:
        net[table]["in_service"] = net[table]["in_service"].astype(float)

    return mutate


FLAGS = {
    # 'no' counted as in service (astype(bool)): the run went on with the unit in it
    "text in sgen": (_set("sgen", "in_service", "no", 1), "Field 'in_service' of sgen 1 ('no')"),
    # pandapower misreads an integer bus column (wrong voltages) and crashes on others
    "integers in load": (
        _as_integers("load"),
        "Field 'in_service' of load 0 (1), 1 (1), 2 (1), 3 (1), 4 (1)",
    ),
    "numbers and NaN in bus": (
        _both(_as_floats("bus"), _set("bus", "in_service", math.nan, 3)),
        "Field 'in_service' of bus 0 (1.0), 1 (1.0), 2 (1.0), 3 (nan), 4 (1.0) and 2 more",
    ),
    "null in line": (_set("line", "in_service", None, 2), "Field 'in_service' of line 2 (None)"),
    "text in switch": (
        _both(lambda net: pp.create_switch(net, 4, 3, et="l"), _set("switch", "closed", "yes")),
        "Field 'closed' of switch 0 ('yes')",
    ),
}


@pytest.mark.parametrize("mode", ["inspect", "curtail"])
@pytest.mark.parametrize("case", sorted(FLAGS))
def test_a_flag_that_is_not_a_boolean_is_refused(tmp_path, capsys, case, mode):
    mutate, named = FLAGS[case]
    path, code, err, out = _refused_net(tmp_path, capsys, mutate, mode)
    assert code == 2
    assert err == refused(path, f"{named} {FLAG_HELP}")
    assert not out.exists()


def test_boolean_flags_of_object_columns_are_read(tmp_path, capsys):
    # an object column holding only booleans (e.g. after a None was replaced) is fine
    net = chain_net()
    net.sgen["in_service"] = net.sgen["in_service"].astype(object)
    net.sgen.at[4, "in_service"] = False
    path = save(net, tmp_path)
    feeder = feeders.load(path)
    assert feeder.net.sgen["in_service"].dtype == bool
    assert [a.agent_id for a in feeder.agents_of_type("pv")] == ["pv0", "pv1", "pv2", "pv3"]


WRITE_ONE = "Write one with pandapower.to_json(net, path)."
NOT_A_NET_OBJECT = (
    'The file is not a pandapower JSON net: pandapower.to_json writes an object with "_class": '
    '"pandapowerNet" and the net\'s tables ("bus", ...) in "_object", and the file holds '
)
NOT_NETS = {
    # it read "(AttributeError: 'list' object has no attribute 'version')"
    "a list": ("[1, 2]", f"{NOT_A_NET_OBJECT}a list. {WRITE_ONE}"),
    "a number": ("3.5", f"{NOT_A_NET_OBJECT}a number. {WRITE_ONE}"),
    "null": ("null", f"{NOT_A_NET_OBJECT}null. {WRITE_ONE}"),
    "another object": (
        '{"not": "a net"}',
        f"{NOT_A_NET_OBJECT}an object without them. {WRITE_ONE}",
    ),
    "a net marker without tables": (
        '{"_module": "pandapower.auxiliary", "_class": "pandapowerNet"}',
        f"{NOT_A_NET_OBJECT}an object without them. {WRITE_ONE}",
    ),
    "not JSON": (
        '{"bus": ',
        "The file is not a pandapower JSON net: it is not valid JSON (line 1, column 9: "
        f"Expecting value). {WRITE_ONE}",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_NETS))
def test_a_json_file_that_is_not_a_net_is_named(tmp_path, capsys, case):
    text, message = NOT_NETS[case]
    path = tmp_path / "other.json"
    path.write_text(text)
    code, err, out = run(path, tmp_path, capsys, "--mode", "inspect")
    assert code == 2
    assert err == refused(path, message)
    assert not out.exists()


# --- 10. p2p: the branch ratings of its network checks ------------------------------------

RATING_HELP = (
    "The p2p mode's network checks rate every line in service at √3 · vn_kv · max_i_ka · df · "
    "parallel and every transformer at sn_mva · df · parallel; give each a number above zero "
    "(pandapower's standard types have them)."
)
P2P = ["--pv-penetration", "1"]
RATINGS = {
    # NaN: scipy's linprog "b_ub must not contain values inf, nan, or None" (a traceback);
    # zero: the whole run, then "None is not of type 'number'" exporting the summary
    ("line", "max_i_ka", math.nan): "Field 'max_i_ka' is not a finite number for 1 line: 2 (nan).",
    ("line", "max_i_ka", 0.0): "Field 'max_i_ka' is not greater than zero for 1 line: 2 (0.0).",
    ("line", "df", math.nan): "Field 'df' is not a finite number for 1 line: 2 (nan).",
    ("line", "df", -1.0): "Field 'df' is not greater than zero for 1 line: 2 (-1.0).",
    ("trafo", "df", math.nan): "Field 'df' is not a finite number for 1 trafo: 0 (nan).",
}


@pytest.mark.parametrize(("table", "column", "value"), list(RATINGS), ids=str)
def test_p2p_refuses_a_rating_it_cannot_use_and_the_other_modes_run(
    tmp_path, capsys, table, column, value
):
    index = 2 if table == "line" else 0
    mutate = _set(table, column, value, index)
    path, code, err, out = _refused_net(tmp_path, capsys, mutate, "p2p", *P2P)
    assert code == 2
    assert err == refused(path, f"{RATINGS[table, column, value]} {RATING_HELP}")
    assert not out.exists()
    for mode in ("inspect", "curtail"):  # neither uses the ratings
        code, err, out = run(path, tmp_path, capsys, "--mode", mode)
        assert (code, err) == (0, ""), mode
        assert all(math.isfinite(x) for x in numbers_in(summary_of(out)))


def test_p2p_names_the_net_given_in_a_scenario_file(tmp_path, capsys):
    net = chain_net()
    _set("line", "max_i_ka", math.nan, 4)(net)
    path = save(net, tmp_path)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"feeder: {path.name}\nmode: p2p\np2p:\n  households:\n    buses: leaves\n"
        "  pv:\n    penetration: 1\n"
    )
    code = main([str(scenario), "--out", str(tmp_path / "out"), "--no-plots"])
    assert code == 2
    assert capsys.readouterr().err == refused(
        path, f"Field 'max_i_ka' is not a finite number for 1 line: 4 (nan). {RATING_HELP}"
    )


def test_p2p_runs_on_a_good_user_net(tmp_path, capsys):
    code, err, out = run(save(chain_net(), tmp_path), tmp_path, capsys, "--mode", "p2p", *P2P)
    assert (code, err) == (0, "")
    summary = summary_of(out)
    assert all(math.isfinite(x) for x in numbers_in(summary))
    assert 0 < summary["max_line_loading_percent"] < 100
