"""Programme rules: tracks, weekly priors, flags; and the simulated 20-week programme."""

import numpy as np
import pytest

from lang_assess.levels import CutScores
from lang_assess.programme import (
    ProgrammeConfig,
    participant_flags,
    prob_above_next_cut,
    suggest_track,
    weekly_prior,
)
from lang_assess.simulate import move_up_flag_accuracy, simulate_weekly

CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))
CFG = ProgrammeConfig()


@pytest.mark.parametrize(
    ("years", "literate", "higher", "track"),
    [(0, None, False, 1), (8, False, False, 1), (4, None, False, 1), (4, True, False, 2),
     (9, None, False, 2), (None, None, False, 2), (13, True, False, 3), (10, True, True, 3)],
)
def test_track_rule(years, literate, higher, track):
    assert suggest_track(years, literate, higher, CFG) == track


def test_weekly_prior_moves_by_expected_growth_and_widens():
    mean, sd = weekly_prior(0.4, 0.3, 2, CFG)
    assert mean == pytest.approx(0.4 + 2 * CFG.expected_growth)
    assert sd == pytest.approx(np.sqrt(0.09 + 2 * CFG.growth_sd**2))


def test_ready_needs_two_consecutive_confident_weeks_above_the_course_level():
    a2 = CUTS.labels.index("A2")  # the cut above A2 is 0.0
    sure = 0.0 + 1.0 * 0.3  # P(θ > 0) ≈ 0.84 at SE 0.3
    assert prob_above_next_cut(sure, 0.3, CUTS, a2) > 0.8

    def flags(history, level=a2):
        return participant_flags(history, CUTS, CFG, course_level=level, current_week=9,
                                 days_since_last_test=2)

    assert flags([(7, sure, 0.3), (8, sure, 0.3)]).ready_to_move_up
    assert not flags([(6, sure, 0.3), (8, sure, 0.3)]).ready_to_move_up  # a week missing
    assert not flags([(7, -0.2, 0.3), (8, sure, 0.3)]).ready_to_move_up
    assert not flags([(7, sure, 0.3), (8, sure, 0.3)], level=a2 + 1).ready_to_move_up


def test_stalled_and_missed():
    flat = [(w, -0.5 - 0.01 * w, 0.3) for w in range(1, 6)]
    growing = [(w, -1.5 + 0.3 * w, 0.3) for w in range(1, 6)]
    f = participant_flags(flat, CUTS, CFG, course_level=2, current_week=5,
                          days_since_last_test=1)
    assert f.stalled and not f.missed
    g = participant_flags(growing, CUTS, CFG, course_level=1, current_week=5,
                          days_since_last_test=12)
    assert not g.stalled and g.missed


@pytest.fixture(scope="module")
def programme(nb_bank):
    """400 simulees over 20 weeks, three tracks with different start levels and growth."""
    rng = np.random.default_rng(41)
    n, weeks = 400, 20
    track = rng.integers(1, 4, n)
    start = np.choose(track - 1, [rng.normal(-2.0, 0.6, n), rng.normal(-0.8, 0.7, n),
                                  rng.normal(0.2, 0.8, n)])
    growth = np.choose(track - 1, [rng.uniform(0.02, 0.06, n), rng.uniform(0.04, 0.09, n),
                                   rng.uniform(0.06, 0.12, n)])
    truth = start[:, None] + growth[:, None] * np.arange(weeks)
    return simulate_weekly(nb_bank.params, nb_bank.design("placement"),
                           nb_bank.design("progress"), truth, seed=42, config=CFG)


def test_progress_tests_match_placement_accuracy_with_far_fewer_items(programme, nb_bank):
    cuts = nb_bank.cuts
    hit = cuts.level_index(programme.theta) == cuts.level_index(programme.true_theta)
    placement_acc, progress_acc = hit[:, 0].mean(), hit[:, 1:].mean()
    assert progress_acc >= placement_acc - 0.01
    assert programme.length[:, 1:].mean() <= 0.6 * programme.length[:, 0].mean()


def test_move_up_flag_rarely_fires_falsely_and_catches_growth(programme, nb_bank):
    """The issue's bar (≥ 80 % caught within two weeks of the true crossing) is not met:
    see docs/programme.md for why and for the figures; what is asserted here is what
    the rule does achieve, so a regression fails."""
    cuts = nb_bank.cuts
    two = move_up_flag_accuracy(programme, cuts, CFG, within_weeks=2)
    assert two["crossings"] > 300
    assert two["false_alarm_rate"] <= 0.05
    eight = move_up_flag_accuracy(programme, cuts, CFG, within_weeks=8)
    assert eight["share_caught"] > two["share_caught"] >= 0.25
