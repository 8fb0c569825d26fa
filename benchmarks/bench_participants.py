"""Thirty participants taking the test at once, each in its own process running the real
``ParticipantTestApp`` (as a Voila kernel does), on the embedded SQLite database.

30 Chromium contexts do not fit in 2 cores, so the widget is driven in the kernel-side
process directly (``app.login()``, ``app.pick()``, ``app.submit()``) rather than through
a browser: the figures are the kernel's work per click, without Voila's websocket hop.
Each participant thinks 1-3 s per item.  Run: ``.venv/bin/python
benchmarks/bench_participants.py [--seconds 120]`` (``make bench`` runs it).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def participant(data: str, code: str, seconds: float, seed: int, fd: int) -> None:
    t0 = time.perf_counter()
    os.environ["LANG_ASSESS_DATA"] = data
    out = {"first_item_s": None, "ready_s": None, "rss_mb": None, "answer_ms": [],
           "errors": []}
    try:
        import psutil

        from lang_assess.ui.test_app import make_app  # what a kernel runs

        app = make_app()
        out["ready_s"] = time.perf_counter() - t0  # a preheated Voila kernel is here
        out["rss_mb"] = psutil.Process().memory_info().rss / 2**20
        t0 = time.perf_counter()
        app.choose_language("ar")
        app.code_box.value = code
        app.login()
        app.practice("sol")
        app.show_item()
        out["first_item_s"] = time.perf_counter() - t0
        rng = np.random.default_rng(seed)
        end = time.monotonic() + seconds
        while app.view is not None and time.monotonic() < end:
            time.sleep(rng.uniform(1.0, 3.0))  # reading and thinking
            for o in app.view.options:
                app.pick(o.id)
                if app.view.type != "ordering":
                    break
            t = time.perf_counter()
            app.submit()
            out["answer_ms"].append((time.perf_counter() - t) * 1e3)
    except Exception as exc:
        out["errors"].append(f"{type(exc).__name__}: {exc}")
    finally:
        os.write(fd, json.dumps(out).encode())
        os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--participants", type=int, default=30)
    args = parser.parse_args()
    from programme_helpers import new_programme

    from lang_assess.bank.loader import load_bank

    with tempfile.TemporaryDirectory() as data:
        bank = load_bank(REPO / "item_bank" / "nb")
        people = new_programme(f"sqlite:///{data}/lang_assess.sqlite", bank,
                               args.participants, prefix="bench-")
        children = []
        for k, person in enumerate(people):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                participant(data, person.code, args.seconds, k, w)
            os.close(w)
            children.append((pid, r))
        results = []
        for pid, r in children:
            with os.fdopen(r, "rb") as pipe:
                results.append(json.loads(pipe.read() or b"{}"))
            os.waitpid(pid, 0)
    answers = np.array([ms for r in results for ms in r.get("answer_ms", [])])
    first = np.array([r["first_item_s"] for r in results if r.get("first_item_s")])
    ready = np.array([r["ready_s"] for r in results if r.get("ready_s")])
    rss = np.array([r["rss_mb"] for r in results if r.get("rss_mb")])
    errors = [e for r in results for e in r.get("errors", [])]
    print("\n### Participant test, 30 at once (kernel-side, SQLite, 1-3 s think time)\n")
    print("| participants | answers | errors | answer→next item p50 ms | p95 ms | max ms "
          "| code→first item p50 s | max s | cold kernel ready p50 s | max s | kernel MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {len(results)} | {answers.size} | {len(errors)} | {np.percentile(answers, 50):.1f} "
          f"| {np.percentile(answers, 95):.1f} | {answers.max():.0f} "
          f"| {np.percentile(first, 50):.2f} | {first.max():.2f} "
          f"| {np.percentile(ready, 50):.1f} | {ready.max():.1f} | {rss.mean():.0f} |")
    for e in errors[:5]:
        print("-", e)


if __name__ == "__main__":
    main()
