"""The routing stage: audio-and-picture items first, then non-readers stay with items
that need no reading and readers go on to the main test; and the robust intake prior."""

import dataclasses

import numpy as np
import pytest

from lang_assess.engine.cat import CATSession, TestDesign, placement_design
from lang_assess.engine.cat.routing import NON_READER, READER, Routing
from lang_assess.engine.irt.estimate import normal_log_prior, posterior_mean_sd
from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.engine.simulate import simulate, synthetic_bank

CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))
SKILLS = {"reading": 0.3, "listening": 0.3, "vocabulary": 0.2, "grammar": 0.2}


def routed_bank():
    """A synthetic bank: 300 main items, 12 picture items (listening, vocabulary) at
    pre-A1/A1 that need no reading, and 20 literacy tasks."""
    rng = np.random.default_rng(3)
    main = synthetic_bank(300, seed=4, skills=tuple(SKILLS))
    pictures = ItemParameters.dichotomous(
        [f"pic{k:02d}" for k in range(12)], np.full(12, 1.5), rng.uniform(-3.0, -1.2, 12),
        np.full(12, 1 / 3), skill=["listening", "vocabulary"] * 6)
    literacy = ItemParameters.dichotomous(
        [f"lit{k:02d}" for k in range(20)], np.full(20, 1.4), rng.uniform(-3.2, -1.8, 20),
        np.full(20, 0.25), skill=["literacy"] * 20)
    params = ItemParameters.concat([main, pictures, literacy])
    routing = Routing(route=pictures.ids, no_reading=(*pictures.ids, *literacy.ids),
                      readers_skip=literacy.ids, n_items=4, cut=-2.0,
                      literacy_steps=CutScores((-3.0, -2.5, -2.0), ("1", "2", "3", "4")))
    design = placement_design(skill_targets={**SKILLS, "literacy": 0.4}, cuts=CUTS,
                              confidence=0.9, min_items=8, prior_sd=2.0, routing=routing,
                              population_weight=0.3)
    return params, design, set(pictures.ids), set(literacy.ids)


PARAMS, DESIGN, PICTURES, LITERACY = routed_bank()


def take(truth, *, seed=1, prior=(-2.6, 0.5), design=DESIGN):
    """One routed test answered from the model at ``truth``; the items and branches."""
    session = CATSession(PARAMS, design, seed=seed, prior_mean=prior[0], prior_sd=prior[1])
    rng = np.random.default_rng(seed)
    given, branches = [], []
    while (item := session.next_item()) is not None:
        i = PARAMS.index_of([item])
        p = paired_probabilities(np.array([truth]), PARAMS, i)[0, 1]
        session.answer(item, int(rng.random() < p))
        given.append(item)
        branches.append(session.branch)
    return session, given, branches


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_non_reader_meets_pictures_first_and_stays_with_items_needing_no_reading(seed):
    session, given, branches = take(-3.2, seed=seed)
    assert all(i in PICTURES for i in given[:4])
    assert branches[:3] == ["routing"] * 3 and set(branches[3:]) == {"non-reader"}
    assert all(i in PICTURES | LITERACY for i in given)
    assert any(i in LITERACY for i in given[4:])
    assert session.literacy_step() in ("1", "2", "3")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_reader_goes_on_to_the_main_test_from_what_routing_showed(seed):
    session, given, branches = take(0.5, seed=seed)
    assert all(i in PICTURES for i in given[:4])
    assert set(branches[3:]) == {"reader"}
    assert not any(i in LITERACY for i in given)
    # the routing answers count: the fifth item is chosen from a posterior above the prior
    assert sum(i.startswith("syn") for i in given) >= 8
    assert session.literacy_step() == "4"
    assert CUTS.level_label(session.theta) in ("A2", "B1", "B2")


def test_the_branch_is_a_function_of_the_answers_and_survives_a_restore():
    session, _, _ = take(0.5, seed=4)
    restored = CATSession.from_json(session.to_json(), PARAMS)
    assert restored.branch == session.branch == "reader"
    assert restored.answers == session.answers
    halfway = CATSession(PARAMS, DESIGN, seed=4, prior_mean=-2.6, prior_sd=0.5)
    for item, score in session.answers[:5]:
        assert halfway.next_item() == item
        halfway.answer(item, score)
    assert CATSession.from_json(halfway.to_json(), PARAMS).next_item() == session.answers[5][0]


def test_a_reader_sent_down_the_non_reader_branch_comes_back_to_the_main_test():
    """With a tight Track 1 prior and no share of the wide prior, four right answers
    on picture items do not yet convince; the next no-reading items do."""
    tight = dataclasses.replace(DESIGN, population_weight=0.0)
    _, given, branches = take(0.5, seed=1, design=tight)
    assert branches[3] == "non-reader" and branches[-1] == "reader"
    back = branches.index("reader")
    assert all(i in PICTURES | LITERACY for i in given[:back + 1])
    assert any(i.startswith("syn") for i in given[back + 1:])


