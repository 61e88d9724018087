"""DC power transfer distribution factors from pandapower's internal (ppc) model.

The DC model is pandapower's own (``makeBdc`` on the net's internal ppc after
``rundcpp``): branch flows ``F = PTDF · (P − Pbusinj) + Pfinj`` in per unit, with
the slack at the ext_grid bus *connected* (its column is zero: power injected at
the slack flows nowhere) and ``Pbusinj``/``Pfinj`` the constant injections of
phase-shifting transformers. Flows are reported in MW from the ``from``/``hv``
side, the sign of pandapower's ``res_line.p_from_mw`` and ``res_trafo.p_hv_mw``.

The PTDF is dense (branches × buses): it is meant for LV feeders of up to a few
thousand buses (P2P checks), not for the paths that must scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp
from pandapower.pypower.idx_bus import BUS_TYPE, NONE, REF
from pandapower.pypower.makeBdc import makeBdc
from scipy.sparse.linalg import splu

import dec.network.powerflow  # noqa: F401  (silences pandapower's numba notice)


@dataclass(frozen=True)
class PTDF:
    """DC PTDF of a net.

    Attributes
    ----------
    matrix
        Flow change on each branch per unit injection at each pandapower bus, MW/MW
        (rows: branches, columns: ``buses``). Buses fused by switches share a column.
    buses
        pandapower bus index of each column.
    branch_table, branch_index
        pandapower element of each row (``"line"`` or ``"trafo"``).
    shift_flow_mw
        Flow on each branch caused by phase-shifting transformers alone, MW.

    """

    matrix: np.ndarray
    buses: np.ndarray
    branch_table: np.ndarray
    branch_index: np.ndarray
    shift_flow_mw: np.ndarray

    def flows_mw(self, p_mw: np.ndarray) -> np.ndarray:
        """Branch flows for net injections ``p_mw`` at each bus column (generation positive), MW."""
        return self.matrix @ np.asarray(p_mw, dtype=float) + self.shift_flow_mw

    def column(self, bus: int) -> int:
        """Column of a pandapower bus."""
        return int(np.flatnonzero(self.buses == bus)[0])


def build_ptdf(net: pp.pandapowerNet) -> PTDF:
    """Build the DC PTDF of a pandapower net (runs ``rundcpp`` to build the internal model)."""
    pp.rundcpp(net, numba=False)
    ppc = net._ppc
    base_mva = ppc["baseMVA"]
    bus, branch = ppc["bus"], ppc["branch"]
    bbus, bf, pbusinj, pfinj, *_ = makeBdc(bus, branch)
    bbus, bf = bbus.tocsc(), bf.tocsc()
    active = np.flatnonzero(bus[:, BUS_TYPE] != NONE)
    ref = int(np.flatnonzero(bus[:, BUS_TYPE] == REF)[0])
    solve_at = active[active != ref]
    # theta[solve_at] = B[solve_at, solve_at]^-1 P[solve_at]; F = Bf theta.
    lu = splu(bbus[solve_at][:, solve_at].tocsc())
    h_ppc = np.zeros((branch.shape[0], bus.shape[0]))
    h_ppc[:, solve_at] = lu.solve(bf[:, solve_at].toarray().T, trans="T").T
    shift_flow = (-(h_ppc @ pbusinj) + pfinj) * base_mva

    lookup = net._pd2ppc_lookups["bus"]
    buses = net.bus.index[net.bus["in_service"]].to_numpy()
    ppc_of_bus = lookup[buses]
    keep = ppc_of_bus >= 0
    buses, ppc_of_bus = buses[keep], ppc_of_bus[keep]
    tables, indices, rows = [], [], []
    for table in ("line", "trafo"):
        if table not in net._pd2ppc_lookups["branch"]:
            continue
        start, _ = net._pd2ppc_lookups["branch"][table]
        positions = np.flatnonzero(net[table]["in_service"].to_numpy(dtype=bool))
        tables += [table] * len(positions)
        indices += net[table].index.to_numpy()[positions].tolist()
        rows += (start + positions).tolist()
    rows = np.array(rows, dtype=int)
    return PTDF(
        matrix=h_ppc[np.ix_(rows, ppc_of_bus)],
        buses=buses,
        branch_table=np.array(tables),
        branch_index=np.array(indices, dtype=int),
        shift_flow_mw=shift_flow[rows],
    )
