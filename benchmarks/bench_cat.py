"""CAT engine speed: step latency, simulation throughput, and catsim side by side.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_cat.py``).  Prints a
Markdown report to paste into docs/benchmarks.md; ``--quick`` runs small sizes only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time

import numpy as np

from lang_assess.engine.cat import CATSession, placement_design
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.cat.estimators import MLEEstimator
from lang_assess.engine.cat.select import ItemSelector, MaxInformation, Randomesque
from lang_assess.engine.cat.stop import StandardErrorTarget, StopRule
from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.simulate import simulate, synthetic_bank


def step_latency(n_items: int, n_tests: int, seed: int = 0) -> dict[str, float]:
    """Wall time of one CAT step (select the next item + record the answer) in a session."""
    bank = synthetic_bank(n_items, seed=seed)
    design = placement_design()
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    CATSession(bank, design, seed=0).next_item()  # one-off: information grid for the bank
    warmup_ms = (time.perf_counter() - t0) * 1e3
    times = []
    for t in range(n_tests):
        truth = rng.normal()
        session = CATSession(bank, design, seed=t)
        while True:
            start = time.perf_counter()
            item = session.next_item()
            if item is None:
                break
            i = bank.index_of([item])
            score = int(rng.random() < paired_probabilities(np.array([truth]), bank, i)[0, 1])
            session.answer(item, score)
            times.append(time.perf_counter() - start)
    ms = np.array(times) * 1e3
    return {
        "items": n_items,
        "steps": ms.size,
        "median_ms": float(np.median(ms)),
        "p99_ms": float(np.percentile(ms, 99)),
        "first_use_ms": warmup_ms,
    }


def catsim_side_by_side(n_items: int, n_sim: int, seed: int = 0) -> dict[str, float]:
    """Same bank, same simulees: catsim's Simulator against lang_assess.engine.simulate."""
    from catsim.estimation import NumericalSearchEstimator
    from catsim.initialization import FixedPointInitializer
    from catsim.selection import RandomesqueSelector
    from catsim.simulation import Simulator
    from catsim.stopping import MinErrorStopper

    bank = synthetic_bank(n_items, seed=seed)
    thetas = np.random.default_rng(seed + 1).normal(size=n_sim)
    items = np.column_stack([bank.a, bank.b, bank.c, np.ones(n_items)])

    t0 = time.perf_counter()
    sim = Simulator(items, thetas, seed=seed)
    sim.simulate(FixedPointInitializer(0.0), RandomesqueSelector(5),
                 NumericalSearchEstimator(), MinErrorStopper(0.30, min_items=5, max_items=30))
    catsim_s = time.perf_counter() - t0
    catsim_len = float(np.mean([len(x) for x in sim.administered_items]))
    catsim_rmse = float(np.sqrt(np.mean((np.array(sim.latest_estimations) - thetas) ** 2)))

    # like for like: MLE, max information, randomesque 5, SE ≤ 0.30 in 5..30 items
    mle_design = TestDesign(
        estimator=MLEEstimator(),
        selector=ItemSelector(criterion=MaxInformation(), randomesque=Randomesque(5)),
        stop=StopRule(5, 30, (StandardErrorTarget(0.30),)),
    )
    out = {"items": n_items, "simulees": n_sim, "catsim_s": catsim_s,
           "catsim_per_s": n_sim / catsim_s, "catsim_mean_length": catsim_len,
           "catsim_rmse": catsim_rmse}
    for name, design in (("mle", mle_design), ("eap", placement_design())):
        t0 = time.perf_counter()
        res = simulate(bank, design, thetas, seed=seed, oracle=False)
        secs = time.perf_counter() - t0
        s = res.summary()
        out |= {f"{name}_s": secs, f"{name}_per_s": n_sim / secs,
                f"{name}_mean_length": s["mean_length"], f"{name}_rmse": s["rmse"],
                f"{name}_ratio": catsim_s / secs}
    return out


def throughput(n_items: int, n_sim: int, seed: int = 0) -> dict[str, float]:
    """Simulees per second through the placement design, with and without the oracle."""
    bank = synthetic_bank(n_items, seed=seed)
    thetas = np.random.default_rng(seed + 1).normal(size=n_sim)
    t0 = time.perf_counter()
    simulate(bank, placement_design(), thetas, seed=seed, oracle=False)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate(bank, placement_design(), thetas, seed=seed)
    with_oracle = time.perf_counter() - t0
    return {"items": n_items, "simulees": n_sim, "per_s": n_sim / plain,
            "per_s_with_oracle": n_sim / with_oracle}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [(500, 200), (5_000, 100), (50_000, 20)] if not args.quick else [(500, 20)]
    print(f"## CAT engine — {dt.date.today()} on {platform.node()} "
          f"({platform.processor() or platform.machine()}, Python {platform.python_version()})")
    print("\n### Step latency (one CATSession step: next_item + answer)\n")
    print("| bank items | steps timed | median ms | p99 ms | first use of a bank, ms |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n_items, n_tests in sizes:
        r = step_latency(n_items, n_tests)
        print(f"| {r['items']:,} | {r['steps']:,} | {r['median_ms']:.3f} | {r['p99_ms']:.3f} "
              f"| {r['first_use_ms']:.1f} |")
    print("\n### Simulation throughput (placement design)\n")
    print("| bank items | simulees | simulees/s | simulees/s with oracle run |")
    print("| ---: | ---: | ---: | ---: |")
    for n_items, n_sim in ([(500, 2000), (5_000, 2000)] if not args.quick else [(500, 200)]):
        r = throughput(n_items, n_sim)
        print(f"| {r['items']:,} | {r['simulees']:,} | {r['per_s']:,.0f} "
              f"| {r['per_s_with_oracle']:,.0f} |")
    rows = [catsim_side_by_side(n, m) for n, m in ([(500, 500)] if not args.quick else [(200, 50)])]
    print("\n### catsim 0.21 side by side (same process, bank and simulees)\n")
    print("| bank | simulees | catsim s (simulees/s) | lang_assess MLE s (simulees/s) | ratio "
          "| lang_assess EAP s (simulees/s) | ratio | mean length catsim / MLE / EAP "
          "| RMSE catsim / MLE / EAP |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        print(f"| {r['items']} | {r['simulees']} | {r['catsim_s']:.2f} ({r['catsim_per_s']:.0f}) "
              f"| {r['mle_s']:.3f} ({r['mle_per_s']:,.0f}) | {r['mle_ratio']:.0f}× "
              f"| {r['eap_s']:.3f} ({r['eap_per_s']:,.0f}) | {r['eap_ratio']:.0f}× "
              f"| {r['catsim_mean_length']:.1f} / {r['mle_mean_length']:.1f} / "
              f"{r['eap_mean_length']:.1f} | {r['catsim_rmse']:.3f} / {r['mle_rmse']:.3f} / "
              f"{r['eap_rmse']:.3f} |")

if __name__ == "__main__":
    main()
