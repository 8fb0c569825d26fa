"""Rater agreement and severity (issue 16)."""

import numpy as np
import pytest

from lang_assess.engine.raters import _category_log_probs, agreement, rater_severity


def test_agreement_of_identical_ratings_is_perfect():
    a = np.array([0, 1, 2, 3, 2, 1])
    got = agreement(a, a, 4)
    assert (got.n, got.exact, got.adjacent) == (6, 1.0, 1.0)
    assert got.kappa == pytest.approx(1.0)


def test_agreement_counts_exact_and_adjacent_and_kappa_by_hand():
    a = np.array([0, 1, 2, 3])
    b = np.array([0, 2, 2, 1])
    got = agreement(a, b, 4)
    assert got.exact == 0.5 and got.adjacent == 0.75
    # quadratic-weighted kappa by its definition, in plain loops
    obs = np.zeros((4, 4))
    for x, y in zip(a, b, strict=True):
        obs[x, y] += 0.25
    exp = np.outer(obs.sum(1), obs.sum(0))
    w = np.array([[(i - j) ** 2 / 9 for j in range(4)] for i in range(4)])
    assert got.kappa == pytest.approx(1 - (w * obs).sum() / (w * exp).sum())


def test_independent_raters_have_kappa_near_zero():
    rng = np.random.default_rng(1)
    got = agreement(rng.integers(0, 4, 4000), rng.integers(0, 4, 4000), 4)
    assert abs(got.kappa) < 0.05


def test_no_pairs_gives_nan():
    got = agreement(np.array([], int), np.array([], int), 4)
    assert got.n == 0 and np.isnan(got.kappa)


def _simulate(severity, n_answers, rng, thresholds=(-1.0, 0.0, 1.0)):
    """Each answer rated by two raters drawn without replacement."""
    n_r = len(severity)
    quality = rng.normal(0, 1.2, n_answers)
    pairs = np.array([rng.choice(n_r, 2, replace=False) for _ in range(n_answers)])
    answer = np.repeat(np.arange(n_answers), 2)
    rater = pairs.ravel()
    z = quality[answer] - np.asarray(severity)[rater]
    p = np.exp(_category_log_probs(z, np.asarray(thresholds)))
    score = (rng.random(z.size)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return answer, rater, score


def test_rater_severity_recovers_known_severities():
    rng = np.random.default_rng(7)
    truth = np.array([-0.6, 0.0, 0.6])
    answer, rater, score = _simulate(truth, 800, rng)
    fit = rater_severity(answer, rater, score, 3, 4)
    assert fit.severity.sum() == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.abs(fit.severity - truth) < 3 * fit.se + 0.05), (fit.severity, fit.se)
    assert np.all(fit.se < 0.2)
    assert fit.severity[2] > fit.severity[0]  # the severe rater is found severe


def test_rater_severity_needs_double_ratings():
    with pytest.raises(ValueError, match="rated twice"):
        rater_severity(np.array([0, 1]), np.array([0, 1]), np.array([1, 2]), 2, 4)
