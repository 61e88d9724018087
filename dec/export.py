"""The one exporter: writes a :class:`~dec.result.RunResult` to its output folder.

Layout (DESIGN.md): ``<root>/<scenario>/<mode>/`` with ``setpoints/<agent_id>.json``,
``summary.json``, ``<table>.csv``, further ``<document>.json`` and ``<figure>.png``.
Every file is validated against its JSON Schema before it is written and written
atomically; setpoint files of agents that are not in this result (left over from
an earlier run) are removed after the new files are in place.
"""

from __future__ import annotations

import re
from pathlib import Path

from dec.files import to_jsonable, write_csv, write_figure, write_json, write_text
from dec.result import SETPOINT_FIELDS, SUMMARY_FIELDS, RunResult
from dec.schemas import validate

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_file_stem(name: str) -> str:
    """Return ``name`` with every character that is unsafe in a file name replaced by ``_``."""
    return _SAFE_NAME.sub("_", str(name)).strip(".") or "_"


def output_dir(root: Path | str, scenario: str, mode: str) -> Path:
    """Return the output folder of a run: ``root/scenario/mode``."""
    return Path(root) / safe_file_stem(scenario) / mode


def export_result(result: RunResult, root: Path | str = "outputs", plots: bool = True) -> Path:
    """Write every file of a run and return the output folder.

    Parameters
    ----------
    result
        The run to write.
    root
        Root of the output tree (``--out``).
    plots
        Draw and write the PNG figures.

    Returns
    -------
    Path
        ``root/<scenario>/<mode>``.

    """
    out = output_dir(root, result.scenario, result.mode)
    setpoint_dir = out / "setpoints"
    records = [to_jsonable(record) for record in result.agents]
    for record in records:
        validate(record, "setpoint", result.mode)
    summary = to_jsonable(result.summary)
    validate(summary, "summary", result.mode)
    documents = {name: to_jsonable(doc) for name, doc in result.documents.items()}
    for name, document in documents.items():
        validate(document, name, result.mode)

    written = set()
    for record in records:
        path = setpoint_dir / f"{safe_file_stem(record['agent_id'])}.json"
        write_json(path, record, first_keys=SETPOINT_FIELDS)
        written.add(path.name)
    if setpoint_dir.is_dir():
        for stale in setpoint_dir.glob("*.json"):
            if stale.name not in written:
                stale.unlink()
    for name, document in documents.items():
        write_json(out / f"{name}.json", document)
    for name, frame in result.tables.items():
        write_csv(out / f"{name}.csv", frame)
    for file_name, text in result.texts.items():
        write_text(out / file_name, text)
    if plots:
        for name, draw in result.figures.items():
            write_figure(out / f"{name}.png", draw())
    write_json(out / "summary.json", summary, first_keys=SUMMARY_FIELDS)
    return out
