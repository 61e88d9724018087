"""Command line: ``python -m dec.run SCENARIO [--mode MODE] [options]``.

A thin shell: it parses arguments, loads the scenario, hands it to the mode and
exports the result. Exit codes: 0 success, 2 bad input (one clear paragraph, no
traceback; also for well-formed input that cannot be solved, e.g. an AC power flow
that diverges at the scenario's operating point), 3 the algorithm did not converge
(outputs are still written, marked ``"converged": false``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tabulate import tabulate

from dec.errors import DecError, InputError, SolverFailed, SolverLimit
from dec.modes import DEFAULT_MODE, MODES, load_mode, load_options
from dec.options import (
    COMMAND_LINE,
    non_empty_text,
    number_from,
    refuse_ignored,
    round_limit,
    whole_number,
)
from dec.validation import MAX_ROUNDS, MAX_SCALE, shown

if TYPE_CHECKING:
    from dec.result import RunResult

EXIT_OK, EXIT_INPUT, EXIT_NOT_CONVERGED = 0, 2, 3

#: Options shared by several modes (argparse dests) and their defaults. They parse to
#: None, so that an option a mode does not use is refused when given (see
#: :func:`_refuse_unused_shared_options`); None stays None where a mode's default applies.
SHARED_DEFAULTS = {
    "solver": "admm",
    "engine": "serial",
    "seed": None,
    "load_scale": None,
    "pv_scale": None,
    "max_iter": None,
    "horizon": None,
    "policy": None,
    "steps": None,
}
#: Width of the printed summary table, characters: text values are wrapped to fit it.
TABLE_WIDTH = 80
#: Narrowest the value column of the summary table is wrapped to, characters.
MIN_VALUE_WIDTH = 50
#: What a mode's own option holds until :func:`_take_mode_options` when it was not given.
_NOT_GIVEN = object()


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show an option's default unless it is None/False or its help already states it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports a bad command line as dec reports any bad input."""

    def error(self, message: str) -> NoReturn:
        """Print one paragraph blaming the command line (no usage dump) and exit with 2."""
        err = InputError(f"{message.rstrip('.')}.", COMMAND_LINE)
        self.exit(EXIT_INPUT, f"dec: error: {err} See {self.prog} --help.\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with the common options and every mode's own options.

    Abbreviated options are refused (``--fair`` is not ``--fairness``): an abbreviation
    that a new option makes ambiguous would change what an existing command means.
    """
    parser = _Parser(
        prog="python -m dec.run",
        allow_abbrev=False,
        description=(
            "Run a distributed coordination mode of dec on a feeder or a scenario file "
            "and write the results to OUT/<scenario>/<mode>/."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "scenario",
        metavar="SCENARIO",
        help="a feeder id (ieee123, cigre_lv, village, ...), a pandapower JSON net, or a "
        "scenario YAML file",
    )
    parser.add_argument(
        "--mode",
        choices=sorted(MODES),
        default=None,
        help=f"what to run; default: the scenario file's 'mode', else {DEFAULT_MODE}",
    )
    parser.add_argument(
        "--solver",
        choices=["admm", "centralized"],
        default=None,
        help="distributed (agent ADMM) or centralized solve (default: admm)",
    )
    parser.add_argument(
        "--engine",
        choices=["serial", "process", "ray"],
        default=None,
        help="where parallel work runs: agents' local updates, stage-1 MILPs (rec-pricing), "
        "battery sizes of a sweep (community) (default: serial)",
    )
    parser.add_argument("--out", default="outputs", help="root folder of the outputs")
    parser.add_argument(
        "--seed",
        type=whole_number,
        default=None,
        help="random seed, 0 or more, of what a run draws at random: ieee123's households "
        "and rooftop PV, cigre_lv's rooftop PV sizes, p2p placements, valuations and auction "
        "ties; runs on village or gridappsd_a/b and community runs do not change with it "
        "(default: feeder's or scenario's)",
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw PNG plots")
    parser.add_argument(
        "--load-scale",
        type=number_from(0.0, MAX_SCALE),
        default=None,
        help=f"multiplier of loads, from 0 to {MAX_SCALE:g} (default: scenario's)",
    )
    parser.add_argument(
        "--pv-scale",
        type=number_from(0.0, MAX_SCALE),
        default=None,
        help=f"multiplier of PV output, from 0 to {MAX_SCALE:g} (default: scenario's)",
    )
    parser.add_argument(
        "--max-iter",
        type=round_limit,
        default=None,
        help=f"round limit of distributed algorithms, 1 to {MAX_ROUNDS:,} (default: the "
        "scenario's, else per mode: curtail 5000 ADMM rounds per linear solve, p2p 20000, "
        "community 5000 per MPC window, rec-keys 1000 per step; rec-pricing 20 loop "
        "iterations)",
    )
    parser.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="look-ahead window in control steps (default: the scenario's; rec-keys: "
        "horizon_steps, else one day; community: mpc.window_h, else 72 h)",
    )
    parser.add_argument(
        "--policy",
        type=non_empty_text,
        default=None,
        help="rec-keys control policy: optimal, look-ahead, look-ahead-billing, "
        "look-ahead-decoupling or distributed (default: the scenario's policy, else "
        "look-ahead-billing)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="number of time steps to run, the first N (default: all of the scenario's: p2p "
        "its hours, community its period, rec-keys and rec-pricing their horizon; curtail one "
        "operating point, with --day the quarter hours from --first-step to the day's end)",
    )
    for name in sorted(MODES):
        module = load_options(name)
        group = parser.add_argument_group(f"mode {name}", module.HELP)
        module.add_arguments(group)
    return parser


def _mode_actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    """Return every mode's own options as (mode, argparse action)."""
    return [
        (group.title.removeprefix("mode "), action)
        for group in parser._action_groups  # argparse keeps each mode's options in its group
        if group.title and group.title.startswith("mode ")
        for action in group._group_actions
    ]


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse ``argv``; the modes' own options not given on it hold :data:`_NOT_GIVEN`.

    argparse fills in an option's default only where the namespace has no value yet, so
    presetting the marker tells an option given at its default value from one not given;
    :func:`_take_mode_options` then fills in the defaults.
    """
    preset = {action.dest: _NOT_GIVEN for _, action in _mode_actions(parser)}
    argv = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(_attach_signed_values(parser, argv), argparse.Namespace(**preset))


#: A value that starts like a negative number (``-1,2``, ``-1e3``, ``-.5``).
_SIGNED_VALUE = re.compile(r"-[0-9.]")


def _attach_signed_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Write ``--option -1,2`` as ``--option=-1,2`` for options that take one value.

    argparse reads a token that starts with ``-`` and is not a plain negative number
    (``-1,2``, ``-1e3``) as an option, and answers "expected one argument"; attached,
    the value reaches the option's parser, whose message names it.
    """
    takes_value = {
        option
        for action in parser._actions
        if action.nargs is None and not isinstance(action, argparse._StoreConstAction)
        for option in action.option_strings
    }
    out: list[str] = []
    for token in argv:
        if out and out[-1] in takes_value and _SIGNED_VALUE.match(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def _take_mode_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace, mode: str
) -> None:
    """Refuse the options of other modes given on the command line, whatever their value.

    Then record which of the mode's own options were given (``args.given``, for the mode's
    refusals: see :func:`dec.options.was_given`) and fill in the defaults of the others
    (an option whose default is ``argparse.SUPPRESS`` stays absent).

    Raises
    ------
    InputError
        If an option of another mode was given (the run would ignore it).

    """
    actions = _mode_actions(parser)
    refuse_ignored(
        [
            f"{action.option_strings[0]} (mode {owner})"
            for owner, action in actions
            if owner != mode and getattr(args, action.dest) is not _NOT_GIVEN
        ],
        f"This run is mode {mode}",
        "remove the option or choose its mode with --mode",
    )
    args.given = frozenset(
        action.dest
        for owner, action in actions
        if owner == mode and getattr(args, action.dest) is not _NOT_GIVEN
    )
    for _, action in actions:
        if getattr(args, action.dest) is not _NOT_GIVEN:
            continue
        if action.default is argparse.SUPPRESS:
            delattr(args, action.dest)
        else:
            setattr(args, action.dest, action.default)


def _refuse_unused_shared_options(args: argparse.Namespace, mode: str) -> None:
    """Raise an InputError if a shared option that ``mode`` does not use was given.

    Otherwise add the shared options given to ``args.given`` (see
    :func:`_take_mode_options`) and fill in the defaults of the others (see
    :data:`SHARED_DEFAULTS`).
    """
    used = load_options(mode).SHARED_OPTIONS
    given = [
        f"--{dest.replace('_', '-')} {shown(getattr(args, dest))}"
        for dest in SHARED_DEFAULTS
        if dest not in used and getattr(args, dest) is not None
    ]
    takes = ", ".join(f"--{dest.replace('_', '-')}" for dest in SHARED_DEFAULTS if dest in used)
    refuse_ignored(
        given,
        f"This run is mode {mode}",
        f"remove the option (of the shared options, mode {mode} takes {takes})",
    )
    shared = frozenset(d for d in SHARED_DEFAULTS if getattr(args, d) is not None)
    args.given = getattr(args, "given", frozenset()) | shared
    for dest, default in SHARED_DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)


