"""The battery and meter block of a window problem, shared by the centralised LP and ADMM.

For ``nb`` battery members over ``W`` steps: charge and discharge energies per step
(kWh), the SoC at the end of each step (kWh) and the split of the net position
``n = r + discharge − charge`` (``r`` = production − consumption) into
``g⁺ = max(n, 0)`` and ``g⁻ = max(−n, 0)`` (see :mod:`dec.reckeys.exactness`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp


@dataclass
class BatteryBlock:
    """cvxpy variables, parameters and constraints of the battery members of a window."""

    charge: cp.Variable
    discharge: cp.Variable
    soc: cp.Variable
    g_plus: cp.Variable
    g_minus: cp.Variable
    net_exogenous: cp.Parameter
    soc_initial: cp.Parameter
    constraints: list


def build_battery_block(
    n_batteries: int,
    n_steps: int,
    limits: dict[str, np.ndarray | cp.Parameter],
    binary: np.ndarray | None = None,
) -> BatteryBlock:
    """Return the variables and constraints of ``n_batteries`` batteries over ``n_steps`` steps.

    Parameters
    ----------
    n_batteries, n_steps
        Block size (nb, W).
    limits
        Column arrays or parameters of shape (nb, 1): ``soc_min_kwh``, ``soc_max_kwh``,
        ``charge_max_kwh``, ``discharge_max_kwh`` (per step), ``charge_efficiency`` and
        ``inverse_discharge_efficiency``; and, when ``binary`` has a True entry,
        ``g_plus_max_kwh`` and ``g_minus_max_kwh`` (parameters (nb_bin, W)).
    binary
        Which batteries get one binary per step to make their meters exact.

    """
    shape = (n_batteries, n_steps)
    charge, discharge = cp.Variable(shape, nonneg=True), cp.Variable(shape, nonneg=True)
    soc = cp.Variable(shape)
    g_plus, g_minus = cp.Variable(shape, nonneg=True), cp.Variable(shape, nonneg=True)
    net_exogenous = cp.Parameter(shape, name="net_exogenous_kwh")
    soc_initial = cp.Parameter((n_batteries, 1), name="soc_initial_kwh")
    gain = cp.multiply(limits["charge_efficiency"], charge) - cp.multiply(
        limits["inverse_discharge_efficiency"], discharge
    )
    constraints = [
        charge <= limits["charge_max_kwh"],
        discharge <= limits["discharge_max_kwh"],
        soc[:, :1] == soc_initial + gain[:, :1],
        soc >= limits["soc_min_kwh"],
        soc <= limits["soc_max_kwh"],
        g_plus - g_minus == net_exogenous + discharge - charge,
    ]
    if n_steps > 1:
        constraints.append(soc[:, 1:] == soc[:, :-1] + gain[:, 1:])
    if binary is not None and binary.any():
        rows = np.flatnonzero(binary)
        on = cp.Variable((len(rows), n_steps), boolean=True)
        constraints += [
            g_plus[rows, :] <= cp.multiply(limits["g_plus_max_kwh"], on),
            g_minus[rows, :] <= cp.multiply(limits["g_minus_max_kwh"], 1 - on),
        ]
    return BatteryBlock(
        charge, discharge, soc, g_plus, g_minus, net_exogenous, soc_initial, constraints
    )


def smoothing_weights(limits: dict[str, np.ndarray], strength_eur_per_kwh: float) -> dict:
    """Return the tie-break weights ``κ / (2 · limit)`` (nb, 1) of charge and discharge.

    The marginal cost of the tie-break at full power is κ (EUR/kWh); a battery that
    cannot charge (or discharge) gets weight 0.
    """
    return {
        kind: np.divide(
            strength_eur_per_kwh / 2.0,
            limits[f"{kind}_max_kwh"],
            out=np.zeros_like(limits[f"{kind}_max_kwh"]),
            where=limits[f"{kind}_max_kwh"] > 0,
        )
        for kind in ("charge", "discharge")
    }


def column_limits(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the battery limits of :meth:`RecCase.battery_arrays` as (nb, 1) columns."""
    return {
        "soc_min_kwh": arrays["soc_min_kwh"][:, None],
        "soc_max_kwh": arrays["soc_max_kwh"][:, None],
        "charge_max_kwh": arrays["charge_max_kwh"][:, None],
        "discharge_max_kwh": arrays["discharge_max_kwh"][:, None],
        "charge_efficiency": arrays["charge_efficiency"][:, None],
        "inverse_discharge_efficiency": 1.0 / arrays["discharge_efficiency"][:, None],
    }


