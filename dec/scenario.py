"""Scenario loading: a feeder id, a pandapower JSON net or a YAML file -> one :class:`Scenario`.

A scenario YAML file is a mapping with these reserved keys, all optional:

``name``
    Output folder name (default: the file's stem).
``mode``
    Default mode when ``--mode`` is not given.
``feeder``
    Feeder id or path to a pandapower JSON net (relative to the YAML file).
``knobs``
    Feeder knobs (``load_scale``, ``pv_scale``, ``seed``, ...); command-line
    values override them.

Every other top-level key is a mode section (e.g. ``curtail:``, ``rec_keys:``),
validated by its mode before any work starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import feeders
from dec.errors import InputError
from feeders.base import Feeder

RESERVED_KEYS = ("name", "mode", "feeder", "knobs")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name
        Output folder name: the feeder id or the scenario file's stem.
    source
        What the user gave (feeder id or file path), for messages.
    mode
        The scenario file's default mode, if any.
    feeder
        The feeder with its agents, or None for scenarios without a network.
    sections
        The scenario file's mode sections (top-level keys other than the reserved ones).
    base_dir
        Folder against which relative paths in the file are resolved.

    """

    name: str
    source: str
    mode: str | None = None
    feeder: Feeder | None = None
    sections: dict[str, Any] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)

    def section(self, key: str, required: bool = True) -> dict[str, Any]:
        """Return a mode section of the scenario file.

        Raises
        ------
        InputError
            If the section is missing (and required) or is not a mapping.

        """
        value = self.sections.get(key)
        if value is None:
            if required:
                raise InputError(
                    f"Section '{key}' is missing; this mode needs it at the top level of the "
                    "scenario file.",
                    self.source,
                )
            return {}
        if not isinstance(value, dict):
            raise InputError(
                f"Section '{key}' must be a mapping of fields, found {type(value).__name__}.",
                self.source,
            )
        return value

    def require_feeder(self) -> Feeder:
        """Return the feeder, or raise if this scenario has none."""
        if self.feeder is None:
            raise InputError(
                "This mode needs a feeder: give a feeder id or set 'feeder:' in the scenario file.",
                self.source,
            )
        return self.feeder

    def resolve(self, path: str | Path) -> Path:
        """Resolve a path written in the scenario file against its folder."""
        path = Path(path)
        return path if path.is_absolute() else self.base_dir / path


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading numbers as YAML 1.2 does, and refusing duplicate keys.

    PyYAML follows YAML 1.1, where a float needs a dot (``1.0e3``) and ``1e3`` is the string
    '1e3': a capacity written ``1e3`` would be refused as "not a number". It also keeps the
    last of two equal keys of a mapping, silently dropping the first; YAML forbids them.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """Build a mapping; raise a ConstructorError naming a key given twice."""
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<' merges: its keys may be overridden
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"the key {key!r} is given twice",
                    key_node.start_mark,
                )  # fmt: skip
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"The scenario file {str(path)!r} does not exist.")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=YamlLoader)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(err, "problem", None) or str(err)
        raise InputError(f"The file is not valid YAML{at}: {problem}.", str(path)) from None
    except UnicodeDecodeError:
        raise InputError("The file is not UTF-8 text.", str(path)) from None
    if not isinstance(data, dict):
        raise InputError(
            f"The top level must be a mapping of keys (name, mode, feeder, knobs, sections), "
            f"found {type(data).__name__}.",
            str(path),
        )
    return data


def _from_yaml(path: Path, cli_knobs: dict[str, Any]) -> Scenario:
    data = _read_yaml(path)
    source = str(path)
    for key, kind in (("name", str), ("mode", str), ("feeder", str), ("knobs", dict)):
        if key in data and data[key] is not None and not isinstance(data[key], kind):
            raise InputError(
                f"Field '{key}' must be a {kind.__name__}, found {data[key]!r}.", source
            )
    knobs = dict(data.get("knobs") or {})
    knobs.update({k: v for k, v in cli_knobs.items() if v is not None})
    feeder = None
    if data.get("feeder"):
        spec = data["feeder"]
        if spec.lower().endswith(".json") and not Path(spec).is_absolute():
            spec = str((path.parent / spec).resolve())

        try:
            feeder = feeders.load(spec, source=source, **knobs)
        except InputError as err:
            if err.source is not None:
                raise
            problems = [f"Field 'feeder' ({data['feeder']!r}): {p}" for p in err.problems]
            raise InputError(problems, source) from None
    elif data.get("knobs"):
        raise InputError("Field 'knobs' is given but 'feeder' is not.", source)
    return Scenario(
        name=data.get("name") or path.stem,
        source=source,
        mode=data.get("mode"),
        feeder=feeder,
        sections={k: v for k, v in data.items() if k not in RESERVED_KEYS},
        base_dir=path.parent,
    )


def load_scenario(
    spec: str | Path,
    load_scale: float | None = None,
    pv_scale: float | None = None,
    seed: int | None = None,
) -> Scenario:
    """Build a validated scenario.

    Parameters
    ----------
    spec
        A feeder id, a pandapower JSON file or a scenario YAML file.
    load_scale, pv_scale, seed
        Feeder knobs; None keeps the scenario's (or feeder's) value.

    Returns
    -------
    Scenario

    Raises
    ------
    InputError
        Unknown id, missing or malformed file, or a value that is not allowed.

    """
    cli_knobs = {"load_scale": load_scale, "pv_scale": pv_scale, "seed": seed}
    text = str(spec)
    if text.lower().endswith(YAML_SUFFIXES):
        return _from_yaml(Path(text), cli_knobs)
    feeder = feeders.load(text, **cli_knobs)
    return Scenario(name=feeder.feeder_id, source=text, feeder=feeder)
