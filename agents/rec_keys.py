"""Agents of a renewable energy community with repartition keys (mode ``rec-keys``).

- :class:`MemberAgent` (``agent_type = "member"``): one REC member. In the
  distributed policy a member with a battery re-plans its battery each round
  (:func:`battery_local_update`) given the community manager's allocation and price,
  and proposes its net community import per metering period of the window.
- :class:`CommunityManagerAgent` (``agent_type = "manager"``): updates the keys and
  the community prices from the proposals (an exact merit-order prox over the members
  without a battery) and computes the residuals; at the end of each period the keys are
  settled from the realised meters (:func:`dec.reckeys.keys.allocate`).

The distributed policy is a two-block ADMM in consensus form (Boyd et al. 2011,
§3.1, scaled form): the battery members' proposals ``x`` (net community imports)
must equal the manager's allocations ``z``::

    x ← argmin Σ_b f_b(x_b) + ρ/2 ‖x − z + u‖²      (each battery member, in parallel)
    z ← argmin g(z) + ρ/2 ‖x − z + u‖²               (manager: keys of the others)
    u ← u + x − z                                     (community prices ρ u, EUR/kWh)

``f_b`` is member b's window bill (battery plan optimised inside); ``g`` is the
least bill of the members without a battery given the battery members' net import.
The manager's ``(z, u)`` is the state of the fixed-point iteration that the policy
Anderson-accelerates (:meth:`CommunityManagerAgent.vector`).

Battery members' updates are batched over chunks (struct-of-arrays messages,
module-level functions) so an engine can run the chunks in processes or on Ray;
each chunk's QP is built once per window (sparse matrices, Clarabel) and re-solved
every round with new targets (Clarabel's in-place update of the linear cost).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from agents.base import DecAgent
from agents.model import CoordinationModel
from dec.reckeys.keys import CommunityProx
from dec.reckeys.member_qp import MEMBER_CLARABEL_OPTIONS, BatteryMemberQP
from dec.reckeys.window import IDLE_TIE_BREAK_EUR_PER_KWH


@dataclass(frozen=True)
class RecAgentSpec:
    """Identity of a REC agent (members have no feeder bus or element)."""

    agent_id: str
    agent_type: str


class MemberAgent(DecAgent):
    """A REC member.

    In the distributed policy a battery member's ``state`` holds, after each step, its
    applied ``charge_kwh`` and ``discharge_kwh`` and its proposed net community import
    of the current metering period ``net_import_kwh`` (collected by the model's
    DataCollector).
    """

    agent_type = "member"


class CommunityManagerAgent(DecAgent):
    """The energy community manager: keys and community prices, residuals.

    In the distributed policy the manager holds, for each battery member b and window
    period l, the community's allocation ``z_bl`` (the member's net import granted by
    the keys) and the scaled dual ``u_bl`` (the community price is ``ρ u``, EUR/kWh).
    Its update is the exact prox of the community's key problem: the members without a
    battery clear the rest of the period's exchanges by merit order
    (:class:`dec.reckeys.keys.CommunityProx`).
    """

    agent_type = "manager"

    def start_window(
        self, periods: np.ndarray, n_batteries: int, plain: dict[str, np.ndarray]
    ) -> None:
        """Shift allocations and duals to a new window, keeping those of shared periods.

        Parameters
        ----------
        periods
            Absolute index of each window period (−1 for padding).
        n_batteries
            Number of battery members (rows of the allocations).
        plain
            The members without a battery in this window: ``consumption_meter_kwh``,
            ``production_meter_kwh``, ``buy_eur_per_kwh``, ``sell_eur_per_kwh`` (n, L)
            and the periods' ``cap_kwh`` (L,), the bound of every exchange (0 forbids
            them).

        """
        old_periods = self.state.get("periods")
        u = np.zeros((n_batteries, len(periods)))
        z = np.zeros((n_batteries, len(periods)))
        if old_periods is not None:
            for l_, period in enumerate(periods):
                hit = np.flatnonzero(old_periods == period)
                if period >= 0 and hit.size:
                    u[:, l_] = self.state["u"][:, hit[0]]
                    z[:, l_] = self.state["z"][:, hit[0]]
        self.state.update(periods=periods, u=u, z=z)
        self.state.setdefault("rho", 1.0)
        cap = plain["cap_kwh"]
        self.open_periods = cap > 0
        self.prox = CommunityProx(
            np.minimum(plain["consumption_meter_kwh"], cap),
            np.minimum(plain["production_meter_kwh"], cap),
            plain["buy_eur_per_kwh"],
            plain["sell_eur_per_kwh"],
        )

    def targets(self) -> np.ndarray:
        """Return the battery members' prox targets ``v = z − u`` (nb, L)."""
        return self.state["z"] - self.state["u"]

    def update(self, x: np.ndarray) -> dict[str, float]:
        """Take the battery members' proposals ``x`` (nb, L); update allocations and prices.

        Parameters
        ----------
        x
            Proposed net imports of the battery members per window period, kWh.

        Returns
        -------
        dict
            ``r_norm``, ``s_norm`` (Boyd's residual norms), ``primal_scale``
            (max(‖x‖, ‖z‖)) and ``dual_scale`` (‖ρ u‖).

        """
        rho, u, z_old = self.state["rho"], self.state["u"], self.state["z"]
        nb = x.shape[0]
        w = x + u
        total = w.sum(axis=0)
        y = self.prox(total, rho / nb)
        z = np.where(self.open_periods, w + (y - total) / nb, 0.0)
        self.state["u"] = u + x - z
        self.state["z"] = z
        return {
            "r_norm": float(np.linalg.norm(x - z)),
            "s_norm": float(rho * np.linalg.norm(z - z_old)),
            "primal_scale": float(max(np.linalg.norm(x), np.linalg.norm(z))),
            "dual_scale": float(rho * np.linalg.norm(self.state["u"])),
        }

    def vector(self) -> np.ndarray:
        """Return the state of the ADMM fixed-point iteration: allocations, then scaled duals."""
        return np.concatenate([self.state["z"].ravel(), self.state["u"].ravel()])

    def set_vector(self, s: np.ndarray) -> None:
        """Set allocations and scaled duals from :meth:`vector`'s layout (Anderson steps)."""
        z, u = np.split(np.asarray(s, dtype=float), 2)
        self.state["z"] = z.reshape(self.state["z"].shape)
        self.state["u"] = u.reshape(self.state["u"].shape)

    def rescale(self, factor: float) -> None:
        """Multiply ρ by ``factor`` (residual balancing) and rescale the scaled dual."""
        self.state["rho"] *= factor
        self.state["u"] = self.state["u"] / factor


