"""Scenario loading: a feeder id, a pandapower JSON net or a YAML file -> one :class:`Scenario`.

A scenario YAML file is a mapping with these reserved keys, all optional:

``name``
    A title for the run, shown above its console table (default: the file's stem). The
    output folder is always named by the file's stem, so that two files never share one.
``mode``
    Default mode when ``--mode`` is not given.
``feeder``
    Feeder id, or path (relative to the YAML file) to a pandapower JSON net or to
    another scenario file, whose feeder (with its knobs as defaults) is used.
``knobs``
    Feeder knobs (``load_scale``, ``pv_scale``, ``seed``, ...); command-line
    values override them.

Every other top-level key is a mode section (one of :data:`SECTIONS`), validated by its
mode before any work starts; any other top-level key is refused.

The file is read with :class:`YamlLoader`: YAML 1.2 numbers and booleans, no key given twice.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import feeders
from dec.errors import InputError
from dec.modes import DEFAULT_MODE
from dec.validation import MAX_SHOWN, clip, shown
from feeders.base import Feeder

RESERVED_KEYS = ("name", "mode", "feeder", "knobs")
#: The mode sections: the keys the modes read with :meth:`Scenario.section`.
SECTIONS = ("community", "curtail", "p2p", "rec_keys", "rec_pricing")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name
        Output folder name: the feeder id or the scenario file's stem.
    title
        The scenario file's ``name`` (a title for people), else ``name``.
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
    title: str
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

    def refuse_other_sections(self, mode: str) -> None:
        """Refuse the mode sections that a run of ``mode`` would ignore.

        A run reads its own mode's section (``rec-keys`` reads ``rec_keys``). The section of
        the file's own ``mode`` (default curtail) is kept too, so that another mode, e.g.
        inspect, can run on the file's feeder; a section of any other mode is refused.

        Raises
        ------
        InputError
            Naming each such section, its mode and the run's mode.

        """
        used = {mode.replace("-", "_"), str(self.mode or DEFAULT_MODE).replace("-", "_")}
        ignored = [key for key in self.sections if key not in used]
        if ignored:
            raise InputError(
                [
                    f"Section '{key}' is for mode {key.replace('_', '-')}, but this run is mode "
                    f"{mode}, which does not read it; remove the section, or run mode "
                    f"{key.replace('_', '-')} with --mode {key.replace('_', '-')}."
                    for key in ignored
                ],
                self.source,
            )

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


#: Implicit types of the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution):
#: tag, pattern and the characters a matching scalar can start with. Ints come before floats,
#: whose pattern also matches ``24``.
CORE_SCHEMA = (
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
)


def _yaml_1_1_resolvers_without_core_types() -> dict[str, list]:
    """PyYAML's implicit resolvers except its YAML 1.1 bool, int and float ones."""
    core_tags = {tag for tag, _, _ in CORE_SCHEMA}
    return {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in core_tags]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


class NumberTooLong(yaml.constructor.ConstructorError):
    """A YAML int of more digits than Python converts: well-formed YAML, a value out of range."""


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading numbers and booleans as YAML 1.2 does, refusing duplicate keys.

    PyYAML follows YAML 1.1: a float needs a dot (``1e3`` is the string '1e3'), ``1:00`` is
    the base-60 int 60, ``24_000`` is 24000, ``010`` is octal 8 and ``yes``/``off`` are
    booleans. Here ints, floats and booleans are those of the YAML 1.2 core schema
    (:data:`CORE_SCHEMA`): ``1e3`` is 1000.0, ``010`` is 10, ``0o10`` is 8, and ``1:00``,
    ``24_000`` and ``yes`` stay strings, which typed validation then refuses by name. Nulls,
    timestamps and ``<<`` merges are PyYAML's. PyYAML also keeps the last of two equal keys
    of a mapping, silently dropping the first; YAML forbids them.
    """

    yaml_implicit_resolvers = _yaml_1_1_resolvers_without_core_types()

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Build a value; raise a ConstructorError (with its line) for a value of a wrong type.

        An explicit tag (``!!int abc``, ``!!bool maybe``) or an impossible date
        (``2016-02-30``) makes PyYAML's constructors raise plain Python errors.
        """
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            what = shown(node.value) if isinstance(node, yaml.ScalarNode) else "the value"
            kind = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"{what} is not a valid {kind} ({clip(str(err))})", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """Build a mapping; raise a ConstructorError naming a key given twice."""
        seen: set = set()
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<' merges: its keys may be overridden
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {shown(key)} is given twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """Build a YAML 1.2 int: decimal (a leading zero is not octal), ``0o`` octal or ``0x`` hex.

        Raises
        ------
        NumberTooLong
            For a decimal int of more digits than Python converts (``sys.int_info``).
        """
        text = self.construct_scalar(node)
        if text.startswith(("0o", "0x")):
            return int(text, 0)
        digits = len(text.lstrip("+-"))
        if digits > sys.get_int_max_str_digits() > 0 and text.lstrip("+-").isdigit():
            raise NumberTooLong(None, None, f"a whole number of {digits} digits", node.start_mark)
        return int(text)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        """Build a YAML 1.2 float, including ``.inf``, ``-.inf`` and ``.nan``."""
        text = self.construct_scalar(node).lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        return math.nan if text == ".nan" else float(text)


