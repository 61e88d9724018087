"""CIM difference messages for PV setpoints (GridAPPS-D style).

One difference message per PV: forward differences carry the new active and reactive
power (``PowerElectronicsConnection.p`` / ``.q``, in W and var as CIM uses SI units),
reverse differences the values they replace (the previous setpoint: the available
output and zero reactive power before control, or the previous step's setpoint).
Objects are named by a deterministic mRID derived from the feeder and agent ids.
"""

from __future__ import annotations

import uuid

W_PER_KW = 1000.0
NAMESPACE = uuid.UUID("6f1b3c6e-3f1e-4c8a-9b7d-1d2c3e4f5a6b")


def mrid(feeder_id: str, agent_id: str) -> str:
    """Deterministic mRID of an agent's PowerElectronicsConnection."""
    return "_" + str(uuid.uuid5(NAMESPACE, f"{feeder_id}/{agent_id}")).upper()


def difference_message(
    feeder_id: str,
    agent_id: str,
    p_new_kw: float,
    q_new_kvar: float,
    p_old_kw: float,
    q_old_kvar: float,
    timestamp: int,
) -> dict:
    """One PV's difference message (values in W / var)."""
    obj = mrid(feeder_id, agent_id)

    def diffs(p_kw: float, q_kvar: float) -> list[dict]:
        return [
            {"object": obj, "attribute": "PowerElectronicsConnection.p", "value": p_kw * W_PER_KW},
            {
                "object": obj,
                "attribute": "PowerElectronicsConnection.q",
                "value": q_kvar * W_PER_KW,
            },
        ]

    return {
        "command": "update",
        "input": {
            "message": {
                "timestamp": int(timestamp),
                "difference_mrid": "_" + str(uuid.uuid5(NAMESPACE, f"{obj}/{timestamp}")).upper(),
                "name": agent_id,
                "forward_differences": diffs(p_new_kw, q_new_kvar),
                "reverse_differences": diffs(p_old_kw, q_old_kvar),
            }
        },
    }
