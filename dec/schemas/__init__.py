"""JSON Schemas of dec's output files, and a validator.

For every output document kind (``setpoint``, ``summary``, ...) there is a common
schema ``<kind>.schema.json`` and, optionally, a mode-specific one
``<kind>.<mode>.schema.json``; a document must satisfy both.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

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
