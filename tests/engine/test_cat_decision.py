"""The weekly test that serves a decision: items at the cut, stop when the side is known."""

import json

import numpy as np
import pytest

from lang_assess.engine.cat import CATSession, progress_design
from lang_assess.engine.cat import engine as cat
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.cat.select import InformationAtCut
from lang_assess.engine.cat.stop import CutDecided
from lang_assess.engine.irt import item_information
from lang_assess.engine.simulate import simulate, synthetic_bank

BANK = synthetic_bank(400, seed=3)


def test_items_are_chosen_for_information_at_the_cut_not_at_theta():
    design = progress_design(decision_cut=1.0, randomesque=1)
    bank = design.prepare(BANK)
    state = cat.start(bank, design, 1, prior_mean=-1.0, prior_sd=0.4)
    scores = InformationAtCut(1.0).scores(bank, state, np.array([0]))
    assert np.argmax(scores[0]) == np.argmax(item_information(1.0, BANK))
    # after the first (posterior-weighted) item the cut, not θ̂ ≈ −1, decides
    rng = np.random.default_rng(0)
    item = cat.next_items(bank, design, state, np.array([0]), rng)
    cat.record(bank, design, state, np.array([0]), item, np.array([0]))
    second = cat.next_items(bank, design, state, np.array([0]), rng)[0]
    assert second == np.argmax(np.where(state.blocked[0], -np.inf, item_information(1.0, BANK)))
    assert abs(BANK.b[second] - 1.0) < abs(BANK.b[second] - state.theta[0])


def test_cut_decided_stops_once_the_side_of_the_cut_is_known_either_way():
    design = progress_design(decision_cut=0.0, decision_probability=0.9, min_items=1,
                             max_items=40)
    bank = design.prepare(BANK)
    state = cat.start(bank, design, 3, prior_mean=np.array([-2.0, 2.0, 0.0]), prior_sd=0.3)
    rule = CutDecided(0.0, 0.9)
    # far below and far above the cut: decided before any answer; at the cut: not
    assert rule.satisfied(bank, state).tolist() == [True, True, False]
    with pytest.raises(ValueError):
        CutDecided(0.0, 0.4)


def test_decision_tests_are_longer_near_the_cut_and_within_their_bounds():
    design = progress_design(decision_cut=0.0, decision_probability=0.94, min_items=5,
                             max_items=13)
    near = simulate(BANK, design, np.full(300, 0.05), seed=1, oracle=False,
                    prior_mean=0.0, prior_sd=0.5)
    far = simulate(BANK, design, np.full(300, -1.5), seed=1, oracle=False,
                   prior_mean=-1.5, prior_sd=0.5)
    assert far.length.min() >= 5 and near.length.max() <= 13
    assert near.length.mean() > far.length.mean() + 3
    # where it stopped before the maximum, the side of the cut is known to 0.94
    stopped = near.length < 13
    p_above = 1 - np.array([_cdf(0.0, t, s) for t, s in zip(near.theta, near.se, strict=True)])
    assert np.all(np.maximum(p_above, 1 - p_above)[stopped] > 0.85)


def _cdf(x: float, mean: float, sd: float) -> float:
    from math import erf, sqrt
    return 0.5 * (1 + erf((x - mean) / (sd * sqrt(2))))


def test_a_decision_design_survives_the_json_round_trip_and_resumes_bit_exact():
    design = progress_design(decision_cut=-1.0, decision_probability=0.94)
    assert TestDesign.from_config(json.loads(json.dumps(design.to_config()))) == design
    rng = np.random.default_rng(2)
    s = CATSession(BANK, design, seed=4, prior_mean=-1.2, prior_sd=0.4)
    for _ in range(3):
        item = s.next_item()
        s.answer(item, int(rng.random() < 0.5))
    again = CATSession.from_json(s.to_json(), BANK)
    assert again.next_item() == s.next_item() and again.theta == s.theta
