"""A level per skill that borrows strength from the overall ability (issue 16).

A test gives a handful of answers per skill: two speaking tasks, seven reading items.
Alone they say little; together with everything else they say more.  The model:

    θ_s = θ + δ_s,   δ_s ~ N(0, spread²)

one overall ability θ and a person's own deviation in skill s.  The answers of the
*other* skills (and vocabulary and grammar, which measure θ alone) give a posterior of θ;
spreading it by ``spread`` gives the prior of θ_s; the skill's own answers then give the
posterior of θ_s.  A skill with many answers follows its own answers, one with few
leans on the rest — the augmented subscore of Wainer et al. (2001), here computed exactly
on the grid (a convolution with the normal kernel), not by a normal approximation.

Answers enter the likelihood with a weight: 1 for an item the test scored, ½ for each of
the two teachers' ratings of one task (the task counts once, whoever rated it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lang_assess.engine.irt.models import category_probabilities
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores

_TINY = 1e-300


@dataclass(frozen=True)
class SkillEstimate:
    """One skill's ability for P persons (logits).

    ``theta``, ``se`` (P,) posterior mean and SD of θ_s; ``n`` (P,) answers in the skill
    (a task rated twice counts once); ``enough`` (P,) the skill's own answers brought the
    posterior SD down to the bank's ``enough_sd``; ``level_probabilities`` (P, L) over
    the cut scores' levels (None without cut scores).
    """

    theta: np.ndarray
    se: np.ndarray
    n: np.ndarray
    enough: np.ndarray
    level_probabilities: np.ndarray | None = None


def _answer_log_probs(grid: np.ndarray, params: ItemParameters, items: np.ndarray,
                      scores: np.ndarray) -> np.ndarray:
    """(Q, P, L) log P(x_pl | θ_q) of each answer (0 for no answer, score -1)."""
    if items.size == 0:
        return np.zeros((grid.shape[0], *items.shape))
    probs = category_probabilities(grid, params, np.maximum(items, 0).ravel())  # (Q, P·L, K+1)
    picked = np.take_along_axis(probs, np.maximum(scores, 0).reshape(1, -1, 1), axis=2)[..., 0]
    logp = np.log(np.maximum(picked, _TINY)).reshape(grid.shape[0], *items.shape)
    return np.where(scores >= 0, logp, 0.0)


def weighted_log_likelihood(grid: np.ndarray, params: ItemParameters, items: np.ndarray,
                            scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(P, Q) Σ_j w_j log P(x_j | θ_q) of each person's answers.

    ``items`` (P, L) bank positions, ``scores`` (P, L) whole scores (-1: no answer),
    ``weights`` (P, L) ≥ 0.
    """
    items = np.atleast_2d(np.asarray(items, dtype=int))
    scores = np.atleast_2d(np.asarray(scores, dtype=int))
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    logp = _answer_log_probs(grid, params, items, scores)
    return np.einsum("qpl,pl->pq", logp, np.where(scores >= 0, weights, 0.0))


def _normalise(log_w: np.ndarray) -> np.ndarray:
    log_w = log_w - log_w.max(axis=-1, keepdims=True)
    w = np.exp(log_w)
    return w / w.sum(axis=-1, keepdims=True)


def skill_estimates(grid: np.ndarray, log_prior: np.ndarray, params: ItemParameters,
                    items: np.ndarray, scores: np.ndarray, weights: np.ndarray,
                    skills: Sequence[str], *, spread: float, enough_sd: float,
                    cuts: CutScores | None = None) -> dict[str, SkillEstimate]:
    """Each of ``skills``' ability for P persons, borrowing strength from the rest.

    ``grid`` (Q,) logits; ``log_prior`` (P, Q) or (Q,) the test's prior of θ;
    ``items``/``scores``/``weights`` (P, L) as :func:`weighted_log_likelihood`;
    ``spread`` the SD of a person's skill deviation δ_s (logits); ``enough_sd`` the
    posterior SD a skill's answers must reach to stand as a level.
    """
    items = np.atleast_2d(np.asarray(items, dtype=int))
    scores = np.atleast_2d(np.asarray(scores, dtype=int))
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    n_persons = items.shape[0]
    log_prior = np.broadcast_to(log_prior, (n_persons, grid.shape[0]))
    item_skill = params.skill[np.maximum(items, 0)]
    answered = scores >= 0
    # the normal kernel N(θ_s; θ, spread²) on the grid, rows θ, columns θ_s
    kernel = np.exp(-0.5 * ((grid[None, :] - grid[:, None]) / spread) ** 2)
    kernel /= kernel.sum(axis=1, keepdims=True)
    out = {}
    logp = _answer_log_probs(grid, params, items, scores)  # once for every skill
    for skill in skills:  # a handful of skills: the work inside is vectorised over persons
        mine = answered & (item_skill == skill)
        own = np.einsum("qpl,pl->pq", logp, np.where(mine, weights, 0.0))
        rest = np.einsum("qpl,pl->pq", logp, np.where(answered & ~mine, weights, 0.0))
        theta_rest = _normalise(rest + log_prior)  # (P, Q) posterior of θ without skill s
        prior_s = theta_rest @ kernel  # (P, Q) prior of θ_s
        post = _normalise(own + np.log(np.maximum(prior_s, _TINY)))
        mean = post @ grid
        sd = np.sqrt(np.maximum(post @ grid**2 - mean**2, 0.0))
        n = _distinct_answers(items, mine)
        probs = cuts.posterior_probabilities(post, grid) if cuts is not None else None
        out[skill] = SkillEstimate(theta=mean, se=sd, n=n,
                                   enough=(n > 0) & (sd <= enough_sd), level_probabilities=probs)
    return out


