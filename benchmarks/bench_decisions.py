"""Weekly decisions (issue 15): waiting weeks and premature moves against weekly test
length and against the term-based baseline; the stalled flag against its bound.

Run with ``.venv/bin/python benchmarks/bench_decisions.py [--n N]`` (also part of
``make bench``).  Prints the Markdown tables of docs/programme/programme.md, "Weekly
decisions": one intake of N learners over 40 weeks (programme.decisions.learner_paths),
answers drawn from the bank's parameters ("model") and from parameters with calibration
error and 3 % slips ("misfit": answers the scoring model did not produce).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import time

import numpy as np

from lang_assess.bank.loader import load_bank
from lang_assess.engine.answers import ResponseModel, with_calibration_error
from lang_assess.programme.decisions import (
    compare_rules,
    idealised_moves,
    learner_paths,
    simulate_term_rule,
    waiting_weeks,
    weekly_designs,
)
from lang_assess.programme.rules import load_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=40)
    args = parser.parse_args()
    bank = load_bank("item_bank/nb")
    config = load_config()
    answers = {"model": None, "misfit": ResponseModel(
        with_calibration_error(bank.params, np.random.default_rng(3)), slip=0.03)}
    print(f"{platform.node()} {platform.processor() or platform.machine()}, "
          f"{dt.date.today()}, N = {args.n}, {args.weeks} weeks, "
          f"move up at P ≥ {config.ready_probability}, stalled at z < {config.stalled_z}\n")
    print("| weekly test (items) | answers | mean items | mean / median / p90 wait (weeks) "
          "| % of term baseline | premature moves | term baseline wait | term premature "
          "| own SE (median) | bound: % of its baseline, premature |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    stalled = {}
    designed = bank.design("progress").stop
    for label, overrides in (("5 (fixed)", {"min_items": 5, "max_items": 5}),
                             ("8 (fixed)", {"min_items": 8, "max_items": 8}),
                             ("12 (fixed)", {"min_items": 12, "max_items": 12}),
                             ("5-8", {"max_items": 8}), ("5-12", {"max_items": 12}),
                             (f"{designed.min_items}-{designed.max_items} (bank.yaml)", {}),
                             ("5-30 (a longer test)", {"max_items": 30})):
        for name, respond in answers.items():
            t = time.perf_counter()
            o = compare_rules(bank, config, n=args.n, weeks=args.weeks, seed=1,
                              respond=respond, current="bank" in label, **overrides)
            ideal_term = o["idealised_term_baseline_mean_wait_weeks"]
            print(f"| {label} | {name} | {o['mean_weekly_items']:.1f} | "
                  f"{o['mean_wait_weeks']:.2f} / {o['median_wait_weeks']:.0f} / "
                  f"{o['p90_wait_weeks']:.0f} | "
                  f"{o['mean_wait_weeks'] / o['term_baseline_mean_wait_weeks']:.0%} | "
                  f"{o['premature_move_rate']:.1%} ({o['premature_moves']}/{o['moves']}) | "
                  f"{o['term_baseline_mean_wait_weeks']:.2f} | "
                  f"{o['term_baseline_premature_move_rate']:.1%} | "
                  f"{o['weekly_own_se_median']:.2f} | "
                  f"{o['idealised_mean_wait_weeks'] / ideal_term:.0%}, "
                  f"{o['idealised_premature_move_rate']:.1%} |", flush=True)
            if "bank" in label:
                stalled[name] = o
                share = o["current_rule_mean_wait_weeks"] / o["term_baseline_mean_wait_weeks"]
                print(f"| current rule (P ≥ 0.8 twice, SE-target test) | {name} | "
                      f"{o['current_rule_mean_weekly_items']:.1f} | "
                      f"{o['current_rule_mean_wait_weeks']:.2f} / "
                      f"{o['current_rule_median_wait_weeks']:.0f} / "
                      f"{o['current_rule_p90_wait_weeks']:.0f} | "
                      f"{share:.0%}"
                      f" | {o['current_rule_premature_move_rate']:.1%} | | | | |", flush=True)
            print(f"<!-- {label} {name}: {time.perf_counter() - t:.0f} s -->", flush=True)
    print("\nThe move-up threshold on the bank.yaml design (P ≥ p in one week):\n")
    print("| P ≥ | answers | mean items | mean wait | % of term baseline | premature |")
    print("| --- | --- | --- | --- | --- | --- |")
    for p in (0.80, 0.86, 0.90, 0.93, 0.96):
        for name, respond in answers.items():
            o = compare_rules(bank, dataclasses.replace(config, ready_probability=p),
                              n=args.n, weeks=args.weeks, seed=1, respond=respond)
            print(f"| {p:.2f} | {name} | {o['mean_weekly_items']:.1f} | "
                  f"{o['mean_wait_weeks']:.2f} | "
                  f"{o['mean_wait_weeks'] / o['term_baseline_mean_wait_weeks']:.0%} | "
                  f"{o['premature_move_rate']:.1%} |", flush=True)
    print("\nThe bound: the same rule on unbiased weekly measurements of known SE (no "
          "guessing, misfit or item supply), P ≥ p in one week; % of the term baseline "
          "(on these start levels), premature moves\n")
    learners = learner_paths(1, args.n, args.weeks)
    term = simulate_term_rule(bank.params, weekly_designs(bank, config, decision=False),
                              learners, bank.cuts, seed=2, config=config)
    ps = (0.86, 0.90, config.ready_probability, 0.96)
    print("| weekly SE | " + " | ".join(f"P ≥ {p:.2f}" for p in ps) + " |")
    print("| --- |" + " --- |" * len(ps))
    for se in (0.65, 0.45, 0.35, 0.25, 0.15):
        cells = []
        for p in ps:
            moves, start = idealised_moves(learners, bank.cuts,
                                           dataclasses.replace(config, ready_probability=p),
                                           weekly_se=se, seed=2)
            w = waiting_weeks(moves, learners.truth, start, bank.cuts)
            t = waiting_weeks(term, learners.truth, start, bank.cuts)
            cells.append(f"{w['mean_wait_weeks'] / t['mean_wait_weeks']:.0%}, "
                         f"{w['premature_move_rate']:.1%}")
        print(f"| {se:.2f} | " + " | ".join(cells) + " |", flush=True)
    print("\nStalled (bank.yaml design): sensitivity within 4 / 6 / 8 weeks of stalling and "
          "false flags on growing learner-weeks; the idealised bound at the same false-flag "
          "rate\n")
    print("| answers | rule: 4 / 6 / 8 weeks | false flags | bound: 4 / 6 / 8 weeks | "
          "rule ÷ bound at 6 weeks |")
    print("| --- | --- | --- | --- | --- |")
    for name, o in stalled.items():
        print(f"| {name} | {o['stalled_sensitivity']:.0%} / {o['stalled_sensitivity_6']:.0%}"
              f" / {o['stalled_sensitivity_8']:.0%} | {o['stalled_false_rate']:.1%} | "
              f"{o['idealised_stalled_sensitivity']:.0%} / "
              f"{o['idealised_stalled_sensitivity_6']:.0%} / "
              f"{o['idealised_stalled_sensitivity_8']:.0%} | "
              f"{o['stalled_sensitivity_6'] / o['idealised_stalled_sensitivity_6']:.0%} |")


if __name__ == "__main__":
    main()