def print_summary(result: RunResult, out: str, title: str) -> None:
    """Print the run's summary table, headed by the scenario's ``title``, and where its outputs are.

    Text values (a note, say) are wrapped so that the table fits :data:`TABLE_WIDTH`
    characters, with at least :data:`MIN_VALUE_WIDTH` for the values.
    """
    # tabulate formats floats only in all-numeric columns; this one mixes in text
    rows = [
        (k, f"{v:.6g}" if isinstance(v, float) else "n/a" if v is None else v)
        for k, v in result.console
    ]
    key_width = max((len(str(k)) for k, _ in rows), default=0)
    width = max(MIN_VALUE_WIDTH, TABLE_WIDTH - 2 - key_width)
    rows = [(k, textwrap.fill(str(v), width) if len(str(v)) > width else v) for k, v in rows]
    print(tabulate(rows, headers=[f"{title} / {result.mode}", ""]))

    print(f"outputs: {out}")
    if not result.converged:
        why = result.summary.get("message")
        print(
            'NOT CONVERGED: the outputs are marked "converged": false'
            + (f". {why}" if why else ""),
            file=sys.stderr,
        )


def _check_out(root: str, folder: Path) -> None:
    """Refuse an output folder that cannot become a writable folder, before any work.

    ``folder`` is the run's output folder under ``root``; the first of it and its parents
    that exists must be a writable folder.
    """
    if not root.strip():
        raise InputError("Option --out is empty; give a folder (default: outputs).", COMMAND_LINE)
    path = folder.absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise InputError(
            f"Option --out {root!r}: {str(existing)!r} is a file, not a folder.", COMMAND_LINE
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(
            f"Option --out {root!r}: the folder {str(existing)!r} is not writable.", COMMAND_LINE
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parse_command_line(parser, argv)
    # imported after parsing, so that --help and bad options answer at once; mesa first:
    # its module loggers walk the call stack and look up every frame's module among all
    # those loaded (inspect.stack), 0.3 s of a run when imported after pandapower and cvxpy
    import mesa  # noqa: F401

    from dec.admm.engine import EngineUnavailable
    from dec.export import export_result, output_dir
    from dec.scenario import load_scenario
    from dec.solving import silence_highs_banner

    silence_highs_banner()
    scenario = None
    try:
        scenario = load_scenario(
            args.scenario, load_scale=args.load_scale, pv_scale=args.pv_scale, seed=args.seed
        )
        mode = args.mode or scenario.mode or DEFAULT_MODE
        if mode not in MODES:
            raise InputError(
                f"Field 'mode' has the unknown value {shown(mode)}; allowed: "
                f"{', '.join(sorted(MODES))}.",
                scenario.source,
            )
        _take_mode_options(parser, args, mode)
        _refuse_unused_shared_options(args, mode)
        scenario.refuse_other_sections(mode)
        _check_out(args.out, output_dir(args.out, scenario.name, mode))
        result = load_mode(mode).run(scenario, args)
        try:
            out = export_result(result, args.out, plots=not args.no_plots)
        except OSError as err:
            message = f"Option --out {args.out!r}: the outputs cannot be written ({err})."
            raise InputError(message, COMMAND_LINE) from None
    except InputError as err:
        if isinstance(err, EngineUnavailable):  # the engine is the command line's choice
            err = InputError(
                f"Option --engine {args.engine} needs Ray, which is not installed: install the "
                "'ray' extra (pip install -e \".[ray]\") or choose --engine serial or process.",
                COMMAND_LINE,
            )
        feeder_id = scenario.feeder.feeder_id if scenario and scenario.feeder else None
        if scenario is not None and err.source in (None, feeder_id):
            # name the scenario it came from (and the file, for a feeder set in a scenario file)
            source = scenario.source
            if err.source is not None and err.source != source:
                source = f"{err.source} (scenario {source})"
            err = InputError(err.problems, source)
        print(f"dec: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as err:
        if err.filename is None:
            raise
        # a path of the input or of --out that the system cannot check or open (a name
        # longer than the file system allows, a folder without search permission)
        where = f" in {scenario.source}" if scenario is not None else ""
        print(
            f"dec: error{where}: the path {shown(str(err.filename))} cannot be used "
            f"({err.strerror or err}); no output was written.",
            file=sys.stderr,
        )
        return EXIT_INPUT
    except DecError as err:
        # well-formed input the run cannot solve (an AC power flow that diverges at the
        # scenario's operating point, an infeasible subproblem), or a solver stopped at
        # its time limit before it found an answer: nothing is written
        where = f" in {scenario.source}" if scenario is not None else ""
        if isinstance(err, (SolverLimit, SolverFailed)):
            print(f"dec: not solved{where}: {err} No output was written.", file=sys.stderr)
            return EXIT_NOT_CONVERGED
        scaled = [
            f"{option} {value:g}"
            for option, value in (("--load-scale", args.load_scale), ("--pv-scale", args.pv_scale))
            if value is not None
        ]
        given = f" and the command line's {', '.join(scaled)}" if scaled else ""
        print(
            f"dec: error{where}: {err} Check the scenario's data (loads, PV, storage, "
            f"prices, source voltage){given}; no output was written.",
            file=sys.stderr,
        )
        return EXIT_INPUT
    print_summary(result, str(out), scenario.title)
    return EXIT_OK if result.converged else EXIT_NOT_CONVERGED


def leave(code: int) -> None:
    """Exit the process with ``code`` without finalising the interpreter.

    Tearing down the modules of pandapower, cvxpy, mesa and their dependencies takes
    about 0.4 s after every run and has nothing left to do: the outputs are written
    atomically and closed, and the modes close their engines. A process that imported
    Ray exits normally, so that Ray's exit handler stops the local cluster it started.
    """
    if "ray" in sys.modules:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    leave(main())
