"""Pretest items seeded into live tests: placed, unscored, resumable, backward compatible."""

import json

import numpy as np
import pytest

from lang_assess.engine.cat import CATSession, TestDesign, placement_design, progress_design
from lang_assess.engine.cat.pretest import pretest_rng, schedule
from lang_assess.engine.cat.session import FORMAT_VERSION
from lang_assess.engine.cat.stop import StopRule
from lang_assess.engine.irt import ItemParameters
from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.levels import CutScores
from lang_assess.engine.simulate import synthetic_bank
from lang_assess.errors import SessionError

BANK = synthetic_bank(300, seed=8, skills=("reading", "listening", "vocabulary", "grammar"))
CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))
POOL = [f"new{i:03d}" for i in range(12)]


def design(k=2, **kw):
    return placement_design(
        skill_targets={"reading": 0.5, "listening": 0.5},
        sympson_hetter={BANK.ids[i]: 0.3 for i in range(0, 300, 3)},
        pretest_items=k, **kw,
    )


def answer_for(item_id, truth, rng):
    i = BANK.index_of([item_id])
    p = paired_probabilities(np.array([truth]), BANK, i)[0]
    return int(np.searchsorted(np.cumsum(p), rng.random()))


def run(session, truth, op_rng, pre_rng, stop_after=None):
    """Drive a test; operational and pretest answers come from separate generators.

    Returns the log of (item, score, θ̂, SE, pretest?) and the item on screen when cut.
    """
    log = []
    while (item := session.next_item()) is not None:
        if stop_after is not None and len(log) == stop_after:
            return log, item
        pre = session.is_pretest(item)
        score = int(pre_rng.integers(0, 3)) if pre else answer_for(item, truth, op_rng)
        session.answer(item, score)
        log.append((item, score, session.theta, session.se, pre))
    return log, None


@pytest.mark.parametrize("make", [design, lambda k: progress_design(cuts=CUTS, pretest_items=k)])
def test_every_test_has_k_pretest_items_never_first(make):
    positions = set()
    for seed in range(40):
        truth = np.random.default_rng(seed).normal(0, 1.5)
        s = CATSession(BANK, make(2), seed=seed, pretest=POOL, exclude=["new003", "new007"])
        log, _ = run(s, truth, np.random.default_rng(seed), np.random.default_rng(99))
        where = [n for n, row in enumerate(log, start=1) if row[4]]
        assert len(where) == 2 and 1 not in where, (seed, where)
        assert where == [pos for pos, _ in s.pretest_plan]
        assert max(where) <= s.design.stop.min_items + 2
        ids = [log[n - 1][0] for n in where]
        assert set(ids) <= set(POOL) - {"new003", "new007"} and len(set(ids)) == 2
        assert list(s.pretest_answers) == ids
        assert s.n_answered == len(log) and s.n_operational == len(log) - 2
        assert s.done
        positions.update(where)
    assert len(positions) >= 4  # spread over the test, not a fixed slot


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_pretest_items_are_unscored(seed):
    plain = CATSession(BANK, design(0), seed=seed, exclude=["syn00001"])
    seeded = CATSession(BANK, design(2), seed=seed, exclude=["syn00001"], pretest=POOL)
    a, _ = run(plain, -0.4, np.random.default_rng(seed), np.random.default_rng(7))
    b, _ = run(seeded, -0.4, np.random.default_rng(seed), np.random.default_rng(7))
    operational = [row[:4] for row in b if not row[4]]
    assert operational == [row[:4] for row in a]  # same items, scores, θ̂ and SE, bit for bit
    for n, row in enumerate(b):  # answering a pretest item leaves θ̂ and SE where they were
        if row[4] and n > 0:
            assert row[2:4] == b[n - 1][2:4]
    assert seeded.answers == plain.answers
    assert (seeded.theta, seeded.se) == (plain.theta, plain.se)
    assert seeded.level_probabilities(CUTS) == plain.level_probabilities(CUTS)
    assert sum(row[4] for row in b) == 2


def test_resume_at_every_cut_point_is_bit_identical():
    kw = {"seed": 11, "exclude": ["syn00001", "new002"], "pretest": POOL}
    whole = CATSession(BANK, design(3), **kw)
    full, _ = run(whole, 0.6, np.random.default_rng(3), np.random.default_rng(4))
    assert sum(row[4] for row in full) == 3
    for cut in range(len(full) + 1):
        op_rng, pre_rng = np.random.default_rng(3), np.random.default_rng(4)
        first = CATSession(BANK, design(3), **kw)
        head, on_screen = run(first, 0.6, op_rng, pre_rng, stop_after=cut)
        saved = first.to_json()
        del first  # the process dies here
        resumed = CATSession.from_json(saved, BANK)
        assert resumed.to_json() == saved
        assert resumed.next_item() == on_screen
        tail, _ = run(resumed, 0.6, op_rng, pre_rng)
        assert head + tail == full, cut
        assert resumed.to_json() == whole.to_json()
        assert resumed.pretest_answers == whole.pretest_answers


