"""A community ready to simulate: members' loads, community PV and batteries over one period."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from dec.community.battery import Batteries
from dec.community.config import MAX_KW, CommunityConfig
from dec.community.profiles import ProfileTable, member_load_kw, read_profile_table
from dec.errors import InputError

#: Largest value of a profile column used: kW for a household using
#: ``reference_annual_kwh`` over the file, or kW per kWp for PV (both about 1 or less).
MAX_PROFILE_VALUE = 1e6


@dataclass(frozen=True)
class CommunityData:
    """Loads, PV and batteries of a community over the simulated period.

    Attributes
    ----------
    member_ids
        Household ids, in order of the rows of ``load_kw``.
    times
        Start of every step.
    time_step_h
        Step length, h.
    load_kw
        Household consumption, kW, shape ``(n, T)``.
    pv_kw
        Community PV output, kW, shape ``(T,)``.
    batteries
        Members' batteries.

    """

    member_ids: tuple[str, ...]
    times: pd.DatetimeIndex
    time_step_h: float
    load_kw: np.ndarray
    pv_kw: np.ndarray
    batteries: Batteries

    @property
    def n_steps(self) -> int:
        """Number of steps T."""
        return len(self.times)

    def steps(self, hours: float) -> int:
        """Return the number of steps in ``hours`` (at least one)."""
        return max(1, round(hours / self.time_step_h))

    def window(self, first: int, n_steps: int) -> CommunityData:
        """Return the community over ``n_steps`` steps from step ``first``."""
        steps = slice(first, first + n_steps)
        return replace(
            self, times=self.times[steps], load_kw=self.load_kw[:, steps], pv_kw=self.pv_kw[steps]
        )

    def with_batteries(self, batteries: Batteries) -> CommunityData:
        """Return the community with other batteries."""
        return replace(self, batteries=batteries)


def _period(
    times: pd.DatetimeIndex, start: str | None, days: float | None, step_h: float, source: str
) -> slice:
    first = 0
    if start is not None:
        found = np.flatnonzero(times == pd.Timestamp(start))
        if not found.size:
            raise InputError(
                f"Field 'period.start' ({start}) is not a timestamp of the profile files "
                f"(they run from {times[0]} to {times[-1]}).",
                source,
            )
        first = int(found[0])
    if days is None:
        return slice(first, len(times))
    n_steps = round(days * 24 / step_h)
    if n_steps < 1:
        raise InputError(
            f"Field 'period.days' ({days}) is shorter than one profile step ({step_h * 60:g} min).",
            source,
        )
    if first + n_steps > len(times):
        raise InputError(
            f"Field 'period.days' ({days}) runs past the end of the profile files: from "
            f"{times[first]} they hold {(len(times) - first) * step_h / 24:g} days.",
            source,
        )
    return slice(first, first + n_steps)


def build_community(
    config: CommunityConfig, resolve: Callable[[str], Path], source: str
) -> CommunityData:
    """Read the profile files and return the community over the configured period.

    Parameters
    ----------
    config
        The validated ``community`` section.
    resolve
        Turns a path written in the scenario file into a path on disk.
    source
        The scenario file, for messages.

    Raises
    ------
    InputError
        Unknown profile columns, profile files of different lengths, steps or start
        times that differ, or a period outside the files.

    """
    field_of_file = {m.profile_file: f"members.{m.member_id}.profile_file" for m in config.members}
    field_of_file[config.pv_file] = "pv.file"
    if config.profiles_file in field_of_file:
        field_of_file[config.profiles_file] = "profiles"
    paths = {name: resolve(name) for name in field_of_file}
    for name, field in field_of_file.items():
        if not paths[name].exists():
            raise InputError(
                f"Field '{field}' names the profile file {name!r}, which does not exist "
                f"(looked for {str(paths[name])!r}).",
                source,
            )
    tables: dict[str, ProfileTable] = {name: read_profile_table(p) for name, p in paths.items()}
    first = tables[config.pv_file]
    for name, table in tables.items():
        if len(table.times) != len(first.times):
            raise InputError(
                f"The profiles have different lengths: {name!r} holds {len(table.times)} "
                f"steps, {config.pv_file!r} holds {len(first.times)}; every profile must "
                "cover the same timestamps.",
                source,
            )
        if not table.times.equals(first.times):
            raise InputError(
                f"The profiles {name!r} and {config.pv_file!r} have the same length but "
                "different timestamps; every profile must cover the same timestamps.",
                source,
            )
    wanted = [(config.pv_file, config.pv_column, "pv")] + [
        (m.profile_file, m.profile, m.member_id) for m in config.members
    ]
    missing = [
        f"{who} ({column!r} in {file})"
        for file, column, who in wanted
        if column not in tables[file].columns
    ]
    if missing:
        raise InputError(f"Profile column(s) not found for: {', '.join(missing)}.", source)
    step_h = first.time_step_h
    if abs(24 / step_h - round(24 / step_h)) > 1e-9:
        raise InputError(f"The profile step ({step_h * 60:g} min) does not divide a day.", source)
    for name, value in (("mpc.window_h", config.window_h), ("mpc.apply_h", config.apply_h)):
        if abs(value / step_h - round(value / step_h)) > 1e-9:
            raise InputError(
                f"Field '{name}' ({value} h) is not a whole number of profile steps "
                f"({step_h * 60:g} min).",
                source,
            )
    _check_profile_values(tables, wanted, source)
    period = _period(first.times, config.start, config.days, step_h, source)
    loads = np.array(
        [
            member_load_kw(
                tables[m.profile_file],
                m.profile,
                m.annual_kwh,
                m.shift_days,
                config.reference_annual_kwh,
            )[period]
            for m in config.members
        ]
    )
    pv_kw = config.pv_kwp * first.columns[config.pv_column][period]
    _check_powers(config, loads, pv_kw, source)
    return CommunityData(
        member_ids=tuple(m.member_id for m in config.members),
        times=first.times[period],
        time_step_h=step_h,
        load_kw=loads,
        pv_kw=pv_kw,
        batteries=Batteries.from_configs([m.battery for m in config.members]),
    )


def _check_profile_values(
    tables: dict[str, ProfileTable], wanted: list[tuple[str, str, str]], source: str
) -> None:
    """Refuse negative or implausibly large values in the profile columns used.

    ``wanted`` holds (file, column, member id or "pv") of every column used, the
    community PV's first. A negative value is reported by its file, column, first data
    row, timestamp and value.
    """
    users: dict[tuple[str, str], list[int]] = {}  # indices into wanted, per file and column
    for index, (file, column, _) in enumerate(wanted):
        users.setdefault((file, column), []).append(index)
    for file in dict.fromkeys(file for file, _, _ in wanted):
        table = tables[file]
        problems = []
        for column, indices in ((c, i) for (f, c), i in users.items() if f == file):
            values = table.columns[column]
            rows = np.flatnonzero(values < 0)
            if rows.size:
                row = int(rows[0])
                members = [wanted[i][2] for i in indices if i > 0]  # wanted[0]: the PV
                whom = ["the community PV"] if indices[0] == 0 else []
                if members:
                    whom.append(f"member{'s' * (len(members) > 1)} {', '.join(members)}")
                problems.append(
                    f"Column {column!r} holds {rows.size} negative value(s), the first at data "
                    f"row {row + 1} ({table.times[row]:%Y-%m-%dT%H:%M}): {values[row]:g} (load "
                    f"and PV must be zero or more; it is the profile of {' and '.join(whom)} in "
                    f"{source})."
                )
        if problems:
            raise InputError(problems, str(table.path))
    large = []
    for file, column, who in wanted:
        values = tables[file].columns[column]
        row = int(np.argmax(values))
        if values[row] > MAX_PROFILE_VALUE:
            when = tables[file].times[row]
            large.append(f"{who} ({values[row]:g} in {column!r} of {file} at {when})")
    if large:
        raise InputError(
            f"Profiles hold values above {MAX_PROFILE_VALUE:g} (kW per household of the "
            f"reference consumption, or kW per kWp of PV) for: {', '.join(large)}.",
            source,
        )


def _check_powers(
    config: CommunityConfig, loads_kw: np.ndarray, pv_kw: np.ndarray, source: str
) -> None:
    """Refuse loads or PV above the limit, or no load at all, in the simulated period.

    The limit is :data:`~dec.community.config.MAX_KW`; without load the metrics (shares
    per kWh of load) are undefined.
    """
    if not loads_kw.sum() > 0:
        raise InputError(
            "The members' load is 0 kWh over the simulated period: self-production and "
            "self-sufficiency (shares of the load) are undefined; check the profile columns "
            "of the members, their annual_kwh and the period.",
            source,
        )
    high = [
        f"{m.member_id} ({peak:g} kW)"
        for m, peak in zip(config.members, loads_kw.max(axis=1, initial=0.0), strict=True)
        if peak > MAX_KW
    ]
    if pv_kw.max(initial=0.0) > MAX_KW:
        high.append(f"the community PV ({pv_kw.max():g} kW, pv.kwp × its profile)")
    if high:
        raise InputError(
            f"Loads (profile × annual_kwh / reference_annual_kwh) or PV reach more than "
            f"{MAX_KW:g} kW for: {', '.join(high)}; check the profiles' units and the "
            "consumptions and PV peak power.",
            source,
        )
