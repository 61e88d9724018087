"""The one exporter: writes a :class:`~dec.result.RunResult` to its output folder.

Layout (DESIGN.md): ``<root>/<scenario>/<mode>/`` with ``setpoints/<agent_id>.json``,
``summary.json``, ``<table>.csv``, further ``<document>.json`` and ``<figure>.png``.
Every file is validated against its JSON Schema before it is written and written
atomically; ``summary.json`` comes last. Files of the kinds the exporter writes
(``.json``, ``.csv``, ``.png``) that this run did not write, left over from an earlier
run with other options or agents (a comparison table, an ADMM history, a plot of a run
with plots, an agent no longer there), are removed before the summary is written, so
the folder never mixes two runs. Other files in it are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from dec.errors import InputError
from dec.files import to_jsonable, write_csv, write_figures, write_json, write_text
from dec.result import SETPOINT_FIELDS, SUMMARY_FIELDS, RunResult
from dec.schemas import validate

#: The kinds of file the exporter writes at the top of an output folder.
OUTPUT_PATTERNS = ("*.json", "*.csv", "*.png")
_SAFE_NAME = re.compile(r"[^\w.-]+")  # \w: letters and digits of any script, and _


def safe_file_stem(name: str) -> str:
    """Return ``name`` made safe as a file name on every platform.

    Runs of characters other than letters and digits (of any script), ``_``, ``.`` and
    ``-`` become ``_``; leading and trailing dots are dropped.
    """
    return _SAFE_NAME.sub("_", str(name)).strip(".") or "_"


def _setpoint_file_names(records: list[dict]) -> list[str]:
    """Return each record's setpoint file name.

    Raises
    ------
    InputError
        If agents' ids give the same file name (one file would overwrite the other).
    """
    names = [f"{safe_file_stem(record['agent_id'])}.json" for record in records]
    ids_by_name: dict[str, list[str]] = {}
    for record, name in zip(records, names, strict=True):
        ids_by_name.setdefault(name, []).append(str(record["agent_id"]))
    clashes = [(name, ids) for name, ids in ids_by_name.items() if len(ids) > 1]
    if clashes:
        listed = "; ".join(f"{', '.join(map(repr, ids))} -> {name}" for name, ids in clashes[:5])
        raise InputError(
            f"Agent ids give the same setpoint file name ({listed}): a file name keeps the letters, "
            "digits, '_', '.' and '-' of an id and replaces other characters by '_'. Rename the "
            "members so that their ids differ in those characters."
        )
    return names


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
    file_names = _setpoint_file_names(records)
    for record in records:
        validate(record, "setpoint", result.mode)
    summary = to_jsonable(result.summary)
    validate(summary, "summary", result.mode)
    documents = {name: to_jsonable(doc) for name, doc in result.documents.items()}
    for name, document in documents.items():
        validate(document, name, result.mode)

    written = {
        write_json(setpoint_dir / name, record, first_keys=SETPOINT_FIELDS)
        for record, name in zip(records, file_names, strict=True)
    }
    for name, document in documents.items():
        written.add(write_json(out / f"{name}.json", document))
    for name, frame in result.tables.items():
        written.add(write_csv(out / f"{name}.csv", frame))
    for file_name, text in result.texts.items():
        written.add(write_text(out / file_name, text))
    if plots:
        written |= write_figures(
            {out / f"{name}.png": draw for name, draw in result.figures.items()}
        )
    summary_path = out / "summary.json"
    _remove_stale(out, written | {summary_path})
    write_json(summary_path, summary, first_keys=SUMMARY_FIELDS)
    return out


def _remove_stale(out: Path, written: set[Path]) -> None:
    """Remove the output files in ``out`` and ``out/setpoints`` that are not in ``written``."""
    for folder, patterns in ((out, OUTPUT_PATTERNS), (out / "setpoints", ("*.json",))):
        for pattern in patterns:
            for path in folder.glob(pattern):
                if path not in written and path.is_file():
                    path.unlink()
