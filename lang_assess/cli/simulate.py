"""``lang-assess simulate`` and ``lang-assess demo``: simulees through a design.

``lang-assess simulate --bank-dir item_bank/nb --design placement|progress
--thetas THETAS.csv [--respond-with TRUE.csv] [--seed S] [--json]`` runs the bank's own
designs, each simulee starting as the live service would start a participant of its
track (THETAS.csv: ``theta`` and optionally ``track``), answers drawn from TRUE.csv's
``item,a,b,c`` when given (parameters that may differ from the ones the test scores with).
``lang-assess simulate --bank PARAMS.csv [--thetas THETAS.csv | --n N] [--cuts c1,c2,...]
[--design placement|progress] [--seed S] [--json]`` runs the engine's presets on a
parameter file.  Both print a table (or, with ``--json``, one JSON object);
``lang-assess demo`` runs the same on a synthetic bank with a walk through one test.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from lang_assess.engine.cat.design import (
    DEFAULT_SKILL_TARGETS,
    TestDesign,
    placement_design,
    progress_design,
)
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores

DEMO_CUTS = "-2,-1,0,1,2"


def register(sub: Any) -> None:
    """Add ``simulate`` and ``demo`` to the subcommands ``sub``."""
    sim = sub.add_parser("simulate", help="run simulees through a test design on a bank")
    where = sim.add_mutually_exclusive_group(required=True)
    where.add_argument("--bank", help="item parameters CSV: item,a,b[,c][,skill]")
    where.add_argument("--bank-dir", help="an item bank folder (e.g. item_bank/nb): its "
                       "current parameters, cut scores and designs")
    who = sim.add_mutually_exclusive_group()
    who.add_argument("--thetas", help="true abilities CSV: 'theta', optionally 'track' (1-3)")
    who.add_argument("--n", type=int, help="number of simulees drawn from N(0, 1) (default 1000)")
    sim.add_argument("--cuts", help="CEFR cut scores on the θ scale, e.g. -2,-1,0,1,2 "
                     "(default with --bank-dir: the bank's)")
    sim.add_argument("--respond-with", help="CSV item,a,b[,c] the answers are drawn from "
                     "(default: the parameters the test scores with)")
    sim.add_argument("--design", choices=("placement", "progress"), default="placement")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--json", action="store_true", help="print one JSON object")
    sim.set_defaults(handler=_simulate)

    prog = sub.add_parser(
        "simulate-programme",
        help="weekly move-up and stalled decisions against the term-based baseline")
    prog.add_argument("--bank-dir", required=True, help="an item bank folder (item_bank/nb)")
    prog.add_argument("--n", type=int, default=400, help="learners (default 400)")
    prog.add_argument("--weeks", type=int, default=40, help="programme weeks (default 40)")
    prog.add_argument("--respond-with", help="CSV item,a,b[,c] the answers are drawn from "
                      "(default: the parameters the tests score with)")
    prog.add_argument("--max-items", type=int, help="weekly test length at most (default: "
                      "the bank's progress design)")
    prog.add_argument("--current", action="store_true",
                      help="also run the rule it replaced (P ≥ 0.8 twice, SE-target test)")
    prog.add_argument("--seed", type=int, default=1)
    prog.add_argument("--json", action="store_true", help="print one JSON object")
    prog.set_defaults(handler=_simulate_programme)

    demo = sub.add_parser("demo", help="simulate the placement test on a synthetic bank")
    demo.add_argument("--items", type=int, default=500)
    demo.add_argument("--n", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(handler=_demo)


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


def _run(params: ItemParameters, design: TestDesign | dict[str, TestDesign],
         thetas: np.ndarray, seed: int, cuts: CutScores | None, **options: Any) -> Any:
    from tqdm import tqdm

    from lang_assess.engine.simulate import simulate

    with tqdm(total=thetas.size, unit="simulee", file=sys.stderr, disable=None) as bar:
        return simulate(params, design, thetas, seed=seed, cuts=cuts, progress=bar.update,
                        **options)


def _simulees(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray | None]:
    """True abilities (and tracks, if the file has them) from --thetas or --n."""
    from lang_assess.bank import read_simulees_csv

    if args.thetas:
        return read_simulees_csv(args.thetas)
    n = 1000 if args.n is None else args.n
    if n < 1:
        raise ValueError("--n must be at least 1")
    return np.random.default_rng([args.seed, 7]).normal(0.0, 1.0, n), None


def _respond(path: str | None, params: ItemParameters) -> Any:
    """The answer model of ``--respond-with``, matched to the bank's items; errors name
    the file."""
    if not path:
        return None
    from lang_assess.bank import read_params_csv
    from lang_assess.engine.answers import ResponseModel
    from lang_assess.errors import BankError

    try:
        return ResponseModel(read_params_csv(path)).aligned(params)
    except BankError as exc:
        if exc.source is not None:
            raise
        raise BankError(exc.problems, source=path) from None


def _simulate(args: argparse.Namespace) -> int:
    from lang_assess.bank import read_params_csv

    if args.bank_dir:
        return _simulate_bank(args)
    params = read_params_csv(args.bank)
    respond = _respond(args.respond_with, params)
    cuts = CutScores.parse(args.cuts) if args.cuts else None
    thetas, tracks = _simulees(args)
    design, notes = _design(args.design, params, cuts)
    result = _run(params, design, thetas, args.seed, cuts, respond=respond, groups=tracks)
    title = f"{design.name} design, {params.n_items} items, {result.n} simulees"
    return _print(result.summary(), args, title, notes)


def _simulate_bank(args: argparse.Namespace) -> int:
    """``--bank-dir``: the bank's own designs, each simulee started as the service would."""
    from lang_assess.bank.loader import load_bank
    from lang_assess.programme.rules import load_config
    from lang_assess.programme.settings import Settings
    from lang_assess.programme.simulation import progress_prior

    bank = load_bank(args.bank_dir)
    respond = _respond(args.respond_with, bank.params)
    config = load_config(Settings.from_env().config_file)
    cuts = CutScores.parse(args.cuts) if args.cuts else bank.cuts
    thetas, tracks = _simulees(args)
    notes: list[str] = []
    if args.design == "placement":
        result = _run_placement(bank, thetas, tracks, args.seed, config, cuts, respond)
        notes.append("each simulee starts from its track's placement prior (programme "
                     "config), Track 1 with the routing stage" if tracks is not None else
                     "no track column: every simulee starts from the design's own prior")
    else:
        design = bank.design("progress")
        se = next(r.se for r in design.stop.rules if hasattr(r, "se"))
        mean, sd = progress_prior(thetas, last_se=se, config=config, seed=args.seed)
        notes.append("each simulee starts from a weekly prior as the service forms it "
                     "(last week's estimate carried one week on)")
        result = _run(bank.params, design, thetas, args.seed, cuts, respond=respond,
                      groups=tracks, prior_mean=mean, prior_sd=sd)
    if respond is not None:
        notes.append(f"answers drawn from {args.respond_with}")
    title = (f"{args.design} design of {bank.root}, {bank.params.n_items} items, "
             f"{result.n} simulees")
    return _print(result.summary(), args, title, notes)


