"""Robustness of reading input and of reporting errors: exit code 2 and one clear message.

Errors raised in process or Ray workers reach the caller as raised; scenario files are read
as YAML 1.2 reads numbers and booleans, with known top-level keys only; directories given
where a file is expected are named as directories.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pickle
import pkgutil
import sys
from pathlib import Path

import pytest
import yaml

import dec
from dec.admm.engine import make_engine
from dec.csv_input import read_table
from dec.errors import (
    DecError,
    InfeasibleError,
    InputError,
    SolverLimit,
    SubproblemInfeasible,
)
from dec.files import write_json
from dec.network.powerflow import PowerFlowFailed
from dec.run import main
from dec.scenario import SECTIONS, YamlLoader, load_scenario

INPUTS = Path(__file__).parents[1] / "inputs"

ERRORS = {
    "DecError": DecError("Something went wrong."),
    "InputError": InputError(["Field 'a' is negative.", "Field 'b' is missing."], "x.yaml"),
    "InputError without source": InputError("Field 'a' is negative."),
    "InfeasibleError": InfeasibleError("The loads exceed the supply.", "x.yaml"),
    "SubproblemInfeasible": SubproblemInfeasible("agent pv_3", "infeasible"),
    "SolverLimit": SolverLimit("HiGHS stopped at its time limit."),
    "PowerFlowFailed": PowerFlowFailed("The AC power flow did not converge."),
}


def _raise(error: DecError) -> None:
    """A local update that fails: mapped over the engines' workers."""
    raise error


def _double(x: float) -> float:
    """A local update that works (a Python function: Ray cannot send builtins)."""
    return 2 * x


def _assert_same_error(got: BaseException, error: DecError) -> None:
    assert type(got) is type(error)
    assert vars(got) == vars(error)
    assert got.args == error.args
    assert str(got) == str(error)


def _subclasses(cls: type) -> set[type]:
    return {s for c in cls.__subclasses__() for s in {c, *_subclasses(c)}}