for _tag, _pattern, _first in CORE_SCHEMA:
    YamlLoader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$"), list(_first))
YamlLoader.add_constructor("tag:yaml.org,2002:int", YamlLoader.construct_yaml_int)
YamlLoader.add_constructor("tag:yaml.org,2002:float", YamlLoader.construct_yaml_float)


def _field_at(text: str, mark: yaml.Mark) -> str | None:
    """Return the field (``knobs.seed``, ``p2p.hours[2]``) of the value that starts at ``mark``.

    The file is composed again (nodes only, no values built); None if no value starts there.
    """
    seen: set[int] = set()

    def find(node: yaml.Node, path: str) -> str | None:
        if node.start_mark.index == mark.index and isinstance(node, yaml.ScalarNode):
            return path
        if id(node) in seen:  # an alias: its nodes were searched where its anchor is
            return None
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            pairs = [(f"{path}.{key.value}" if path else str(key.value), value)
                     for key, value in node.value]  # fmt: skip
        elif isinstance(node, yaml.SequenceNode):
            pairs = [(f"{path}[{i}]", value) for i, value in enumerate(node.value)]
        else:
            return None
        return next((found for sub, value in pairs if (found := find(value, sub))), None)

    try:
        root = yaml.compose(text, Loader=YamlLoader)
    except yaml.YAMLError:
        return None
    return None if root is None else find(root, "")


def _read_yaml(path: Path) -> dict[str, Any]:
    """Read a scenario file: a YAML mapping whose top-level keys are allowed."""
    if path.is_dir():
        raise InputError(f"The scenario file {str(path)!r} is a directory, not a file.")
    if not path.is_file():
        raise InputError(f"The scenario file {str(path)!r} does not exist.")
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=YamlLoader)
    except NumberTooLong as err:
        mark = err.problem_mark
        field = _field_at(text, mark)
        what = f"Field {clip(field)!r}" if field else "The value"
        raise InputError(
            f"{what} at line {mark.line + 1}, column {mark.column + 1} is {err.problem}: out of "
            f"range (whole numbers are read up to {sys.get_int_max_str_digits()} digits).",
            str(path),
        ) from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = clip(getattr(err, "problem", None) or str(err), 3 * MAX_SHOWN)
        raise InputError(f"The file is not valid YAML{at}: {problem}.", str(path)) from None
    except UnicodeDecodeError:
        raise InputError("The file is not UTF-8 text.", str(path)) from None
    except RecursionError:
        raise InputError(
            "The file nests its lists and mappings too deeply to be read as YAML.", str(path)
        ) from None
    except OSError as err:
        raise InputError(f"The file cannot be read ({err.strerror or err}).", str(path)) from None
    if not isinstance(data, dict):
        raise InputError(
            f"The top level must be a mapping of keys ({_allowed_keys()}), "
            f"found {type(data).__name__}.",
            str(path),
        )
    unknown = [key for key in data if key not in (*RESERVED_KEYS, *SECTIONS)]
    if unknown:
        raise InputError([_unknown_key(key) for key in unknown], str(path))
    return data


def _allowed_keys() -> str:
    return f"{', '.join(RESERVED_KEYS)}, and the mode sections {', '.join(SECTIONS)}"


