"""Is the bank big enough for a year of weekly tests, and are enemies kept apart?

Run with ``.venv/bin/python benchmarks/bench_item_supply.py`` (also part of ``make
bench``).  Prints the Markdown tables of docs/bank/item_bank.md ("Enough items for weekly
tests"): items per level and skill against the bank's content targets; a programme of 400
learners in the three tracks with a placement test and 40 weekly tests (the weekly design
and the programme's rules: exclusion window, enemies); 10,000 placement tests with and
without the enemy sets.
"""

from __future__ import annotations

import datetime as dt
import platform
import time

import numpy as np

from lang_assess.bank.lint import lint_bank
from lang_assess.bank.loader import load_bank
from lang_assess.engine.simulate import simulate
from lang_assess.programme.rules import load_config
from lang_assess.programme.simulation import programme_cohort, simulate_programme

BANK = "item_bank/nb"
WEEKS = 40


def main() -> None:
    bank = load_bank(BANK)
    config = load_config()
    machine = platform.processor() or platform.machine()
    print(f"## Item supply — {dt.date.today()}, {machine}, Python "
          f"{platform.python_version()}\n")

    print("| level | " + " | ".join(("reading", "listening", "vocabulary", "grammar",
                                      "literacy")) + " |")
    print("| --- " * 6 + "|")
    for level, targets in bank.config.content_targets.items():
        cells = []
        for skill in ("reading", "listening", "vocabulary", "grammar", "literacy"):
            have = sum(it.level == level and it.skill == skill for it in bank.items.values())
            need = targets.get(skill)
            cells.append(f"{have} / {need}" if need else (str(have) if have else "–"))
        print(f"| {level} | " + " | ".join(cells) + " |")
    print("\n(items / target)\n")

    index = {i: k for k, i in enumerate(bank.item_ids)}
    pairs = np.array([[index[a], index[b]] for a, b in bank.enemies
                      if a in index and b in index]).reshape(-1, 2)
    _, _, truth = programme_cohort(81, n=400, weeks=WEEKS + 1)
    start = time.perf_counter()
    # placement as the service starts it: the track's prior, Track 1 routed
    _, result = simulate_programme(
        bank.params, bank.design("placement"), bank.design("progress"), seed=81,
        config=config, n=400, weeks=WEEKS + 1,
        placement_routed=bank.design("placement", routing=True), enemies=bank.enemies)
    took = time.perf_counter() - start
    exposure = result.weekly_exposure(bank.params.n_items)[1:]
    err = result.theta[:, 1:] - truth[:, 1:]
    print(f"Weekly programme: 400 learners, placement + {WEEKS} weekly tests "
          f"({took:.0f} s):\n")
    print("| figure | value |\n| --- | --- |")
    print(f"| exclusion window (`exclude_weeks`) | {config.exclude_weeks} weeks |")
    print(f"| shortest gap between two meetings of one item | {result.shortest_repeat_gap():g}"
          " weeks |")
    print(f"| largest share of one week's tests given one item | {exposure.max():.3f} "
          f"(cap {config.max_exposure}) |")
    print(f"| mean of each week's largest share | {exposure.max(axis=1).mean():.3f} |")
    print(f"| weekly test length, mean (min–max) | {result.length[:, 1:].mean():.1f} "
          f"({result.length[:, 1:].min()}–{result.length[:, 1:].max()}) |")
    print(f"| weekly RMSE against the true θ | {np.sqrt(np.mean(err ** 2)):.3f} |")
    print(f"| learners given both items of an enemy pair ({len(pairs)} pairs) | "
          f"{result.enemy_meetings(pairs, bank.params.n_items)} |")

    thetas = np.random.default_rng(83).normal(-0.3, 1.3, 10_000)
    counts = []
    for enemies in ((), bank.enemies):
        r = simulate(bank.params, bank.design("placement"), thetas, seed=84, oracle=False,
                     enemies=enemies)
        given = np.zeros((r.n, bank.params.n_items), dtype=bool)
        rows, cols = np.nonzero(r.items >= 0)
        given[rows, r.items[rows, cols]] = True
        counts.append(int(np.sum(given[:, pairs[:, 0]] & given[:, pairs[:, 1]])))
    print(f"\n10,000 placement tests: tests with both items of an enemy pair: {counts[0]} "
          f"without the enemy sets, {counts[1]} with them.\n")

    report = lint_bank(BANK)
    print(f"Lint: {len(report.errors)} errors, {len(report.findings) - len(report.errors)} "
          "warnings.\n")
    print("| level | key longest | key shortest | chance | keys / distractors copied | "
          "hedges keys / distractors |\n| --- | --- | --- | --- | --- | --- |")
    for lv, s in report.levels.items():
        copied = (f"{s['copied_key']:.0%} / {s['copied_distractor']:.0%}"
                  if "copied_key" in s else "–")
        hedges = (f"{s['hedge_key']:.0%} / {s['hedge_distractor']:.0%}"
                  if "hedge_key" in s else "–")
        print(f"| {lv} | {s['key_longest']:.0%} | {s['key_shortest']:.0%} | "
              f"{s['chance']:.0%} | {copied} | {hedges} |")


if __name__ == "__main__":
    main()