def build_rec_model(member_ids: Iterable[str], seed: int | None = None) -> CoordinationModel:
    """Return a Mesa model with one member agent per id and one community manager."""
    specs = [RecAgentSpec(member_id, "member") for member_id in member_ids]
    specs.append(RecAgentSpec("manager", "manager"))
    return CoordinationModel(
        specs,
        seed=seed,
        reporters=("charge_kwh", "discharge_kwh", "net_import_kwh"),
        classes={"member": MemberAgent, "manager": CommunityManagerAgent},
    )


# -- local updates (module level, so engines can run them in other processes) -----------


@dataclass
class BatteryMessage:
    """What the manager sends to a chunk of battery members in one round.

    ``window_id`` (the step) and ``chunk`` identify the window and the members: a
    worker builds their local QP once per window and reuses it every round.
    ``limits`` and ``smoothing`` are (nb, 1) columns (see
    :func:`~dec.reckeys.battery_block.column_limits` and ``smoothing_weights``);
    ``window`` holds the members' rows of the window arrays (see
    :class:`~dec.reckeys.member_qp.BatteryMemberQP`); ``target`` is ``v`` (nb, L) and
    ``rho`` the penalty.
    """

    window_id: int
    chunk: int
    limits: dict[str, np.ndarray]
    smoothing: dict[str, np.ndarray]
    fee_eur_per_kwh: float
    window: dict[str, np.ndarray]
    target: np.ndarray
    rho: float


_WINDOWS: dict[int, tuple[int, BatteryMemberQP]] = {}


def battery_local_update(msg: BatteryMessage) -> dict[str, np.ndarray]:
    """Local update of a chunk of battery members: their plans and proposed keys.

    Returns ``charge_kwh``, ``discharge_kwh`` (nb, W), ``imports_kwh`` and
    ``exports_kwh`` (nb, L).
    """
    cached = _WINDOWS.get(msg.chunk)
    if cached is None or cached[0] != msg.window_id:
        qp = BatteryMemberQP(
            msg.limits,
            msg.smoothing,
            msg.fee_eur_per_kwh,
            IDLE_TIE_BREAK_EUR_PER_KWH,
            msg.window,
            MEMBER_CLARABEL_OPTIONS,
        )
        _WINDOWS[msg.chunk] = cached = (msg.window_id, qp)
    return cached[1].solve(msg.target, msg.rho)