def _as_format_1(text):
    """What the session wrote before pretest items existed."""
    data = json.loads(text)
    assert data.pop("pretest") == {"plan": [], "answers": []}
    assert data.pop("enemies") == []  # format 3
    data["design"].pop("pretest_items")
    data["format"] = 1
    return json.dumps(data)


@pytest.mark.parametrize("cut", [0, 3])
def test_old_state_without_pretest_fields_loads(cut):
    full, _ = run(CATSession(BANK, design(0), seed=5), 0.2, np.random.default_rng(1),
                  np.random.default_rng(2))
    op_rng = np.random.default_rng(1)
    s = CATSession(BANK, design(0), seed=5)
    head, on_screen = run(s, 0.2, op_rng, np.random.default_rng(2), stop_after=cut)
    old = CATSession.from_json(_as_format_1(s.to_json()), BANK)
    assert old.next_item() == on_screen and old.pretest_plan == []
    tail, _ = run(old, 0.2, op_rng, np.random.default_rng(2))
    assert head + tail == full
    assert json.loads(old.to_json())["format"] == FORMAT_VERSION


def test_a_small_pool_gives_what_there_is():
    s = CATSession(BANK, design(3), seed=1, pretest=["new000", "new001", "new001"],
                   exclude=["new000"])
    log, _ = run(s, 0.0, np.random.default_rng(0), np.random.default_rng(0))
    assert [row[0] for row in log if row[4]] == ["new001"]
    none = CATSession(BANK, design(3), seed=1, pretest=["new000"], exclude=["new000"])
    log, _ = run(none, 0.0, np.random.default_rng(0), np.random.default_rng(0))
    assert not any(row[4] for row in log) and none.pretest_answers == {}
    off = CATSession(BANK, design(0), seed=1, pretest=POOL)  # the design asks for none
    assert off.pretest_plan == []


@pytest.mark.parametrize("seed", [0, 4])  # slots (3, 7) and (5, 7): both past the bank's end
def test_pretest_items_are_given_when_the_bank_runs_out(seed):
    tiny = ItemParameters.dichotomous(["a", "b"], [1, 1], [-1, 1])
    d = TestDesign(stop=StopRule(min_items=5, max_items=10), pretest_items=2)
    s = CATSession(tiny, d, seed=seed, pretest=["p", "q"])
    assert s.pretest_plan[-1][0] == 7
    shown = []
    while (item := s.next_item()) is not None:
        shown.append(item)
        s.answer(item, 1)
    planned = [i for _, i in s.pretest_plan]
    assert [i for i in shown if i in planned] == planned and len(shown) == 4
    assert shown[0] in {"a", "b"} and shown[-1] == planned[-1]
    assert s.done and s.n_operational == 2 and s.pretest_answers == dict.fromkeys(planned, 1)


def test_schedule_is_seeded_and_never_uses_position_1():
    one = schedule(set(POOL), 3, 5, pretest_rng(8))
    assert one == schedule(list(reversed(POOL)), 3, 5, pretest_rng(8))  # order-free pool
    assert one != schedule(POOL, 3, 5, pretest_rng(9))
    for seed in range(200):
        plan = schedule(POOL, 3, 1, pretest_rng(seed))  # min_items 1: slots 2, 3, 4 only
        assert [pos for pos, _ in plan] == [2, 3, 4]
    assert schedule([], 3, 5, pretest_rng(0)) == ()


def test_wrong_use_is_refused():
    with pytest.raises(ValueError, match="must not be in the bank"):
        CATSession(BANK, design(2), seed=1, pretest=["syn00004", "new000"])
    with pytest.raises(ValueError, match="pretest_items must be a whole number"):
        TestDesign(pretest_items=-1)
    s = CATSession(BANK, TestDesign(stop=StopRule(min_items=1, max_items=5), pretest_items=1),
                   seed=3, pretest=["new000"])
    s.answer(s.next_item(), 1)
    assert s.next_item() == "new000"  # min_items 1, one pretest item: its slot is 2
    with pytest.raises(SessionError, match="on screen is 'new000'"):
        s.answer("new001", 1)
    with pytest.raises(SessionError, match="whole number ≥ 0"):
        s.answer("new000", -1)
    state = json.loads(s.to_json())
    state["pretest"]["answers"] = [["new999", 1]]
    with pytest.raises(SessionError, match="pretest plan"):
        CATSession.from_json(json.dumps(state), BANK)


def test_design_keeps_pretest_items_through_config():
    d = design(2)
    config = json.loads(json.dumps(d.to_config()))
    assert config["pretest_items"] == 2 and TestDesign.from_config(config) == d
    del config["pretest_items"]  # a design stored before the setting existed
    assert TestDesign.from_config(config).pretest_items == 0
