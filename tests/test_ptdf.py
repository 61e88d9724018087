"""DC PTDF (slack connected) against pandapower rundcpp: flows equal within 1e-6 MW."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

from dec.network.ptdf import build_ptdf
from tests.conftest import FEEDER_IDS

TOL_MW = 1e-6


@pytest.mark.parametrize("feeder_id", FEEDER_IDS)
def test_ptdf_flows_equal_rundcpp(feeder_cache, feeder_id):
    net = feeder_cache(feeder_id).net
    ptdf = build_ptdf(net)
    rng = np.random.default_rng(7)
    net.sgen["p_mw"] *= rng.uniform(0.2, 1.5, len(net.sgen))
    net.load["p_mw"] *= rng.uniform(0.2, 1.5, len(net.load))
    pp.rundcpp(net)
    column = {b: i for i, b in enumerate(ptdf.buses)}
    p_mw = np.zeros(len(ptdf.buses))
    np.add.at(p_mw, [column[b] for b in net.sgen["bus"]], net.sgen["p_mw"].to_numpy())
    np.add.at(p_mw, [column[b] for b in net.load["bus"]], -net.load["p_mw"].to_numpy())
    expected = np.concatenate(
        [
            net.res_line["p_from_mw"]
            .loc[ptdf.branch_index[ptdf.branch_table == "line"]]
            .to_numpy(),
            net.res_trafo["p_hv_mw"]
            .loc[ptdf.branch_index[ptdf.branch_table == "trafo"]]
            .to_numpy(),
        ]
    )
    assert np.max(np.abs(ptdf.flows_mw(p_mw) - expected)) <= TOL_MW


def test_slack_column_is_zero(feeder_cache):
    net = feeder_cache("village").net
    ptdf = build_ptdf(net)
    slack = int(net.ext_grid["bus"].iloc[0])
    assert np.all(ptdf.matrix[:, ptdf.column(slack)] == 0.0)
