"""The output validator: references inlined, and it rejects what the schemas reject."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from dec.curtail.problem import CurtailSettings
from dec.curtail.report import build_result
from dec.curtail.simulate import run_snapshot
from dec.files import to_jsonable
from dec.schemas import SCHEMA_DIR, _validators, validate

MODES = ["curtail", "p2p", "rec-keys", "rec-pricing", "community"]


@pytest.mark.parametrize("mode", MODES)
def test_no_reference_is_left_to_resolve(mode):
    for validator in _validators("setpoint", mode):
        assert "$ref" not in json.dumps(validator.schema)


@pytest.fixture(scope="module")
def curtail_record(feeder_cache):
    run = run_snapshot(feeder_cache("cigre_lv"), CurtailSettings())
    return to_jsonable(build_result(run, solver="centralized", engine="serial").agents[0])


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
