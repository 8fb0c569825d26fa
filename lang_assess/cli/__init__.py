"""The ``lang-assess`` command line: one module per command group.

Each module has ``register(sub)``, which adds its subcommands and sets each one's
``handler`` (``set_defaults(handler=...)``); :func:`main` parses and calls it.  Bad input
ends with one line on stderr and exit status 2, never a traceback.

- :mod:`~lang_assess.cli.simulate` — ``simulate``, ``demo`` (the engine alone),
  ``simulate-programme`` (weekly decisions against the term-based baseline)
- :mod:`~lang_assess.cli.calibrate` — ``calibrate``
- :mod:`~lang_assess.cli.bank` — ``bank validate | check-items | report | export-params |
  expert-params | export-qti | import-qti | publish | rollback | versions | make-audio``
- :mod:`~lang_assess.cli.programme` — ``demo-data``, ``serve``
- :mod:`~lang_assess.cli.admin` — ``admin init``, ``backup``, ``restore``, ``retention run``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lang_assess import __version__
from lang_assess.cli import admin, bank, calibrate, programme, simulate
from lang_assess.errors import LangAssessError

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    """The whole ``lang-assess`` parser, every subcommand with its handler."""
    parser = argparse.ArgumentParser(
        prog="lang-assess", description="Adaptive CEFR placement and progress tests."
    )
    parser.add_argument("--version", action="version", version=f"lang-assess {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (simulate, calibrate, bank, programme, admin):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lang-assess`` console script; returns the exit status."""
    args = build_parser().parse_args(
        _join_negative_values(sys.argv[1:] if argv is None else argv))
    try:
        return args.handler(args)
    except (LangAssessError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"lang-assess: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--cuts -2,-1,0`` → ``--cuts=-2,-1,0`` (argparse reads a leading '-' as an option)."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        if args[i] == "--cuts" and i + 1 < len(args):
            out.append(f"--cuts={args[i + 1]}")
            i += 2
        else:
            out.append(args[i])
            i += 1
    return out
