"""The output validator: references inlined, and it rejects what the schemas reject (documents and
CSV tables)."""

from __future__ import annotations

import copy
import json

import jsonschema
import pandas as pd
import pytest

from dec.curtail.problem import CurtailSettings
from dec.curtail.report import build_result
from dec.curtail.simulate import run_snapshot
from dec.export import export_result
from dec.files import to_jsonable
from dec.schemas import SCHEMA_DIR, _validators, validate, validate_folder, validate_table

MODES = ["curtail", "p2p", "rec-keys", "rec-pricing", "community"]


@pytest.mark.parametrize("mode", MODES)
def test_no_reference_is_left_to_resolve(mode):
    for validator in _validators("setpoint", mode):
        assert "$ref" not in json.dumps(validator.schema)


@pytest.fixture(scope="module")
def curtail_result(feeder_cache):
    run = run_snapshot(feeder_cache("cigre_lv"), CurtailSettings())
    return build_result(run, solver="centralized", engine="serial")


@pytest.fixture(scope="module")
def curtail_record(curtail_result):
    return to_jsonable(curtail_result.agents[0])


@pytest.fixture
def curtail_folder(curtail_result, tmp_path):
    return export_result(curtail_result, tmp_path, plots=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("p_setpoint_kw", -1.0),  # $defs/kw: no negative power
        ("p_setpoint_kw", [1.0, -1.0]),
        ("q_setpoint_kvar", 1.0),  # $defs/kvar: absorption only
        ("curtailment_ratio", 1.5),  # $defs/ratio
        ("voltage_pu_after", "1.0"),  # $defs/pu
        ("element", {"table": "sgen"}),  # common schema: index missing
    ],
)
def test_invalid_records_are_rejected_as_by_the_raw_schemas(curtail_record, field, value):
    validate(curtail_record, "setpoint", "curtail")
    broken = copy.deepcopy(curtail_record)
    broken[field] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(broken, "setpoint", "curtail")
    raw = [
        json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        for name in ("setpoint.schema.json", "setpoint.curtail.schema.json")
    ]
    assert not all(jsonschema.Draft202012Validator(s).is_valid(broken) for s in raw)


TABLE_SCHEMAS = sorted(SCHEMA_DIR.glob("table.*.schema.json"))


@pytest.mark.parametrize("path", TABLE_SCHEMAS, ids=lambda p: p.name)
def test_table_schemas_give_every_column_a_type(path):
    _, stem, mode, *_ = path.name.split(".")
    assert mode in MODES
    [validator] = _validators(f"table.{stem}", mode)  # checked against the metaschema
    schema = validator.schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["required"]) <= set(schema["properties"])
    assert all("type" in rule for rule in schema["properties"].values())


def _rewrite(folder, name, edit):
    """Rewrite ``folder/name`` with ``edit`` applied to its frame; return the path."""
    path = folder / name
    edit(pd.read_csv(path, dtype={"agent_id": str})).to_csv(path, index=False)
    return path


def _set(column, row, value):
    """An edit that writes ``value`` into one cell (0-based row)."""

    def edit(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return edit


def test_written_folder_is_valid_and_ids_that_look_like_numbers_stay_text(curtail_folder):
    validate_folder(curtail_folder, "curtail")
    path = _rewrite(
        curtail_folder, "setpoints.csv", lambda f: f.assign(agent_id=[str(i) for i in f.index])
    )
    _rewrite(curtail_folder, "setpoints.csv", _set("voltage_pu_after_linear", 0, None))
    validate_table(path, "curtail")  # "0", "1", ... are agent ids; the voltage may be empty


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _set("p_setpoint_kw", 2, "high"),
            "row 3 (line 4), column 'p_setpoint_kw': 'high' is not of type 'number'",
        ),
        (
            _set("curtailment_kw", 0, None),
            "row 1 (line 2), column 'curtailment_kw': None is not of type 'number'",
        ),
        (
            _set("curtailment_ratio", 1, 1.5),
            "row 2 (line 3), column 'curtailment_ratio': 1.5 is greater than the maximum of 1",
        ),
        (lambda f: f.drop(columns="step"), "header: 'step' is a required property"),
        (lambda f: f.assign(note="x"), "header: Additional properties are not allowed ('note'"),
    ],
)
def test_table_with_a_wrong_cell_or_column_is_rejected(curtail_folder, edit, message):
    path = _rewrite(curtail_folder, "setpoints.csv", edit)
    with pytest.raises(jsonschema.ValidationError) as raised:
        validate_folder(curtail_folder, "curtail")
    assert raised.value.message.startswith(f"{path}, ")
    assert message in raised.value.message


def test_table_without_a_schema_is_rejected(curtail_folder):
    (curtail_folder / "notes.csv").write_text("note\nx\n")
    with pytest.raises(jsonschema.ValidationError, match="no schema for this table"):
        validate_folder(curtail_folder, "curtail")
    with pytest.raises(jsonschema.ValidationError, match="no schema for this table"):
        validate_table(curtail_folder / "voltages.csv", "p2p")  # a table of another mode