def _distinct_answers(items: np.ndarray, mine: np.ndarray) -> np.ndarray:
    """(P,) distinct items answered in the skill (two ratings of a task are one answer)."""
    marked = np.where(mine, items, -1)
    ordered = np.sort(marked, axis=1)
    new = (ordered >= 0) & np.concatenate(
        [np.ones((ordered.shape[0], 1), dtype=bool), ordered[:, 1:] != ordered[:, :-1]], axis=1)
    return new.sum(axis=1)


@dataclass(frozen=True)
class SkillSimulation:
    """Per-skill figures of a simulation: for each skill, exact-level accuracy and bias
    (mean θ̂ − θ, logits) of the per-skill estimate and of the overall level used for
    every skill, and the share of persons whose skill had enough evidence."""

    skills: tuple[str, ...]
    accuracy: np.ndarray  # (S,) per-skill estimate, persons with enough evidence
    accuracy_overall: np.ndarray  # (S,) the overall level taken as the skill's level
    bias: np.ndarray  # (S,)
    bias_overall: np.ndarray  # (S,)
    rmse: np.ndarray  # (S,)
    rmse_overall: np.ndarray  # (S,)
    enough: np.ndarray  # (S,)


def simulate_skill_levels(params: ItemParameters, items: np.ndarray, true_theta: np.ndarray,
                          cuts: CutScores, *, grid: np.ndarray, prior_sd: float,
                          spread: float, enough_sd: float, rater_sd: float,
                          double_share: float, seed: int) -> SkillSimulation:
    """Simulate answers and ratings and compare per-skill levels with the truth.

    ``items`` (P, L) the bank positions each person answers; ``true_theta`` (P, S) each
    person's ability in each of the skills ``params.skill`` names, in the order of
    ``np.unique(params.skill)``.  A rated (multi-step) task is scored by a rater whose
    severity is drawn N(0, rater_sd²) per rating; a share ``double_share`` of the tasks
    is rated twice (each rating weighted ½).  The scoring model knows nothing of rater
    severity (it is not corrected).
    """
    rng = np.random.default_rng(seed)
    skills = tuple(np.unique(params.skill).tolist())
    code = np.searchsorted(np.array(skills), params.skill[items])  # (P, L)
    theta_item = np.take_along_axis(true_theta, code, axis=1)  # (P, L): the answering ability
    rated = params.n_steps[items] > 1
    twice = rated & (rng.random(items.shape) < double_share)
    # each answer drawn once per rating: the rater's severity shifts the answer's quality
    # each rating draws the answer's score afresh at the ability less the rater's severity
    first = _draw_scores(rng, theta_item - np.where(
        rated, rng.normal(0.0, rater_sd, items.shape), 0.0), params, items)
    second = _draw_scores(rng, theta_item - rng.normal(0.0, rater_sd, items.shape), params,
                          items)
    all_items = [items, items]
    all_scores = [first, np.where(twice, second, -1)]
    all_w = [np.where(twice, 0.5, 1.0), np.full(items.shape, 0.5)]
    items2 = np.concatenate(all_items, axis=1)
    scores2 = np.concatenate(all_scores, axis=1)
    w2 = np.concatenate(all_w, axis=1)
    log_prior = -0.5 * (grid / prior_sd) ** 2
    est = skill_estimates(grid, log_prior, params, items2, scores2, w2, skills,
                          spread=spread, enough_sd=enough_sd, cuts=cuts)
    overall = _normalise(weighted_log_likelihood(grid, params, items2, scores2, w2)
                         + log_prior)
    overall_theta = overall @ grid
    overall_level = np.argmax(cuts.posterior_probabilities(overall, grid), axis=1)
    s_count = len(skills)
    acc, acc_o, bias, bias_o, rmse, rmse_o, enough = (np.zeros(s_count) for _ in range(7))
    for j, s in enumerate(skills):
        e = est[s]
        truth = true_theta[:, j]
        true_level = cuts.level_index(truth)
        level = np.argmax(e.level_probabilities, axis=1)
        ok = e.enough
        acc[j] = np.mean(level[ok] == true_level[ok]) if ok.any() else np.nan
        acc_o[j] = np.mean(overall_level[ok] == true_level[ok]) if ok.any() else np.nan
        bias[j] = np.mean(e.theta - truth)
        bias_o[j] = np.mean(overall_theta - truth)
        rmse[j] = np.sqrt(np.mean((e.theta - truth) ** 2))
        rmse_o[j] = np.sqrt(np.mean((overall_theta - truth) ** 2))
        enough[j] = ok.mean()
    return SkillSimulation(skills, acc, acc_o, bias, bias_o, rmse, rmse_o, enough)


def _draw_scores(rng: np.random.Generator, theta: np.ndarray, params: ItemParameters,
                 items: np.ndarray) -> np.ndarray:
    """(P, L) scores drawn from the model at each answer's own ability ``theta`` (P, L)."""
    a, steps, c = params.a[items], params.steps[items], params.c[items]  # (P, L), (P, L, K)
    z = np.where(np.isnan(steps), 0.0, a[..., None] * (theta[..., None] - steps))
    cum = np.concatenate([np.zeros((*items.shape, 1)), np.cumsum(z, axis=-1)], axis=-1)
    k = np.arange(cum.shape[-1])
    cum = np.where(k <= params.n_steps[items][..., None], cum, -np.inf)
    p = np.exp(cum - cum.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    right = c + (1 - c) * p[..., 1]  # guessing of right/wrong items (c = 0 for tasks)
    p[..., 1] = np.where(params.n_steps[items] == 1, right, p[..., 1])
    p[..., 0] = np.where(params.n_steps[items] == 1, 1 - right, p[..., 0])
    u = rng.random(items.shape)[..., None]
    return (u > np.cumsum(p, axis=-1)).sum(axis=-1)