def test_routing_decides_on_the_posterior_below_the_reading_threshold():
    bank = DESIGN.prepare(PARAMS)
    routing = DESIGN.selector.routing
    from lang_assess.engine.cat import engine

    state = engine.start(bank, DESIGN, 2, prior_mean=-2.6, prior_sd=0.5)
    items = PARAMS.index_of(sorted(PICTURES)[:4])
    rows = np.arange(2)
    for k in range(4):
        engine.record(bank, DESIGN, state, rows, np.repeat(items[k], 2), np.array([1, 0]))
    below = routing.below_cut(bank, state, rows)
    assert below[0] < 0.5 < below[1]
    assert routing.branch(bank, state, rows).tolist() == [READER, NON_READER]
    allowed = routing.allowed(bank, state, rows)
    no_reading = np.isin(PARAMS.ids, sorted(PICTURES | LITERACY))
    np.testing.assert_array_equal(allowed[1], no_reading)
    np.testing.assert_array_equal(allowed[0], ~np.isin(PARAMS.ids, sorted(LITERACY)))


def test_routing_design_round_trips_and_checks_its_pools():
    again = TestDesign.from_config(DESIGN.to_config())
    assert again == DESIGN and again.selector.routing.route == DESIGN.selector.routing.route
    with pytest.raises(ValueError, match="routing items must need no reading"):
        Routing(route=("a",), no_reading=("b",))
    with pytest.raises(ValueError, match="at least one routing item"):
        Routing(route=(), no_reading=("b",))
    plain = placement_design()
    assert CATSession(PARAMS, plain, seed=1).branch is None
    assert CATSession(PARAMS, plain, seed=1).literacy_step() is None


# ---- the robust prior from intake ---------------------------------------------------------
def test_population_weight_lets_someone_far_from_their_track_through():
    """A Track-1-like prior N(-2.6, 0.5²) and a simulee at B1: with no share of the wide
    prior the estimate is pulled a band down; with 0.3 it is not."""
    thetas = np.full(300, 0.5)
    main = synthetic_bank(400, seed=9, skills=tuple(SKILLS))
    design = placement_design(skill_targets=SKILLS, prior_sd=2.0, cuts=CUTS, confidence=0.9,
                              min_items=8)
    tight = simulate(main, design, thetas, seed=5, prior_mean=-2.6, prior_sd=0.5,
                     oracle=False)
    robust = simulate(main, dataclasses.replace(design, population_weight=0.3), thetas,
                      seed=5, prior_mean=-2.6, prior_sd=0.5, oracle=False)
    assert np.mean(tight.theta - thetas) < -0.4
    assert abs(np.mean(robust.theta - thetas)) < 0.1
    # near the track's own level the robust prior acts like the track's
    near = np.full(300, -2.6)
    a = simulate(main, design, near, seed=6, prior_mean=-2.6, prior_sd=0.5, oracle=False)
    b = simulate(main, dataclasses.replace(design, population_weight=0.3), near, seed=6,
                 prior_mean=-2.6, prior_sd=0.5, oracle=False)
    assert abs(np.sqrt(np.mean((a.theta - near) ** 2))
               - np.sqrt(np.mean((b.theta - near) ** 2))) < 0.05


def measurement(theta, se, m0, s0):
    """The Gaussian measurement that turns N(m0, s0²) into N(θ̂, SE²) (as the growth
    chain reads it)."""
    r = 1 / (1 / se**2 - 1 / s0**2)
    return m0 + (theta - m0) * s0**2 / (s0**2 - se**2), r


def test_equivalent_prior_turns_the_answers_measurement_into_the_posterior():
    design = dataclasses.replace(DESIGN, population_weight=0.3)
    for truth in (-2.6, 0.5):
        session, _, _ = take(truth, design=design)
        m0, s0 = session.equivalent_prior()
        # what the answers say, read through the design's wide prior N(0, 2²)
        grid = session._bank.grid
        ref = posterior_mean_sd(session._state.log_lik, normal_log_prior(grid, 0.0, 2.0),
                                grid)
        y, r = measurement(ref.theta[0], ref.se[0], 0.0, 2.0)
        assert 1 / session.se**2 == pytest.approx(1 / s0**2 + 1 / r, rel=1e-6)
        assert session.theta == pytest.approx(session.se**2 * (m0 / s0**2 + y / r), abs=1e-6)
    plain, _, _ = take(-2.6, design=dataclasses.replace(DESIGN, population_weight=0.0))
    assert plain.equivalent_prior() == plain.prior
    with pytest.raises(ValueError, match="population_weight"):
        dataclasses.replace(DESIGN, population_weight=1.0)
