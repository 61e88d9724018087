"""The one result type every mode returns to the runner.

Problems do not write files: a mode fills a :class:`RunResult` and
:func:`dec.export.export_result` writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: Common per-agent fields, written first in every setpoint file (DESIGN.md order).
SETPOINT_FIELDS = ("agent_id", "agent_type", "bus", "element", "mode", "unit", "converged")
#: Common summary fields, written first in every summary.json.
SUMMARY_FIELDS = (
    "scenario",
    "mode",
    "n_agents",
    "iterations",
    "converged",
    "primal_residual",
    "dual_residual",
    "objective",
    "objective_centralized",
    "objective_gap_rel",
    "runtime_s",
)


@dataclass
class RunResult:
    """What a run produced, ready for export.

    Attributes
    ----------
    scenario
        Scenario name (feeder id or scenario file stem): the output sub-folder.
    mode
        Mode name: the output sub-sub-folder.
    summary
        Content of ``summary.json`` (common fields plus the mode's own).
    agents
        One record per agent, written as ``setpoints/<agent_id>.json``.
    tables
        CSV tables by file stem (``trades`` -> ``trades.csv``).
    documents
        Further JSON documents by file stem (``cim_difference`` -> ``cim_difference.json``).
    texts
        Files written as given, by file name (``net_after.json``: a pandapower net).
    figures
        Plot builders by file stem; each returns a matplotlib figure. They are only
        called when plots are requested.
    console
        Rows ``(quantity, value)`` of the summary table printed at the end of a run.

    """

    scenario: str
    mode: str
    summary: dict[str, Any]
    agents: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Callable[[], Any]] = field(default_factory=dict)
    console: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """Whether the run met its convergence tolerances."""
        return bool(self.summary.get("converged", True))
