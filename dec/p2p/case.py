"""A p2p case: the feeder's network with households and PV units placed on it, and their profiles.

The feeder's own loads, PV units and storage are removed (they belong to the
feeder's curtailment case) and replaced by one pandapower ``load`` per household
and one ``sgen`` per PV unit. Every trader follows a column of the hourly
profile tables; loads draw reactive power and PV units inject it at the
configured power factors (the reference study used 0.99 for both).

Leaf buses are the buses of degree one in pandapower's graph of the net
(``pandapower.topology.create_nxgraph``, switches respected), in bus order, as in
the reference study; :func:`leaf_buses` leaves out the ext_grid bus unless asked.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandapower.topology as top

from dec.conventions import kw_to_mw
from dec.network.topology import build_tree
from dec.p2p.profiles import profile, read_profiles
from dec.p2p.settings import P2PSettings
from dec.validation import Problems, positive
from feeders.base import AgentSpec, Feeder

#: Peak power of the PV system the solar profiles describe (Global Solar Atlas, 3 kWp), kW.
PROFILE_KWP = 3.0
#: The columns of each branch table that make up its thermal rating in the network checks
#: (:func:`dec.p2p.grid.branch_ratings_mva` and pandapower's ``loading_percent``).
RATING_COLUMNS = {"line": ("max_i_ka", "df", "parallel"), "trafo": ("sn_mva", "df", "parallel")}


@dataclass
class P2PCase:
    """Traders on a network, with their hourly consumption and generation.

    Attributes
    ----------
    net
        The feeder's net with the traders' loads and sgens (p set per hour by the checks).
    specs
        One agent specification per trader: households first, then stand-alone PV units.
    bus
        pandapower bus of each trader.
    load_kw, pv_kw
        Consumption and generation of each trader (hours × traders), kW; a household
        with rooftop PV (``pv.owned``) has both.
    load_index, sgen_index
        pandapower ``load``/``sgen`` index of each trader's element, -1 if none.
    load_tan_phi, pv_tan_phi
        Reactive-to-active power ratio of loads (consumed) and PV units (injected).
    hours
        Hour of the day of each hourly block.

    """

    net: pp.pandapowerNet
    specs: list[AgentSpec]
    bus: np.ndarray
    load_kw: np.ndarray
    pv_kw: np.ndarray
    load_index: np.ndarray
    sgen_index: np.ndarray
    load_tan_phi: float
    pv_tan_phi: float
    hours: np.ndarray

    @property
    def n_hours(self) -> int:
        """Number of hourly blocks."""
        return self.load_kw.shape[0]

    @property
    def n_traders(self) -> int:
        """Number of traders."""
        return len(self.specs)

    @property
    def net_kw(self) -> np.ndarray:
        """Net position of each trader per hour (generation positive: > 0 sells), kW."""
        return self.pv_kw - self.load_kw

    @property
    def agent_ids(self) -> list[str]:
        """Trader ids, in trader order."""
        return [s.agent_id for s in self.specs]


def leaf_buses(net: pp.pandapowerNet, include_source: bool = False) -> list[int]:
    """Return the buses of degree one of a net's graph, in bus order.

    Parameters
    ----------
    net
        The pandapower net.
    include_source
        Keep the ext_grid bus if it is a leaf (the reference study's rule does).

    """
    graph = top.create_nxgraph(net, respect_switches=True)
    source = set(net.ext_grid["bus"].astype(int))
    return sorted(
        int(b) for b, d in graph.degree() if d == 1 and (include_source or int(b) not in source)
    )


def _seeded_pv_buses(leaves: list[int], share: float, seed: int) -> tuple[int, ...]:
    """Draw ``share`` of the leaf buses (rounded half up, at least one if share > 0)."""
    count = int(np.floor(share * len(leaves) + 0.5))
    count = max(count, 1) if share > 0 else 0
    rng = np.random.default_rng(seed)
    return tuple(sorted(int(b) for b in rng.choice(leaves, size=count, replace=False)))


def _check_buses(
    net: pp.pandapowerNet, buses: dict[str, tuple[int, ...]], problems: Problems
) -> None:
    connected = set(build_tree(net).bus_node)
    for field, values in buses.items():
        unknown = [b for b in values if b not in net.bus.index]
        if unknown:
            problems.add(
                f"Field '{field}' refers to bus(es) {unknown[:5]} that the feeder's net does not "
                f"have (its buses are {int(net.bus.index.min())}..{int(net.bus.index.max())})."
            )
            continue
        cut = [b for b in values if b not in connected]
        if cut:
            problems.add(
                f"Field '{field}' refers to bus(es) {cut[:5]} that are out of service or not "
                "connected to the feeder's source."
            )


def check_ratings(net: pp.pandapowerNet, problems: Problems) -> None:
    """Add a problem for every branch in service whose rating is not a number above zero.

    The DC and AC checks limit each line's flow to ``√3 · vn_kv · max_i_ka · df ·
    parallel`` and each transformer's to ``sn_mva · df · parallel`` (:data:`RATING_COLUMNS`);
    a missing, zero or negative factor would make the limit meaningless (NaN, 0 or < 0).
    The other modes do not use these ratings and do not check them.
    """
    found = []
    for table, columns in RATING_COLUMNS.items():
        if table not in net or not len(net[table]):
            continue
        rows = net[table][net[table]["in_service"].astype(bool)]
        for column in columns:
            values = dict(rows[column].items()) if column in rows else dict.fromkeys(rows.index)
            found += positive(values, column, table)
    if found:
        problems.extend(found)
        problems.add(
            "The p2p mode's network checks rate every line in service at √3 · vn_kv · "
            "max_i_ka · df · parallel and every transformer at sn_mva · df · parallel; give "
            "each a number above zero (pandapower's standard types have them)."
        )


def _tan_phi(power_factor: float) -> float:
    return float(np.tan(np.arccos(power_factor)))


def _ids(prefix: str, buses: tuple[int, ...]) -> list[str]:
    """Return ``<prefix><bus>`` ids, suffixed ``_2``, ``_3``, ... for repeated buses."""
    seen: dict[int, int] = {}
    ids = []
    for bus in buses:
        seen[bus] = seen.get(bus, 0) + 1
        ids.append(f"{prefix}{bus}" + (f"_{seen[bus]}" if seen[bus] > 1 else ""))
    return ids


def build_case(feeder: Feeder, settings: P2PSettings) -> P2PCase:
    """Place the traders on the feeder's network and read their profiles.

    Parameters
    ----------
    feeder
        The scenario's feeder (its net is copied; its agents are not used).
    settings
        The validated p2p settings.

    Returns
    -------
    P2PCase

    Raises
    ------
    InputError
        A branch rating that is not a number above zero (:func:`check_ratings`, naming the
        feeder's file), unknown or disconnected buses, PV marked as owned on a bus without
        a household, unreadable or invalid profiles, or an unknown profile column.

    """
    ratings = Problems(feeder.source or settings.source)
    check_ratings(feeder.net, ratings)
    ratings.raise_if_any()
    net = copy.deepcopy(feeder.net)
    for table in ("load", "sgen", "storage"):
        if table in net and len(net[table]):
            net[table] = net[table].iloc[0:0]
    net.ext_grid["vm_pu"] = settings.vm_ext_pu
    placement = settings.placement
    leaves = leaf_buses(net)
    household_buses = placement.household_buses or tuple(leaves)
    pv_buses = placement.pv_buses
    if pv_buses is None:
        pv_buses = _seeded_pv_buses(leaves, placement.pv_penetration or 0.0, settings.seed)
    problems = Problems(settings.source)
    _check_buses(net, {"p2p.households.buses": household_buses, "p2p.pv.buses": pv_buses}, problems)
    if placement.pv_owned:
        orphan = sorted(set(pv_buses) - set(household_buses))
        if orphan:
            problems.add(
                f"Field 'p2p.pv.owned' is true but bus(es) {orphan[:5]} have PV and no household "
                "to own it."
            )
    problems.raise_if_any()

    hours = list(settings.hours)
    loads = read_profiles(settings.load_profiles, "load")
    solar = read_profiles(settings.pv_profiles, "pv")
    load_kw = (
        settings.load_scale
        * profile(loads, placement.load_profile, "load", str(settings.load_profiles))[hours]
    )
    pv_kw = (
        settings.pv_scale
        * profile(solar, placement.pv_profile, "pv", str(settings.pv_profiles))[hours]
    )
    return _assemble(net, household_buses, pv_buses, load_kw, pv_kw, settings)


def _assemble(
    net: pp.pandapowerNet,
    household_buses: tuple[int, ...],
    pv_buses: tuple[int, ...],
    load_kw: np.ndarray,
    pv_kw: np.ndarray,
    settings: P2PSettings,
) -> P2PCase:
    """Create the pandapower elements and the trader arrays."""
    load_tan, pv_tan = _tan_phi(settings.load_power_factor), _tan_phi(settings.pv_power_factor)
    owned = settings.placement.pv_owned
    n_households = len(household_buses)
    n_traders = n_households + (0 if owned else len(pv_buses))
    n_hours = len(load_kw)
    trader_load = np.zeros((n_hours, n_traders))
    trader_pv = np.zeros((n_hours, n_traders))
    load_index = np.full(n_traders, -1)
    sgen_index = np.full(n_traders, -1)
    specs: list[AgentSpec] = []
    kwp = PROFILE_KWP * settings.pv_scale
    for i, (agent_id, bus) in enumerate(
        zip(_ids("h", household_buses), household_buses, strict=True)
    ):
        load_index[i] = pp.create_load(
            net,
            bus,
            p_mw=kw_to_mw(load_kw[0]),
            q_mvar=kw_to_mw(load_kw[0] * load_tan),
            name=agent_id,
        )
        trader_load[:, i] = load_kw
        specs.append(
            AgentSpec(
                agent_id, "household", int(bus), ("load", int(load_index[i])), float(load_kw.max())
            )
        )
    household_at = {bus: i for i, bus in enumerate(household_buses)}
    for k, (agent_id, bus) in enumerate(zip(_ids("pv", pv_buses), pv_buses, strict=True)):
        sgen = pp.create_sgen(
            net,
            bus,
            p_mw=kw_to_mw(pv_kw[0]),
            q_mvar=kw_to_mw(pv_kw[0] * pv_tan),
            name=agent_id,
            type="PV",
        )
        i = household_at[bus] if owned else n_households + k
        sgen_index[i] = sgen
        trader_pv[:, i] += pv_kw
        if not owned:
            specs.append(AgentSpec(agent_id, "pv", int(bus), ("sgen", int(sgen)), kwp))
    return P2PCase(
        net=net,
        specs=specs,
        bus=np.array([s.bus for s in specs], dtype=int),
        load_kw=trader_load,
        pv_kw=trader_pv,
        load_index=load_index,
        sgen_index=sgen_index,
        load_tan_phi=load_tan,
        pv_tan_phi=pv_tan,
        hours=np.array(settings.hours, dtype=int),
    )
