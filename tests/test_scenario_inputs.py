"""Bad scenario inputs: exit code 2, one clear message naming file, field and value; no traceback.

The corpus lives in tests/data/bad_scenarios/; each case names the words its message must hold.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd
import pytest

import feeders
from dec.errors import InputError
from dec.network.powerflow import PowerFlowFailed, run_ac
from dec.run import main
from dec.scenario import load_scenario
from dec.validation import MAX_SHOWN

CORPUS = Path(__file__).parent / "data" / "bad_scenarios"

CASES = {
    "unknown_feeder.yaml": ["Field 'feeder' ('nope')", "Unknown feeder 'nope'", "ieee123"],
    "missing_net_file.yaml": ["missing_net_file.yaml", "Field 'feeder'", "does_not_exist.json"],
    "bad_yaml.yaml": ["not valid YAML", "line"],
    "duplicate_key.yaml": ["not valid YAML at line 4", "the key 'knobs' is given twice"],
    "top_level_list.yaml": ["top level must be a mapping"],
    "knobs_not_mapping.yaml": ["Field 'knobs'", "'fast'"],
    # a knob's field is knobs.<name> (it was named 'knob', a field no file has)
    "negative_load_scale.yaml": [
        "Field 'knobs.load_scale' must be a finite number, zero or more; found -1."
    ],
    "nan_pv_scale.yaml": ["Field 'knobs.pv_scale' must be a finite number", "found nan"],
    "unknown_knob.yaml": ["sunshine"],
    "seed_not_integer.yaml": ["Field 'knobs.seed' must be a whole number", "found 1.5"],
    "seed_negative.yaml": ["Field 'knobs.seed' must be a whole number, zero or more; found -1"],
    "feeder_not_string.yaml": ["Field 'feeder'", "44"],
    "unknown_fairness.yaml": ["fairness", "'best'"],
    "vmax_not_number.yaml": ["voltage limit", "'high'"],
    "unknown_curtail_field.yaml": ["deadband"],
    "reactive_not_bool.yaml": ["Field 'reactive' must be true or false", "'yes'"],
    "vmin_above_vmax.yaml": [
        "The lower voltage limit (field 'vmin_pu' 1.06) must be below the upper limit "
        "(field 'vmax_pu' 1.05)"
    ],
    "feeder_not_a_net.yaml": ["not a pandapower JSON net", "not_a_net.json"],
    "negative_pv_rating.yaml": ["p_mw", "sgen", "negative"],
    "nan_load.yaml": ["p_mw", "load", "not a finite number"],
}


def test_corpus_is_complete():
    yamls = {p.name for p in CORPUS.glob("*.yaml")}
    assert yamls == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_exits_2_with_clear_message(tmp_path, capsys, name):
    code = main([str(CORPUS / name), "--out", str(tmp_path), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith("dec: error: Invalid input")
    assert name in err or ".json" in err, "the message names the file"
    for words in CASES[name]:
        assert words in err
    assert not any(tmp_path.iterdir()), "nothing is written for bad input"


@pytest.mark.parametrize("spec", ["not_a_feeder", "missing.yaml", "missing.json", "", " "])
def test_bad_scenario_argument(tmp_path, capsys, spec):
    assert main([spec, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    expected = "The scenario is empty; give a feeder id" if not spec.strip() else None
    assert expected in err if expected else ("does not exist" in err or "Unknown feeder" in err)


def _dangling_line(net):
    net.line.loc[net.line.index[3], "from_bus"] = 9999


def _loop(net):
    pp.create_line_from_parameters(net, 20, 30, 0.1, 0.2, 0.1, 0, 0.3)


def _island_pv(net):
    pp.create_sgen(net, pp.create_bus(net, 0.4), p_mw=0.01)


def _set(table, column, value, position=2):
    def mutate(net):
        net[table].loc[net[table].index[position], column] = value

    return mutate


BROKEN_NETS = {
    "dangling line": (_dangling_line, ["Field 'from_bus' refers to an unknown id", "3 (9999)"]),
    "loop": (_loop, ["not radial", "line 20"]),
    "two slacks": (lambda net: pp.create_ext_grid(net, 5), ["exactly one ext_grid", "found 2"]),
    "islanded PV": (_island_pv, ["Bus 44 is not connected"]),
    "NaN line length": (_set("line", "length_km", np.nan), ["length_km", "not a finite number"]),
    "zero parallel transformers": (
        _set("trafo", "parallel", 0),
        ["parallel", "trafo", "greater than zero"],
    ),
    "zero bus voltage": (_set("bus", "vn_kv", 0.0), ["vn_kv", "bus", "greater than zero"]),
    "negative resistance": (_set("line", "r_ohm_per_km", -0.1), ["r_ohm_per_km", "negative"]),
    "line without reactance": (
        _set("line", "x_ohm_per_km", 0.0),
        ["x_ohm_per_km", "1 line: 2 (0.0)"],
    ),
    "transformer without reactance": (
        _set("trafo", "vkr_percent", 5.0),
        ["'vk_percent' must exceed 'vkr_percent'", "trafo 2"],
    ),
    "PV that consumes": (
        lambda net: pp.create_sgen(net, 20, p_mw=0.01, scaling=-1.0),
        ["scaling", "sgen", "negative"],
    ),
    "load that produces": (_set("load", "scaling", -1.0), ["scaling", "load", "negative"]),
    "source angle NaN": (_set("ext_grid", "va_degree", np.nan, position=0), ["va_degree"]),
    "source voltage NaN": (
        _set("ext_grid", "vm_pu", np.nan, position=0),
        ["vm_pu", "ext_grid", "nan"],
    ),
}


def test_power_flow_on_a_branch_without_impedance_is_a_dec_error():
    """Nets built in code skip the JSON checks: pandapower's division error becomes a DecError."""
    net = pn.create_cigre_network_lv()
    net.line.loc[net.line.index[3], "x_ohm_per_km"] = 0.0
    with pytest.raises(PowerFlowFailed, match="numerical error"):
        run_ac(net)


