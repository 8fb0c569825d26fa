"""Run every benchmark and print one Markdown report (``make bench``)."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = [
    "bench_cat.py", "bench_concurrency.py", "bench_participants.py", "bench_dashboard.py",
    "bench_calibration.py", "bench_programme.py", "bench_serving.py", "bench_placement.py",
    "bench_item_supply.py", "bench_skill_levels.py", "bench_decisions.py",
]

if __name__ == "__main__":
    for name in BENCHMARKS:
        sys.argv = [name, *sys.argv[1:]]
        runpy.run_path(str(HERE / name), run_name="__main__")
