"""IEEE 123-node feeder with secondaries, rooftop PV and utility PV (balanced equivalent).

Built from the per-phase primary data of the GridAPPS-D coordinator
(``inputs/ieee123/case_b``: nominal spot loads, BSD 2-Clause), in the spirit of
GridAPPS-D's "modified IEEE 123 with secondaries and PV":

Primary (4.16 kV, substation bus 150 as the external grid)
    Every line becomes a balanced positive-sequence equivalent of its phase
    impedance matrix Z (ohm): with ``n`` phases present, self impedance ``Zs``
    (mean of the diagonal) and mutual ``Zm`` (mean of the off-diagonal among the
    present phases), ``z_eq = (3/n) · (Zs − Zm·(n−1)/2)``. For three phases this is
    the positive-sequence impedance ``Zs − Zm``; for one- and two-phase laterals the
    factor 3/n makes the balanced three-phase flow of the lateral's power drop the
    same voltage as the real flow on its ``n`` phases. Conductors are recognised
    from the self impedance's r/x (336 ACSR, 1/0 ACSR, 1/0 AA cable), which gives
    each line's length (``Re Zs`` / the conductor's ohm per km) and ampacity (× n/3
    in the equivalent). Shunt capacitance is neglected, as in the source data.
    Closed switches and the four voltage regulators are closed bus-bus switches:
    regulators are omitted (fixed at tap 1.0); the substation regulator's set-point is
    the source voltage (default 1.035 pu; the reference's 1.0475 pu, knob
    ``vm_ext_pu``, would leave almost every bus above 1.05 pu at midday). The normally
    open switches sw7 and sw8 stay open.

Secondaries
    Each spot load is replaced by a service transformer (4.16/0.24 kV, standard
    size covering the secondary's load and PV, 2.5 % impedance) feeding one
    household per ~5 kW of the original load, each on its own service line
    (15–45 m of 1/0 triplex as a balanced equivalent). Household peaks sum to the
    spot load; 80 % of households have rooftop PV of 3–10 kWp (seeded).

Utility PV
    Three plants of 300, 400 and 500 kWp at primary buses 48, 65 and 76, the far
    ends of three laterals.

Default scenario (the curtailment case): PV at 90 % of kWp, loads at 30 % of
nominal, source 1.035 pu: the far secondaries reach about 1.065 pu.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd

from dec.conventions import kw_to_mw
from dec.network.phases import phase_to_sequence
from feeders.attach import add_pvs
from feeders.base import AgentSpec, Feeder
from feeders.gridappsd import PrimaryBranch, PrimaryFeederData, read_primary
from feeders.three_phase import YNYN_BANK, add_phase_loads, create_source

DATA_DIR = Path(__file__).resolve().parents[1] / "inputs" / "ieee123" / "case_b"
DEFAULTS = {"load_scale": 0.3, "pv_scale": 0.9, "seed": 123, "vm_ext_pu": 1.035}

PRIMARY_KV = 4.16
SECONDARY_KV = 0.24
KM_PER_MILE = 1.609344
NORMALLY_OPEN = ("sw7", "sw8")

#: Conductors of the IEEE 123 line configurations: (name, max r/x of the self impedance,
#: self resistance ohm/mile, ampacity A).
CONDUCTORS = (
    ("336,400 26/7 ACSR", 0.6, 0.4596, 530.0),
    ("1/0 ACSR", 1.5, 1.3292, 230.0),
    ("1/0 AA concentric-neutral cable", np.inf, 1.5209, 200.0),
)

KW_PER_HOUSEHOLD = 5.0
HOUSEHOLD_SHARE_SPREAD = (0.6, 1.4)
ROOFTOP_SHARE = 0.8
ROOFTOP_KWP = (3.0, 10.0)
SERVICE_LINE_KM = (0.015, 0.045)
# 1/0 AL triplex, 240 V split phase as a balanced equivalent: loop impedance (2 conductors)
# and the three-phase current carrying the same kVA as its 150 A split-phase rating.
SERVICE_R_OHM_PER_KM, SERVICE_X_OHM_PER_KM = 1.21, 0.18
SERVICE_MAX_I_KA = 150.0 * SECONDARY_KV / (np.sqrt(3) * SECONDARY_KV) / 1000.0
TRANSFORMER_SIZES_KVA = (25.0, 37.5, 50.0, 75.0, 100.0, 167.0, 250.0, 333.0, 500.0, 750.0)
TRANSFORMER_VK_PERCENT, TRANSFORMER_VKR_PERCENT = 2.5, 1.4

UTILITY_PV_KWP = {"48": 300.0, "65": 400.0, "76": 500.0}


def equivalent_impedance(branch: PrimaryBranch) -> complex:
    """Balanced per-phase impedance of a line with ``n`` phases, ohm: (3/n)(Zs − Zm(n−1)/2)."""
    idx = [p - 1 for p in branch.phases]
    z = branch.z_ohm[np.ix_(idx, idx)]
    n = len(idx)
    zs = np.trace(z) / n
    zm = (z.sum() - np.trace(z)) / (n * (n - 1)) if n > 1 else 0.0
    return complex(3.0 / n * (zs - zm * (n - 1) / 2.0))


def conductor_of(branch: PrimaryBranch) -> tuple[str, float, float]:
    """Return (conductor, length km, equivalent ampacity kA) of a primary line."""
    idx = [p - 1 for p in branch.phases]
    zs = np.trace(branch.z_ohm[np.ix_(idx, idx)]) / len(idx)
    ratio = zs.real / zs.imag
    name, _, r_per_mile, amps = next(c for c in CONDUCTORS if ratio <= c[1])
    length_km = zs.real / r_per_mile * KM_PER_MILE
    return name, length_km, amps * len(idx) / 3.0 / 1000.0


def phase_letters(phases: tuple[int, ...]) -> str:
    """Phase string (``"abc"``, ``"b"``, ...) of phase numbers 1 = a, 2 = b, 3 = c."""
    return "".join("abc"[p - 1] for p in sorted(phases))


def create_primary(
    net: pp.pandapowerNet, data: PrimaryFeederData, three_phase: bool = False
) -> tuple[dict[str, int], dict[str, int]]:
    """Create the primary buses and branches.

    Balanced: every line is its balanced equivalent (:func:`equivalent_impedance`).
    Three-phase: buses carry their ``phases``; every line carries the positive- and
    zero-sequence impedance of the transposed equivalent of its phase matrix on its own
    phases (:func:`dec.network.phases.phase_to_sequence`; exact for one-phase laterals)
    and its conductor's ampacity per phase.

    Returns
    -------
    tuple of dict
        The pandapower bus of each IEEE bus name and the line index of each line name.
    """
    names = list(data.buses)
    index = pp.create_buses(net, len(names), vn_kv=PRIMARY_KV, name=names, zone="primary")
    bus = dict(zip(names, (int(i) for i in index), strict=True))
    lines = [br for br in data.branches.values() if br.kind == "line"]
    conductors = [conductor_of(br) for br in lines]
    length_km = np.array([c[1] for c in conductors])
    max_i_ka = np.array([c[2] for c in conductors])
    if three_phase:
        net.bus.loc[index, "phases"] = [phase_letters(data.buses[n].phases) for n in names]
        masks = [np.isin([1, 2, 3], br.phases) for br in lines]
        seq = np.array([phase_to_sequence(br.z_ohm, m) for br, m in zip(lines, masks, strict=True)])
        z, z0 = seq[:, 0], seq[:, 1]
        max_i_ka = max_i_ka * 3.0 / np.array([len(br.phases) for br in lines])
        zero_sequence = {
            "r0_ohm_per_km": z0.real / length_km,
            "x0_ohm_per_km": z0.imag / length_km,
            "c0_nf_per_km": 0.0,
        }
    else:
        z = np.array([equivalent_impedance(br) for br in lines])
        zero_sequence = {}
    line_index = pp.create_lines_from_parameters(
        net,
        [bus[br.from_bus] for br in lines],
        [bus[br.to_bus] for br in lines],
        length_km=length_km,
        r_ohm_per_km=z.real / length_km,
        x_ohm_per_km=z.imag / length_km,
        c_nf_per_km=0.0,
        max_i_ka=max_i_ka,
        name=[br.name for br in lines],
        type=["ol" if "ACSR" in c[0] else "cs" for c in conductors],
        **zero_sequence,
    )
    switches = [br for br in data.branches.values() if br.kind != "line"]
    pp.create_switches(
        net,
        [bus[br.from_bus] for br in switches],
        [bus[br.to_bus] for br in switches],
        et="b",
        closed=[br.name not in NORMALLY_OPEN for br in switches],
        name=[br.name for br in switches],
    )
    return bus, {br.name: int(i) for br, i in zip(lines, line_index, strict=True)}


def _transformer_kva(peak_kw: float) -> float:
    return next((s for s in TRANSFORMER_SIZES_KVA if s >= peak_kw), TRANSFORMER_SIZES_KVA[-1])


def _plan_households(data: PrimaryFeederData, rng: np.random.Generator) -> pd.DataFrame:
    """Draw the households of every secondary: one row per household (kW, kvar, PV kWp, km)."""
    rows = []
    for name, b in data.buses.items():
        load_kw, load_kvar = float(b.load_kw.sum()), float(b.load_kvar.sum())
        if load_kw <= 0:
            continue
        n = max(1, round(load_kw / KW_PER_HOUSEHOLD))
        shares = rng.uniform(*HOUSEHOLD_SHARE_SPREAD, size=n)
        peak_kw = load_kw * shares / shares.sum()
        has_pv = rng.random(n) < ROOFTOP_SHARE
        kwp = np.round(rng.uniform(*ROOFTOP_KWP, size=n) * 2.0) / 2.0
        length_km = rng.uniform(*SERVICE_LINE_KM, size=n)
        for k in range(n):
            rows.append(
                {
                    "primary": name,
                    "k": k,
                    "peak_kw": peak_kw[k],
                    "q_kvar": load_kvar * peak_kw[k] / load_kw,
                    "kwp": kwp[k] if has_pv[k] else 0.0,
                    "length_km": length_km[k],
                }
            )
    return pd.DataFrame(rows)


def assign_phases(homes: pd.DataFrame, data: PrimaryFeederData) -> np.ndarray:
    """Phase code (1–3) of every household: its spot load's phases, filled by largest deficit.

    The households of a spot load go, in order, each to the phase whose load is least
    covered so far, so that the per-phase totals follow the spot load's phases (exactly for
    the single-phase spot loads, the most common).
    """
    phase = np.zeros(len(homes), dtype=int)
    for name, rows in homes.groupby("primary", sort=False):
        deficit = data.buses[name].load_kw.astype(float).copy()
        for k, peak in zip(rows.index, rows["peak_kw"], strict=True):
            chosen = int(np.argmax(np.where(deficit > 0, deficit, -np.inf)))
            phase[k] = chosen + 1
            deficit[chosen] -= peak
    return phase


def _secondary_buses(
    net: pp.pandapowerNet,
    primary_bus: dict[str, int],
    homes: pd.DataFrame,
    three_phase: bool,
) -> dict[str, int]:
    """Create the service transformers and secondary buses; return the bus of each secondary.

    Balanced: a three-phase transformer of the standard size covering the secondary's load and
    PV. Three-phase: a grounded-wye bank of single-phase transformers (``YNyn``, 3 × the
    standard size covering the most loaded phase), so that a one-phase secondary draws from
    its primary phase only with the same per-unit impedance as the balanced equivalent.
    """
    columns = ["peak_kw", "kwp"]
    if three_phase:
        per_phase = homes.groupby(["primary", "phase"], sort=False)[columns].sum().max(axis=1)
        need = per_phase.groupby(level="primary", sort=False).max()
        kva = [3.0 * _transformer_kva(k) for k in need]
        phases = homes.groupby("primary", sort=False)["phase"].agg(phase_letters)
        extra = {**YNYN_BANK, "vk0_percent": TRANSFORMER_VK_PERCENT}
        extra["vkr0_percent"] = TRANSFORMER_VKR_PERCENT
    else:
        need = homes.groupby("primary", sort=False)[columns].sum().max(axis=1)
        kva = [_transformer_kva(k) for k in need]
        extra = {}
    groups = [f"xfmr_{name}" for name in need.index]
    sec = pp.create_buses(
        net, len(groups), vn_kv=SECONDARY_KV, name=[f"s{n}" for n in need.index], zone=groups
    )
    if three_phase:
        net.bus.loc[sec, "phases"] = phases.loc[need.index].to_numpy()
    pp.create_transformers_from_parameters(
        net,
        [primary_bus[n] for n in need.index],
        sec,
        sn_mva=kw_to_mw(np.array(kva)),
        vn_hv_kv=PRIMARY_KV,
        vn_lv_kv=SECONDARY_KV,
        vkr_percent=TRANSFORMER_VKR_PERCENT,
        vk_percent=TRANSFORMER_VK_PERCENT,
        pfe_kw=0.0,
        i0_percent=0.0,
        name=groups,
        **extra,
    )
    return dict(zip(need.index, (int(b) for b in sec), strict=True))


def _secondaries(
    net: pp.pandapowerNet,
    primary_bus: dict[str, int],
    homes: pd.DataFrame,
    load_scale: float,
    pv_scale: float,
    three_phase: bool = False,
) -> list[AgentSpec]:
    """Create service transformers, household buses, service lines, loads and rooftop PV.

    Three-phase: every household and its PV sit on the phase in ``homes["phase"]``; its
    240 V split-phase service is a one-phase line on the 139 V phase-to-neutral base whose
    impedance is a third of the loop impedance, which gives the same per-unit voltage drop.
    """
    sec_of = _secondary_buses(net, primary_bus, homes, three_phase)
    ids = [f"h_{p}_{k}" for p, k in zip(homes["primary"], homes["k"], strict=True)]
    group_of_home = [f"xfmr_{p}" for p in homes["primary"]]
    hbus = pp.create_buses(net, len(ids), vn_kv=SECONDARY_KV, name=ids, zone=group_of_home)
    phase = homes["phase"].to_numpy() if three_phase else None
    service = {
        "r_ohm_per_km": SERVICE_R_OHM_PER_KM,
        "x_ohm_per_km": SERVICE_X_OHM_PER_KM,
        "max_i_ka": SERVICE_MAX_I_KA,
    }
    if three_phase:
        net.bus.loc[hbus, "phases"] = [phase_letters((p,)) for p in phase]
        service = {
            "r_ohm_per_km": SERVICE_R_OHM_PER_KM / 3.0,
            "x_ohm_per_km": SERVICE_X_OHM_PER_KM / 3.0,
            "r0_ohm_per_km": SERVICE_R_OHM_PER_KM / 3.0,
            "x0_ohm_per_km": SERVICE_X_OHM_PER_KM / 3.0,
            "c0_nf_per_km": 0.0,
            "max_i_ka": SERVICE_MAX_I_KA * 3.0,  # √3 × the line current on a √3 lower voltage
        }
    pp.create_lines_from_parameters(
        net,
        [sec_of[p] for p in homes["primary"]],
        hbus,
        length_km=homes["length_km"].to_numpy(),
        c_nf_per_km=0.0,
        name=[f"service_{h}" for h in ids],
        type="cs",
        **service,
    )
    with_pv = np.flatnonzero(homes["kwp"].to_numpy() > 0)
    rooftop = add_pvs(
        net,
        [int(hbus[i]) for i in with_pv],
        homes["kwp"].to_numpy()[with_pv],
        pv_scale,
        agent_ids=[f"pv_{ids[i][2:]}" for i in with_pv],
        owners=[ids[i] for i in with_pv],
        groups=[group_of_home[i] for i in with_pv],
        phases=None if phase is None else phase[with_pv],
    )
    if three_phase:
        households = add_phase_loads(
            net,
            hbus,
            phase,
            homes["peak_kw"].to_numpy(),
            homes["q_kvar"].to_numpy(),
            load_scale,
            agent_ids=ids,
            groups=group_of_home,
        )
        return households + rooftop
    loads = pp.create_loads(
        net,
        hbus,
        p_mw=kw_to_mw(load_scale * homes["peak_kw"].to_numpy()),
        q_mvar=kw_to_mw(load_scale * homes["q_kvar"].to_numpy()),
        name=ids,
    )
    households = [
        AgentSpec(
            agent_id=h,
            agent_type="household",
            bus=int(b),
            element=("load", int(i)),
            p_rated_kw=float(p),
            group=g,
        )
        for h, b, i, p, g in zip(ids, hbus, loads, homes["peak_kw"], group_of_home, strict=True)
    ]
    return households + rooftop


def build(load_scale: float, pv_scale: float, seed: int, vm_ext_pu: float) -> Feeder:
    """Build the IEEE 123 feeder with secondaries, households, rooftop PV and utility PV.

    Parameters
    ----------
    load_scale
        Multiplier of the nominal household loads.
    pv_scale
        PV output as a fraction of kWp (rooftop and utility).
    seed
        Seed of household sizes, rooftop PV placement and sizes, service-line lengths.
    vm_ext_pu
        Voltage at the substation (bus 150), pu.
    """
    return build_feeder(load_scale, pv_scale, seed, vm_ext_pu, three_phase=False)


def build_feeder(
    load_scale: float, pv_scale: float, seed: int, vm_ext_pu: float, three_phase: bool
) -> Feeder:
    """Build the IEEE 123 feeder, balanced (``ieee123``) or per phase (``ieee123_3ph``).

    Both have the same households, PV units and agent ids (the same random draws); per
    phase, each household and its PV sit on one phase (:func:`assign_phases`) and the
    utility plants are three-phase (phase 0, a third of their output on each phase).
    """
    rng = np.random.default_rng(seed)
    data = read_primary(DATA_DIR)
    suffix = " per phase" if three_phase else ""
    net = pp.create_empty_network(name=f"ieee123 with secondaries and PV{suffix}", sn_mva=1.0)
    bus, _ = create_primary(net, data, three_phase)
    homes = _plan_households(data, rng)
    if three_phase:
        create_source(net, bus[data.root], vm_ext_pu, "substation 150")
        homes["phase"] = assign_phases(homes, data)
    else:
        pp.create_ext_grid(net, bus[data.root], vm_pu=vm_ext_pu, name="substation 150")
    agents = _secondaries(net, bus, homes, load_scale, pv_scale, three_phase)
    utility = add_pvs(
        net,
        [bus[name] for name in UTILITY_PV_KWP],
        list(UTILITY_PV_KWP.values()),
        pv_scale,
        agent_ids=[f"upv_{name}" for name in UTILITY_PV_KWP],
        groups=[f"utility_{name}" for name in UTILITY_PV_KWP],
        phases=[0] * len(UTILITY_PV_KWP) if three_phase else None,
    )
    kind = "per phase" if three_phase else "balanced equivalent"
    return Feeder(
        feeder_id="ieee123_3ph" if three_phase else "ieee123",
        net=net,
        agents=agents + utility,
        knobs={
            "load_scale": load_scale,
            "pv_scale": pv_scale,
            "seed": seed,
            "vm_ext_pu": vm_ext_pu,
        },
        description=f"IEEE 123 with secondaries, rooftop PV and utility PV ({kind})",
        three_phase=three_phase,
    )
