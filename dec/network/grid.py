"""A feeder's network as the coordination problems see it: nodes, AC check, linear model.

One interface for balanced and three-phase feeders:

- :meth:`Grid.run_ac` runs the AC power flow that validates every decision (pandapower
  ``runpp``, or ``runpp_3ph`` for a three-phase feeder) and returns the voltage of every
  (bus, phase): phase 0 on a balanced feeder, the phases present at each bus (1, 2, 3 =
  a, b, c) on a three-phase one;
- :meth:`Grid.operating_point` gives the voltages the linear model is anchored at: the AC
  solution, or the lossless LinDistFlow of the net's injections from the source voltage
  (the GridAPPS-D coordinator's own model, limits in squared voltages);
- :meth:`Grid.model` is the :class:`~dec.network.linear.LinearVoltageModel` at those
  voltages (balanced, or per phase with the 3×3 branch impedances).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandapower as pp
import pandas as pd
import scipy.sparse as sp

from dec.errors import InputError
from dec.network.injections import net_injections
from dec.network.linear import LinearVoltageModel, NodeIndex
from dec.network.phases import PHASE_LETTERS, build_phase_data
from dec.network.powerflow import run_ac, run_ac_3ph
from dec.network.topology import Tree, build_tree

if TYPE_CHECKING:
    from feeders.base import Feeder

OPERATING_POINTS = ("ac", "lindistflow")


class Grid:
    """The network of a feeder: radial tree, phases, AC power flow and linear model.

    Parameters
    ----------
    net
        The radial net.
    three_phase
        Model it per phase (see :class:`feeders.base.Feeder`).
    branch_z_ohm
        Exact 3×3 phase impedances (ohm) of branches by ``(table, index)``.
    operating_point
        ``"ac"`` or ``"lindistflow"``: where the linear model is anchored.
    source
        Name of the net in error messages.

    Raises
    ------
    InputError
        If the net cannot be modelled (not radial, unsupported elements, a three-phase net
        with balanced ``sgen`` units, which pandapower's ``runpp_3ph`` ignores).
    """

    def __init__(
        self,
        net: pp.pandapowerNet,
        three_phase: bool = False,
        branch_z_ohm: Mapping[tuple[str, int], np.ndarray] | None = None,
        operating_point: str = "ac",
        source: str | None = None,
    ):
        if operating_point not in OPERATING_POINTS:
            raise InputError(
                f"Unknown operating point {operating_point!r}; allowed: "
                f"{', '.join(OPERATING_POINTS)}.",
                source,
            )
        self.three_phase = three_phase
        self.operating_point_kind = operating_point
        self.tree: Tree = build_tree(net)
        phases = None
        if self.three_phase:
            sgen = net.sgen[net.sgen["in_service"].astype(bool) & (net.sgen["p_mw"] != 0.0)]
            if len(sgen):
                raise InputError(
                    f"{len(sgen)} balanced sgen(s) in a three-phase net (e.g. {sgen.index[0]}): "
                    "pandapower's runpp_3ph ignores the sgen table; use asymmetric_sgen.",
                    source,
                )
            phases = build_phase_data(net, self.tree, branch_z_ohm)
        self._base = LinearVoltageModel(
            self.tree,
            np.ones(int(phases.present.sum()) if phases is not None else self.tree.n_nodes),
            phases,
            squared=operating_point == "lindistflow",
        )
        self.v_source_pu = float(net.ext_grid.loc[net.ext_grid["in_service"], "vm_pu"].iloc[0])

    @classmethod
    def from_feeder(cls, feeder: Feeder) -> Grid:
        """Build the grid of a feeder (its net, phases, exact impedances and operating point)."""
        return cls(
            feeder.net,
            feeder.three_phase,
            feeder.branch_z_ohm,
            feeder.operating_point,
            feeder.feeder_id,
        )

    @property
    def nodes(self) -> NodeIndex:
        """(bus, phase) of every model node."""
        return self._base.nodes

    @property
    def n_nodes(self) -> int:
        """Number of model nodes."""
        return self._base.n_nodes

    @property
    def relinearises(self) -> bool:
        """Whether a new AC operating point gives a new linear model (AC anchoring)."""
        return self.operating_point_kind == "ac"

    def model(self, v0_pu: np.ndarray) -> LinearVoltageModel:
        """Return the linear model anchored at the voltages ``v0_pu`` of the model nodes."""
        return self._base.at_voltage(v0_pu)

    def run_ac(self, net: pp.pandapowerNet) -> pd.Series:
        """Run the AC power flow; return the voltage of every connected (bus, phase), pu.

        Raises
        ------
        dec.network.powerflow.PowerFlowFailed
            If the power flow does not converge.
        """
        buses = np.array(sorted(self.tree.bus_node), dtype=int)
        if not self.three_phase:
            run_ac(net)
            index = pd.MultiIndex.from_arrays([buses, np.zeros(len(buses), dtype=int)])
            return pd.Series(
                net.res_bus["vm_pu"].loc[buses].to_numpy(), index=index.set_names(["bus", "phase"])
            )
        run_ac_3ph(net)
        columns = [f"vm_{x}_pu" for x in PHASE_LETTERS]
        values = net.res_bus_3ph[columns].loc[buses].to_numpy()
        present = self._base.phases.present[[self.tree.bus_node[b] for b in buses]]
        rows, cols = np.nonzero(present)
        index = pd.MultiIndex.from_arrays([buses[rows], cols + 1], names=["bus", "phase"])
        return pd.Series(values[rows, cols], index=index)

    def node_voltages(self, vm_pu: pd.Series) -> np.ndarray:
        """Voltages of the model nodes taken from a (bus, phase) voltage series, pu."""
        keys = list(zip(self.nodes.bus.tolist(), self.nodes.phase.tolist(), strict=True))
        return vm_pu.loc[keys].to_numpy()

    def injection_incidence(self, buses: np.ndarray, phases: np.ndarray) -> sp.csr_matrix:
        """Share of each injection at each model node (see :meth:`LinearVoltageModel.injection_incidence`)."""
        return self._base.injection_incidence(buses, phases)

    def root_nodes(self) -> np.ndarray:
        """Whether each model node is a phase of the source (root) node."""
        return self._base.tree_node == 0

    def injections_pu(self, net: pp.pandapowerNet) -> tuple[np.ndarray, np.ndarray]:
        """Net active and reactive injection at every model node, pu (generation positive)."""
        inj = net_injections(net)
        incidence = self.injection_incidence(inj["bus"].to_numpy(int), inj["phase"].to_numpy(int))
        return (
            self._base.kw_to_pu(incidence @ inj["p_kw"].to_numpy()),
            self._base.kw_to_pu(incidence @ inj["q_kvar"].to_numpy()),
        )

    def operating_point(
        self, net: pp.pandapowerNet, vm_ac_pu: pd.Series | None = None
    ) -> np.ndarray:
        """Voltages of the model nodes the linear model is anchored at, pu.

        Parameters
        ----------
        net
            The net at the operating point (its injections).
        vm_ac_pu
            Its AC solution (:meth:`run_ac`; None: run it if the anchor is the AC point).
        """
        if self.operating_point_kind == "ac":
            return self.node_voltages(self.run_ac(net) if vm_ac_pu is None else vm_ac_pu)
        p_pu, q_pu = self.injections_pu(net)
        return self._base.lindistflow_voltage(p_pu, q_pu, self.v_source_pu)
