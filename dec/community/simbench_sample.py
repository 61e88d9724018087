"""Derive the shipped community profile sample from the SimBench data set.

Needs the optional extra ``simbench`` (``pip install -e ".[simbench]"``, about
400 MB installed); dec itself only reads the derived file. Run::

    python -m dec.community.simbench_sample inputs/community/profiles_simbench_2016.csv.gz

What it does (documented in ``inputs/community/README.md``):

- reads the 15-minute household load profiles ``H0-A``, ``H0-B``, ``H0-C``, ``H0-G``,
  ``H0-L`` (active power, per unit of each profile's peak) and the PV profile ``PV4``
  (per unit of installed kWp) of SimBench's complete data set, year 2016;
- rescales every load profile to 1,000 kWh over the year, so a member's
  ``annual_kwh / 1000`` is its multiplier; keeps PV in kW per kWp;
- replaces SimBench's local clock (which jumps at the daylight-saving changes while
  the values stay evenly spaced) by evenly spaced timestamps in standard time;
- rounds to 4 decimals and writes a gzip-compressed CSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

#: Household load profiles taken from SimBench (``H0-H`` is left out: its shape is that of a
#: business open during working hours, not of a home).
LOAD_PROFILES = ("H0-A", "H0-B", "H0-C", "H0-G", "H0-L")
#: SimBench PV profile used for the community PV plant.
PV_PROFILE = "PV4"
#: SimBench data set holding every profile.
SIMBENCH_DATA_SET = "1-complete_data-mixed-all-0-sw"
#: Annual energy of every derived load column, kWh.
REFERENCE_ANNUAL_KWH = 1000.0
DECIMALS = 4


def derive_sample(
    load_pu: pd.DataFrame, pv_pu: pd.Series, start: str, time_step_h: float
) -> pd.DataFrame:
    """Return the derived sample table.

    Parameters
    ----------
    load_pu
        Household active-power profiles, one column per profile, per unit of peak.
    pv_pu
        PV output per unit of installed kWp, same length as ``load_pu``.
    start
        First timestamp (ISO, local standard time).
    time_step_h
        Step of the profiles, h.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (ISO strings, evenly spaced), one load column per profile in kW
        for a household using :data:`REFERENCE_ANNUAL_KWH` over the period, and ``PV`` in
        kW per kWp.

    """
    energy_kwh = load_pu.sum() * time_step_h
    load_kw = load_pu * (REFERENCE_ANNUAL_KWH / energy_kwh)
    times = pd.date_range(start, periods=len(load_pu), freq=pd.Timedelta(hours=time_step_h))
    table = pd.DataFrame({"time": times.strftime("%Y-%m-%dT%H:%M")})
    for column in load_kw.columns:
        table[column] = np.round(load_kw[column].to_numpy(), DECIMALS)
    table["PV"] = np.round(pv_pu.to_numpy(), DECIMALS)
    return table


def read_simbench() -> tuple[pd.DataFrame, pd.Series]:
    """Return SimBench's household load profiles and PV profile (needs the ``simbench`` extra).

    The profile tables are read straight from the CSV files the package installs (building
    the complete SimBench net only to reach its profiles takes minutes).
    """
    import simbench

    folder = Path(simbench.__file__).parent / "networks" / SIMBENCH_DATA_SET
    load = pd.read_csv(folder / "LoadProfile.csv", sep=";")
    renewables = pd.read_csv(folder / "RESProfile.csv", sep=";")
    load_pu = pd.DataFrame({name: load[f"{name}_pload"].to_numpy() for name in LOAD_PROFILES})
    return load_pu, pd.Series(renewables[PV_PROFILE].to_numpy(), name="PV")


def main(argv: list[str] | None = None) -> None:
    """Write the derived sample to the path given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output file (.csv.gz)")
    args = parser.parse_args(argv)
    load_pu, pv_pu = read_simbench()
    table = derive_sample(load_pu, pv_pu, start="2016-01-01T00:00", time_step_h=0.25)
    table.to_csv(
        args.out, index=False, lineterminator="\n", compression={"method": "gzip", "mtime": 0}
    )


if __name__ == "__main__":
    main()
