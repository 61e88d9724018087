"""JSON Schemas of dec's output files, and validators.

For every output document kind (``setpoint``, ``summary``, ...) there is a common
schema ``<kind>.schema.json`` and, optionally, a mode-specific one
``<kind>.<mode>.schema.json``; a document must satisfy both. A CSV table ``<stem>.csv``
is of kind ``table.<stem>``: its schema ``table.<stem>.<mode>.schema.json`` describes one
row as an object (one property per column, empty cells as null).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd

SCHEMA_DIR = Path(__file__).parent


@cache
def load_schema(name: str) -> dict[str, Any] | None:
    """Return the schema stored as ``<name>.schema.json``, or None if there is none."""
    path = SCHEMA_DIR / f"{name}.schema.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def schemas_for(kind: str, mode: str) -> list[dict[str, Any]]:
    """Return the common and the mode-specific schema of a document kind."""
    found = [load_schema(kind), load_schema(f"{kind}.{mode}")]
    return [s for s in found if s is not None]


def _inline_definitions(node: Any, definitions: dict[str, Any]) -> Any:
    """Return a schema with every ``{"$ref": "#/$defs/<name>"}`` replaced by the definition.

    The same schema, without a reference lookup per use: validating a file of a large run
    took a third of its time resolving them.
    """
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if len(node) == 1 and ref.startswith("#/$defs/"):
            return _inline_definitions(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {k: _inline_definitions(v, definitions) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_definitions(v, definitions) for v in node]
    return node


@cache
def _validators(kind: str, mode: str) -> tuple[Any, ...]:
    """Return checked validators of a document kind (schemas are checked once, not per document)."""
    validators = []
    for schema in schemas_for(kind, mode):
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validators.append(cls(_inline_definitions(schema, schema.get("$defs", {}))))
    return tuple(validators)


def validate(document: Any, kind: str, mode: str) -> None:
    """Validate a document against its schemas.

    Raises
    ------
    jsonschema.ValidationError
        If the document does not satisfy a schema.
    """
    for validator in _validators(kind, mode):
        error = jsonschema.exceptions.best_match(validator.iter_errors(document))
        if error is not None:
            raise error


def _located(error: jsonschema.ValidationError, where: str) -> jsonschema.ValidationError:
    """Return ``error`` with ``where`` (file, row, column) in front of its message."""
    return jsonschema.ValidationError(
        f"{where}: {error.message}",
        validator=error.validator,
        path=error.path,
        instance=error.instance,
        schema=error.schema,
        schema_path=error.schema_path,
        validator_value=error.validator_value,
    )


def _types(rule: dict[str, Any]) -> list[str]:
    """Return the JSON types a property's rule allows (``type`` as a list)."""
    types = rule.get("type", [])
    return [types] if isinstance(types, str) else types


@cache
def _column_validators(kind: str, mode: str) -> tuple[Any, ...]:
    """Return validators of a table's header: which columns it must and may have.

    Each checks ``dict.fromkeys(columns)`` against the ``required``, ``properties``,
    ``patternProperties`` and ``additionalProperties: false`` of a row schema, so that a
    table without rows is checked too.
    """
    validators = []
    for schema in schemas_for(kind, mode):
        rule = {
            "required": schema.get("required", []),
            "properties": dict.fromkeys(schema.get("properties", {}), True),
        }
        if "patternProperties" in schema:
            rule["patternProperties"] = dict.fromkeys(schema["patternProperties"], True)
        if schema.get("additionalProperties", True) is False:
            rule["additionalProperties"] = False
        validators.append(jsonschema.Draft202012Validator(rule))
    return tuple(validators)


def _read_csv(path: Path, text: set[str]) -> pd.DataFrame:
    """Read a table with pandas: the ``text`` columns as strings, only empty cells missing.

    In other columns, a cell that is not a number leaves pandas a column of text; the text
    cells that spell numbers are turned back into numbers, so that validation names the
    wrong cell rather than the column's first.

    Raises
    ------
    jsonschema.ValidationError
        If the file is not a CSV table.
    """
    try:
        frame = pd.read_csv(
            path, dtype=dict.fromkeys(text, str), keep_default_na=False, na_values=[""]
        )
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise jsonschema.ValidationError(f"{path}: not a CSV table ({err})") from err
    for name in frame.columns:
        column = frame[name]
        if name not in text and column.dtype == object:
            spelled = column.map(lambda cell: isinstance(cell, str))
            numbers = pd.to_numeric(column.where(spelled), errors="coerce")
            frame[name] = numbers.astype(object).where(numbers.notna(), column)
    return frame


def validate_table(path: Path | str, mode: str) -> None:
    """Validate the CSV table ``path`` written by a run of ``mode`` against its row schema.

    The schema is ``table.<stem>.<mode>.schema.json``. The header must have the columns
    the schema requires and no other (unless the schema allows them); every row, read by
    pandas with empty cells as None and the columns of type string kept as text, must
    satisfy the schema.

    Raises
    ------
    jsonschema.ValidationError
        If the table has no schema, cannot be read as CSV, or a column or cell does not
        satisfy the schema; the message names the file, and the row (its line in the
        file) and column.
    """
    path = Path(path)
    kind = f"table.{path.stem}"
    validators = _validators(kind, mode)
    if not validators:
        raise jsonschema.ValidationError(
            f"{path}: no schema for this table (every CSV a run of mode {mode} writes needs "
            f"dec/schemas/{kind}.{mode}.schema.json)"
        )
    text = {
        name
        for validator in validators
        for name, rule in validator.schema.get("properties", {}).items()
        if "string" in _types(rule)
    }
    frame = _read_csv(path, text)
    header = dict.fromkeys(frame.columns)
    for validator in _column_validators(kind, mode):
        error = jsonschema.exceptions.best_match(validator.iter_errors(header))
        if error is not None:
            raise _located(error, f"{path}, header")
    for number, row in enumerate(frame.to_dict("records"), start=1):
        cells = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        try:
            validate(cells, kind, mode)
        except jsonschema.ValidationError as error:
            column = error.path[0] if error.path else None
            where = f"{path}, row {number} (line {number + 1}), column {column!r}"
            raise _located(error, where) from error


def validate_folder(folder: Path | str, mode: str) -> None:
    """Validate the output folder of a run of ``mode`` against the schemas.

    Checks ``summary.json``, every ``setpoints/*.json``, ``cim_difference.json`` if there
    is one, and every ``*.csv`` (:func:`validate_table`: a table without a schema is an
    error).

    Raises
    ------
    jsonschema.ValidationError
        If a file does not satisfy its schema (the message names the file).
    """
    folder = Path(folder)
    documents = [(folder / "summary.json", "summary")]
    documents += [(path, "setpoint") for path in sorted((folder / "setpoints").glob("*.json"))]
    if (folder / "cim_difference.json").exists():
        documents.append((folder / "cim_difference.json", "cim_difference"))
    for path, kind in documents:
        try:
            validate(json.loads(path.read_text(encoding="utf-8")), kind, mode)
        except jsonschema.ValidationError as error:
            raise _located(error, str(path)) from error
    for path in sorted(folder.glob("*.csv")):
        validate_table(path, mode)
