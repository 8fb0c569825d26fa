"""``lang-assess calibrate RESPONSES.csv --model ... --out PARAMS.csv``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``calibrate`` to the subcommands ``sub``."""
    cal = sub.add_parser("calibrate", help="estimate item parameters from a responses CSV "
                         "(long or wide)")
    cal.add_argument("responses", help="CSV, long: the header 'person,item,score' and one "
                     "row per answer (a database export; read in blocks, for millions of "
                     "answers); or wide: a 'person' column, then one column per item (0/1, "
                     "or 0..k for rated items; blank = not administered)")
    cal.add_argument("--model", choices=("1pl", "2pl", "3pl", "pcm", "gpcm"), default="2pl")
    cal.add_argument("--chance", type=float, default=0.25, help="3pl: every item's chance "
                     "level 1/k, the mode of the Beta prior on c (default 0.25)")
    cal.add_argument("--fix-c", action="store_true", help="3pl: keep c at --chance")
    cal.add_argument("--backend", choices=("mml", "pyirt"), default="mml")
    cal.add_argument("--out", required=True, help="PARAMS.csv to write (item,a,b,c,...)")
    cal.add_argument("--fixed", help="PARAMS.csv of anchor items kept at their values "
                     "(fixed-item calibration onto the bank's scale)")
    cal.add_argument("--seed", type=int, default=0, help="py-irt backend: random seed")
    cal.add_argument("--quiet", action="store_true", help="no progress bar")
    cal.set_defaults(handler=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    """``lang-assess calibrate RESPONSES.csv --model ... --out PARAMS.csv``."""
    import warnings

    from lang_assess.bank.params_csv import read_params_csv
    from lang_assess.psychometrics.calibrate import calibrate, read_responses_csv
    from lang_assess.psychometrics.calibrate.io import write_calibration_csv

    responses = read_responses_csv(
        args.responses, max_score=1 if args.model in ("1pl", "2pl", "3pl") else None)
    options: dict[str, object] = {"progress": not args.quiet}
    if args.model == "3pl":
        options.update(chance=args.chance, fix_c=args.fix_c)
    if args.fixed:
        options["fixed"] = read_params_csv(args.fixed)
    if args.backend == "pyirt":
        options["seed"] = args.seed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = calibrate(responses, args.model, args.backend, **options)
    write_calibration_csv(args.out, cal)
    print(cal.summary())
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(f"{args.out}: {cal.n_items} items")
    return 0
