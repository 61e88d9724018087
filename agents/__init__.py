"""Mesa agents of dec and the model that holds them.

Every agent is a thin :class:`mesa.Agent` that carries its specification and its
latest decisions. The numerical work of many agents of one type is done in
batches (struct-of-arrays, vectorised closed forms or one compiled cvxpy problem
re-solved with new parameters), so that engines can split a batch into chunks and
run them in processes or Ray actors; an agent only holds its index into its batch.
"""

from agents.base import DecAgent
from agents.household import HouseholdAgent
from agents.model import AGENT_CLASSES, CoordinationModel
from agents.pv import PVAgent
from agents.storage import BatteryAgent

__all__ = [
    "AGENT_CLASSES",
    "BatteryAgent",
    "CoordinationModel",
    "DecAgent",
    "HouseholdAgent",
    "PVAgent",
]
