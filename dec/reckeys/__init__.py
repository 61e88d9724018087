"""Control of renewable energy communities with repartition keys (mode ``rec-keys``).

After Aittahar et al., "Optimal control of renewable energy communities with
controllable assets", Front. Energy Res. 2023. Public API::

    case = load_case(section, "case0")                 # validate a rec_keys section
    trajectory = simulate(case, make_policy("look-ahead-billing", 4))

and, for the exporter, :func:`dec.reckeys.runner.run_policy` and
:func:`dec.reckeys.runner.run_sweep` (not imported here: the runner needs the agents,
whose workers import this package).
"""

from dec.reckeys.case import Battery, Member, RecCase
from dec.reckeys.forecast import Forecast, Forecaster, PerfectForecaster, PersistenceForecaster
from dec.reckeys.inputs import load_case
from dec.reckeys.policies import make_policy
from dec.reckeys.simulate import Trajectory, simulate

__all__ = [
    "Battery",
    "Forecast",
    "Forecaster",
    "Member",
    "PerfectForecaster",
    "PersistenceForecaster",
    "RecCase",
    "Trajectory",
    "load_case",
    "make_policy",
    "simulate",
]
