"""The ``lang-assess`` command line.

``lang-assess simulate --bank PARAMS.csv [--thetas THETAS.csv | --n N] [--cuts c1,c2,...]
[--design placement|progress] [--seed S] [--json]`` runs simulees through a design and
prints a table (or, with ``--json``, one JSON object).  ``lang-assess demo`` runs the same
on a synthetic bank with a walk through one test.  Bad input ends with one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from lang_assess import __version__
from lang_assess.cat.design import (
    DEFAULT_SKILL_TARGETS,
    TestDesign,
    placement_design,
    progress_design,
)
from lang_assess.errors import LangAssessError
from lang_assess.irt.params import ItemParameters
from lang_assess.levels import CutScores

DEMO_CUTS = "-2,-1,0,1,2"
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lang-assess", description="Adaptive CEFR placement and progress tests."
    )
    parser.add_argument("--version", action="version", version=f"lang-assess {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="run simulees through a test design on a bank")
    sim.add_argument("--bank", required=True, help="item parameters CSV: item,a,b[,c][,skill]")
    who = sim.add_mutually_exclusive_group()
    who.add_argument("--thetas", help="true abilities CSV with a 'theta' column")
    who.add_argument("--n", type=int, help="number of simulees drawn from N(0, 1) (default 1000)")
    sim.add_argument("--cuts", help="CEFR cut scores on the θ scale, e.g. -2,-1,0,1,2")
    sim.add_argument("--design", choices=("placement", "progress"), default="placement")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--json", action="store_true", help="print one JSON object")

    cal = sub.add_parser("calibrate", help="estimate item parameters from a wide responses CSV")
    cal.add_argument("responses", help="CSV: a 'person' column, then one column per item "
                     "(0/1, or 0..k for rated items; blank = not administered)")
    cal.add_argument("--model", choices=("1pl", "2pl", "pcm", "gpcm"), default="2pl")
    cal.add_argument("--backend", choices=("mml", "pyirt"), default="mml")
    cal.add_argument("--out", required=True, help="PARAMS.csv to write (item,a,b,c,...)")
    cal.add_argument("--fixed", help="PARAMS.csv of anchor items kept at their values "
                     "(fixed-item calibration onto the bank's scale)")
    cal.add_argument("--seed", type=int, default=0, help="py-irt backend: random seed")
    cal.add_argument("--quiet", action="store_true", help="no progress bar")

    bank = sub.add_parser("bank", help="validate, report on and convert an item bank")
    bank_sub = bank.add_subparsers(dest="bank_command", required=True)
    val = bank_sub.add_parser("validate", help="check a bank folder; list every problem")
    val.add_argument("path")
    val.add_argument("--skip", default="", help="checks to leave out while authoring: media,params")
    chk = bank_sub.add_parser("check-items", help="check single item files")
    chk.add_argument("files", nargs="+")
    chk.add_argument("--no-media", action="store_true", help="do not require media files")
    rep = bank_sub.add_parser("report", help="counts, information curves, thin places")
    rep.add_argument("path")
    rep.add_argument("--json", action="store_true", help="print one JSON object")
    exp = bank_sub.add_parser("export-params", help="current parameters as item,a,b,c,skill CSV")
    exp.add_argument("path")
    exp.add_argument("--out", help="file to write (default: standard output)")
    v0 = bank_sub.add_parser("expert-params", help="write parameters by the expert rule (v0)")
    v0.add_argument("path")
    v0.add_argument("--version", default="v0")
    v0.add_argument("--force", action="store_true", help="replace an existing version file")
    qx = bank_sub.add_parser("export-qti", help="write the bank as a QTI 3.0 package")
    qx.add_argument("path")
    qx.add_argument("out")
    qi = bank_sub.add_parser("import-qti", help="add items from a QTI 3.0 package to a bank")
    qi.add_argument("package")
    qi.add_argument("path")
    qi.add_argument("--overwrite", action="store_true")
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
    rb = bank_sub.add_parser("rollback", help="make the previous parameter version current")
    rb.add_argument("path")
    rb.add_argument("--by", required=True, help="who rolls back")
    rb.add_argument("--reason", required=True)
    ver = bank_sub.add_parser("versions", help="the publish and rollback log")
    ver.add_argument("path")
    aud = bank_sub.add_parser("make-audio", help="synthesise missing audio with espeak-ng")
    aud.add_argument("path")
    aud.add_argument("--force", action="store_true", help="remake every file")

    dd = sub.add_parser("demo-data", help="fill the database with a simulated programme")
    dd.add_argument("--participants", type=int, default=60)
    dd.add_argument("--weeks", type=int, default=20)
    dd.add_argument("--seed", type=int, default=2026)
    dd.add_argument("--bank", default="item_bank/nb")
    dd.add_argument("--if-empty", action="store_true",
                    help="leave a database that already has data as it is")

    srv = sub.add_parser("serve", help="serve the participant test page with Voila")
    srv.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8866")))
    srv.add_argument("--pool-size", type=int, default=30,
                     help="preheated kernels (a class of 30 starts together)")

    demo = sub.add_parser("demo", help="simulate the placement test on a synthetic bank")
    demo.add_argument("--items", type=int, default=500)
    demo.add_argument("--n", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lang-assess`` console script; returns the exit status."""
    args = _parser().parse_args(_join_negative_values(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "bank":
            return _bank(args)
        if args.command == "calibrate":
            return _calibrate(args)
        if args.command == "demo-data":
            return _demo_data(args)
        if args.command == "serve":
            return _serve(args)
        return _demo(args)
    except (LangAssessError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"lang-assess: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _calibrate(args: argparse.Namespace) -> int:
    """``lang-assess calibrate RESPONSES.csv --model ... --out PARAMS.csv``."""
    import warnings

    from lang_assess.bank.params_csv import read_params_csv
    from lang_assess.calibrate import calibrate, read_responses_csv
    from lang_assess.calibrate.io import write_calibration_csv

    responses = read_responses_csv(
        args.responses, max_score=1 if args.model in ("1pl", "2pl") else None)
    options: dict[str, object] = {"progress": not args.quiet}
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


def _design(
    name: str, params: ItemParameters, cuts: CutScores | None
) -> tuple[TestDesign, list[str]]:
    """The named design, balancing the skills the bank has; notes for the reader."""
    present = {s for s in params.skill.tolist() if s}
    targets = {s: p for s, p in DEFAULT_SKILL_TARGETS.items() if s in present}
    notes = []
    if targets:
        left_out = sorted(present - set(targets))
        if left_out:
            notes.append(f"items of skill(s) {', '.join(left_out)} are not part of this design")
    maker = placement_design if name == "placement" else progress_design
    kwargs: dict[str, Any] = {"skill_targets": targets or None, "cuts": cuts}
    return maker(**kwargs), notes


def _run(params: ItemParameters, design: TestDesign, thetas: np.ndarray, seed: int,
         cuts: CutScores | None) -> Any:
    from tqdm import tqdm

    from lang_assess.simulate import simulate

    with tqdm(total=thetas.size, unit="simulee", file=sys.stderr, disable=None) as bar:
        return simulate(params, design, thetas, seed=seed, cuts=cuts, progress=bar.update)


def _simulate(args: argparse.Namespace) -> int:
    from lang_assess.bank import read_params_csv, read_thetas_csv

    params = read_params_csv(args.bank)
    cuts = CutScores.parse(args.cuts) if args.cuts else None
    if args.thetas:
        thetas = read_thetas_csv(args.thetas)
    else:
        n = 1000 if args.n is None else args.n
        if n < 1:
            raise ValueError("--n must be at least 1")
        thetas = np.random.default_rng([args.seed, 7]).normal(0.0, 1.0, n)
    design, notes = _design(args.design, params, cuts)
    result = _run(params, design, thetas, args.seed, cuts)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        title = f"{design.name} design, {params.n_items} items, {result.n} simulees"
        print(format_report(summary, title=f"{title} (seed {args.seed})", notes=notes))
    return 0


def _bank(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lang_assess.bank import loader

    command = args.bank_command
    if command == "check-items":
        problems = loader.check_item_files(args.files, media=not args.no_media)
        for p in problems:
            print(p)
        print(f"{len(args.files)} file(s), {len(problems)} problem(s)")
        return 1 if problems else 0
    if command == "validate":
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
    if command == "expert-params":
        return _expert_params(args)
    if command in ("publish", "rollback", "versions"):
        return _versions(args)
    if command == "make-audio":
        from lang_assess.bank.audio import make_audio

        made = make_audio(args.path, force=args.force)
        print(f"{len(made)} audio file(s) written")
        return 0
    if command == "import-qti":
        from lang_assess.bank.qti import import_qti

        added = import_qti(Path(args.package), Path(args.path), overwrite=args.overwrite)
        print(f"{len(added)} item(s) imported into {args.path}")
        return 0

    bank = loader.load_bank(args.path)
    if command == "report":
        from lang_assess.bank.report import bank_report, format_bank_report

        report = bank_report(bank)
        print(json.dumps(report, ensure_ascii=False) if args.json else format_bank_report(report))
        return 0
    if command == "export-params":
        from lang_assess.bank.params_csv import write_params_csv

        write_params_csv(args.out or sys.stdout, bank.params)
        return 0
    if command == "export-qti":
        from lang_assess.bank.qti import export_qti

        manifest = export_qti(list(bank.items.values()), bank.root, Path(args.out),
                              bank.config.language)
        print(f"{len(bank.items)} items written; manifest {manifest}")
        return 0
    raise ValueError(f"unknown bank command {command!r}")


def _versions(args: argparse.Namespace) -> int:
    """``bank publish``, ``bank rollback`` and ``bank versions``."""
    from lang_assess.bank import versions
    from lang_assess.bank.params_csv import read_params_csv

    if args.bank_command == "publish":
        target = versions.publish(args.path, read_params_csv(args.params), args.version, {
            "data_window": args.data_window, "model": args.model, "backend": args.backend,
            "linking": args.linking, "approved_by": args.approved_by, "notes": args.notes,
        }, model=args.model)
        print(f"{target}: published; {args.version} is now current")
    elif args.bank_command == "rollback":
        now = versions.rollback(args.path, by=args.by, reason=args.reason)
        print(f"rolled back: {now} is current again")
    else:
        print(f"current: {versions.current_version(args.path)}")
        for h in versions.history(args.path):
            print(f"{h['date']}  {h['action']:<8} {h['version']} (was {h['previous']}) "
                  f"by {h['by']}" + (f": {h['reason']}" if h.get("reason") else ""))
    return 0


def _expert_params(args: argparse.Namespace) -> int:
    """Write ``params/<version>.csv`` for every item by the expert rule."""
    from pathlib import Path

    from lang_assess.bank.expert import RULE, expert_parameters
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
                          model=["gpcm" if it.max_score > 1 else "2pl" for it in items],
                          source=[RULE] * len(items), n=[0] * len(items))
    print(f"{target}: {len(items)} items")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    """Build the demo programme through the service, or show what was built."""
    import datetime as dt
    from pathlib import Path

    from sqlalchemy import func, select

    from lang_assess.bank.loader import load_bank
    from lang_assess.demo import build_demo
    from lang_assess.programme import load_config
    from lang_assess.service import Service
    from lang_assess.store.db import database_url, make_engine, migrate
    from lang_assess.store.models import Participant

    url = database_url()
    engine = make_engine(url)
    migrate(engine)
    notes = Path(os.environ.get("LANG_ASSESS_DATA", "data")) / "demo-logins.txt"
    with engine.connect() as conn:
        existing = conn.scalar(select(func.count()).select_from(Participant))
    if existing:
        if not args.if_empty:
            raise ValueError(f"{url} already has {existing} participants; point "
                             "LANG_ASSESS_DB elsewhere or remove the file")
        print(f"demo database {url}: {existing} participants already there")
        if notes.exists():
            print(notes.read_text(encoding="utf-8"), end="")
        return 0
    bank = load_bank(args.bank)
    config = load_config()
    print(f"building the demo programme in {url} (every test is a real adaptive test)…",
          file=sys.stderr)
    result = build_demo(
        lambda clock: Service(engine, bank, config, clock=clock, seed=args.seed),
        today=dt.date.today(), n_participants=args.participants, weeks=args.weeks,
        seed=args.seed, progress=lambda msg: print(f"  {msg}", file=sys.stderr),
    )
    lines = [f"teacher: {user} {password}" for user, password in result.teachers]
    lines += [f"code: {code}   ({who}, new intake, placement test due)"
              for who, code in result.codes]
    text = "\n".join(lines) + "\n"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text("# demo only: real access codes are shown once and never stored\n"
                     + text, encoding="utf-8")
    print(f"{result.participants} participants in {len(result.cohorts)} cohorts, "
          f"{result.tests} tests with {result.answers} answers, {result.missed} missed weeks, "
          f"{result.moved_up} moves up")
    print(text, end="")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run Voila for the participant page and the teachers' page; print the URLs and the
    demo logins."""
    import subprocess
    from pathlib import Path

    from lang_assess.serve import REPO, TEACHER_PAGE, TEST_PAGE, voila_command
    from lang_assess.store.db import make_engine, migrate

    data = Path(os.environ.get("LANG_ASSESS_DATA", REPO / "data")).resolve()
    env = {**os.environ, "LANG_ASSESS_DATA": str(data)}
    for name, sub_dir in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "share"),
                          ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        env.setdefault(name, str(data / "jupyter" / sub_dir))
    os.environ["LANG_ASSESS_DATA"] = str(data)
    migrate(make_engine())
    print("participant test page:")
    print(f"http://127.0.0.1:{args.port}/")
    print("teachers' overview:")
    print(f"http://127.0.0.1:{args.port + 1}/", flush=True)
    logins = data / "demo-logins.txt"
    if logins.exists():
        for line in logins.read_text(encoding="utf-8").splitlines():
            if line.startswith(("teacher:", "code:")):
                print(line)
    print("(Ctrl-C stops both servers)", flush=True)
    teachers = subprocess.Popen(voila_command(TEACHER_PAGE, args.port + 1, pool_size=2),
                                env=env)
    try:
        return subprocess.call(voila_command(TEST_PAGE, args.port, pool_size=args.pool_size),
                               env=env)
    finally:
        teachers.terminate()
        teachers.wait(timeout=30)


def _demo(args: argparse.Namespace) -> int:
    from lang_assess.cat.session import CATSession
    from lang_assess.irt.models import paired_probabilities
    from lang_assess.simulate import synthetic_bank

    params = synthetic_bank(args.items, seed=args.seed)
    cuts = CutScores.parse(DEMO_CUTS)
    design = placement_design()
    print("lang_assess demo: the placement test on a synthetic 2PL bank")
    print(f"  bank: {params.n_items} items, a ~ lognormal(0.2, 0.3), b ~ uniform(-3, 3)")
    print(f"  CEFR cut scores (θ): {dict(zip(cuts.labels[1:], cuts.cuts, strict=True))}\n")

    rng = np.random.default_rng([args.seed, 3])
    truth = 0.8
    session = CATSession(params, design, seed=args.seed)
    print(f"One test, a simulee with true θ = {truth:+.2f} ({cuts.level_label(truth)}):")
    print("   #  item       b      a    answer   θ̂      SE")
    while (item := session.next_item()) is not None:
        i = params.index_of([item])
        score = int(rng.random() < paired_probabilities(np.array([truth]), params, i)[0, 1])
        session.answer(item, score)
        print(
            f"  {session.n_answered:2d}  {item}  {params.b[i[0]]:+.2f}  {params.a[i[0]]:.2f}"
            f"   {'right' if score else 'wrong'}   {session.theta:+.2f}  {session.se:.2f}"
        )
    probs = session.level_probabilities(cuts)
    best = max(probs, key=probs.__getitem__)
    print(f"  → level {best} with probability {probs[best]:.2f}\n")

    thetas = np.random.default_rng([args.seed, 7]).normal(0.0, 1.0, args.n)
    result = _run(params, design, thetas, args.seed, cuts)
    print(format_report(result.summary(), title=f"{args.n} simulees, θ ~ N(0, 1)"))
    return 0


_LABELS = [
    ("n", "simulees", "{:d}"),
    ("bias", "bias of θ̂ (logits)", "{:+.3f}"),
    ("rmse", "RMSE of θ̂ (logits)", "{:.3f}"),
    ("mean_se", "mean SE (logits)", "{:.3f}"),
    ("mean_length", "mean test length (items)", "{:.2f}"),
    ("max_length", "longest test (items)", "{:d}"),
    ("mean_oracle_length", "mean oracle length (items)", "{:.2f}"),
    ("mean_information_oracle_length", "mean information-oracle length", "{:.2f}"),
    ("max_exposure", "highest item exposure rate", "{:.3f}"),
    ("test_overlap", "mean test overlap", "{:.3f}"),
    ("items_never_used", "items never used", "{:d}"),
    ("cefr_accuracy", "CEFR exact-level accuracy", "{:.3f}"),
]


def format_report(summary: dict[str, Any], *, title: str, notes: Sequence[str] = ()) -> str:
    """A plain-text table of a simulation summary."""
    lines = [f"Simulation: {title}", ""]
    for key, label, fmt in _LABELS:
        value = summary.get(key)
        if value is not None:
            lines.append(f"  {label:<34} {fmt.format(value):>8}")
    if summary.get("mean_oracle_length"):
        ratio = summary["mean_length"] / summary["mean_oracle_length"]
        lines.append(f"  {'length / oracle length':<34} {ratio:>8.3f}")
    by_level = summary.get("cefr_accuracy_by_level") or {}
    if by_level:
        lines.append("")
        lines.append("  CEFR accuracy by true level:")
        lines.append("    " + "   ".join(f"{k} {v:.2f}" for k, v in by_level.items()))
    lines.extend(f"  note: {n}" for n in notes)
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
