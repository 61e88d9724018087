"""Feeder registry: ``feeders.load(spec, **knobs) -> Feeder``.

``spec`` is a registered feeder id or a path to a pandapower JSON net. Knobs
(``load_scale``, ``pv_scale``, ``seed``, and per feeder e.g. ``vm_ext_pu``)
override the feeder's defaults; ``None`` means "use the default".

To add a feeder, write a module with ``DEFAULTS`` (its knobs) and
``build(**knobs) -> Feeder`` and register it in ``FEEDERS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from dec.conventions import SOURCE_VM_PU_RANGE
from dec.errors import InputError
from dec.validation import MAX_SCALE, Problems, interval, is_finite_number, is_number, shown
from feeders.base import AgentSpec, Feeder

__all__ = ["FEEDERS", "AgentSpec", "Feeder", "available", "feeder_defaults", "load"]

#: Registered feeder ids and the module that builds each.
FEEDERS: dict[str, str] = {
    "ieee123": "feeders.ieee123",
    "ieee123_3ph": "feeders.ieee123_3ph",
    "cigre_lv": "feeders.cigre_lv",
    "village": "feeders.village",
    "gridappsd_a": "feeders.gridappsd_a",
    "gridappsd_b": "feeders.gridappsd_b",
}
JSON_MODULE = "feeders.pandapower_json"


def available() -> list[str]:
    """Return the registered feeder ids."""
    return sorted(FEEDERS)


def _module(spec: str | Path):
    if str(spec) in FEEDERS:
        return importlib.import_module(FEEDERS[str(spec)])
    path = Path(spec)
    if path.is_dir():
        raise InputError(
            f"The path {str(path)!r} is a directory, not a file; a feeder is one of "
            f"{', '.join(available())} or a pandapower JSON net (*.json)."
        )
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise InputError(f"The pandapower JSON file {str(path)!r} does not exist.")
        return importlib.import_module(JSON_MODULE)
    raise InputError(
        f"Unknown feeder {shown(str(spec))}: not one of {', '.join(available())} and not a path to "
        "a pandapower JSON net (*.json)."
    )


def feeder_defaults(spec: str | Path) -> dict[str, Any]:
    """Return the default knobs of a feeder."""
    return dict(_module(spec).DEFAULTS)


def load(spec: str | Path, source: str | None = None, **knobs: Any) -> Feeder:
    """Build a feeder with its agents.

    Parameters
    ----------
    spec
        Feeder id (``ieee123``, ``cigre_lv``, ``village``) or path to a pandapower JSON net.
    source
        The file that asked for this feeder, named in error messages.
    **knobs
        ``load_scale``, ``pv_scale``, ``seed`` and feeder-specific knobs; ``None`` = default.

    Returns
    -------
    Feeder
        The net at the scenario's operating point and its agents.

    Raises
    ------
    InputError
        Unknown id, missing file, unknown knob or a knob value that is not allowed.

    """
    module = _module(spec)
    values = dict(module.DEFAULTS)
    problems = Problems(source or str(spec))
    unknown = sorted(set(knobs) - set(values))
    if unknown:
        problems.add(
            f"Unknown feeder knob(s) {', '.join(unknown)} for feeder {shown(str(spec))}; "
            f"allowed: {', '.join(sorted(values))}."
        )
    values.update({k: v for k, v in knobs.items() if v is not None and k in values})
    for name, value in values.items():
        if name in ("seed", "vm_ext_pu"):
            continue
        if not (is_finite_number(value) and value >= 0):
            problems.add(
                f"Field 'knobs.{name}' must be a finite number, zero or more; found {shown(value)}."
            )
        elif value > MAX_SCALE:  # a multiplier of the nominal loads or PV (load/pv_scale)
            problems.add(
                f"Field 'knobs.{name}' must be at most {MAX_SCALE:g} (a multiplier of the "
                f"feeder's nominal power); found {shown(value)}."
            )
    seed = values["seed"]
    if not (is_number(seed) and float(seed).is_integer() and seed >= 0):
        problems.add(
            f"Field 'knobs.seed' must be a whole number, zero or more; found {shown(seed)}."
        )
    vm, (low, high) = values.get("vm_ext_pu"), SOURCE_VM_PU_RANGE
    if "vm_ext_pu" in values and not (is_finite_number(vm) and low <= vm <= high):
        problems.add(
            f"Field 'knobs.vm_ext_pu' (the source voltage) must be a number in "
            f"{interval(low, high)} pu; found {shown(vm)}."
        )
    problems.raise_if_any()
    values["seed"] = int(values["seed"])
    if module.__name__ == JSON_MODULE:
        return module.build(Path(spec), **values)
    return module.build(**values)