def _unknown_key(key: Any) -> str:
    """Say that a top-level key is not allowed, suggesting the allowed key it may stand for."""
    allowed = (*RESERVED_KEYS, *SECTIONS)
    close = difflib.get_close_matches(str(key).lower(), allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"Unknown top-level key {shown(key)}{hint}; allowed: {_allowed_keys()}."


def _from_yaml(path: Path, cli_knobs: dict[str, Any], including: tuple[Path, ...] = ()) -> Scenario:
    """Read a scenario file; ``including`` are the files whose ``feeder:`` led here."""
    data = _read_yaml(path)
    source = str(path)
    for key, kind in (("name", str), ("mode", str), ("feeder", str), ("knobs", dict)):
        if key in data and data[key] is not None and not isinstance(data[key], kind):
            raise InputError(
                f"Field '{key}' must be a {kind.__name__}, found {shown(data[key])}.", source
            )
    knobs = dict(data.get("knobs") or {})
    knobs.update({k: v for k, v in cli_knobs.items() if v is not None})
    feeder = None
    if data.get("feeder"):
        spec = _feeder_spec(data["feeder"], path.parent)
        if spec.lower().endswith(YAML_SUFFIXES):
            feeder = _feeder_of_scenario_file(Path(spec), knobs, (*including, path), source)
        else:
            try:
                feeder = feeders.load(spec, source=source, **knobs)
            except InputError as err:
                if err.source is not None:
                    raise
                problems = [f"Field 'feeder' ({shown(data['feeder'])}): {p}" for p in err.problems]
                raise InputError(problems, source) from None
    elif data.get("knobs"):
        raise InputError("Field 'knobs' is given but 'feeder' is not.", source)
    return Scenario(
        name=path.stem,
        source=source,
        title=data.get("name") or path.stem,
        mode=data.get("mode"),
        feeder=feeder,
        sections={k: v for k, v in data.items() if k not in RESERVED_KEYS},
        base_dir=path.parent,
    )


def _feeder_of_scenario_file(
    path: Path, knobs: dict[str, Any], including: tuple[Path, ...], source: str
) -> Feeder:
    """Return the feeder of the scenario file ``path`` named by another file's ``feeder:``.

    Its knobs are defaults that ``knobs`` (the naming file's and the command line's)
    override; its mode and sections are not used. A chain of files that comes back to
    one of its files is refused.
    """
    resolved = path.resolve()
    if resolved in (p.resolve() for p in including):
        chain = " -> ".join(str(p) for p in (*including, path))
        raise InputError(
            f"Field 'feeder' ({str(path)!r}) leads back to a file of its own chain ({chain}).",
            source,
        )
    try:
        feeder = _from_yaml(path, knobs, including).feeder
    except InputError as err:
        if err.source is not None:
            raise
        raise InputError([f"Field 'feeder': {p}" for p in err.problems], source) from None
    if feeder is None:
        raise InputError(
            f"Field 'feeder' names the scenario file {str(path)!r}, which has no 'feeder:'.",
            source,
        )
    return feeder


def _what_to_give() -> str:
    return (
        f"give a feeder id ({', '.join(feeders.available())}), a pandapower JSON net (*.json) "
        "or a scenario YAML file (*.yaml)"
    )


def _feeder_spec(spec: str, base_dir: Path) -> str:
    """Return a scenario file's ``feeder:``: an id as written, a path resolved against its folder.

    A relative path that is neither a JSON net nor an existing file or folder is kept as
    written, so that a misspelt feeder id is named as the user wrote it.
    """
    if spec in feeders.FEEDERS or Path(spec).is_absolute():
        return spec
    path = base_dir / spec
    if path.suffix.lower() in (".json", *YAML_SUFFIXES) or path.exists():
        return str(path.resolve())
    return spec


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
    if Path(text).name.lower().endswith(YAML_SUFFIXES):  # also 'dir.yaml/'
        return _from_yaml(Path(text), cli_knobs)
    if not text.strip():
        raise InputError(f"The scenario is empty; {_what_to_give()}.")
    if text not in feeders.FEEDERS and Path(text).is_dir():
        raise InputError(f"The scenario {text!r} is a directory, not a file; {_what_to_give()}.")
    feeder = feeders.load(text, **cli_knobs)
    return Scenario(name=feeder.feeder_id, source=text, title=feeder.feeder_id, feeder=feeder)
