"""The simulated 20-week programme: weekly accuracy, move-up and stalled flags.

Run with ``.venv/bin/python benchmarks/bench_programme.py`` (also part of ``make
bench``).  Prints the Markdown tables of docs/programme/programme.md.  Two intakes of 400
simulees: the first on the config's default growth prior, the second on the tracks'
growth priors estimated from the first's first six weeks (as the service does once a
track has 20 learners with 6 weekly tests).  Also:
the flag rule's thresholds side by side, the same rule on an idealised weekly estimate
of known precision, and the stalled flag on learners who stop growing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform

import numpy as np

from lang_assess.bank.loader import Bank, load_bank
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.levels import CutScores
from lang_assess.programme.growth import GrowthPrior
from lang_assess.programme.rules import PlacementPrior, ProgrammeConfig, participant_flags
from lang_assess.programme.simulation import (
    WeeklyResult,
    move_up_flag_accuracy,
    programme_cohort,
    simulate_programme,
    track_growth_priors,
    track_placement_priors,
)

CONFIG = ProgrammeConfig()


PLACEMENT_PRIORS: dict[int, PlacementPrior] = {}  # learnt from the first intake


def run(bank: Bank, seed: int, priors: dict[int, GrowthPrior] | None = None,
        progress: TestDesign | None = None, stall_share: float = 0.0
        ) -> tuple[np.ndarray, WeeklyResult]:
    """An intake as the service runs it: after the first, the placement starts from each
    track's prior learnt from the first intake's placements."""
    return simulate_programme(bank.params, bank.design("placement"),
                              progress or bank.design("progress"), seed=seed, config=CONFIG,
                              priors=priors, stall_share=stall_share,
                              placement_routed=bank.design("placement", routing=True),
                              placement_priors=PLACEMENT_PRIORS or None, enemies=bank.enemies)


def accuracy_row(name: str, result: WeeklyResult, cuts: CutScores) -> str:
    hit = cuts.level_index(result.theta) == cuts.level_index(result.true_theta)
    err = result.theta[:, 1:] - result.true_theta[:, 1:]
    return (f"| {name} | {hit[:, 0].mean():.3f} ({result.length[:, 0].mean():.1f} items) | "
            f"{hit[:, 1:].mean():.3f} ({result.length[:, 1:].mean():.1f} items) | "
            f"{err.mean():+.3f} | {np.sqrt(np.mean(err**2)):.3f} | "
            f"{result.se[:, 1:].mean():.3f} |")


def flag_cell(result: WeeklyResult, cuts: CutScores, config: ProgrammeConfig = CONFIG,
              **kw: int) -> tuple[str, str]:
    a = move_up_flag_accuracy(result, cuts, config, **kw)
    return (f"{a['share_caught']:.0%} ({a['caught_within']}/{a['crossings']})",
            f"{a['false_alarm_rate']:.2%}")


def stalled_rates(result: WeeklyResult, cuts: CutScores, weeks: int) -> tuple[float, float]:
    """Share of simulee-weeks flagged stalled among truly stalled (no true growth over
    ``weeks`` weeks) and among growing learners."""
    flagged_stalled, flagged_growing = [], []
    n_sim, n_weeks = result.theta.shape
    for p in range(n_sim):
        for w in range(weeks + 1, n_weeks):
            history = [(k, result.theta[p, k], result.se[p, k]) for k in range(1, w + 1)]
            f = participant_flags(history, cuts, CONFIG, course_level=None, current_week=w,
                                  days_since_last_test=0)
            stalled = result.true_theta[p, w] - result.true_theta[p, w - weeks] < 1e-9
            (flagged_stalled if stalled else flagged_growing).append(f.stalled)
    return float(np.mean(flagged_stalled)), float(np.mean(flagged_growing))


def main() -> None:
    bank = load_bank("item_bank/nb")
    cuts = bank.cuts
    machine = platform.processor() or platform.machine()
    print(f"## Programme simulation — {dt.date.today()}, {machine}, "
          f"Python {platform.python_version()}\n")
    track_a, first = run(bank, 41)
    _, true_growth, _ = programme_cohort(41)
    print("Growth priors learnt from the first intake (logits a week, mean ± SD):\n")
    print("| | Track 1 | Track 2 | Track 3 |\n| --- | --- | --- | --- |")
    print("| true | " + " | ".join(f"{true_growth[track_a == t].mean():.3f} ± "
                                   f"{true_growth[track_a == t].std():.3f}" for t in (1, 2, 3))
          + " |")
    for week in (6, 12, 19):
        learnt = track_growth_priors(track_a, first, CONFIG, week=week)
        print(f"| after {week} weekly tests | " + " | ".join(
            f"{p.mean:.3f} ± {p.sd:.3f}" for p in learnt.values()) + " |")
    priors = track_growth_priors(track_a, first, CONFIG, week=6)
    PLACEMENT_PRIORS.update(track_placement_priors(track_a, first, CONFIG))
    print("\nPlacement priors learnt from the first intake's placements (logits): " + ", ".join(
        f"Track {t} N({p.mean:.2f}, {p.sd:.2f}²)" for t, p in PLACEMENT_PRIORS.items()))
    _, second = run(bank, 43, priors)
    _, second_default = run(bank, 43)
    print("\n| intake | placement accuracy | weekly accuracy | weekly bias | weekly RMSE | "
          "weekly SE |\n| --- | --- | --- | --- | --- | --- |")
    print(accuracy_row("first, default growth prior", first, cuts))
    print(accuracy_row("second, default growth prior", second_default, cuts))
    print(accuracy_row("second, growth priors from the first's 6 weeks", second, cuts))

    print("\nReady to move up (P ≥ 0.8 in two consecutive weeks), second intake:\n")
    print("| caught | default prior | priors from data |\n| --- | --- | --- |")
    for label, kw in [("in the crossing week or ≤ 2 weeks after", {}),
                      ("within ± 2 weeks of the crossing", {"early_weeks": 2}),
                      ("≤ 4 weeks after", {"within_weeks": 4}),
                      ("≤ 8 weeks after", {"within_weeks": 8})]:
        print(f"| {label} | {flag_cell(second_default, cuts, **kw)[0]} | "
              f"{flag_cell(second, cuts, **kw)[0]} |")
    print(f"| false alarms per simulee-week | {flag_cell(second_default, cuts)[1]} | "
          f"{flag_cell(second, cuts)[1]} |")

    print("\nThe rule's thresholds (second intake, priors from data): caught ≤ 2 weeks "
          "after the crossing / false alarms\n")
    print("| P(above the cut) ≥ | one week | two consecutive weeks |\n| --- | --- | --- |")
    for prob in (0.5, 0.6, 0.7, 0.8, 0.9):
        cells = [" / ".join(flag_cell(second, cuts, dataclasses.replace(
            CONFIG, ready_probability=prob, ready_consecutive=k))) for k in (1, 2)]
        print(f"| {prob} | {cells[0]} | {cells[1]} |")

    print("\nThe same rule on an idealised weekly estimate: unbiased, normal error with "
          "this SE, independent from week to week (second intake's true θ):\n")
    print("| weekly SE | caught ≤ 2 weeks after | false alarms |\n| --- | --- | --- |")
    noise = np.random.default_rng(7).standard_normal(second.true_theta.shape)
    for se in (0.30, 0.20, 0.15, 0.10, 0.07, 0.05):
        theta = second.true_theta + se * noise
        theta[:, 0] = second.true_theta[:, 0]  # placed at the true level
        ideal = WeeklyResult(second.true_theta, theta, np.full(theta.shape, se),
                             second.length, second.items)
        caught, false = flag_cell(ideal, cuts)
        print(f"| {se:.2f} | {caught} | {false} |")

    longer = dataclasses.replace(bank.design("progress"), stop=dataclasses.replace(
        bank.design("progress").stop, min_items=10))
    _, ten = run(bank, 43, priors, progress=longer)
    print("\nLonger weekly tests (at least 10 items), second intake, priors from data:\n")
    print("| weekly test | weekly accuracy | caught ≤ 2 weeks | false alarms |\n"
          "| --- | --- | --- | --- |")
    for name, r in (("5–15 items (default)", second), ("10–15 items", ten)):
        hit = cuts.level_index(r.theta[:, 1:]) == cuts.level_index(r.true_theta[:, 1:])
        caught, false = flag_cell(r, cuts)
        print(f"| {name}, mean {r.length[:, 1:].mean():.1f} | {hit.mean():.3f} | {caught} | "
              f"{false} |")

    _, mixed = run(bank, 45, priors, stall_share=0.3)
    on_stalled, on_growing = stalled_rates(mixed, cuts, CONFIG.stalled_weeks)
    print(f"\nStalled flag (30 % of learners stop growing in week 4–12; stalled_z = "
          f"{CONFIG.stalled_z}): flagged in {on_stalled:.0%} of truly stalled "
          f"simulee-weeks and {on_growing:.0%} of growing ones.")


if __name__ == "__main__":
    main()
