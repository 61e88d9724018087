"""Per-phase data of a radial net: the phases at each node and the 3×3 branch impedances.

A three-phase net marks the phases present at each bus in an extra bus column
``phases`` (a string of ``a``, ``b``, ``c``; a missing column or value means all three).
The branch into each tree node gets a 3×3 phase impedance matrix in per unit (per-phase
base ``sn_mva / 3`` and the bus's line-to-neutral voltage, which is the three-phase base
``vn_kv² / sn_mva`` in ohms), with zero rows and columns for absent phases:

- a line from its sequence data (``r_ohm_per_km``/``x_ohm_per_km`` positive,
  ``r0_ohm_per_km``/``x0_ohm_per_km`` zero sequence): self ``Zs = (Z0 + 2 Z1)/3`` and
  mutual ``Zm = (Z0 − Z1)/3`` impedance, the phase matrix of a transposed line, which
  is what pandapower's three-phase power flow uses; or an exact matrix supplied by
  the feeder (e.g. the untransposed ``zprim`` of the GridAPPS-D data);
- a grounded-wye/grounded-wye (``YNyn``) transformer, the bank of single-phase
  service transformers: ``Zs``/``Zm`` from its positive- and zero-sequence
  short-circuit voltages (``vk0_percent`` missing: ``Z0 = Z1``, no coupling).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd

from dec.errors import InputError
from dec.network.topology import Tree
from dec.validation import shown

PHASE_LETTERS = "abc"
#: Angle of each phase's voltage in a balanced positive-sequence set, rad (a, b, c).
PHASE_ANGLES_RAD = np.array([0.0, -2.0 * np.pi / 3.0, 2.0 * np.pi / 3.0])


def parse_phases(value: object) -> np.ndarray:
    """Boolean mask (a, b, c) of a phase string such as ``"abc"`` or ``"b"`` (empty/NaN: all)."""
    if not isinstance(value, str) or not value:
        return np.ones(3, dtype=bool)
    letters = set(value.lower())
    if not letters <= set(PHASE_LETTERS):
        raise InputError(f"Bus field 'phases' must be letters of 'abc', found {shown(value)}.")
    return np.array([p in letters for p in PHASE_LETTERS])


def phase_to_sequence(z: np.ndarray, present: np.ndarray) -> tuple[complex, complex]:
    """Positive- and zero-sequence impedance of the transposed equivalent of a phase matrix.

    Self impedance ``Zs`` = mean of the diagonal, mutual ``Zm`` = mean of the off-diagonal
    entries among the present phases (0 with one phase): ``Z1 = Zs − Zm``, ``Z0 = Zs + 2 Zm``.
    """
    idx = np.flatnonzero(present)
    sub = z[np.ix_(idx, idx)]
    n = len(idx)
    z_s = np.trace(sub) / n
    z_m = (sub.sum() - np.trace(sub)) / (n * (n - 1)) if n > 1 else 0.0
    return complex(z_s - z_m), complex(z_s + 2.0 * z_m)


@dataclass(frozen=True)
class PhaseData:
    """Phases and branch phase impedances of a radial tree.

    Attributes
    ----------
    present
        (nodes × 3) phases present at each tree node.
    z_pu
        (nodes × 3 × 3) complex phase impedance of the branch into each node, per unit
        (zero at the root and for absent phases).
    """

    present: np.ndarray
    z_pu: np.ndarray

    def coupling(self) -> tuple[np.ndarray, np.ndarray]:
        """Three-phase LinDistFlow coefficients of every branch.

        With the phase voltages assumed balanced in angle (phase ψ's voltage is phase φ's
        rotated by ``θψ − θφ``), the squared voltage of phase φ at a child node is
        ``U_φ = U_φ(parent) + Σ_ψ (Mp[φ,ψ] P_ψ + Mq[φ,ψ] Q_ψ)`` for the generation-positive
        injections ``P_ψ``, ``Q_ψ`` summed over the child's subtree, where
        ``Mp + j·Mq = 2 · Z[φ,ψ] · exp(−j(θφ − θψ))``.

        Returns
        -------
        tuple of ndarray
            ``(Mp, Mq)``, each (nodes × 3 × 3), pu.
        """
        rotation = np.exp(-1j * (PHASE_ANGLES_RAD[:, None] - PHASE_ANGLES_RAD[None, :]))
        w = 2.0 * self.z_pu * rotation[None, :, :]
        return w.real.copy(), w.imag.copy()


def bus_phases(net: pp.pandapowerNet) -> dict[int, np.ndarray]:
    """Phase mask of every bus (the ``phases`` column; all three phases where absent)."""
    column = net.bus["phases"] if "phases" in net.bus else None
    return {int(b): parse_phases(None if column is None else column.at[b]) for b in net.bus.index}


def _stack(z1: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """Phase matrices (k × 3 × 3) of transposed branches from their sequence impedances."""
    z_s, z_m = (z0 + 2.0 * z1) / 3.0, (z0 - z1) / 3.0
    return z_m[:, None, None] * np.ones((1, 3, 3)) + (z_s - z_m)[:, None, None] * np.eye(3)


def _lines_z_ohm(net: pp.pandapowerNet, index: np.ndarray) -> np.ndarray:
    lines = net.line.loc[index]
    for column in ("r0_ohm_per_km", "x0_ohm_per_km"):
        values = lines[column].to_numpy(float) if column in lines else np.full(len(index), np.nan)
        if not np.isfinite(values).all():
            bad = index[~np.isfinite(values)]
            raise InputError(
                f"{len(bad)} line(s) have no '{column}' (e.g. line {bad[0]}): the three-phase "
                "model needs zero-sequence line data."
            )
    scale = (lines["length_km"] / lines["parallel"]).to_numpy(float)
    z1 = (lines["r_ohm_per_km"] + 1j * lines["x_ohm_per_km"]).to_numpy() * scale
    z0 = (lines["r0_ohm_per_km"] + 1j * lines["x0_ohm_per_km"]).to_numpy() * scale
    return _stack(z1, z0)


def _trafos_z_pu(net: pp.pandapowerNet, index: np.ndarray) -> np.ndarray:
    trafos = net.trafo.loc[index]
    group = (
        trafos["vector_group"].astype(str).str.lower()
        if "vector_group" in trafos
        else np.full(len(index), "nan")
    )
    bad = index[np.asarray(group) != "ynyn"]
    if len(bad):
        raise InputError(
            f"{len(bad)} transformer(s) are not grounded-wye banks (YNyn), e.g. transformer "
            f"{bad[0]}: the three-phase linear model supports YNyn transformers only."
        )
    scale = (net.sn_mva / trafos["sn_mva"] / trafos["parallel"]).to_numpy(float)

    def z(vk: np.ndarray, vkr: np.ndarray) -> np.ndarray:
        return (vkr + 1j * np.sqrt(np.maximum(vk**2 - vkr**2, 0.0))) / 100.0 * scale

    z1 = z(trafos["vk_percent"].to_numpy(float), trafos["vkr_percent"].to_numpy(float))
    vk0 = trafos.get("vk0_percent", pd.Series(np.nan, index=trafos.index)).to_numpy(float)
    vkr0 = trafos.get("vkr0_percent", pd.Series(np.nan, index=trafos.index)).to_numpy(float)
    given = np.isfinite(vk0) & np.isfinite(vkr0)
    z0 = np.where(given, z(np.where(given, vk0, 0.0), np.where(given, vkr0, 0.0)), z1)
    return _stack(z1, z0)


def build_phase_data(
    net: pp.pandapowerNet,
    tree: Tree,
    branch_z_ohm: Mapping[tuple[str, int], np.ndarray] | None = None,
) -> PhaseData:
    """Per-phase data of a radial net's tree.

    Parameters
    ----------
    net
        The net (with a ``phases`` bus column where buses lack phases).
    tree
        Its radial tree (:func:`dec.network.topology.build_tree`).
    branch_z_ohm
        Exact 3×3 phase impedance (ohm) of some branches by ``(table, index)``; other
        branches use their sequence data.

    Raises
    ------
    InputError
        A line without zero-sequence data, a transformer that is not YNyn, or a node
        with a phase that its parent lacks.
    """
    overrides = branch_z_ohm or {}
    phases = bus_phases(net)
    n = tree.n_nodes
    present = np.zeros((n, 3), dtype=bool)
    for bus, node in tree.bus_node.items():
        present[node] |= phases[bus]
    parent = tree.parent[1:]
    orphan = present[1:] & ~present[parent]
    if orphan.any():
        child = int(np.flatnonzero(orphan.any(axis=1))[0]) + 1
        raise InputError(
            f"Bus {tree.node_bus[child]} has a phase that its upstream bus "
            f"{tree.node_bus[tree.parent[child]]} lacks."
        )
    z_pu = np.zeros((n, 3, 3), dtype=complex)
    z_base = net.bus["vn_kv"].loc[tree.node_bus].to_numpy(float) ** 2 / net.sn_mva
    given = np.array(
        [
            (str(t), int(i)) in overrides
            for t, i in zip(tree.branch_table, tree.branch_index, strict=True)
        ]
    )
    for node in np.flatnonzero(given):
        key = (str(tree.branch_table[node]), int(tree.branch_index[node]))
        z_pu[node] = np.asarray(overrides[key], dtype=complex) / z_base[node]
    for table in ("line", "trafo"):
        nodes = np.flatnonzero((tree.branch_table == table) & ~given)
        if not len(nodes):
            continue
        index = tree.branch_index[nodes]
        if table == "line":
            z_pu[nodes] = _lines_z_ohm(net, index) / z_base[nodes, None, None]
        else:
            z_pu[nodes] = _trafos_z_pu(net, index)
    z_pu *= present[:, :, None] & present[:, None, :]
    return PhaseData(present=present, z_pu=z_pu)
