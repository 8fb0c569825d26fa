"""Enemy items (issue 17): once an item is given, its enemies are blocked for that person,
in a live session (also after a restore) and in simulation."""

import json

import numpy as np
import pytest

from lang_assess.engine.cat import CATSession, placement_design, progress_design
from lang_assess.engine.cat.state import enemy_matrix
from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.simulate import simulate, synthetic_bank

BANK = synthetic_bank(200, seed=3, skills=("reading", "listening", "vocabulary", "grammar"))
IDS = BANK.ids.tolist()
# the items around the middle of the scale are the ones a test wants most: pair them up
ORDER = np.argsort(np.abs(BANK.b)).tolist()
PAIRS = [(IDS[ORDER[k]], IDS[ORDER[k + 1]]) for k in range(0, 80, 2)]


def answer_for(item_id, truth, rng):
    p = paired_probabilities(np.array([truth]), BANK, BANK.index_of([item_id]))[0]
    return int(np.searchsorted(np.cumsum(p), rng.random()))


def run(session, truth, rng, stop_after=None):
    given = []
    while (item := session.next_item()) is not None:
        if stop_after is not None and len(given) == stop_after:
            return given, item
        session.answer(item, answer_for(item, truth, rng))
        given.append(item)
    return given, None


def both_given(items, pairs=PAIRS):
    seen = set(items)
    return [(a, b) for a, b in pairs if a in seen and b in seen]


def test_enemy_matrix_is_symmetric_and_only_for_items_of_the_bank():
    m = enemy_matrix(BANK, [*PAIRS, ("syn00000", "not-in-bank"), ("syn00001", "syn00001")])
    assert m.shape == (200, 200) and np.array_equal(m, m.T) and not m.diagonal().any()
    assert m.sum() == 2 * len(PAIRS)
    assert enemy_matrix(BANK, [("a", "b")]) is None


def test_a_session_never_gives_two_enemies_and_without_them_it_would():
    design = placement_design(skill_targets={"reading": 1, "listening": 1}, max_items=30,
                              se_target=0.2)
    clashes_without = clashes_with = 0
    for seed in range(40):
        truth = np.random.default_rng(seed).normal()
        free, _ = run(CATSession(BANK, design, seed=seed), truth, np.random.default_rng(seed))
        kept, _ = run(CATSession(BANK, design, seed=seed, enemies=PAIRS), truth,
                      np.random.default_rng(seed))
        clashes_without += len(both_given(free))
        clashes_with += len(both_given(kept))
    assert clashes_without > 0  # the test has teeth: these pairs do meet
    assert clashes_with == 0


@pytest.mark.parametrize("cut_at", [0, 1, 5, 12])
def test_a_restored_session_blocks_the_same_enemies_bit_for_bit(cut_at):
    design = progress_design(skill_targets={"reading": 1, "grammar": 1}, max_items=20,
                             sympson_hetter={IDS[i]: 0.4 for i in range(0, 200, 4)})
    args = dict(seed=9, enemies=PAIRS, exclude=[IDS[ORDER[0]]], prior_mean=0.1, prior_sd=1.2)
    whole = CATSession(BANK, design, **args)
    full, _ = run(whole, 0.3, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    first = CATSession(BANK, design, **args)
    head, on_screen = run(first, 0.3, rng, stop_after=cut_at)
    saved = first.to_json()
    data = json.loads(saved)
    assert data["enemies"] == sorted([min(a, b), max(a, b)] for a, b in PAIRS)
    answered = set(head)
    blocked_as_enemy = {b for a, b in PAIRS if a in answered} | {a for a, b in PAIRS
                                                                 if b in answered}
    assert not blocked_as_enemy & set(data["withheld"])  # rebuilt from the answers
    resumed = CATSession.from_json(saved, BANK)  # no enemies passed: they are in the state
    assert resumed.to_json() == saved
    assert resumed.next_item() == on_screen
    tail, _ = run(resumed, 0.3, rng)
    assert head + tail == full
    assert resumed.to_json() == whole.to_json()
    assert np.array_equal(resumed._state.blocked, whole._state.blocked)


def test_enemies_of_planned_pretest_items_are_not_given():
    design = placement_design(max_items=40, se_target=0.1, pretest_items=2)
    pool = ["new000", "new001"]
    # every operational item is the enemy of one of the pretest items
    pairs = [("new000", i) for i in IDS[:100]] + [("new001", i) for i in IDS[100:150]]
    s = CATSession(BANK, design, seed=2, pretest=pool, enemies=pairs)
    given, _ = run_with_pretest(s)
    assert set(s.pretest_answers) == set(pool)
    assert not set(given) & set(IDS[:150])
    restored = CATSession.from_json(s.to_json(), BANK)
    assert np.array_equal(restored._state.blocked, s._state.blocked)


def run_with_pretest(session):
    given = []
    rng = np.random.default_rng(0)
    while (item := session.next_item()) is not None:
        if session.is_pretest(item):
            session.answer(item, 1)
        else:
            session.answer(item, answer_for(item, 0.0, rng))
            given.append(item)
    return given, None


def test_simulation_never_gives_two_enemies_to_one_simulee():
    design = placement_design(skill_targets={"reading": 1, "listening": 1}, se_target=0.2,
                              max_items=30)
    thetas = np.random.default_rng(5).normal(0, 1, 3000)
    index = {i: k for k, i in enumerate(IDS)}
    pos = np.array([[index[a], index[b]] for a, b in PAIRS])

    def clashes(result):
        given = np.zeros((result.n, BANK.n_items), dtype=bool)
        rows, cols = np.nonzero(result.items >= 0)
        given[rows, result.items[rows, cols]] = True
        return int(np.sum(given[:, pos[:, 0]] & given[:, pos[:, 1]]))

    free = simulate(BANK, design, thetas, seed=6, oracle=False)
    kept = simulate(BANK, design, thetas, seed=6, enemies=PAIRS)
    assert clashes(free) > 0
    assert clashes(kept) == 0
    # the oracle keeps to the same rule (it draws on the same pool)
    assert np.isfinite(kept.oracle_length).all()
