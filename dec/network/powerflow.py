"""The AC power flow (pandapower ``runpp``) that validates every network decision."""

from __future__ import annotations

import logging

import pandapower as pp

from dec.errors import DecError


def _drop_numba_notice(record: logging.LogRecord) -> bool:
    """Drop pandapower's "numba cannot be imported" notice: dec runs without numba on purpose."""
    return not str(record.msg).startswith("numba cannot be imported")


logging.getLogger("pandapower.auxiliary").addFilter(_drop_numba_notice)


class PowerFlowFailed(DecError):
    """The AC power flow did not converge."""


def run_ac(net: pp.pandapowerNet, **kwargs) -> pp.pandapowerNet:
    """Run pandapower's Newton-Raphson AC power flow in place and return the net.

    numba is disabled: at feeder sizes it only adds compile time.

    Raises
    ------
    PowerFlowFailed
        If the power flow does not converge.

    """
    options = {"numba": False, "init": "auto", "calculate_voltage_angles": True} | kwargs
    return _run(pp.runpp, net, options, "The AC power flow")


def _run(solve, net: pp.pandapowerNet, options: dict, what: str) -> pp.pandapowerNet:
    try:
        solve(net, **options)
    except pp.LoadflowNotConverged:
        raise PowerFlowFailed(
            f"{what} did not converge (the operating point may be infeasible)."
        ) from None
    except FloatingPointError as err:  # pandapower divides by branch impedances in 'raise' mode
        raise PowerFlowFailed(
            f"{what} failed on a numerical error ({err}): a branch without impedance?"
        ) from None
    return net


def run_ac_3ph(net: pp.pandapowerNet, **kwargs) -> pp.pandapowerNet:
    """Run pandapower's unbalanced (sequence-frame) AC power flow in place and return the net.

    Voltages per phase are then in ``net.res_bus_3ph`` (``vm_a_pu`` ... ``vm_c_pu``).

    Raises
    ------
    PowerFlowFailed
        If the power flow does not converge.

    """
    options = {"numba": False, "init": "auto"} | kwargs
    return _run(pp.runpp_3ph, net, options, "The unbalanced AC power flow")
