"""Thirty participants answering at once on the embedded SQLite database for five minutes.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_concurrency.py
[--seconds 300]``); prints a Markdown row for docs/benchmarks.md.  The test suite runs the
same driver for a few seconds (tests/programme/test_concurrency.py).
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.concurrency import run_concurrent

from lang_assess.bank.loader import load_bank


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="20 seconds")
    args = parser.parse_args()
    seconds = 20.0 if args.quick else args.seconds
    bank = load_bank(Path(__file__).resolve().parent.parent / "item_bank" / "nb")
    with tempfile.TemporaryDirectory() as tmp:
        r = run_concurrent(f"sqlite:///{tmp}/bench.sqlite", bank,
                           participants=args.participants, seconds=seconds)
    print("\n### SQLite, concurrent participants (answer → next item, in the service)\n")
    print("| participants | seconds | answers stored / acknowledged | lock errors | duplicates "
          "| answers/s | p50 ms | p95 ms | max ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {r['participants']} | {r['seconds']:.0f} | {r['answers_stored']} / "
          f"{r['answers_acknowledged']} | {len(r['errors'])} | {r['duplicates']} "
          f"| {r['answers_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
          f"| {r['max_ms']:.0f} |")
    if r["errors"]:
        print("\nErrors:", *r["errors"][:10], sep="\n- ")


if __name__ == "__main__":
    main()