@dataclass
class BatteryMembers:
    """The battery members' part of a window problem: battery block, keys and bills.

    Parameters (set per window with :meth:`set`) hold the members' rows of a
    :class:`~dec.reckeys.window.WindowInputs`; ``objective`` is the sum of their
    counted bills in the window (fees and idle tie-break included, the constant
    part of the elapsed meters excluded).
    """

    block: BatteryBlock
    elapsed_consumption: cp.Parameter
    elapsed_production: cp.Parameter
    buy: cp.Parameter
    sell: cp.Parameter
    buy_step: cp.Parameter
    sell_step: cp.Parameter
    imports: cp.Variable
    exports: cp.Variable
    objective: cp.Expression
    constraints: list

    def set(
        self,
        net_kwh: np.ndarray,
        step_period: np.ndarray,
        consumption_meter_kwh: np.ndarray,
        production_meter_kwh: np.ndarray,
        buy: np.ndarray,
        sell: np.ndarray,
    ) -> float:
        """Set the window's numbers (battery members' rows); return the constant bill, EUR.

        ``step_period`` (W,) is the window period of each window step.
        """
        self.block.net_exogenous.value = net_kwh
        self.elapsed_consumption.value = consumption_meter_kwh
        self.elapsed_production.value = production_meter_kwh
        self.buy.value, self.sell.value = buy, sell
        self.buy_step.value, self.sell_step.value = buy[:, step_period], sell[:, step_period]
        return float(np.sum(buy * consumption_meter_kwh) - np.sum(sell * production_meter_kwh))


def build_battery_members(
    n_batteries: int,
    n_steps: int,
    n_periods: int,
    limits: dict,
    membership: sp.csr_matrix,
    cap: cp.Parameter,
    fee_eur_per_kwh: float | cp.Parameter,
    tie_break_eur_per_kwh: float,
    binary: np.ndarray | None = None,
    smoothing: dict | None = None,
) -> BatteryMembers:
    """Return the battery members' variables, bill objective and constraints of a window.

    Parameters
    ----------
    n_batteries, n_steps, n_periods
        nb battery members, W window steps, L window periods.
    limits
        Battery limits, see :func:`build_battery_block`.
    membership
        Sparse constant (L, W): 1 where a window step belongs to a window period.
    cap
        Parameter (L,): bound of every import and export of a period (0 forbids them).
    fee_eur_per_kwh
        ε, EUR per kWh discharged.
    tie_break_eur_per_kwh
        Cost per kWh charged or discharged that breaks ties towards idle batteries (not
        billed).
    binary
        Which batteries get binaries for exact meters.
    smoothing
        Weights (nb, 1), EUR/kWh², of the strictly convex tie-break
        ``Σ w_c charge² + w_d discharge²`` (keys ``charge`` and ``discharge``), or None
        for a linear program.

    """
    nb, L = n_batteries, n_periods
    block = build_battery_block(nb, n_steps, limits, binary)
    params = {
        name: cp.Parameter(shape, name=name)
        for name, shape in (
            ("elapsed_consumption_kwh", (nb, L)),
            ("elapsed_production_kwh", (nb, L)),
            ("buy_eur_per_kwh", (nb, L)),
            ("sell_eur_per_kwh", (nb, L)),
            ("buy_per_step_eur_per_kwh", (nb, n_steps)),
            ("sell_per_step_eur_per_kwh", (nb, n_steps)),
        )
    }
    imports = cp.Variable((nb, L), nonneg=True)
    exports = cp.Variable((nb, L), nonneg=True)
    cap_rows = np.ones((nb, 1)) @ cp.reshape(cap, (1, L), order="C")
    # Meters per period as membership @ g.T: cvxpy keeps a sparse left factor sparse but
    # makes a right one (g @ membership.T) dense, W × L numbers.
    constraints = [
        *block.constraints,
        imports <= params["elapsed_consumption_kwh"] + (membership @ block.g_minus.T).T,
        exports <= params["elapsed_production_kwh"] + (membership @ block.g_plus.T).T,
        imports <= cap_rows,
        exports <= cap_rows,
    ]
    objective = (
        cp.sum(cp.multiply(params["buy_per_step_eur_per_kwh"], block.g_minus))
        - cp.sum(cp.multiply(params["sell_per_step_eur_per_kwh"], block.g_plus))
        - cp.sum(cp.multiply(params["buy_eur_per_kwh"], imports))
        + cp.sum(cp.multiply(params["sell_eur_per_kwh"], exports))
        + fee_eur_per_kwh * cp.sum(block.discharge)
        + tie_break_eur_per_kwh * (cp.sum(block.charge) + cp.sum(block.discharge))
    )
    if smoothing is not None:
        objective += cp.sum(cp.multiply(smoothing["charge"], cp.square(block.charge)))
        objective += cp.sum(cp.multiply(smoothing["discharge"], cp.square(block.discharge)))
    return BatteryMembers(
        block,
        params["elapsed_consumption_kwh"],
        params["elapsed_production_kwh"],
        params["buy_eur_per_kwh"],
        params["sell_eur_per_kwh"],
        params["buy_per_step_eur_per_kwh"],
        params["sell_per_step_eur_per_kwh"],
        imports,
        exports,
        objective,
        constraints,
    )
