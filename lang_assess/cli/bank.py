"""``lang-assess bank …``: validate, report on, convert and version an item bank."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lang_assess.errors import LangAssessError


def register(sub: Any) -> None:
    """Add ``bank`` and its subcommands to the subcommands ``sub``."""
    bank = sub.add_parser("bank", help="validate, report on and convert an item bank")
    bank_sub = bank.add_subparsers(dest="bank_command", required=True)

    val = bank_sub.add_parser("validate", help="check a bank folder; list every problem")
    val.add_argument("path")
    val.add_argument("--skip", default="", help="checks to leave out while authoring: media,params")
    val.set_defaults(handler=_validate)

    lint = bank_sub.add_parser("lint", help="item-construction checks: cues, duplicates, "
                               "style, lengths (docs/bank/item_format.md)")
    lint.add_argument("path")
    lint.add_argument("--json", action="store_true", help="print one JSON object")
    lint.set_defaults(handler=_lint)

    chk = bank_sub.add_parser("check-items", help="check single item files")
    chk.add_argument("files", nargs="+")
    chk.add_argument("--no-media", action="store_true", help="do not require media files")
    chk.set_defaults(handler=_check_items)

    rep = bank_sub.add_parser("report", help="counts, information curves, thin places")
    rep.add_argument("path")
    rep.add_argument("--json", action="store_true", help="print one JSON object")
    rep.set_defaults(handler=_report)

    exp = bank_sub.add_parser("export-params", help="current parameters as item,a,b,c,skill CSV")
    exp.add_argument("path")
    exp.add_argument("--out", help="file to write (default: standard output)")
    exp.set_defaults(handler=_export_params)

    v0 = bank_sub.add_parser("expert-params", help="write parameters by the expert rule (v0)")
    v0.add_argument("path")
    v0.add_argument("--version", default="v0")
    v0.add_argument("--force", action="store_true", help="replace an existing version file")
    v0.set_defaults(handler=_expert_params)

    qx = bank_sub.add_parser("export-qti", help="write the bank as a QTI 3.0 package")
    qx.add_argument("path")
    qx.add_argument("out", help="a folder, or a file ending in .zip")
    qx.set_defaults(handler=_export_qti)

    qi = bank_sub.add_parser(
        "import-qti", help="add items from a QTI package (folder, .zip or item files) to a bank",
        description="Exit status: 0 every item imported; 1 some imported, some refused "
                    "(each listed with file, item and construct); 2 none imported, or the "
                    "input does not exist.")
    qi.add_argument("package", help="a package folder or .zip (imsmanifest.xml), an item "
                    "file, or a folder of item files; QTI 2.x is upgraded first")
    qi.add_argument("path", help="the bank folder")
    qi.add_argument("--overwrite", action="store_true", help="replace items already in the bank")
    for name in ("skill", "level", "topic", "author"):
        qi.add_argument(f"--{name}", help=f"the {name} of items whose metadata gives none")
    qi.set_defaults(handler=_import_qti)

    pub = bank_sub.add_parser("publish", help="make calibrated parameters the bank's current "
                              "version (params/<version>.csv + provenance)")
    pub.add_argument("path", help="the bank folder")
    pub.add_argument("--params", required=True,
                     help="PARAMS.csv from `lang-assess calibrate` (item,a,b[,c]); items "
                          "not in it keep their current parameters")
    pub.add_argument("--version", required=True, help="new version name, e.g. v1")
    pub.add_argument("--data-window", required=True, help="e.g. 2026-09-01..2026-11-20")
    pub.add_argument("--model", required=True, choices=("1pl", "2pl", "pcm", "gpcm"))
    pub.add_argument("--backend", required=True, help="mml or py-irt")
    pub.add_argument("--linking", required=True,
                     help="how the scale was kept: fixed anchors, stocking-lord, mean-sigma")
    pub.add_argument("--approved-by", required=True, help="who approved the version")
    pub.add_argument("--notes", default="")
    pub.set_defaults(handler=_publish)

    rb = bank_sub.add_parser("rollback", help="make the previous parameter version current")
    rb.add_argument("path")
    rb.add_argument("--by", required=True, help="who rolls back")
    rb.add_argument("--reason", required=True)
    rb.set_defaults(handler=_rollback)

    ver = bank_sub.add_parser("versions", help="the publish and rollback log")
    ver.add_argument("path")
    ver.set_defaults(handler=_versions)

    aud = bank_sub.add_parser("make-audio", help="synthesise missing audio with espeak-ng")
    aud.add_argument("path")
    aud.add_argument("--force", action="store_true", help="remake every file")
    aud.set_defaults(handler=_make_audio)


def _check_items(args: argparse.Namespace) -> int:
    from lang_assess.bank import loader

    problems = loader.check_item_files(args.files, media=not args.no_media)
    for p in problems:
        print(p)
    print(f"{len(args.files)} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0


def _validate(args: argparse.Namespace) -> int:
    from lang_assess.bank import loader

    skip = [s for s in args.skip.split(",") if s]
    try:
        bank = loader.load_bank(args.path, skip=skip)
    except LangAssessError as exc:
        problems = getattr(exc, "problems", [str(exc)])
        for p in problems:
            print(p)
        print(f"{args.path}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.path}: {len(bank.items)} items, parameters {bank.config.params_version}: ok")
    return 0


def _lint(args: argparse.Namespace) -> int:
    """Exit status 1 when there is an error (warnings alone pass), 2 for a malformed bank."""
    from lang_assess.bank.lint import format_report, lint_bank

    report = lint_bank(args.path)
    print(json.dumps(report.to_json(), ensure_ascii=False, indent=1) if args.json
          else format_report(report))
    return 1 if report.errors else 0


def _report(args: argparse.Namespace) -> int:
    from lang_assess.bank.loader import load_bank
    from lang_assess.bank.report import bank_report, format_bank_report

    report = bank_report(load_bank(args.path))
    print(json.dumps(report, ensure_ascii=False) if args.json else format_bank_report(report))
    return 0


def _export_params(args: argparse.Namespace) -> int:
    from lang_assess.bank.loader import load_bank
    from lang_assess.bank.params_csv import write_params_csv

    write_params_csv(args.out or sys.stdout, load_bank(args.path).params)
    return 0


def _expert_params(args: argparse.Namespace) -> int:
    """Write ``params/<version>.csv`` for every item by the expert rule."""
    from lang_assess.bank.expert import RULE, expert_parameters, model_name
    from lang_assess.bank.loader import load_bank
    from lang_assess.bank.params_csv import write_bank_params_csv

    bank = load_bank(args.path, skip=["params", "media"])
    target = Path(args.path) / "params" / f"{args.version}.csv"
    if target.exists() and not args.force:
        raise ValueError(f"{target} exists: parameter versions are never overwritten "
                         "(use --force only while the bank is still being written)")
    items = list(bank.items.values())
    params = expert_parameters(items, bank.cuts)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bank_params_csv(target, params,
                          model=[model_name(c, it.max_score)
                                 for c, it in zip(params.c, items, strict=True)],
                          source=[RULE] * len(items), n=[0] * len(items))
    print(f"{target}: {len(items)} items")
    return 0


def _export_qti(args: argparse.Namespace) -> int:
    from lang_assess.bank.loader import load_bank
    from lang_assess.bank.qti import export_qti

    bank = load_bank(args.path, skip=["params"])  # QTI carries content, not parameters
    written = export_qti(list(bank.items.values()), bank.root, Path(args.out),
                         bank.config.language)
    print(f"{len(bank.items)} items written: {written}")
    return 0


def _import_qti(args: argparse.Namespace) -> int:
    """0: all imported; 1: partial; 2: nothing imported (or no such input)."""
    from lang_assess.bank.qti import import_qti

    bank = Path(args.path)
    defaults = {k: getattr(args, k) for k in ("skill", "level", "topic", "author")
                if getattr(args, k)}
    report = import_qti(Path(args.package), bank, overwrite=args.overwrite,
                        defaults=defaults)
    for item in report.imported:
        print(f"imported {item.id} ({item.type}"
              + (f", was '{item.qti.identifier}'" if item.qti else "") + ")")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for p in report.problems:
        print(p, file=sys.stderr)
    total = len(report.imported) + report.refused
    print(f"{len(report.imported)} of {total} item(s) imported into {args.path}; "
          f"{report.refused} not imported ({len(report.problems)} problem(s))")
    if not report.imported:
        return 2
    return 1 if report.problems else 0


def _publish(args: argparse.Namespace) -> int:
    from lang_assess.bank import versions
    from lang_assess.bank.params_csv import read_params_csv

    target = versions.publish(args.path, read_params_csv(args.params), args.version, {
        "data_window": args.data_window, "model": args.model, "backend": args.backend,
        "linking": args.linking, "approved_by": args.approved_by, "notes": args.notes,
    }, model=args.model)
    print(f"{target}: published; {args.version} is now current")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from lang_assess.bank import versions

    now = versions.rollback(args.path, by=args.by, reason=args.reason)
    print(f"rolled back: {now} is current again")
    return 0


def _versions(args: argparse.Namespace) -> int:
    from lang_assess.bank import versions

    print(f"current: {versions.current_version(args.path)}")
    for h in versions.history(args.path):
        print(f"{h['date']}  {h['action']:<8} {h['version']} (was {h['previous']}) "
              f"by {h['by']}" + (f": {h['reason']}" if h.get("reason") else ""))
    return 0


def _make_audio(args: argparse.Namespace) -> int:
    from lang_assess.bank.audio import make_audio

    made = make_audio(args.path, force=args.force)
    print(f"{len(made)} audio file(s) written")
    return 0
