"""The shipped bank with v0 parameters: placement accuracy at each CEFR level; the weekly
programme never repeats an item within its exclusion window, keeps exposure under the
weekly cap, and never gives one person two enemy items (issue 17)."""


import numpy as np
import pytest
from support import REPO

from lang_assess.bank.loader import load_bank
from lang_assess.engine.simulate import simulate
from lang_assess.programme.rules import load_config
from lang_assess.programme.simulation import (
    programme_cohort,
    simulate_programme,
    simulate_weekly,
)

pytestmark = pytest.mark.slow

BANK = REPO / "item_bank" / "nb"
LEVELS = ("preA1", "A1", "A2", "B1", "B2")  # the levels the bank is written for


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


@pytest.fixture(scope="module")
def placement(bank):
    thetas = np.random.default_rng(31).normal(0.0, 1.0, 20_000)
    return simulate(bank.params, bank.design("placement"), thetas, seed=32, cuts=bank.cuts)


def test_placement_meets_the_engine_bar_overall(placement):
    """Issue 3's bar, as far as the bank allows since issue 13 put guessing (c = 1/k) in
    it: almost no simulee reaches SE 0.30 within 30 items even with the best items at the
    true θ (the information oracle), so RMSE ≤ 0.32 is out of reach (docs/decisions.md);
    the errors are as large as the SEs say, and the test is as short as the oracle's."""
    s = placement.summary()
    assert abs(s["bias"]) <= 0.05
    # the bank's bound, not the design's: the oracle itself needs nearly all 30 items
    assert s["mean_information_oracle_length"] >= 0.95 * 30
    assert s["rmse"] <= 1.1 * np.sqrt(np.mean(placement.se**2))
    assert s["mean_length"] <= 1.15 * s["mean_oracle_length"]


@pytest.mark.parametrize("level", LEVELS)
def test_placement_meets_the_engine_bar_at_each_level(placement, level):
    figures = placement.by_level()[level]
    assert figures["n"] >= 300
    # issue 13's per-track bar; pre-A1 is open below, where the bank has its floor and
    # c = 1/k flattens the likelihood: its ~475 simulees' bias moves between -0.08 and
    # -0.17 with the seed or the bank's revision (same simulees, seeds 32-34), so 0.20
    bar = 0.20 if level == "preA1" else 0.15
    assert abs(figures["bias"]) <= bar, figures
    assert figures["cefr_accuracy"] >= 0.65, figures  # two in three at their own level
    assert figures["mean_length"] <= 1.15 * figures["mean_oracle_length"], figures


def enemy_positions(bank):
    index = {i: k for k, i in enumerate(bank.item_ids)}
    return np.array([[index[a], index[b]] for a, b in bank.enemies
                     if a in index and b in index])


def test_ten_thousand_placement_tests_never_give_two_enemies(bank):
    """Acceptance 3, placement: with the bank's enemy sets no test holds both items of a
    pair; without them the same tests do (the pairs are items a test wants together)."""
    pairs = enemy_positions(bank)
    assert len(pairs) >= 6
    thetas = np.random.default_rng(51).normal(-0.3, 1.3, 10_000)

    def meetings(result):
        given = np.zeros((result.n, bank.params.n_items), dtype=bool)
        rows, cols = np.nonzero(result.items >= 0)
        given[rows, result.items[rows, cols]] = True
        return int(np.sum(given[:, pairs[:, 0]] & given[:, pairs[:, 1]]))

    design = bank.design("placement")
    assert meetings(simulate(bank.params, design, thetas, seed=52, oracle=False)) > 0
    kept = simulate(bank.params, design, thetas, seed=52, oracle=False, enemies=bank.enemies)
    assert meetings(kept) == 0


def test_forty_weekly_tests_never_give_one_person_two_enemies(bank):
    """Acceptance 3, weekly: 40 weekly tests after placement; the service's rule (recent
    items and the enemies of every item ever given are excluded) keeps every pair apart."""
    _, _, truth = programme_cohort(61, n=300, weeks=41)
    config = load_config()
    pairs = enemy_positions(bank)
    args = (bank.params, bank.design("placement"), bank.design("progress"), truth)
    free = simulate_weekly(*args, seed=62, config=config)
    kept = simulate_weekly(*args, seed=62, config=config, enemies=bank.enemies)
    assert free.enemy_meetings(pairs, bank.params.n_items) > 0
    assert kept.enemy_meetings(pairs, bank.params.n_items) == 0


def test_weekly_supply_for_forty_weeks(bank):
    """Acceptance 4, the simulation: 400 learners of the three tracks, a placement test
    started as the service starts it (the track's prior, Track 1 routed) and 40 weekly
    tests: no learner meets an item again within eight weeks, no item goes to more than
    the weekly cap of a week's tests, every test gets its minimum length, and no learner
    gets both items of an enemy pair."""
    config = load_config()
    assert config.exclude_weeks >= 8
    _, result = simulate_programme(
        bank.params, bank.design("placement"), bank.design("progress"), seed=71,
        config=config, n=400, weeks=41, placement_routed=bank.design("placement", routing=True),
        enemies=bank.enemies)
    assert result.shortest_repeat_gap() > 8
    assert result.weekly_exposure(bank.params.n_items)[1:].max() <= config.max_exposure
    assert np.all(result.length[:, 1:] >= bank.design("progress").stop.min_items)
    assert result.enemy_meetings(enemy_positions(bank), bank.params.n_items) == 0


def test_weekly_tests_never_repeat_an_item_within_four_weeks(bank):
    rng = np.random.default_rng(41)
    n, weeks = 300, 20
    start = rng.normal(-0.5, 1.0, n)
    growth = rng.uniform(0.0, 0.08, n)  # logits a week
    truth = start[:, None] + growth[:, None] * np.arange(weeks)
    result = simulate_weekly(bank.params, bank.design("placement"), bank.design("progress"),
                             truth, seed=42, config=load_config())
    assert result.items.shape[:2] == (n, weeks)
    assert np.all(result.length[:, 1:] >= 5)  # the bank never ran dry
    assert result.shortest_repeat_gap() > 4
    final_error = result.theta[:, -1] - truth[:, -1]
    assert np.sqrt(np.mean(final_error**2)) < 0.45
