"""Item calibration speed and memory: the numpy MML backend, girth 0.8, py-irt.

The data sets are made once and saved as ``.npy`` files; each (data set, backend) then runs in
its own subprocess that loads the data and fits, so its peak resident memory
(``ru_maxrss``) is the interpreter, the data and that fit alone, and every backend sees
the same data.  Data sets (2PL, a ~ lognormal(0.2, 0.3), b ~ N(0, 1), θ ~ N(0, 1)):

- complete 20,000 × 100 and 10,000 × 300;
- sparse 10,000 × 300: an adaptive-style test of 20–30 items per person
  (``cat_like`` in tests/psychometrics/test_calibrate_mml.py: 5 random routing items, then the item
  nearest the provisional EAP plus noise), ~8 % of the matrix filled.

girth's ``twopl_mml`` runs on the complete 10,000 × 300 set (``--girth-all``: every set;
girth marks missing responses with its INVALID_RESPONSE code).  py-irt runs when
``lang_assess.psychometrics.calibrate.pyirt`` imports.  ``--backends mml,girth`` picks some.
Run: ``.venv/bin/python benchmarks/bench_calibration.py [--quick]``; prints Markdown.
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
sys.path.insert(0, str(REPO / "tests"))

CASES = {
    "complete 20,000 × 100": ("complete", 20_000, 100),
    "sparse 10,000 × 300 (20–30 each)": ("sparse", 10_000, 300),
    "complete 10,000 × 300": ("complete", 10_000, 300),
}
QUICK = {"complete 2,000 × 50": ("complete", 2_000, 50),
         "sparse 2,000 × 100 (20–30 each)": ("sparse", 2_000, 100)}


def make_data(kind: str, n_persons: int, n_items: int, seed: int = 20261122):
    """(x, a, b): scores (NaN = not administered) and the true parameters."""
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.2, 0.3, n_items)
    b = np.clip(rng.normal(0.0, 1.0, n_items), -3, 3)
    theta = rng.standard_normal(n_persons)
    if kind == "sparse":
        from test_calibrate_mml import cat_like

        return cat_like(a, b, theta, rng), a, b
    x = (rng.random((n_persons, n_items)) < expit(a * (theta[:, None] - b))).astype(float)
    return x, a, b


def rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, backend: str, path: Path) -> dict:
    """Fit one saved data set with one backend in this process.

    The backend is imported and the data loaded first, so the time and the memory above
    ``rss_before_mib`` are the fit alone.
    """
    if backend == "mml":
        from lang_assess.psychometrics.calibrate import fit_mml as fit
    elif backend == "girth":
        from girth import twopl_mml
        from girth.utilities import INVALID_RESPONSE
    elif backend == "pyirt":
        from lang_assess.psychometrics.calibrate.pyirt import fit_pyirt as fit
    else:
        raise ValueError(backend)
    x, a, b = (np.load(path.with_suffix(f".{k}.npy")) for k in "xab")
    before = rss_mib()
    t0 = time.perf_counter()
    iterations = None
    if backend == "girth":
        data = np.where(np.isnan(x), INVALID_RESPONSE, x).astype(int).T  # items × persons
        out = twopl_mml(data)
        ea, eb = np.asarray(out["Discrimination"]), np.asarray(out["Difficulty"])
    else:
        cal = fit(x, model="2pl")
        ea, eb, iterations = cal.params.a, cal.params.b, cal.iterations
    seconds = time.perf_counter() - t0
    return {
        "case": case, "backend": backend, "seconds": seconds, "iterations": iterations,
        "rss_before_mib": before, "rss_peak_mib": rss_mib(),
        "rmse_a": float(np.sqrt(np.mean((ea - a) ** 2))),
        "rmse_b": float(np.sqrt(np.mean((eb - b) ** 2))),
        "filled": float(np.mean(~np.isnan(x))),
        "a": ea.tolist(), "b": eb.tolist(),
    }


def save_data(case: str, path: Path) -> None:
    """Make a data set in a subprocess and save it as ``path.{x,a,b}.npy``.

    Linux carries a process's peak RSS across fork + exec into the child's ``ru_maxrss``;
    a parent that had made the data itself would lend every worker its own peak.
    """
    subprocess.run([sys.executable, __file__, "--make", case, "--data", str(path)],
                   cwd=REPO, check=True)


def in_subprocess(case: str, backend: str, path: Path) -> dict | None:
    """Run one case in a fresh interpreter; None (and a note on stderr) if it fails."""
    proc = subprocess.run(
        [sys.executable, __file__, "--case", case, "--backend", backend, "--data", str(path)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    if proc.returncode != 0:
        print(f"<!-- {backend} on {case} failed: {proc.stderr.strip().splitlines()[-1:]} -->",
              file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def have(module: str) -> bool:
    """Whether ``module`` imports (checked in a subprocess: py-irt pulls in torch)."""
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          cwd=REPO, check=False)
    return proc.returncode == 0


def machine() -> str:
    """CPU count, memory, Python and numpy versions."""
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f", {kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} cores{mem}, Python {platform.python_version()}, "
            f"numpy {np.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small data sets, seconds")
    parser.add_argument("--girth-all", action="store_true", help="girth on every data set")
    parser.add_argument("--backends", help="comma-separated subset of mml,girth,pyirt")
    parser.add_argument("--case")
    parser.add_argument("--backend")
    parser.add_argument("--data")
    parser.add_argument("--make", help="worker: make this data set and save it at --data")
    args = parser.parse_args()
    if args.make:  # worker: the parent never holds the data (see save_data)
        for k, arr in zip("xab", make_data(*{**CASES, **QUICK}[args.make]), strict=True):
            np.save(Path(args.data).with_suffix(f".{k}.npy"), arr)
        return
    if args.case:  # worker: one fit
        print(json.dumps(run_case(args.case, args.backend, Path(args.data))))
        return
    cases = QUICK if args.quick else CASES
    wanted = set((args.backends or "mml,girth,pyirt").split(","))
    backends = [b for b, module in (("mml", "lang_assess.psychometrics.calibrate.mml"),
                                    ("girth", "girth"),
                                    ("pyirt", "lang_assess.psychometrics.calibrate.pyirt"))
                if b in wanted and have(module)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, case in enumerate(cases):
            path = Path(tmp) / f"case{n}"
            save_data(case, path)
            for backend in backends:
                if backend == "girth" and not (args.girth_all or args.quick
                                               or case == "complete 10,000 × 300"):
                    continue
                r = in_subprocess(case, backend, path)
                if r is not None:
                    rows.append(r)
    print(f"## Calibration — {dt.date.today()} on {platform.node()} ({machine()})\n")
    print("2PL; time is the fit alone; RSS before fit = interpreter, libraries and the "
          "loaded data; peak RSS = the whole worker process; RMSE against the true "
          "parameters.\n")
    print("| data | filled | backend | seconds | iterations | RSS before fit MiB "
          "| peak RSS MiB | RMSE a | RMSE b |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        it = "" if r["iterations"] is None else str(r["iterations"])
        print(f"| {r['case']} | {r['filled']:.0%} | {r['backend']} | {r['seconds']:.1f} "
              f"| {it} | {r['rss_before_mib']:.0f} | {r['rss_peak_mib']:.0f} "
              f"| {r['rmse_a']:.3f} | {r['rmse_b']:.3f} |")
    by = {(r["case"], r["backend"]): r for r in rows}
    for (case, backend), r in by.items():
        ref = by.get((case, "mml"))
        if backend != "mml" and ref is not None:
            da = np.max(np.abs(np.subtract(r["a"], ref["a"])))
            db = np.max(np.abs(np.subtract(r["b"], ref["b"])))
            print(f"\n{backend} vs mml on {case}: max |Δa| = {da:.3f}, max |Δb| = {db:.3f}")


if __name__ == "__main__":
    main()