@pytest.mark.parametrize("case", sorted(BROKEN_NETS))
def test_broken_pandapower_net_exits_2_naming_the_file(tmp_path, capsys, case):
    """A pandapower JSON net with broken elements: exit 2, the file and the element named."""
    net = pn.create_cigre_network_lv()
    mutate, words = BROKEN_NETS[case]
    mutate(net)
    path = tmp_path / "broken.json"
    pp.to_json(net, str(path))
    code = main([str(path), "--out", str(tmp_path / "out"), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith(f"dec: error: Invalid input in {path}")
    for words_ in words:
        assert words_ in err
    assert not (tmp_path / "out").exists()


def test_sgen_scaling_is_folded_into_the_pv_rating(tmp_path):
    """pandapower scales an sgen's p_mw by 'scaling'; the PV agent's kWp is the scaled power."""
    net = pn.create_cigre_network_lv()
    pp.create_sgen(net, 38, p_mw=0.05, scaling=0.5)
    path = tmp_path / "scaled.json"
    pp.to_json(net, str(path))
    feeder = feeders.load(path)
    (pv,) = feeder.agents_of_type("pv")
    assert pv.p_rated_kw == pytest.approx(25.0)
    assert feeder.net.sgen.at[0, "scaling"] == 1.0
    assert feeder.net.sgen.at[0, "p_mw"] == pytest.approx(0.025)


def test_load_scaling_is_folded_into_the_household_load(tmp_path):
    """pandapower scales a load's p_mw and q_mvar by 'scaling': the households' peak is the
    scaled power, and the AC power flow of the net as dec holds it is that of the user's net
    (reference: pandapower on the file as written)."""
    net = pn.create_cigre_network_lv()
    net.load["scaling"] = 0.5
    path = tmp_path / "scaled_loads.json"
    pp.to_json(net, str(path))
    feeder = feeders.load(path)
    rows = net.load.index[net.load["in_service"].astype(bool)]
    households = {a.element[1]: a for a in feeder.agents_of_type("household")}
    for idx in rows:
        assert feeder.net.load.at[idx, "p_mw"] == pytest.approx(0.5 * net.load.at[idx, "p_mw"])
        assert feeder.net.load.at[idx, "scaling"] == 1.0
        assert households[idx].p_rated_kw == pytest.approx(500.0 * net.load.at[idx, "p_mw"])
    pp.runpp(net)
    run_ac(feeder.net)
    np.testing.assert_allclose(feeder.net.res_bus.vm_pu, net.res_bus.vm_pu, atol=1e-9)


def test_exponent_numbers_read_as_yaml_1_2_floats(tmp_path):
    # PyYAML follows YAML 1.1, where 1e0 (no dot) is a string; scenario files read it as 1.0
    spec = tmp_path / "exponents.yaml"
    spec.write_text("feeder: cigre_lv\nknobs:\n  load_scale: 5e-1\n  pv_scale: 1E0\n")
    scenario = load_scenario(spec)
    reference = feeders.load("cigre_lv", load_scale=0.5, pv_scale=1.0)
    net, ref = scenario.feeder.net, reference.net
    np.testing.assert_array_equal(net.load.p_mw.to_numpy(), ref.load.p_mw.to_numpy())
    np.testing.assert_array_equal(net.sgen.p_mw.to_numpy(), ref.sgen.p_mw.to_numpy())


@pytest.mark.parametrize(
    ("blocker_path", "root"),
    [("taken", "taken/runs"), ("runs/cigre_lv/curtail", "runs"), ("runs/cigre_lv", "runs")],
)
def test_output_folder_blocked_by_a_file_exits_2_before_any_work(
    tmp_path, capsys, monkeypatch, blocker_path, root
):
    # the root itself, or the run's folder root/<scenario>/<mode> under it
    blocker = tmp_path / blocker_path
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    monkeypatch.setattr("dec.run.load_mode", pytest.fail)  # no work may start
    code = main(["cigre_lv", "--out", str(tmp_path / root), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"Option --out '{tmp_path / root}'" in err
    assert f"'{blocker}' is a file, not a folder" in err
    assert blocker.read_text() == "not a folder"


def test_a_series_on_a_feeder_built_without_loads_blames_the_knob_of_the_file(tmp_path, capsys):
    # a series sets the loads to shape × nominal, and a feeder built at load_scale 0 lost
    # the nominal powers; the knob is the scenario file's (it read "Invalid input in cigre_lv
    # (scenario ...): Knob 'load_scale' is 0.0")
    spec = tmp_path / "no_load.yaml"
    spec.write_text("feeder: cigre_lv\nknobs:\n  load_scale: 0\n")
    assert main([str(spec), "--steps", "2", "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    assert capsys.readouterr().err == (
        f"dec: error: Invalid input in {spec}: Field 'knobs.load_scale' is 0: a time series "
        "(--day, --steps) sets each load to the day's shape × its nominal power, which a feeder "
        "built at load_scale 0 no longer holds. A series multiplies the shapes by --load-scale, "
        "not by the knob: set the knob above 0, or give --load-scale 0 to run the day with the "
        "loads off.\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("knobs", ["", "knobs:\n  load_scale: 0\n"])
def test_a_day_with_the_loads_off_runs(tmp_path, capsys, knobs):
    # --load-scale 0 in a series: a PV-only day (it was refused as "Knob 'load_scale' is 0.0")
    spec = tmp_path / "day.yaml"
    spec.write_text(f"feeder: cigre_lv\n{knobs}")
    out = tmp_path / "out"
    argv = [str(spec), "--steps", "2", "--first-step", "46", "--load-scale", "0"]
    assert main([*argv, "--out", str(out), "--no-plots"]) == 0
    folder = out / "day" / "curtail"
    net = pp.from_json(str(folder / "net_after.json"))
    assert len(net.load) > 0 and (net.load["p_mw"] == 0.0).all()
    assert (net.load["q_mvar"] == 0.0).all()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n_steps"] == 2 and summary["total_available_kwh"] > 0


@pytest.mark.parametrize(("knob", "value"), [("pv_scale", "1.0e+308"), ("load_scale", "2.0e6")])
def test_a_knob_above_a_million_is_refused_before_the_feeder_is_built(
    tmp_path, capsys, knob, value
):
    spec = tmp_path / "huge.yaml"
    spec.write_text(f"feeder: cigre_lv\nknobs:\n  {knob}: {value}\n")
    for mode in ("curtail", "inspect"):
        code = main([str(spec), "--mode", mode, "--out", str(tmp_path / "out"), "--no-plots"])
        assert code == 2
        assert capsys.readouterr().err == (
            f"dec: error: Invalid input in {spec}: Field 'knobs.{knob}' must be at most 1e+06 "
            f"(a multiplier of the feeder's nominal power); found {float(value)!r}.\n"
        )
    assert not (tmp_path / "out").exists()


def test_a_repeated_line_index_is_not_reported_as_a_loop(tmp_path, capsys):
    net = pn.create_cigre_network_lv()
    net.line = pd.concat([net.line, net.line.iloc[[3]]])
    path = tmp_path / "twice.json"
    pp.to_json(net, str(path))
    assert main([str(path), "--mode", "inspect", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dec: error: Invalid input in {path}: Table 'line' gives the index 3 ")
    assert "loop" not in err


SECTION_OF_ANOTHER_MODE = (
    "Section 'curtail' is for mode curtail, but this run is mode {mode}, which does not read it; "
    "remove the section, or run mode curtail with --mode curtail."
)


@pytest.mark.parametrize(("head", "options", "mode"), [
    ("mode: inspect\n", [], "inspect"),
    ("mode: p2p\np2p:\n  hours: [12]\n", [], "p2p"),
    # the file's own mode's section (p2p) is kept; curtail's is neither the file's nor the run's
    ("mode: p2p\np2p:\n  hours: [12]\n", ["--mode", "inspect"], "inspect"),
])  # fmt: skip
def test_a_section_of_another_mode_is_refused(tmp_path, capsys, monkeypatch, head, options, mode):
    # it was ignored without notice
    spec = tmp_path / "mixed.yaml"
    spec.write_text(f"{head}feeder: cigre_lv\ncurtail:\n  fairness: equal-kw\n")
    monkeypatch.setattr("dec.run.load_mode", pytest.fail)  # refused before the mode runs
    argv = [str(spec), *options, "--out", str(tmp_path / "out"), "--no-plots"]
    assert main(argv) == 2
    message = SECTION_OF_ANOTHER_MODE.format(mode=mode)
    assert capsys.readouterr().err == f"dec: error: Invalid input in {spec}: {message}\n"
    assert not (tmp_path / "out").exists()


def test_the_section_of_the_files_own_mode_is_kept_when_another_mode_runs(tmp_path, capsys):
    # inspect runs on the feeder of a p2p scenario file, whose p2p section it does not read
    spec = tmp_path / "market.yaml"
    spec.write_text("mode: p2p\nfeeder: cigre_lv\np2p:\n  hours: [12]\n")
    assert main([str(spec), "--mode", "inspect", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "market" / "inspect" / "summary.json").is_file()


def test_a_number_too_long_to_read_is_out_of_range_not_invalid_yaml(tmp_path, capsys):
    spec = tmp_path / "seed.yaml"
    spec.write_text(f"mode: curtail\nfeeder: cigre_lv\nknobs:\n  seed: {'9' * 5000}\n")
    assert main([str(spec), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    assert capsys.readouterr().err == (
        f"dec: error: Invalid input in {spec}: Field 'knobs.seed' at line 4, column 9 is a whole "
        "number of 5000 digits: out of range (whole numbers are read up to 4300 digits).\n"
    )


def test_a_number_too_long_in_a_list_is_named_by_its_position(tmp_path):
    spec = tmp_path / "hours.yaml"
    spec.write_text(f"feeder: cigre_lv\np2p:\n  hours: [10, -{'1' * 4400}]\n")
    with pytest.raises(
        InputError,
        match=r"Field 'p2p\.hours\[1\]' at line 3, column 15 is a "
        r"whole number of 4400 digits: out of range",
    ):
        load_scenario(spec)


def test_a_huge_value_is_shortened_in_its_message(tmp_path, capsys):
    # ten million leaves through YAML anchors: the message was one line of 52 MB
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
              f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 7)]  # fmt: skip
    spec = tmp_path / "alias.yaml"
    spec.write_text("feeder: cigre_lv\nname:\n  " + "\n  ".join(lines) + "\n")
    assert main([str(spec), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    head = f"dec: error: Invalid input in {spec}: Field 'name' must be a str, found "
    assert err.startswith(head)
    assert "{'a0': ['x', 'x'," in err and "..." in err and err.endswith("]}.\n")
    assert len(err) == len(head) + MAX_SHOWN + len(".\n")


def test_outputs_are_named_by_the_file_stem_and_name_titles_the_table(tmp_path, capsys):
    # Two variants of one scenario keep their 'name' and must not share (and so erase)
    # one output folder: the folder is the file's stem (DESIGN.md), 'name' heads the table.
    for stem in ("variant_a", "variant_b"):
        path = tmp_path / f"{stem}.yaml"
        path.write_text("name: study\nfeeder: cigre_lv\nmode: inspect\n")
        assert main([str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 0
        assert capsys.readouterr().out.lstrip().startswith("study / inspect")
    folders = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert folders == ["variant_a", "variant_b"]
    for stem in folders:
        summary = (tmp_path / "out" / stem / "inspect" / "summary.json").read_text()
        assert f'"scenario": "{stem}"' in summary


def test_unreadable_scenario_file_exits_2_naming_it(tmp_path, capsys, monkeypatch):
    # chmod 000 does not stop root (CI may run as root): the read itself is made to fail
    path = tmp_path / "locked.yaml"
    path.write_text("feeder: cigre_lv\n")
    real_read_text = Path.read_text

    def read_text(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"Invalid input in {path}: The file cannot be read (Permission denied)." in error


def test_feeder_may_be_another_scenario_file_whose_knobs_are_defaults(tmp_path):
    # DESIGN.md: a scenario file is accepted wherever a feeder id is. The named file's
    # knobs are defaults: the naming file's, then the command line's, override them.
    (tmp_path / "base.yaml").write_text(
        "feeder: cigre_lv\nknobs: {pv_scale: 1.5, load_scale: 0.5}\n"
    )
    (tmp_path / "study.yaml").write_text("feeder: base.yaml\nknobs: {pv_scale: 2.0}\n")
    nested = load_scenario(tmp_path / "study.yaml", load_scale=0.25)
    direct = load_scenario("cigre_lv", pv_scale=2.0, load_scale=0.25)
    assert nested.name == "study"
    for table in ("load", "sgen"):
        np.testing.assert_allclose(
            nested.feeder.net[table].p_mw.to_numpy(), direct.feeder.net[table].p_mw.to_numpy()
        )


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"a.yaml": "feeder: b.yaml\n", "b.yaml": "feeder: ./a.yaml\n"}, ["leads back", "a.yaml"]),
        ({"a.yaml": "feeder: a.yaml\n"}, ["leads back"]),
        ({"a.yaml": "feeder: b.yaml\n", "b.yaml": "mode: p2p\n"}, ["b.yaml", "has no 'feeder:'"]),
        (
            {"a.yaml": "feeder: gone.yml\n"},
            ["in", "a.yaml: Field 'feeder'", "gone.yml", "not exist"],
        ),
        ({"a.yaml": "feeder: b.yaml\n", "b.yaml": "feeder: nope\n"}, ["b.yaml", "'nope'"]),
    ],
)
def test_bad_chain_of_scenario_files_exits_2(tmp_path, capsys, files, words):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert main([str(tmp_path / "a.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err
