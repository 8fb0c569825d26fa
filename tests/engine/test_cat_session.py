"""One participant's test: determinism, crash-safe JSON state, stop rules."""

import json

import numpy as np
import pytest

from lang_assess.engine.cat import CATSession, TestDesign, placement_design, progress_design
from lang_assess.engine.cat.estimators import MLEEstimator, WLEEstimator
from lang_assess.engine.cat.stop import ClassificationConfidence, StandardErrorTarget, StopRule
from lang_assess.engine.irt import ItemParameters
from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.levels import CutScores
from lang_assess.engine.simulate import synthetic_bank
from lang_assess.errors import SessionError

BANK = synthetic_bank(300, seed=8, skills=("reading", "listening", "vocabulary", "grammar"))
CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))


def answer_for(item_id, truth, rng, bank=BANK):
    i = bank.index_of([item_id])
    p = paired_probabilities(np.array([truth]), bank, i)[0]
    return int(np.searchsorted(np.cumsum(p), rng.random()))


def run(session, truth, rng, stop_after=None):
    log = []
    while (item := session.next_item()) is not None:
        if stop_after is not None and len(log) == stop_after:
            return log, item
        score = answer_for(item, truth, rng)
        session.answer(item, score)
        log.append((item, score, session.theta, session.se))
    return log, None


def test_same_seed_and_answers_give_the_same_test():
    design = placement_design(skill_targets={"reading": 1, "listening": 1, "grammar": 1})
    a, _ = run(CATSession(BANK, design, seed=5), 0.4, np.random.default_rng(1))
    b, _ = run(CATSession(BANK, design, seed=5), 0.4, np.random.default_rng(1))
    c, _ = run(CATSession(BANK, design, seed=6), 0.4, np.random.default_rng(1))
    assert a == b
    assert [x[0] for x in a] != [x[0] for x in c]  # randomesque: another seed, other items


@pytest.mark.parametrize("cut_at", [0, 1, 4, 9])
def test_restored_session_continues_exactly(cut_at):
    design = placement_design(
        skill_targets={"reading": 0.5, "listening": 0.5},
        sympson_hetter={BANK.ids[i]: 0.3 for i in range(0, 300, 3)},
    )
    full, _ = run(CATSession(BANK, design, seed=11, exclude=["syn00001"]), -0.7,
                  np.random.default_rng(3))

    rng = np.random.default_rng(3)
    first = CATSession(BANK, design, seed=11, exclude=["syn00001"])
    head, on_screen = run(first, -0.7, rng, stop_after=cut_at)
    saved = first.to_json()
    json.loads(saved)  # plain JSON
    del first  # the process dies here

    resumed = CATSession.from_json(saved, BANK)
    assert resumed.next_item() == on_screen  # the same item is still on screen
    assert resumed.answers == [(i, s) for i, s, _, _ in head]
    tail, _ = run(resumed, -0.7, rng)
    assert head + tail == full


def test_answers_must_match_the_item_on_screen():
    s = CATSession(BANK, placement_design(), seed=1)
    with pytest.raises(SessionError, match="on screen is None"):
        s.answer("syn00000", 1)
    item = s.next_item()
    assert s.next_item() == item  # asking again shows the same item
    with pytest.raises(SessionError, match=r"score must be a whole number 0\.\.1"):
        s.answer(item, 2)
    s.answer(item, 1)
    assert s.n_answered == 1


def test_restore_refuses_another_bank_and_garbage():
    s = CATSession(BANK, placement_design(), seed=1)
    s.answer(s.next_item(), 0)
    other = synthetic_bank(300, seed=9)
    with pytest.raises(SessionError, match="bank's parameters differ"):
        CATSession.from_json(s.to_json(), other)
    with pytest.raises(SessionError, match="unknown session format"):
        CATSession.from_json("{}", BANK)
    with pytest.raises(SessionError, match="cannot restore the test"):
        CATSession.from_json("not json", BANK)
    broken = json.loads(s.to_json())
    broken["answers"] = [["no-such-item", 1]]
    with pytest.raises(SessionError, match="item 'no-such-item': not in the bank"):
        CATSession.from_json(json.dumps(broken), BANK)


def test_design_round_trips_through_config():
    design = progress_design(cuts=CUTS, skill_targets={"reading": 2, "grammar": 1},
                             sympson_hetter={"syn00002": 0.4})
    again = TestDesign.from_config(json.loads(json.dumps(design.to_config())))
    assert again == design


def test_stop_rules_min_max_se_and_classification():
    rng = np.random.default_rng(0)
    se_only = TestDesign(stop=StopRule(min_items=3, max_items=12,
                                       rules=(StandardErrorTarget(0.45),)))
    log, _ = run(CATSession(BANK, se_only, seed=1), 0.0, rng)
    assert log[-1][3] <= 0.45 or len(log) == 12
    assert all(se > 0.45 for *_, se in log[2:-1])  # did not run past the target
    short_max = TestDesign(stop=StopRule(min_items=2, max_items=4, rules=()))
    assert len(run(CATSession(BANK, short_max, seed=1), 0.0, rng)[0]) == 4
    confident = TestDesign(stop=StopRule(min_items=1, max_items=30,
                                         rules=(ClassificationConfidence(CUTS, 0.8),)))
    s = CATSession(BANK, confident, seed=1)
    run(s, 2.9, rng)  # far above the top cut: quickly decided
    assert max(s.level_probabilities(CUTS).values()) >= 0.8 or s.n_answered == 30


def test_test_ends_when_the_bank_runs_out():
    tiny = ItemParameters.dichotomous(["a", "b", "c"], [1, 1, 1], [-1, 0, 1])
    s = CATSession(tiny, placement_design(), seed=0)
    answered = 0
    while (item := s.next_item()) is not None:
        s.answer(item, 1)
        answered += 1
    assert answered == 3 and s.done


@pytest.mark.parametrize("estimator", [MLEEstimator(), WLEEstimator()])
def test_pattern_estimators_run_a_test(estimator):
    design = TestDesign(estimator=estimator)
    s = CATSession(BANK, design, seed=2)
    log, _ = run(s, 1.0, np.random.default_rng(4))
    assert 5 <= len(log) <= 30
    assert abs(s.theta - 1.0) < 1.5
