"""The placement test when the answers are not the scoring model's (issue 13).

Run with ``.venv/bin/python benchmarks/bench_placement.py`` (also part of ``make bench``;
``--quick`` for a smoke run).  Prints the Markdown of docs/benchmarks.md's placement
section: the placement before issue 13 (v0 scored as 2PL, the wide prior for everyone,
SE stop) and now (guessing in v0, each track's prior, routing for Track 1, stop on the
decision), with answers from the bank's parameters, with calibration error and with
slips; people two bands from their track; and the 3PL calibration's recovery and time.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time

import numpy as np

from lang_assess.bank.loader import load_bank
from lang_assess.engine.answers import ResponseModel, with_calibration_error, with_guessing
from lang_assess.engine.irt.models import category_probabilities
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.programme.rules import load_config
from lang_assess.programme.simulation import placement_designs_compared, simulate_placement
from lang_assess.psychometrics.calibrate import fit_mml

QUICK = "--quick" in sys.argv
N = 200 if QUICK else 1000  # simulees per track


def mixed(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Track 1 θ ~ N(-2.6, 0.5), Track 2 N(-1.2, 0.8), Track 3 N(0.2, 0.9)."""
    rng = np.random.default_rng(seed)
    return (np.concatenate([rng.normal(-2.6, 0.5, N), rng.normal(-1.2, 0.8, N),
                            rng.normal(0.2, 0.9, N)]), np.repeat([1, 2, 3], N))


def main() -> None:
    bank, config = load_bank("item_bank/nb"), load_config()
    machine = platform.processor() or platform.machine()
    print(f"## Placement with answers the model did not produce — {dt.date.today()}, "
          f"{machine}, Python {platform.python_version()}\n")
    thetas, tracks = mixed(131)
    error = with_calibration_error(bank.params, np.random.default_rng(133))
    answers = {"c = 1/k": None, "c = 1/k, calibration error": ResponseModel(error),
               "c = 1/k, slips 0.05": ResponseModel(bank.params, slip=0.05),
               "no guessing (c = 0)": ResponseModel(with_guessing(bank.params, 0.0))}
    start = time.perf_counter()
    table = placement_designs_compared(bank, thetas, tracks, seed=132, config=config,
                                       answers=answers)
    seconds = time.perf_counter() - start
    print(f"{N} simulees per track; {len(table)} runs in {seconds:.0f} s.\n")
    print("| design | answers | accuracy | mean length | bias T1 / T2 / T3 | T1 too high |")
    print("| --- | --- | ---: | ---: | --- | ---: |")
    for r in table.itertuples():
        print(f"| {r.design} | {r.answers} | {r.accuracy:.3f} | {r.mean_length:.1f} | "
              f"{r.bias_track1:+.2f} / {r.bias_track2:+.2f} / {r.bias_track3:+.2f} | "
              f"{r.track1_too_high:.1%} |")

    print("\nTwo bands from their track (θ uniform over the band; the placement as now):\n")
    print("| who | placed | bias | mean length |\n| --- | ---: | ---: | ---: |")
    for track, band, label, ok in ((1, (0.0, 1.0), "Track 1 at B1", "B1 or higher"),
                                   (3, (-2.0, -1.0), "Track 3 at A1", "A1 or lower")):
        t = np.random.default_rng(134 + track).uniform(*band, N)
        r = simulate_placement(bank, t, np.full(N, track), seed=136 + track, config=config,
                               oracle=False)
        level = bank.cuts.level_index(r.theta)
        share = np.mean(level >= 3) if track == 1 else np.mean(level <= 1)
        print(f"| {label} | {share:.1%} {ok} | {np.mean(r.theta - t):+.3f} | "
              f"{r.length.mean():.1f} |")

    print("\nMML 3PL recovery (c ~ U(0.15, 0.35), Beta prior around 1/k = 0.25):\n")
    print("| persons × items | r(b) | RMSE(b) | RMSE(c) | RMSE(a) | iterations | s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for persons in ((2000,) if QUICK else (10_000,)):
        rng = np.random.default_rng(20261201)
        n_items = 100
        truth = ItemParameters.dichotomous(
            [f"g{k:03d}" for k in range(n_items)], rng.uniform(0.7, 2.0, n_items),
            rng.normal(0.0, 1.0, n_items), rng.uniform(0.15, 0.35, n_items))
        probs = category_probabilities(rng.standard_normal(persons), truth)
        x = (np.cumsum(probs, axis=2) < rng.random(probs.shape[:2])[..., None]).sum(axis=2)
        start = time.perf_counter()
        cal = fit_mml(x.astype(float), "3pl", chance=0.25)
        seconds = time.perf_counter() - start
        e = cal.params
        print(f"| {persons:,} × {n_items} | {np.corrcoef(e.b, truth.b)[0, 1]:.3f} | "
              f"{np.sqrt(np.mean((e.b - truth.b) ** 2)):.3f} | "
              f"{np.sqrt(np.mean((e.c - truth.c) ** 2)):.3f} | "
              f"{np.sqrt(np.mean((e.a - truth.a) ** 2)):.3f} | {cal.iterations} | "
              f"{seconds:.1f} |")


if __name__ == "__main__":
    main()
