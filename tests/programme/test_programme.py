"""Programme rules: tracks, weekly priors, flags; and the simulated 20-week programme."""

import numpy as np
import pytest

from lang_assess.engine.levels import CutScores
from lang_assess.programme.growth import start_trend
from lang_assess.programme.rules import (
    ProgrammeConfig,
    participant_flags,
    prob_above_next_cut,
    suggest_track,
    weekly_trend,
)
from lang_assess.programme.simulation import (
    move_up_flag_accuracy,
    programme_cohort,
    simulate_programme,
    track_growth_priors,
    track_placement_priors,
)

CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))
CFG = ProgrammeConfig()


@pytest.mark.parametrize(
    ("years", "literate", "higher", "track"),
    [(0, None, False, 1), (8, False, False, 1), (4, None, False, 1), (4, True, False, 2),
     (9, None, False, 2), (None, None, False, 2), (13, True, False, 3), (10, True, True, 3)],
)
def test_track_rule(years, literate, higher, track):
    assert suggest_track(years, literate, higher, CFG) == track


def test_weekly_prior_moves_by_the_learners_growth_and_widens():
    trend = start_trend(0.4, 0.3, 0.08, 0.04)
    mean, sd = weekly_trend(trend, 2, CFG).prior()
    assert mean == pytest.approx(0.4 + 2 * 0.08)
    # level + 2 weeks of growth uncertainty + 2 weeks of level drift + the growth drift
    # of the first week carried into the second
    assert sd == pytest.approx(np.sqrt(0.09 + 4 * 0.04**2 + 2 * CFG.level_drift_sd**2
                                       + CFG.growth_drift_sd**2))
    # a test in the same week as the last one still starts a week on (never narrower)
    assert weekly_trend(trend, 0, CFG).prior()[1] == pytest.approx(
        weekly_trend(trend, 1, CFG).prior()[1])


def test_ready_needs_consecutive_confident_weeks_above_the_course_level():
    a2 = CUTS.labels.index("A2")  # the cut above A2 is 0.0
    sure = 0.0 + 1.0 * 0.3  # P(θ > 0) ≈ 0.84 at SE 0.3
    assert prob_above_next_cut(sure, 0.3, CUTS, a2) > 0.8
    two = ProgrammeConfig(ready_probability=0.8, ready_consecutive=2)

    def flags(history, level=a2, config=two):
        return participant_flags(history, CUTS, config, course_level=level, current_week=9,
                                 days_since_last_test=2)

    assert flags([(7, sure, 0.3), (8, sure, 0.3)]).ready_to_move_up
    assert not flags([(6, sure, 0.3), (8, sure, 0.3)]).ready_to_move_up  # a week missing
    assert not flags([(7, -0.2, 0.3), (8, sure, 0.3)]).ready_to_move_up
    assert not flags([(7, sure, 0.3), (8, sure, 0.3)], level=a2 + 1).ready_to_move_up
    # the default: one week at P ≥ ready_probability (the posterior carries the trend)
    assert CFG.ready_consecutive == 1
    very = 0.0 + 1.7 * 0.3  # P ≈ 0.955
    f = flags([(8, very, 0.3)], config=CFG)
    assert f.ready_to_move_up and f.p_above == pytest.approx(0.955, abs=0.001)
    assert not flags([(8, sure, 0.3)], config=CFG).ready_to_move_up
    assert flags([(8, sure, 0.3)], config=CFG).p_above == pytest.approx(0.841, abs=0.001)
    top = flags([(8, 5.0, 0.3)], level=len(CUTS.cuts), config=CFG)
    assert not top.ready_to_move_up and top.p_above is None


def test_stalled_and_missed():
    flat = [(w, -0.5 - 0.1 * w, 0.3) for w in range(1, 9)]
    growing = [(w, -1.5 + 0.3 * w, 0.3) for w in range(1, 9)]
    f = participant_flags(flat, CUTS, CFG, course_level=2, current_week=8,
                          days_since_last_test=1)
    assert f.stalled and not f.missed
    g = participant_flags(growing, CUTS, CFG, course_level=1, current_week=8,
                          days_since_last_test=12)
    assert not g.stalled and g.missed


def run_intake(nb_bank, seed, priors=None, placement_priors=None):
    return simulate_programme(nb_bank.params, nb_bank.design("placement"),
                              nb_bank.design("progress"), seed=seed, config=CFG,
                              priors=priors, placement_priors=placement_priors,
                              placement_routed=nb_bank.design("placement", routing=True))


@pytest.fixture(scope="module")
def first_intake(nb_bank):
    """400 simulees over 20 weeks on the config's default growth prior: the programme
    before it has data of its own."""
    return run_intake(nb_bank, 41)


@pytest.fixture(scope="module")
def growth_priors(first_intake):
    """Each track's growth prior, estimated from the first intake after 6 weekly tests
    (when the service would first use them) and after 19."""
    track, result = first_intake
    return {week: track_growth_priors(track, result, CFG, week=week) for week in (6, 19)}


@pytest.fixture(scope="module")
def placement_priors(first_intake):
    """Each track's placement prior, learnt from the first intake's 400 placements."""
    return track_placement_priors(*first_intake, CFG)


