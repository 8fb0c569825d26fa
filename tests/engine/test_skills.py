"""A level per skill that borrows strength from the overall ability (issue 16)."""

import numpy as np
import pytest

from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.engine.skills import (
    simulate_skill_levels,
    skill_estimates,
    weighted_log_likelihood,
)

GRID = np.linspace(-6, 6, 121)
CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))
SKILLS = ("listening", "reading", "speaking", "writing")


def _bank() -> ItemParameters:
    """40 right/wrong items each for reading, listening, vocabulary, grammar over -3..3,
    and 12 speaking and 12 writing tasks (GPCM, 3 steps) over the levels."""
    b = np.tile(np.linspace(-3, 3, 40), 4)
    skill = np.repeat(["reading", "listening", "vocabulary", "grammar"], 40)
    rw = ItemParameters.dichotomous([f"i{k}" for k in range(b.size)], np.full(b.size, 1.2),
                                    b, np.zeros(b.size), skill)
    centres = np.tile(np.linspace(-2.5, 2.5, 6), 2)
    steps = centres[:, None] + np.array([-0.8, 0.0, 0.8])
    tasks = ItemParameters.gpcm([f"t{k}" for k in range(12)], np.full(12, 1.0), steps,
                                skill=np.repeat(["speaking", "writing"], 6))
    return ItemParameters.concat([rw, tasks])


def _tests(params: ItemParameters, true_theta: np.ndarray, rng: np.random.Generator,
           per_skill: int = 6, tasks: int = 2) -> np.ndarray:
    """(P, L) a test per person: the items nearest each skill's level (as a CAT would
    reach), 2 speaking and 2 writing tasks at the person's overall level."""
    skills = np.unique(params.skill)
    centre = np.nanmean(params.steps, axis=1)
    rows = []
    for p in range(true_theta.shape[0]):
        overall = true_theta[p].mean() + rng.normal(0, 0.3)
        chosen = []
        for s in skills:
            pos = np.flatnonzero(params.skill == s)
            k = tasks if s in ("speaking", "writing") else per_skill
            near = pos[np.argsort(np.abs(centre[pos] - overall) + rng.random(pos.size) * 0.3)]
            chosen += near[:k].tolist()
        rows.append(chosen)
    return np.array(rows)


def test_weighted_log_likelihood_weights_each_answer():
    params = _bank()
    items = np.array([[0, 165, 165]])
    scores = np.array([[1, 2, 2]])
    whole = weighted_log_likelihood(GRID, params, items[:, :2], scores[:, :2],
                                    np.ones((1, 2)))
    halves = weighted_log_likelihood(GRID, params, items, scores, np.array([[1, 0.5, 0.5]]))
    assert np.allclose(whole, halves)  # a task rated twice counts once
    missing = weighted_log_likelihood(GRID, params, np.array([[0, 165]]),
                                      np.array([[1, -1]]), np.ones((1, 2)))
    only = weighted_log_likelihood(GRID, params, np.array([[0]]), np.array([[1]]),
                                   np.ones((1, 1)))
    assert np.allclose(missing, only)


def test_a_skill_with_no_answers_follows_the_rest_and_says_not_enough():
    params = _bank()
    items = np.array([[10, 20, 30, 50, 60]])  # reading and listening only
    scores = np.array([[1, 1, 1, 1, 0]])
    est = skill_estimates(GRID, -0.5 * (GRID / 2) ** 2, params, items, scores,
                          np.ones_like(items, float), SKILLS, spread=0.8, enough_sd=0.6,
                          cuts=CUTS)
    assert est["speaking"].n[0] == 0 and not est["speaking"].enough[0]
    # no own answers: the rest's posterior spread by the skill deviation
    assert est["speaking"].se[0] > est["reading"].se[0]
    assert est["speaking"].theta[0] == pytest.approx(est["writing"].theta[0], abs=1e-6)


def test_per_skill_estimate_beats_the_overall_level_for_an_uneven_profile():
    """Acceptance 3 of issue 16: someone who speaks B1 and writes A1 (reads and listens
    A2), 2 speaking + 2 writing tasks a test, rater severity N(0, 0.4²) per rating and a
    quarter of the tasks rated twice: the per-skill levels are nearer the truth than the
    overall level for speaking and writing."""
    params = _bank()
    rng = np.random.default_rng(3)
    n = 400
    skills = np.unique(params.skill).tolist()
    profile = {"grammar": -0.5, "listening": -0.5, "reading": -0.5, "speaking": 0.5,
               "vocabulary": -0.5, "writing": -1.5}  # A2 overall; B1 speaking; A1 writing
    true_theta = np.array([profile[s] for s in skills])[None, :] + rng.normal(0, 0.15, (n, 1))
    items = _tests(params, true_theta, rng)
    sim = simulate_skill_levels(params, items, true_theta, CUTS, grid=GRID, prior_sd=2.0,
                                spread=0.8, enough_sd=0.8, rater_sd=0.4, double_share=0.25,
                                seed=5)
    for s in ("speaking", "writing"):
        j = sim.skills.index(s)
        assert sim.rmse[j] < sim.rmse_overall[j] - 0.2, (s, sim.rmse[j], sim.rmse_overall[j])
        assert abs(sim.bias[j]) < abs(sim.bias_overall[j]), s
        assert sim.accuracy[j] > sim.accuracy_overall[j] + 0.15, (s, sim.accuracy[j],
                                                                  sim.accuracy_overall[j])


def test_for_an_even_profile_the_per_skill_levels_are_as_good_as_the_overall():
    params = _bank()
    rng = np.random.default_rng(4)
    n = 400
    skills = np.unique(params.skill).tolist()
    overall = rng.normal(-0.5, 1.2, (n, 1))
    true_theta = overall + rng.normal(0, 0.8, (n, len(skills)))  # the model's own spread
    items = _tests(params, true_theta, rng)
    sim = simulate_skill_levels(params, items, true_theta, CUTS, grid=GRID, prior_sd=2.0,
                                spread=0.8, enough_sd=0.8, rater_sd=0.4, double_share=0.25,
                                seed=6)
    for s in ("reading", "listening", "speaking", "writing"):
        j = sim.skills.index(s)
        assert sim.rmse[j] < sim.rmse_overall[j], (s, sim.rmse[j], sim.rmse_overall[j])
        assert abs(sim.bias[j]) < 0.25, (s, sim.bias[j])