def _simulate_programme(args: argparse.Namespace) -> int:
    """``simulate-programme``: docs/programme/programme.md, "Weekly decisions"."""
    from lang_assess.bank.loader import load_bank
    from lang_assess.programme.decisions import compare_rules
    from lang_assess.programme.rules import load_config
    from lang_assess.programme.settings import Settings

    if args.n < 1 or args.weeks < 2:
        raise ValueError("--n must be at least 1 and --weeks at least 2")
    bank = load_bank(args.bank_dir)
    config = load_config(Settings.from_env().config_file)
    overrides = {} if args.max_items is None else {"max_items": args.max_items}
    out = compare_rules(bank, config, n=args.n, weeks=args.weeks, seed=args.seed,
                        respond=_respond(args.respond_with, bank.params),
                        current=args.current, **overrides)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"Weekly decisions, {args.n} learners over {args.weeks} weeks (seed {args.seed})"
          + (f", answers drawn from {args.respond_with}" if args.respond_with else ""))
    for key, value in out.items():
        print(f"  {key:40s} {value:.3f}" if isinstance(value, float) else
              f"  {key:40s} {value}")
    return 0


def _run_placement(bank: Any, thetas: np.ndarray, tracks: np.ndarray | None, seed: int,
                   config: Any, cuts: CutScores, respond: Any) -> Any:
    from tqdm import tqdm

    from lang_assess.programme.simulation import simulate_placement

    with tqdm(total=thetas.size, unit="simulee", file=sys.stderr, disable=None) as bar:
        return simulate_placement(bank, thetas, tracks, seed=seed, config=config, cuts=cuts,
                                  respond=respond, progress=bar.update)


def _print(summary: dict[str, Any], args: argparse.Namespace, title: str,
           notes: Sequence[str]) -> int:
    """The summary as JSON (groups are tracks: ``by_track``) or as a table."""
    if "by_group" in summary:
        summary["by_track"] = summary.pop("by_group")
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_report(summary, title=f"{title} (seed {args.seed})", notes=notes))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lang_assess.engine.cat.session import CATSession
    from lang_assess.engine.irt.models import paired_probabilities
    from lang_assess.engine.simulate import synthetic_bank

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
    ("placed_too_high", "placed a level too high or more", "{:.3f}"),
    ("placed_too_low", "placed a level too low or more", "{:.3f}"),
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
    for name, rows in (("track", summary.get("by_track") or {}),):
        if rows:
            lines.append("")
            lines.append(f"  by {name}:      n    bias   RMSE  length  accuracy  too high  too low")
            lines.extend(
                f"    {k:<8} {r['n']:>6d} {r['bias']:+7.3f} {r['rmse']:6.3f} "
                f"{r['mean_length']:7.2f} {r.get('cefr_accuracy', float('nan')):9.3f} "
                f"{r.get('placed_too_high', float('nan')):9.3f} "
                f"{r.get('placed_too_low', float('nan')):8.3f}" for k, r in rows.items())
    lines.extend(f"  note: {n}" for n in notes)
    return "\n".join(lines)
