"""A feeder drawn as its radial tree, buses coloured by voltage."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dec.network.topology import Tree

#: Colour-bar ticks on each side of the voltage limit (limit included).
COLOURBAR_TICKS_PER_SLOPE = 4


def tree_layout(tree: Tree) -> tuple[np.ndarray, np.ndarray]:
    """Place each node at x = depth (branches from the source) and y = its leaf order.

    Leaves get consecutive y positions in depth-first order; an inner node sits at
    the mean of its children's, so laterals never cross.
    """
    n = tree.n_nodes
    children: list[list[int]] = [[] for _ in range(n)]
    for node in range(1, n):
        children[tree.parent[node]].append(node)
    y = np.zeros(n)
    next_leaf = 0.0
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:
        node, done = stack.pop()
        if done:
            y[node] = np.mean(y[children[node]])
        elif not children[node]:
            y[node] = next_leaf
            next_leaf += 1
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children[node]))
    return tree.depth.astype(float), y


def plot_feeder_voltage(
    tree: Tree, vm_pu: np.ndarray, title: str, vm_max_pu: float | None = None
) -> Figure:
    """Draw the feeder tree with every node coloured by its voltage magnitude.

    Parameters
    ----------
    tree
        The feeder's radial tree.
    vm_pu
        Voltage magnitude of each tree node, pu.
    title
        Figure title.
    vm_max_pu
        Upper voltage limit: the colour scale turns from blue to red at it.


    """
    x, y = tree_layout(tree)
    fig, ax = plt.subplots(figsize=(10, 6), layout="constrained")
    segments = [
        ((x[tree.parent[n]], y[tree.parent[n]]), (x[n], y[n])) for n in range(1, tree.n_nodes)
    ]
    is_trafo = tree.branch_table[1:] == "trafo"
    ax.add_collection(
        LineCollection(
            segments,
            colors=np.where(is_trafo, "tab:orange", "0.6"),
            linewidths=np.where(is_trafo, 2.0, 0.8),
        )
    )
    norm = None
    if vm_max_pu is not None and vm_pu.min() < vm_max_pu < vm_pu.max():
        norm = TwoSlopeNorm(vcenter=vm_max_pu, vmin=vm_pu.min(), vmax=vm_pu.max())
    points = ax.scatter(x, y, c=vm_pu, cmap="coolwarm", norm=norm, s=14, zorder=3)
    ax.scatter([x[0]], [y[0]], marker="s", c="k", s=50, zorder=5)
    label = "voltage magnitude (pu)"
    bar = fig.colorbar(points, ax=ax, label=label + ("; black line: limit" if vm_max_pu else ""))
    if norm is not None:  # ticks on both slopes (the default locator may leave one bare)
        below = np.linspace(norm.vmin, norm.vcenter, COLOURBAR_TICKS_PER_SLOPE)
        above = np.linspace(norm.vcenter, norm.vmax, COLOURBAR_TICKS_PER_SLOPE)
        bar.set_ticks(np.unique(np.concatenate([below, above])))
    if vm_max_pu is not None:
        bar.ax.axhline(vm_max_pu, color="k", lw=1.5)

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    trafos = "; orange = transformer" if is_trafo.any() else ""
    ax.set_xlabel(f"branches from the substation (count){trafos}")
    ax.set_ylabel("lateral (leaf order)")
    ax.set_title(title)
    ax.autoscale_view()
    return fig
