"""A year of national data calibrated: long-form CSV → MML, time, peak memory, recovery.

Issue 20: 200,000 persons × 1,000 items, ~15 million adaptive answers (50–100 per person,
mean 75), read from a long CSV (``person,item,score``) and calibrated by the MML backend
(2PL; 3PL on data with guessing) in ≤ 60 s and ≤ 4 GB, recovery r(b) ≥ 0.99 on items
with ≥ 500 answers.

The answers come from ``tests/support/adaptive_data.py``: an adaptive selector that scores
with a bank carrying calibration error (b + N(0, 0.3²), a · lognormal(0, 0.15²)); for the
3PL case the answers have guessing (c ~ U(0.15, 0.35)) the selector ignores.  The 2PL is
also fitted to the guessing data, to show what a model without c makes of it.

Three kinds of process, so that each peak RSS is its own (Linux carries a parent's peak
into a forked child's ``ru_maxrss``): one makes the data and writes the CSV and the truth;
one per fit reads the CSV (timed) and fits (timed); this one compares and prints Markdown.

Run: ``.venv/bin/python benchmarks/bench_calibration_scale.py`` (full size, a few minutes
of simulation first) or ``--quick`` (20,000 persons × 300 items).  ``--persons``,
``--items`` and ``--models`` override.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# name → (data with guessing?, model fitted)
CASES = {"2pl": (False, "2pl"), "3pl": (True, "3pl"), "2pl-on-guessing": (True, "2pl")}
MIN_ANSWERS = 500  # recovery is judged on items with at least this many answers


def make(persons: int, items: int, guessing: bool, out: Path, seed: int) -> dict:
    """Simulate, write ``out/answers.csv`` (long form) and ``out/truth.npz``."""
    import pandas as pd

    from tests.support.adaptive_data import adaptive_year

    t0 = time.perf_counter()
    year = adaptive_year(persons, items, seed=seed, guessing=guessing)
    simulated = time.perf_counter() - t0
    # ids as a real export has them: text, not 0..n-1 (factorising them is part of reading)
    frame = pd.DataFrame({"person": np.char.add("p", year.person.astype(str)),
                          "item": np.char.add("i", year.item.astype(str)),
                          "score": year.score})
    frame.to_csv(out / "answers.csv", index=False)
    np.savez(out / "truth.npz", a=year.a, b=year.b, c=year.c)
    return {"answers": year.n_answers, "simulate_s": simulated,
            "csv_mib": (out / "answers.csv").stat().st_size / 2**20}


def fit(model: str, data: Path, n_quad: int) -> dict:
    """Read the CSV and fit, in this process; times and peak RSS."""
    from lang_assess.psychometrics.calibrate import fit_mml, read_responses_csv

    def cpu() -> float:
        use = resource.getrusage(resource.RUSAGE_SELF)
        return use.ru_utime + use.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    resp = read_responses_csv(data / "answers.csv", max_score=1)
    read_s, read_cpu = time.perf_counter() - t0, cpu() - c0
    t1, c1 = time.perf_counter(), cpu()
    options = {"chance": 0.25} if model == "3pl" else {}
    cal = fit_mml(resp, model, n_quad=n_quad, se=True, progress=True, **options)
    fit_s, fit_cpu = time.perf_counter() - t1, cpu() - c1
    order = np.char.lstrip(resp.items.astype(str), "i").astype(int)  # item id → truth row
    return {"read_s": read_s, "fit_s": fit_s, "read_cpu": read_cpu, "fit_cpu": fit_cpu,
            "iterations": cal.iterations,
            "converged": cal.converged, "rss_mib": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024,
            "answers": resp.n_answers, "persons": resp.n_persons, "order": order.tolist(),
            "a": cal.params.a.tolist(), "b": cal.params.b.tolist(),
            "c": cal.params.c.tolist(), "se_b": cal.se_b.tolist(),
            "n": resp.n_responses.tolist()}


def recovery(res: dict, truth: dict) -> dict:
    """r and RMSE of a, b (and c) on items with ≥ MIN_ANSWERS answers."""
    order = np.asarray(res["order"])
    n = np.asarray(res["n"])
    keep = n >= MIN_ANSWERS
    out = {"items_kept": int(keep.sum()), "items": int(n.size)}
    for name in ("a", "b", "c"):
        est, true = np.asarray(res[name])[keep], truth[name][order][keep]
        out[f"rmse_{name}"] = float(np.sqrt(np.mean((est - true) ** 2)))
        out[f"r_{name}"] = (float(np.corrcoef(est, true)[0, 1])
                            if est.std() > 0 and true.std() > 0 else float("nan"))
    se_b = np.asarray(res["se_b"])[keep]
    out["median_se_b"] = float(np.nanmedian(se_b))
    return out


def machine() -> str:
    """CPU count, memory, Python and numpy versions."""
    kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    return (f"{os.cpu_count()} cores, {kib / 2**20:.0f} GiB, Python {platform.python_version()},"
            f" numpy {np.__version__}")


def run(args: argparse.Namespace) -> None:
    """Make the data sets, fit each case in its own process, print Markdown (a row as
    soon as its case is done, so a long run on a busy machine shows what it has)."""
    loads = [os.getloadavg()[0]]
    print(f"## Calibration at national scale — {dt.date.today()}, {machine()}\n")
    print(f"`benchmarks/bench_calibration_scale.py` ({args.persons:,} persons × "
          f"{args.items:,} items, adaptive, n_quad {args.n_quad}, standard errors on). "
          f"Recovery on items with ≥ {MIN_ANSWERS} answers. Times are wall seconds with "
          "the process's CPU seconds (user + system, all threads) in brackets: on a shared "
          "machine the wall time includes waiting for a core.\n")
    print("| case | answers | read CSV s | fit s | total s | iterations | peak RSS MiB "
          "| items kept | r(a) | RMSE a | r(b) | RMSE b | RMSE c | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: | --- |", flush=True)
    made: dict[bool, tuple[Path, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            guessing, model = CASES[name]
            if guessing not in made:
                where = Path(tmp) / ("guess" if guessing else "plain")
                where.mkdir()
                out = subprocess.run(
                    [sys.executable, __file__, "--make", str(int(guessing)), "--data",
                     str(where), "--persons", str(args.persons), "--items", str(args.items),
                     "--seed", str(args.seed)],
                    cwd=REPO, check=True, capture_output=True, text=True)
                made[guessing] = (where, json.loads(out.stdout.strip().splitlines()[-1]))
            where, info = made[guessing]
            before = os.getloadavg()[0]
            proc = subprocess.run(
                [sys.executable, __file__, "--fit", model, "--data", str(where),
                 "--n-quad", str(args.n_quad)],
                cwd=REPO, check=True, stdout=subprocess.PIPE, text=True)
            after = os.getloadavg()[0]
            loads += [before, after]
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            rec = recovery(res, dict(np.load(where / "truth.npz")))
            print(f"| {name} | {info['answers']:,} | {res['read_s']:.1f} ({res['read_cpu']:.1f})"
                  f" | {res['fit_s']:.1f} ({res['fit_cpu']:.1f}) | "
                  f"{res['read_s'] + res['fit_s']:.1f} ({res['read_cpu'] + res['fit_cpu']:.1f})"
                  f" | {res['iterations']}{'' if res['converged'] else ' (not converged)'} | "
                  f"{res['rss_mib']:.0f} | {rec['items_kept']} / {rec['items']} | "
                  f"{rec['r_a']:.3f} | {rec['rmse_a']:.3f} | {rec['r_b']:.4f} | "
                  f"{rec['rmse_b']:.3f} | {rec['rmse_c']:.3f} | {before:.1f}–{after:.1f} |",
                  flush=True)
    made_text = "; ".join(f"{info['simulate_s']:.0f} s to simulate, {info['csv_mib']:.0f} "
                          "MiB CSV" for _, info in made.values())
    print(f"\nData made once per kind ({made_text}). 1-min load average on "
          f"{os.cpu_count()} cores: {min(loads):.1f}–{max(loads):.1f} (load column: before "
          "and after each fit).")


def main() -> None:
    """Command line (the ``--make``/``--fit`` forms are the worker processes)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20,000 persons × 300 items")
    ap.add_argument("--persons", type=int)
    ap.add_argument("--items", type=int)
    ap.add_argument("--models", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--n-quad", type=int, default=31)
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--make", help=argparse.SUPPRESS)
    ap.add_argument("--fit", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make is not None:
        print(json.dumps(make(args.persons, args.items, bool(int(args.make)), Path(args.data),
                              args.seed)))
        return
    if args.fit is not None:
        print(json.dumps(fit(args.fit, Path(args.data), args.n_quad)))
        return
    args.persons = args.persons or (20_000 if args.quick else 200_000)
    args.items = args.items or (300 if args.quick else 1_000)
    run(args)


if __name__ == "__main__":
    main()
