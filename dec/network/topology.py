"""The radial tree of a pandapower net.

Buses joined by closed bus-bus switches are merged into one node (as pandapower
does internally). Lines and two-winding transformers in service, and not opened
by a switch, are the branches. The tree is rooted at the ext_grid bus and its
nodes are numbered in breadth-first order, so every parent precedes its children.
Branch impedances are in per unit on the net's ``sn_mva`` base and the bus's
``vn_kv`` (for a transformer: its short-circuit impedance, magnetising branch
and off-nominal ratio neglected).

The net must have one ext_grid in service on an in-service bus, and every load, PV unit
and storage in service must be reachable from it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pandapower as pp

from dec.errors import InputError
from dec.network.injections import INJECTION_TABLES

#: Element tables whose in-service rows must be reachable from the source.
CONNECTED_TABLES = (*INJECTION_TABLES, "storage")

#: Element tables the radial tree cannot represent, and what to use instead.
UNSUPPORTED_TABLES = {
    "trafo3w": "model it as two-winding transformers (table trafo)",
    "impedance": "model it as a line (table line)",
    "gen": "voltage-controlled generators are not modelled; model PV units as sgen (fixed "
    "active and reactive power)",
}

#: Elements listed by name in one error message.
MAX_LISTED = 5


@dataclass(frozen=True)
class Tree:
    """A radial network as arrays over nodes in breadth-first order.

    Attributes
    ----------
    node_bus
        Representative pandapower bus of each node (the root's is the ext_grid bus).
    bus_node
        Node index of every in-service, connected pandapower bus.
    parent
        Parent node of each node (-1 for the root).
    r_pu, x_pu
        Resistance and reactance of the branch from the parent to each node (0 at the root), pu.
    branch_table, branch_index
        pandapower element of the branch into each node (``"line"``/``"trafo"``; ``""``/-1 at the root).
    depth
        Number of branches between the root and each node.
    sn_mva
        The per-unit power base, MVA.

    """

    node_bus: np.ndarray
    bus_node: dict[int, int]
    parent: np.ndarray
    r_pu: np.ndarray
    x_pu: np.ndarray
    branch_table: np.ndarray
    branch_index: np.ndarray
    depth: np.ndarray
    sn_mva: float

    @property
    def n_nodes(self) -> int:
        """Number of nodes (root included)."""
        return len(self.node_bus)

    def path_resistance_pu(self) -> np.ndarray:
        """Resistance of the path from the root to each node, pu (an electrical distance)."""
        out = np.zeros(self.n_nodes)
        for n in range(1, self.n_nodes):
            out[n] = out[self.parent[n]] + self.r_pu[n]
        return out

    def root_subtrees(self) -> list[tuple[np.ndarray, Tree]]:
        """Split the tree at its root: one tree per branch leaving the root.

        With the root's voltage fixed (the source), a node's LinDistFlow voltage depends on
        the injections of its own root subtree only, so the subtrees are independent areas.

        Returns
        -------
        list of tuple
            For each branch leaving the root, in node order: the nodes of its subtree
            (ascending, root excluded) and the subtree as a :class:`Tree` whose node 0 is the
            root and whose node ``i + 1`` is the ``i``-th of those nodes.
        """
        top = np.arange(self.n_nodes)
        for n in range(1, self.n_nodes):  # breadth-first: a parent's top node is known
            if self.parent[n] != 0:
                top[n] = top[self.parent[n]]
        order = np.argsort(top[1:], kind="stable") + 1
        tops, starts = np.unique(top[order], return_index=True)
        groups = np.split(order, starts[1:])
        local = np.zeros(self.n_nodes, dtype=int)  # node -> its index in its subtree
        for nodes in groups:
            local[nodes] = np.arange(1, len(nodes) + 1)
        area_of_top = {int(t): k for k, t in enumerate(tops)}
        bus_nodes: list[dict[int, int]] = [{} for _ in groups]
        for bus, node in self.bus_node.items():
            if node == 0:
                for buses in bus_nodes:
                    buses[bus] = 0
            else:
                bus_nodes[area_of_top[int(top[node])]][bus] = int(local[node])
        out = []
        for nodes, buses in zip(groups, bus_nodes, strict=True):
            keep = np.concatenate([[0], nodes])
            parent = local[self.parent[keep]]
            parent[0] = -1
            out.append(
                (
                    nodes,
                    Tree(
                        node_bus=self.node_bus[keep],
                        bus_node=buses,
                        parent=parent,
                        r_pu=self.r_pu[keep],
                        x_pu=self.x_pu[keep],
                        branch_table=self.branch_table[keep],
                        branch_index=self.branch_index[keep],
                        depth=self.depth[keep],
                        sn_mva=self.sn_mva,
                    ),
                )
            )
        return out

    def nodes_of_buses(self, buses: np.ndarray) -> np.ndarray:
        """Return the node index of each pandapower bus."""
        try:
            return np.array([self.bus_node[int(b)] for b in buses], dtype=int)
        except KeyError as err:
            raise InputError(
                f"Bus {err.args[0]} is not connected to the feeder's source."
            ) from None


def _merged_buses(net: pp.pandapowerNet) -> dict[int, int]:
    """Map each in-service bus to the smallest bus it is fused with by closed bus-bus switches."""
    rep = {int(b): int(b) for b in net.bus.index[net.bus["in_service"]]}

    def find(b: int) -> int:
        while rep[b] != b:
            rep[b] = rep[rep[b]]
            b = rep[b]
        return b

    sw = net.switch
    closed_bb = sw[(sw["et"] == "b") & sw["closed"].astype(bool)]
    for a, b in zip(closed_bb["bus"], closed_bb["element"], strict=True):
        if int(a) in rep and int(b) in rep:
            ra, rb = find(int(a)), find(int(b))
            rep[max(ra, rb)] = min(ra, rb)
    return {b: find(b) for b in rep}


def _open_elements(net: pp.pandapowerNet, et: str) -> set[int]:
    sw = net.switch
    return set(sw.loc[(sw["et"] == et) & ~sw["closed"].astype(bool), "element"].astype(int))


def _branches(net: pp.pandapowerNet) -> list[tuple[int, int, float, float, str, int]]:
    """Return (from_bus, to_bus, r_pu, x_pu, table, index) of every closed branch in service."""
    sn = net.sn_mva
    vn_kv = net.bus["vn_kv"]
    lines = net.line[net.line["in_service"] & ~net.line.index.isin(_open_elements(net, "l"))]
    z_base = vn_kv.loc[lines["from_bus"]].to_numpy() ** 2 / sn
    ohm = lines["length_km"] / lines["parallel"]  # (Ω/km) × this = Ω
    trafos = net.trafo[net.trafo["in_service"] & ~net.trafo.index.isin(_open_elements(net, "t"))]
    scale = sn / trafos["sn_mva"] / trafos["parallel"]
    x_percent = np.sqrt(np.maximum(trafos["vk_percent"] ** 2 - trafos["vkr_percent"] ** 2, 0.0))
    parts = [
        (lines["from_bus"], lines["to_bus"], lines["r_ohm_per_km"] * ohm / z_base,
         lines["x_ohm_per_km"] * ohm / z_base, "line", lines.index),
        (trafos["hv_bus"], trafos["lv_bus"], trafos["vkr_percent"] / 100 * scale,
         x_percent / 100 * scale, "trafo", trafos.index),
    ]  # fmt: skip
    return [
        (int(f), int(t), float(r), float(x), table, int(idx))
        for f_bus, t_bus, r_pu, x_pu, table, index in parts
        for f, t, r, x, idx in zip(f_bus, t_bus, r_pu, x_pu, index, strict=True)
    ]


def _source_bus(net: pp.pandapowerNet, merged: dict[int, int]) -> int:
    """Return the merged bus of the net's one in-service ext_grid.

    Raises
    ------
    InputError
        If there is not exactly one ext_grid in service, or its bus is not an in-service bus.
    """
    ext = net.ext_grid[net.ext_grid["in_service"].astype(bool)]
    if len(ext) != 1:
        raise InputError(f"The net must have exactly one ext_grid in service, found {len(ext)}.")
    bus = int(ext["bus"].iloc[0])
    if bus in merged:
        return merged[bus]
    state = "is out of service" if bus in net.bus.index else "is not in table 'bus'"
    raise InputError(
        f"Field 'bus' of ext_grid {ext.index[0]} is {bus}, a bus that {state}; the source "
        "must sit on an in-service bus of the net."
    )


def _refuse_unsupported(net: pp.pandapowerNet) -> None:
    """Raise an InputError naming the in-service rows of :data:`UNSUPPORTED_TABLES`."""
    for table, instead in UNSUPPORTED_TABLES.items():
        if table not in net or not len(net[table]):
            continue
        rows = net[table].index[net[table]["in_service"].astype(bool)]
        if len(rows):
            which = "row with index" if len(rows) == 1 else "rows with indices"
            raise InputError(
                f"Table '{table}' is not supported by the radial tree model (in-service {which} "
                f"{_listing(rows.tolist())}): {instead}, or set their 'in_service' to False."
            )


def _refuse_cut_off(net: pp.pandapowerNet, bus_node: dict[int, int]) -> None:
    """Raise an InputError naming the in-service elements on buses the source does not reach."""
    elements, buses = [], set()
    for table in CONNECTED_TABLES:
        if table not in net or not len(net[table]):
            continue
        rows = net[table][net[table]["in_service"].astype(bool)]
        cut = rows["bus"][~rows["bus"].astype(int).isin(list(bus_node))]
        if len(cut):
            elements.append(f"{table} {_listing(cut.index.tolist())}")
            buses.update(cut.astype(int).tolist())
    if not buses:
        return
    one = len(buses) == 1
    which = f"Bus {min(buses)} is" if one else f"Buses {_listing(sorted(buses))} are"
    it = "it" if one else "them"
    raise InputError(
        f"{which} not connected to the feeder's source (an open switch, an out-of-service bus "
        f"or branch, or a separate island cuts {it} off), yet field 'bus' of "
        f"{'; '.join(elements)} names {it}. Connect {it}, or set those elements' 'in_service' "
        "to False."
    )


def _listing(items: list) -> str:
    """Return the first :data:`MAX_LISTED` items, comma separated, and how many more."""
    more = len(items) - MAX_LISTED
    return ", ".join(map(str, items[:MAX_LISTED])) + (f" and {more} more" if more > 0 else "")


def build_tree(net: pp.pandapowerNet) -> Tree:
    """Build the radial tree of a pandapower net.

    Raises
    ------
    InputError
        If the net has not exactly one ext_grid in service on an in-service bus, holds
        elements the tree cannot represent (:data:`UNSUPPORTED_TABLES`), is not radial, or
        has loads, PV units or storage in service that the source does not reach.

    """
    _refuse_unsupported(net)
    merged = _merged_buses(net)
    root = _source_bus(net, merged)
    adjacency: dict[int, list[tuple[int, float, float, str, int]]] = {}
    for f, t, r, x, table, idx in _branches(net):
        if f not in merged or t not in merged:
            continue
        a, b = merged[f], merged[t]
        if a == b:
            continue
        adjacency.setdefault(a, []).append((b, r, x, table, idx))
        adjacency.setdefault(b, []).append((a, r, x, table, idx))

    order, parent, r_pu, x_pu, tables, indices, depth = [root], [-1], [0.0], [0.0], [""], [-1], [0]
    position = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for nb, r, x, table, idx in adjacency.get(node, []):
            if (table, idx) == (tables[position[node]], indices[position[node]]):
                continue  # the branch we came from
            if nb in position:
                raise InputError(
                    f"The net is not radial: {table} {idx} closes a loop between buses "
                    f"{node} and {nb}. Open a switch to make it radial."
                )
            position[nb] = len(order)
            order.append(nb)
            parent.append(position[node])
            r_pu.append(r)
            x_pu.append(x)
            tables.append(table)
            indices.append(idx)
            depth.append(depth[position[node]] + 1)
            queue.append(nb)

    bus_node = {bus: position[rep] for bus, rep in merged.items() if rep in position}
    _refuse_cut_off(net, bus_node)
    return Tree(
        node_bus=np.array(order, dtype=int),
        bus_node=bus_node,
        parent=np.array(parent, dtype=int),
        r_pu=np.array(r_pu),
        x_pu=np.array(x_pu),
        branch_table=np.array(tables),
        branch_index=np.array(indices, dtype=int),
        depth=np.array(depth, dtype=int),
        sn_mva=float(net.sn_mva),
    )
