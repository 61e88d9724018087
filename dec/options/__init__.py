"""Command-line options of every mode, and the names they accept.

One module per mode (``-`` in a mode's name is ``_`` here), each with ``HELP`` (one line
describing the mode) and ``add_arguments(group)``. A leaf package: it imports nothing of
the modes (no solvers, no pandapower), so the parser and ``python -m dec.run --help``
build in a fraction of a second; the modes import the names they accept from here.
"""

from __future__ import annotations

import argparse

from dec.errors import InputError


def whole_number(text: str) -> int:
    """Parse an option that takes a whole number, 0 or more (e.g. ``--seed``)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more; found {text!r}")
    return value


def refuse_scale_options(args: argparse.Namespace, mode: str) -> None:
    """Refuse ``--load-scale``/``--pv-scale`` in a mode whose profiles its scenario file holds.

    Raises
    ------
    InputError
        If either was given (the mode would ignore it).
    """
    given = [
        f"--{name.replace('_', '-')} {getattr(args, name)!r}"
        for name in ("load_scale", "pv_scale")
        if getattr(args, name, None) is not None
    ]
    if given:
        raise InputError(
            f"Mode {mode} takes its profiles from the scenario file and does not use "
            f"{', '.join(given)}; remove the option(s)."
        )
