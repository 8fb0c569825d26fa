"""Item selection parts: criteria, content balancing, exposure control, exclusions."""

import dataclasses

import numpy as np
import pytest

from lang_assess.engine.cat import engine
from lang_assess.engine.cat.design import TestDesign, placement_design
from lang_assess.engine.cat.select import (
    ContentBalancing,
    ItemSelector,
    MaxInformation,
    PosteriorWeightedInformation,
    Randomesque,
    SympsonHetter,
)
from lang_assess.engine.irt import ItemParameters, item_information
from lang_assess.engine.simulate import synthetic_bank

SKILLS = ("reading", "listening", "vocabulary", "grammar")


def design_with(selector: ItemSelector) -> TestDesign:
    return TestDesign(selector=selector)


def test_max_information_picks_the_most_informative_item_at_theta():
    bank = synthetic_bank(200, seed=3)
    design = design_with(ItemSelector(criterion=MaxInformation()))
    prepared = design.prepare(bank)
    state = engine.start(prepared, design, 3, prior_mean=np.array([-1.5, 0.0, 2.0]))
    chosen = engine.next_items(prepared, design, state, np.arange(3), np.random.default_rng(0))
    info = item_information(np.array([-1.5, 0.0, 2.0]), bank)
    assert chosen.tolist() == np.argmax(info, axis=1).tolist()


def test_posterior_weighted_information_averages_over_the_posterior():
    bank = synthetic_bank(50, seed=4)
    design = design_with(ItemSelector(criterion=PosteriorWeightedInformation()))
    prepared = design.prepare(bank)
    state = engine.start(prepared, design, 1, prior_mean=0.5, prior_sd=0.8)
    scores = PosteriorWeightedInformation().scores(prepared, state, np.array([0]))[0]
    grid = prepared.grid
    w = np.exp(-0.5 * ((grid - 0.5) / 0.8) ** 2)
    w /= w.sum()
    expected = w @ item_information(grid, bank)
    np.testing.assert_allclose(scores, expected, rtol=1e-10)


def test_excluded_items_are_never_given():
    bank = synthetic_bank(60, seed=5)
    design = design_with(ItemSelector(criterion=MaxInformation()))
    prepared = design.prepare(bank)
    best = int(np.argmax(item_information(0.0, bank)))
    blocked = np.zeros(60, bool)
    blocked[best] = True
    state = engine.start(prepared, design, 1, blocked=blocked)
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(30):
        item = engine.next_items(prepared, design, state, np.array([0]), rng)
        seen.append(int(item[0]))
        engine.record(prepared, design, state, np.array([0]), item, np.array([1]))
    assert best not in seen and len(set(seen)) == 30


def test_content_balancing_follows_target_proportions():
    bank = synthetic_bank(400, seed=6, skills=(*SKILLS, "literacy"))
    targets = {"reading": 0.4, "listening": 0.3, "vocabulary": 0.2, "grammar": 0.1}
    design = dataclasses.replace(
        placement_design(skill_targets=targets, randomesque=1),
    )
    design = dataclasses.replace(design, stop=dataclasses.replace(design.stop, min_items=20,
                                                                   max_items=20))
    prepared = design.prepare(bank)
    state = engine.start(prepared, design, 50)
    rng = np.random.default_rng(1)
    rows = np.arange(50)
    for _ in range(20):
        items = engine.next_items(prepared, design, state, rows, rng)
        engine.record(prepared, design, state, rows, items, rng.integers(0, 2, 50))
    given_skills = bank.skill[state.items]
    assert "literacy" not in set(given_skills.ravel())
    counts = np.array([(given_skills == s).sum(axis=1) for s in targets]).T  # (50, 4)
    assert np.all(counts == np.array([8, 6, 4, 2]))


def test_randomesque_picks_only_among_the_k_best():
    scores = np.array([[5.0, 1.0, 4.0, 3.0, -np.inf, 2.0]] * 2000)
    picks = Randomesque(3).pick(scores, np.random.default_rng(2))
    assert set(picks.tolist()) == {0, 2, 3}
    shares = np.bincount(picks, minlength=6)[[0, 2, 3]] / 2000
    assert np.all(np.abs(shares - 1 / 3) < 0.05)
    none = Randomesque(3).pick(np.full((1, 4), -np.inf), np.random.default_rng(0))
    assert none.tolist() == [-1]


def test_sympson_hetter_withholds_items_for_the_rest_of_the_test():
    bank = ItemParameters.dichotomous(["top", "second", "third"], [2.0, 1.0, 0.5], [0, 0, 0])
    never = SympsonHetter({"top": 0.0})
    design = design_with(ItemSelector(criterion=MaxInformation(), sympson_hetter=never))
    prepared = design.prepare(bank)
    state = engine.start(prepared, design, 100)
    counts = np.zeros(3)
    items = engine.next_items(prepared, design, state, np.arange(100),
                              np.random.default_rng(0), selected_counts=counts)
    assert np.all(items == 1)
    assert np.all(state.blocked[:, 0]) and counts.tolist() == [100, 100, 0]


def test_sympson_hetter_parameter_for_an_unknown_item_is_an_error():
    bank = synthetic_bank(10, seed=1)
    design = placement_design(sympson_hetter={"nope": 0.5})
    with pytest.raises(ValueError, match="item 'nope': has a Sympson-Hetter parameter"):
        design.prepare(bank)


def test_content_targets_must_be_sane():
    with pytest.raises(ValueError, match="content targets"):
        _ = ContentBalancing({"reading": -1.0}).proportions