@pytest.fixture(scope="module")
def programme(nb_bank, growth_priors, placement_priors):
    """The next 400 simulees, 20 weeks, with the growth priors learnt from the first
    intake's first six weeks (the next intake arrives while they are that far) and the
    placement priors learnt from its placements."""
    return run_intake(nb_bank, 43, growth_priors[6], placement_priors)[1]


def test_growth_priors_from_the_first_intake_tell_the_tracks_apart(first_intake,
                                                                    growth_priors):
    track = first_intake[0]
    _, true_growth, _ = programme_cohort(41)
    # week 6: six weekly tests after a placement that stops once the level is decided
    # and scores guessing (issue 13): its θ̂ anchors the slopes less tightly than an
    # SE-0.30 placement on a bank without guessing did (docs/decisions.md, issue 13)
    assert growth_priors[19][1].mean < growth_priors[19][2].mean < growth_priors[19][3].mean
    assert growth_priors[6][1].mean < growth_priors[6][3].mean
    for week, tolerance in ((6, 0.03), (19, 0.01)):
        priors = growth_priors[week]
        for t in (1, 2, 3):
            assert priors[t].n > 100
            assert priors[t].mean == pytest.approx(true_growth[track == t].mean(),
                                                   abs=tolerance)
    # 19 weeks of data: the spread of growth within a track is found too
    for t in (1, 2, 3):
        assert growth_priors[19][t].sd == pytest.approx(true_growth[track == t].std(),
                                                        abs=0.005)


def test_growth_priors_from_data_make_weekly_estimates_more_accurate(programme, nb_bank,
                                                                    placement_priors):
    """Same learners, same seeds: the default prior (one growth for all) lags fast
    learners; the tracks' priors from data cut the bias and catch more crossings, and
    CEFR accuracy stays within a point (priors from six weeks after a decision-stopped
    placement are rougher than they were: docs/decisions.md, issue 13)."""
    default = run_intake(nb_bank, 43, None, placement_priors)[1]
    cuts = nb_bank.cuts

    def accuracy(r):
        return np.mean(cuts.level_index(r.theta[:, 1:]) == cuts.level_index(r.true_theta[:, 1:]))

    def bias(r):
        return abs(np.mean(r.theta[:, 1:] - r.true_theta[:, 1:]))

    assert bias(programme) < bias(default)
    assert accuracy(programme) > accuracy(default) - 0.01
    assert (move_up_flag_accuracy(programme, cuts, CFG)["share_caught"]
            > move_up_flag_accuracy(default, cuts, CFG)["share_caught"])


def test_progress_tests_match_placement_accuracy_with_far_fewer_items(programme, nb_bank):
    cuts = nb_bank.cuts
    hit = cuts.level_index(programme.theta) == cuts.level_index(programme.true_theta)
    placement_acc, progress_acc = hit[:, 0].mean(), hit[:, 1:].mean()
    assert progress_acc >= placement_acc - 0.01
    assert programme.length[:, 1:].mean() <= 0.6 * programme.length[:, 0].mean()


def test_move_up_flag_rarely_fires_falsely_and_catches_growth(programme, nb_bank):
    """The issue's bar (≥ 80 % caught within two weeks of the true crossing) is not met:
    see docs/programme/programme.md for why (no weekly test is precise enough) and for the
    figures; what is asserted here is what the rule does achieve, so a regression
    fails.  The rule of that issue (P ≥ 0.8 in two consecutive weeks) on the SE-target
    test; issue 15 measures its successor by waiting weeks (test_decisions.py)."""
    cuts = nb_bank.cuts
    old = ProgrammeConfig(ready_probability=0.8, ready_consecutive=2)
    two = move_up_flag_accuracy(programme, cuts, old, within_weeks=2)
    assert two["crossings"] > 300
    assert two["false_alarm_rate"] <= 0.05
    assert two["share_caught"] >= 0.12  # 0.15 before issue 13's placement (measured 0.135)
    eight = move_up_flag_accuracy(programme, cuts, old, within_weeks=8)
    assert eight["share_caught"] >= 0.80  # 0.85 before (measured 0.834)


def test_placement_priors_learnt_from_the_first_intake(first_intake, placement_priors,
                                                       nb_bank):
    """The first intake's placements replace the planning figures with its own tracks'
    levels (programme_cohort starts Track 1 at N(-2.0, 0.6), not the default -2.6), and
    the next intake's placement is more accurate for it (issue 13)."""
    track, first = first_intake
    for t in (1, 2, 3):
        assert placement_priors[t].n == int(np.sum(track == t))
        truth = first.true_theta[track == t, 0]
        assert placement_priors[t].mean == pytest.approx(truth.mean(), abs=0.15)
    assert placement_priors[1].mean > -2.4  # moved up from the default -2.6
    default = run_intake(nb_bank, 43)[1]
    learnt = run_intake(nb_bank, 43, None, placement_priors)[1]
    cuts = nb_bank.cuts

    def placed(r):
        return np.mean(cuts.level_index(r.theta[:, 0]) == cuts.level_index(r.true_theta[:, 0]))

    assert placed(learnt) > placed(default)
