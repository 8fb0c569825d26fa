"""The shipped bank with v0 parameters: placement accuracy at each CEFR level, and the
weekly programme never repeats an item within four weeks."""


import numpy as np
import pytest
from support import REPO

from lang_assess.bank.loader import load_bank
from lang_assess.engine.simulate import simulate
from lang_assess.programme.rules import load_config
from lang_assess.programme.simulation import simulate_weekly

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
    assert abs(figures["bias"]) <= 0.15, figures  # issue 13's per-track bar
    assert figures["cefr_accuracy"] >= 0.65, figures  # two in three at their own level
    assert figures["mean_length"] <= 1.15 * figures["mean_oracle_length"], figures


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
