"""Raters: how two teachers' scores of the same answers agree, and how severe each is.

- :func:`agreement` — exact and adjacent agreement and quadratic-weighted kappa of pairs
  of ratings on a 0..k scale (Cohen 1968);
- :func:`rater_severity` — a many-facet Rasch model (Linacre 1989) fitted to answers
  rated by two or more teachers: P(X = x | answer n, rater r) is a rating-scale model in
  θ_n − λ_r with thresholds τ_1..τ_k, each answer's quality θ_n ~ N(0, σ²) integrated
  out on a grid (marginal maximum likelihood, so the answers' nuisance parameters do not
  bias λ as joint ML with two ratings per answer would).  λ sums to zero over raters; a
  positive λ is a severe rater (the same answer scores lower).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = np.linspace(-6.0, 6.0, 61)


@dataclass(frozen=True)
class Agreement:
    """Agreement of ``n`` pairs of ratings: shares exact and within one step, and the
    quadratic-weighted kappa (NaN when undefined: no pairs, or no spread in either)."""

    n: int
    exact: float
    adjacent: float
    kappa: float


def agreement(first: np.ndarray, second: np.ndarray, n_categories: int) -> Agreement:
    """Agreement of paired ratings ``first`` and ``second`` (n,) on scores 0..n_categories-1."""
    a = np.asarray(first, dtype=int)
    b = np.asarray(second, dtype=int)
    n = int(a.size)
    if n == 0:
        return Agreement(0, float("nan"), float("nan"), float("nan"))
    diff = np.abs(a - b)
    k = np.arange(n_categories)
    observed = np.zeros((n_categories, n_categories))
    np.add.at(observed, (a, b), 1.0)
    observed /= n
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    weight = (k[:, None] - k[None, :]) ** 2 / max(n_categories - 1, 1) ** 2
    denominator = float((weight * expected).sum())
    kappa = 1.0 - float((weight * observed).sum()) / denominator if denominator > 0 else float(
        "nan")
    return Agreement(n, float(np.mean(diff == 0)), float(np.mean(diff <= 1)), kappa)


@dataclass(frozen=True)
class Severity:
    """A many-facet Rasch fit: ``severity`` and ``se`` (R,) per rater in logits (sum to
    zero; positive = severe), ``thresholds`` (k,), ``sd`` of the answers' quality, and
    ``n`` (R,) ratings each rater gave on answers rated more than once."""

    severity: np.ndarray
    se: np.ndarray
    thresholds: np.ndarray
    sd: float
    n: np.ndarray


def _category_log_probs(z: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """log P(X = x) of a rating-scale model at logit offsets ``z`` (...,): (..., k+1)."""
    steps = z[..., None] - thresholds  # (..., k)
    cum = np.concatenate([np.zeros((*z.shape, 1)), np.cumsum(steps, axis=-1)], axis=-1)
    return cum - np.logaddexp.reduce(cum, axis=-1, keepdims=True)


def rater_severity(answer: np.ndarray, rater: np.ndarray, score: np.ndarray,
                   n_raters: int, n_categories: int) -> Severity:
    """Rater severities from ratings (answer index, rater index, score), all (m,) ints.

    Only answers with two or more ratings carry information on severity; pass those.
    Raises ValueError with fewer than two raters or no answer rated twice.
    """
    # imported here: the participant's kernel loads the engine, never this fit
    from scipy.optimize import minimize

    answer, rater, score = (np.asarray(v, dtype=int) for v in (answer, rater, score))
    answers, a_idx = np.unique(answer, return_inverse=True)
    if n_raters < 2 or answers.size == 0 or np.bincount(a_idx).max() < 2:
        raise ValueError("rater severity needs two raters and answers rated twice")
    k = n_categories - 1
    count = np.maximum(np.bincount(score, minlength=n_categories), 0.5)
    # start: thresholds from the cumulative shares of the scores, severities 0, σ = 1
    tau0 = np.log(count[:-1] / count[1:])
    x0 = np.concatenate([np.zeros(n_raters - 1), tau0 - tau0.mean(), [0.0]])
    log_w = -0.5 * GRID**2
    log_w -= np.logaddexp.reduce(log_w)

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        lam = np.append(x[: n_raters - 1], -x[: n_raters - 1].sum())
        return lam, x[n_raters - 1: n_raters - 1 + k], float(np.exp(x[-1]))

    def negative_log_lik(x: np.ndarray) -> float:
        lam, tau, sd = unpack(x)
        z = sd * GRID[:, None] - lam[rater][None, :]  # (Q, m)
        lp = np.take_along_axis(_category_log_probs(z, tau), score[None, :, None], 2)[..., 0]
        per_answer = np.zeros((GRID.size, answers.size))
        np.add.at(per_answer.T, a_idx, lp.T)
        return -float(np.logaddexp.reduce(per_answer + log_w[:, None], axis=0).sum())

    fit = minimize(negative_log_lik, x0, method="BFGS")
    lam, tau, sd = unpack(fit.x)
    se = _severity_se(negative_log_lik, fit.x, n_raters)
    return Severity(severity=lam, se=se, thresholds=tau, sd=sd,
                    n=np.bincount(rater, minlength=n_raters))


def _severity_se(f: object, x: np.ndarray, n_raters: int, h: float = 1e-3) -> np.ndarray:
    """(R,) standard errors of the severities from a central-difference Hessian."""
    d = x.size
    hess = np.zeros((d, d))
    eye = np.eye(d) * h
    for i in range(d):  # d is raters + thresholds + 1: a few dozen evaluations
        for j in range(i, d):
            hess[i, j] = hess[j, i] = (f(x + eye[i] + eye[j]) - f(x + eye[i] - eye[j])  # type: ignore[operator]
                                       - f(x - eye[i] + eye[j]) + f(x - eye[i] - eye[j])  # type: ignore[operator]
                                       ) / (4 * h * h)
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full(n_raters, np.nan)
    # λ_R = −Σ others: its variance is 1'Σ1 over the free ones
    free = cov[: n_raters - 1, : n_raters - 1]
    var = np.append(np.diag(free), free.sum())
    return np.sqrt(np.where(var > 0, var, np.nan))