def _dec_error_classes() -> list[type]:
    """Every DecError subclass defined in dec, after importing all of dec's modules."""
    for module in pkgutil.walk_packages(dec.__path__, "dec."):
        importlib.import_module(module.name)
    classes = {c for c in _subclasses(DecError) if c.__module__.startswith("dec.")}
    return sorted(classes | {DecError}, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _placeholder_instance(cls: type) -> DecError:
    """An error of class ``cls``, a placeholder string for each of its required arguments."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    required = [p for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
    return cls(*([f"{p.name} value" for p in required] or ["A message."]))


def _run(tmp_path: Path, capsys: pytest.CaptureFixture, *args: str) -> str:
    """Run the command line, which must exit 2 without a traceback; return its message."""
    code = main([*args, "--out", str(tmp_path / "out"), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists(), "nothing is written for bad input"
    return err


def _scenario(tmp_path: Path, text: str, name: str = "scenario.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# 1. errors raised in workers


@pytest.mark.parametrize("cls", _dec_error_classes(), ids=lambda c: c.__qualname__)
def test_every_error_class_pickles_exactly(cls):
    error = _placeholder_instance(cls)
    _assert_same_error(pickle.loads(pickle.dumps(error)), error)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_pickles_exactly(name):
    error = ERRORS[name]
    _assert_same_error(pickle.loads(pickle.dumps(error)), error)


def test_input_error_message_is_not_prefixed_twice_after_pickling():
    error = pickle.loads(pickle.dumps(ERRORS["InputError"]))
    assert str(error) == "Invalid input in x.yaml: Field 'a' is negative. Field 'b' is missing."
    assert error.source == "x.yaml"
    assert error.problems == ["Field 'a' is negative.", "Field 'b' is missing."]


@pytest.fixture(scope="module")
def process_engine():
    engine = make_engine("process", n_workers=2)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def ray_engine():
    cloudpickle = pytest.importorskip("ray.cloudpickle", reason="Ray is the optional 'ray' extra")
    # Ray workers cannot import this test module: send _raise by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    engine = make_engine("ray", n_workers=2)
    yield engine
    engine.close()
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.parametrize("engine_fixture", ["process_engine", "ray_engine"])
@pytest.mark.parametrize("name", sorted(ERRORS))
def test_an_engine_raises_the_workers_error(request, engine_fixture, name):
    engine = request.getfixturevalue(engine_fixture)
    error = ERRORS[name]
    with pytest.raises(DecError) as raised:
        engine.map(_raise, [error, error])
    _assert_same_error(raised.value, error)
    assert engine.map(_double, [-1, 2]) == [-2, 4], "the engine still works"


# 2. files YAML cannot read


def test_deeply_nested_yaml_is_an_input_error(tmp_path, capsys):
    path = _scenario(tmp_path, "a: " + "[" * 5000 + "]" * 5000 + "\n")
    err = _run(tmp_path, capsys, path)
    assert f"Invalid input in {path}" in err
    assert "too deeply" in err


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("!!int abc", ["line 2, column 10", "'abc' is not a valid int"]),
        ("!!bool maybe", ["line 2, column 10", "'maybe' is not a valid bool"]),
        ("2016-02-30", ["line 2, column 10", "'2016-02-30' is not a valid timestamp"]),
        ("!!map abc", ["line 2, column 10", "expected a mapping node"]),
    ],
)
def test_value_yaml_cannot_build_is_an_input_error(tmp_path, capsys, value, words):
    path = _scenario(tmp_path, f"feeder: cigre_lv\ncurtail: {value}\n")
    err = _run(tmp_path, capsys, path)
    assert f"Invalid input in {path}: The file is not valid YAML" in err
    for word in words:
        assert word in err


def test_a_long_value_yaml_cannot_build_is_shortened(tmp_path, capsys):
    path = _scenario(tmp_path, f"feeder: cigre_lv\ncurtail: !!int {'a' * 5000}\n")
    err = _run(tmp_path, capsys, path)
    assert f"Invalid input in {path}: The file is not valid YAML at line 2, column 10: 'aaa" in err
    assert "...aaa" in err and "aaa' is not a valid int (invalid literal for int()" in err
    assert len(err) < 800


# 3. YAML 1.2 numbers and booleans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24", 24),
        ("-7", -7),
        ("010", 10),
        ("0o30", 24),
        ("0x1F", 31),
        ("1e3", 1000.0),
        ("1.0e-5", 1.0e-5),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("true", True),
        ("False", False),
        ("~", None),
        ("1:00", "1:00"),
        ("22:00", "22:00"),
        ("24_000", "24_000"),
        ("0b101", "0b101"),
        ("+0x1F", "+0x1F"),
        ("yes", "yes"),
        ("off", "off"),
        ("NO", "NO"),
        ("1.5.2", "1.5.2"),
    ],
)
def test_yaml_reads_scalars_as_yaml_1_2(text, expected):
    value = yaml.load(f"a: {text}", Loader=YamlLoader)["a"]
    assert type(value) is type(expected)
    assert value == expected


@pytest.mark.parametrize(("text", "sign"), [(".inf", 1), ("-.Inf", -1), ("+.INF", 1)])
def test_yaml_reads_infinities(text, sign):
    assert yaml.load(f"a: {text}", Loader=YamlLoader)["a"] == sign * math.inf


def test_yaml_reads_nan():
    assert math.isnan(yaml.load("a: .NaN", Loader=YamlLoader)["a"])


def test_base_60_and_underscored_numbers_are_refused_by_name(tmp_path, capsys):
    text = (INPUTS / "rec" / "case0.yaml").read_text(encoding="utf-8")
    text = text.replace("n_steps: 24\n", "n_steps: 24_000\n")
    err = _run(tmp_path, capsys, _scenario(tmp_path, text, "case0.yaml"))
    assert "case0.yaml" in err
    assert "n_steps" in err
    assert "'24_000'" in err


# 4. top-level keys


def test_unknown_top_level_key_is_refused(tmp_path, capsys):
    path = _scenario(tmp_path, "mode: p2p\nfeeder: cigre_lv\nP2P:\n  hours: [10]\n")
    err = _run(tmp_path, capsys, path)
    assert f"Invalid input in {path}: Unknown top-level key 'P2P' (did you mean 'p2p'?)" in err
    assert "allowed: name, mode, feeder, knobs, and the mode sections" in err
    assert ", ".join(SECTIONS) in err


def test_every_unknown_top_level_key_is_named(tmp_path):
    path = _scenario(tmp_path, "feeder: cigre_lv\nextra: 1\n7: 2\n")
    with pytest.raises(InputError) as raised:
        load_scenario(path)
    assert len(raised.value.problems) == 2
    assert "Unknown top-level key 'extra';" in raised.value.problems[0]
    assert "Unknown top-level key 7;" in raised.value.problems[1]


def test_known_sections_are_the_sections_the_modes_read():
    from dec.community.config import SECTION as COMMUNITY
    from dec.p2p.settings import SECTION as P2P
    from dec.rec.scenario import SECTION as REC_PRICING
    from dec.reckeys.inputs import SECTION as REC_KEYS

    assert set(SECTIONS) == {COMMUNITY, P2P, REC_PRICING, REC_KEYS, "curtail"}


@pytest.mark.parametrize("path", sorted(INPUTS.rglob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path):
    assert load_scenario(path).sections


# 5. a directory where a file is expected


@pytest.mark.parametrize("suffix", ["", "/"])
def test_scenario_file_that_is_a_directory(tmp_path, capsys, suffix):
    (tmp_path / "dir.yaml").mkdir()
    err = _run(tmp_path, capsys, f"{tmp_path / 'dir.yaml'}{suffix}")
    assert f"The scenario file '{tmp_path / 'dir.yaml'}' is a directory, not a file." in err


def test_scenario_that_is_a_directory(tmp_path, capsys):
    err = _run(tmp_path, capsys, str(tmp_path))
    assert f"The scenario '{tmp_path}' is a directory, not a file; give a feeder id" in err


@pytest.mark.parametrize("feeder", ["nets", "nets.json"])
def test_feeder_that_is_a_directory(tmp_path, capsys, feeder):
    (tmp_path / feeder).mkdir()
    path = _scenario(tmp_path, f"feeder: {feeder}\n")
    err = _run(tmp_path, capsys, path)
    assert f"Invalid input in {path}: Field 'feeder' ('{feeder}')" in err
    assert f"'{tmp_path / feeder}' is a directory, not a file" in err


def test_misspelt_feeder_id_is_named_as_written(tmp_path, capsys):
    err = _run(tmp_path, capsys, _scenario(tmp_path, "feeder: cigre\n"))
    assert "Unknown feeder 'cigre'" in err


def test_table_that_is_a_directory(tmp_path):
    with pytest.raises(
        InputError, match=r"The profile file '.*' is a directory, not a file"
    ) as err:
        read_table(tmp_path, "profile", "scenario.yaml")
    assert err.value.source == "scenario.yaml"


def test_table_that_is_a_directory_is_not_named_as_the_input(tmp_path, monkeypatch):
    # the folder named itself as the file in error ("Invalid input in p: The load profile file
    # 'p' is a directory"); without a caller's file, the command line names the scenario
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    with pytest.raises(InputError) as err:
        read_table(Path("p/."), "load profile")
    assert err.value.source is None
    assert str(err.value) == (
        f"Invalid input: The load profile file '{tmp_path / 'p'}' is a directory, not a file: "
        "give the path of a CSV table, not of a folder."
    )


def test_output_file_that_is_a_directory(tmp_path):
    (tmp_path / "summary.json").mkdir()
    with pytest.raises(IsADirectoryError, match=r"summary\.json' is a directory, not a file"):
        write_json(tmp_path / "summary.json", {"a": 1})
