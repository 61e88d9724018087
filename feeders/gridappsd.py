"""Reader of the GridAPPS-D coordinator's per-phase IEEE 123 primary-feeder data.

Files (``inputs/ieee123/case_*``, BSD 2-Clause): ``bus_info_ieee123_pri.json`` and
``branch_sw_xfmr_ieee123_pri.json``. Loads and PV are per phase in **W and var**;
branch impedances are 3×3 phase matrices in ohms. Switches are the branches named
``sw*``; voltage regulators are the zero-impedance ``XFMR`` branches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dec.errors import InputError

BUS_FILE = "bus_info_ieee123_pri.json"
BRANCH_FILE = "branch_sw_xfmr_ieee123_pri.json"
ROOT_BUS = "150"


@dataclass(frozen=True)
class PrimaryBus:
    """A primary bus.

    Attributes
    ----------
    name
        IEEE bus name (``"150"``, ``"9r"``, ...).
    kv_ln
        Line-to-neutral nominal voltage, kV.
    phases
        Phases present, 1 = a, 2 = b, 3 = c.
    load_kw, load_kvar
        Spot load per phase (a, b, c), kW / kvar.
    pv_kw
        PV per phase (a, b, c), kW.
    """

    name: str
    kv_ln: float
    phases: tuple[int, ...]
    load_kw: np.ndarray
    load_kvar: np.ndarray
    pv_kw: np.ndarray


@dataclass(frozen=True)
class PrimaryBranch:
    """A primary branch: line, switch or regulator.

    Attributes
    ----------
    name
        Branch name (``l115``, ``sw1``, ``reg1a``).
    kind
        ``"line"``, ``"switch"`` or ``"regulator"``.
    phases
        Phases present, 1 = a, 2 = b, 3 = c.
    from_bus, to_bus
        Bus names.
    z_ohm
        3×3 complex phase impedance matrix, ohm (zero rows/columns for absent phases).
    """

    name: str
    kind: str
    phases: tuple[int, ...]
    from_bus: str
    to_bus: str
    z_ohm: np.ndarray


@dataclass(frozen=True)
class PrimaryFeederData:
    """The per-phase primary feeder: buses by name and branches by name."""

    buses: dict[str, PrimaryBus]
    branches: dict[str, PrimaryBranch]
    root: str = ROOT_BUS


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"The feeder data file {str(path)!r} does not exist.") from None
    except json.JSONDecodeError as err:
        raise InputError(f"The file is not valid JSON: {err}.", str(path)) from None
    if not isinstance(data, dict):
        raise InputError("The top level must be a mapping by name.", str(path))
    return data


def read_primary(folder: Path) -> PrimaryFeederData:
    """Read the bus and branch files of one case folder.

    Parameters
    ----------
    folder
        A folder holding ``bus_info_ieee123_pri.json`` and ``branch_sw_xfmr_ieee123_pri.json``.

    Raises
    ------
    InputError
        Missing file, bad JSON, missing field or a branch to an unknown bus.
    """
    bus_path, branch_path = folder / BUS_FILE, folder / BRANCH_FILE
    buses = {}
    for name, rec in _load(bus_path).items():
        try:
            pq = np.asarray(rec["pq"], dtype=float).reshape(3, 2)
            pv = np.asarray(rec["pv"], dtype=float).reshape(3, 2)
            buses[name] = PrimaryBus(
                name=name,
                kv_ln=float(rec["kv"]),
                phases=tuple(int(p) for p in rec["phases"]),
                load_kw=pq[:, 0] / 1000.0,
                load_kvar=pq[:, 1] / 1000.0,
                pv_kw=pv[:, 0] / 1000.0,
            )
        except (KeyError, ValueError, TypeError) as err:
            raise InputError(
                f"Bus {name!r} has a missing or malformed field ({err}).", str(bus_path)
            ) from None
    branches = {}
    for name, rec in _load(branch_path).items():
        try:
            z = np.asarray(rec["zprim"], dtype=float).reshape(3, 3, 2)
            kind = (
                "regulator"
                if rec["type"] == "XFMR"
                else "switch"
                if name.startswith("sw")
                else "line"
            )
            branch = PrimaryBranch(
                name=name,
                kind=kind,
                phases=tuple(int(p) for p in rec["phases"]),
                from_bus=str(rec["fr_bus"]),
                to_bus=str(rec["to_bus"]),
                z_ohm=z[..., 0] + 1j * z[..., 1],
            )
        except (KeyError, ValueError, TypeError) as err:
            raise InputError(
                f"Branch {name!r} has a missing or malformed field ({err}).", str(branch_path)
            ) from None
        for end in (branch.from_bus, branch.to_bus):
            if end not in buses:
                raise InputError(
                    f"Branch {name!r} refers to the unknown bus {end!r}.", str(branch_path)
                )
        branches[name] = branch
    if ROOT_BUS not in buses:
        raise InputError(f"The substation bus {ROOT_BUS!r} is missing.", str(bus_path))
    return PrimaryFeederData(buses=buses, branches=branches)
