"""Per-phase feeders (issue 9): the GridAPPS-D cases as specified, ieee123 per phase.

References: the raw data files (W and var → kW, kvar), the coordinator's case settings
(multipliers, source voltage, open switches), and the balanced ``ieee123`` (same agents).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "inputs" / "ieee123"
CASES = {
    "gridappsd_a": ("case_a", 0.432, 0.786621, 3470.0),
    "gridappsd_b": ("case_b", 0.37, 0.88, 3250.0),
}


def _phase_power_kw(net, table, index, phase):
    return net[table].at[index, f"p_{'abc'[phase - 1]}_mw"] * 1000.0


@pytest.mark.parametrize("feeder_id", sorted(CASES))
def test_gridappsd_cases_follow_the_data(feeder_cache, feeder_id):
    case, load_mult, pv_mult, pv_total_kw = CASES[feeder_id]
    buses = json.loads((DATA / case / "bus_info_ieee123_pri.json").read_text())
    feeder = feeder_cache(feeder_id)
    net = feeder.net
    assert feeder.three_phase and feeder.operating_point == "lindistflow"
    assert net.ext_grid["vm_pu"].tolist() == [1.0475]
    assert (feeder.vm_min_pu, feeder.vm_max_pu) == (0.95, 1.05)
    closed = dict(zip(net.switch["name"], net.switch["closed"], strict=True))
    assert not closed["sw7"] and not closed["sw8"]
    assert all(closed[f"sw{k}"] for k in range(1, 7))
    pvs = feeder.agents_of_type("pv")
    expected = {
        (name, k + 1): rec["pv"][k][0] / 1000.0
        for name, rec in buses.items()
        for k in range(3)
        if rec["pv"][k][0] > 0
    }
    got = {(net.bus.at[a.bus, "name"], a.phase): a.p_rated_kw for a in pvs}
    assert got == pytest.approx(expected)
    assert sum(expected.values()) == pytest.approx(pv_total_kw)
    for a in pvs:
        assert a.element[0] == "asymmetric_sgen"
        assert _phase_power_kw(net, *a.element, a.phase) == pytest.approx(pv_mult * a.p_rated_kw)
    for a in feeder.agents_of_type("household"):
        data_kw = buses[net.bus.at[a.bus, "name"]]["pq"][a.phase - 1][0] / 1000.0
        assert a.p_rated_kw == pytest.approx(data_kw)
        assert _phase_power_kw(net, *a.element, a.phase) == pytest.approx(load_mult * data_kw)
    # the exact 3×3 impedances of the data are kept for the linear model
    branches = json.loads((DATA / case / "branch_sw_xfmr_ieee123_pri.json").read_text())
    line = net.line.index[net.line["name"] == "l115"][0]
    z = np.array(branches["l115"]["zprim"], dtype=float)
    assert feeder.branch_z_ohm["line", line] == pytest.approx(z[..., 0] + 1j * z[..., 1])


def test_ieee123_per_phase_has_the_balanced_agents_on_their_phases(feeder_cache):
    from feeders.gridappsd import read_primary
    from feeders.ieee123 import DATA_DIR

    data = read_primary(DATA_DIR)
    balanced, per_phase = feeder_cache("ieee123"), feeder_cache("ieee123_3ph")
    assert [a.agent_id for a in per_phase.agents] == [a.agent_id for a in balanced.agents]
    assert [a.p_rated_kw for a in per_phase.agents] == [a.p_rated_kw for a in balanced.agents]
    net = per_phase.net
    per_spot: dict[tuple[str, int], float] = {}
    biggest: dict[str, float] = {}
    for h in per_phase.agents_of_type("household"):
        spot = h.group.removeprefix("xfmr_")
        assert data.buses[spot].load_kw[h.phase - 1] > 0, "a household sits on a loaded phase"
        assert net.bus.at[h.bus, "phases"] == "abc"[h.phase - 1]
        per_spot[spot, h.phase] = per_spot.get((spot, h.phase), 0.0) + h.p_rated_kw
        biggest[spot] = max(biggest.get(spot, 0.0), h.p_rated_kw)
    for (spot, phase), kw in per_spot.items():
        # per phase within one household of the spot load's phase (exact for one-phase spots)
        assert abs(kw - data.buses[spot].load_kw[phase - 1]) <= biggest[spot] + 1e-9
    owners = {h.agent_id: h.phase for h in per_phase.agents_of_type("household")}
    for pv in per_phase.agents_of_type("pv"):
        if pv.owner is None:  # utility plants: three-phase, a third on each phase
            assert pv.phase == 0
            row = net.asymmetric_sgen.loc[pv.element[1]]
            assert row["p_a_mw"] == row["p_b_mw"] == row["p_c_mw"] > 0
        else:
            assert pv.phase == owners[pv.owner]
    assert set(net.trafo["vector_group"]) == {"YNyn"}
