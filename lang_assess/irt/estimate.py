"""Ability estimation with standard errors: EAP, MAP, MLE and WLE.

Every estimator takes a (P, n) score matrix (``-1`` = not administered) and returns an
:class:`AbilityEstimate` with θ̂ and its standard error for all P persons at once.

Decisions (see docs/decisions.md):

- EAP integrates on a fixed grid (default 121 points on [-6, 6] logits); its SE is the
  posterior standard deviation.
- MLE, MAP and WLE locate the maximum on a 0.1-logit search grid inside ``bounds`` and then
  solve the estimating equation by bisection to 1e-9 logits.  SE = 1/√I(θ̂) (MAP adds the
  prior precision).
- MLE has no finite maximum for all-right or all-wrong patterns (or no responses): it
  returns the nearer bound with SE = ∞, so a caller can tell it apart from a real estimate.
  WLE is finite for such patterns under 1PL/2PL/GPCM and is the frequentist choice for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lang_assess.irt.models import check_responses, log_likelihood, score_terms
from lang_assess.irt.params import ItemParameters

DEFAULT_GRID: np.ndarray = np.linspace(-6.0, 6.0, 121)
DEFAULT_BOUNDS: tuple[float, float] = (-6.0, 6.0)
_SEARCH_STEP = 0.1
_BISECTIONS = 40
_CHUNK_CELLS = 4_000_000  # persons × grid points × items per chunk: bounds peak memory


@dataclass(frozen=True)
class AbilityEstimate:
    """θ̂ and its standard error for P persons: ``theta`` and ``se`` are (P,) logits."""

    theta: np.ndarray
    se: np.ndarray


def normal_log_prior(
    grid: np.ndarray, mean: float | np.ndarray = 0.0, sd: float | np.ndarray = 1.0
) -> np.ndarray:
    """Log density (up to a constant) of N(mean, sd²) on ``grid``.

    ``mean`` and ``sd`` are scalars or (P,) arrays; returns (Q,) or (P, Q).
    """
    m = np.asarray(mean, dtype=float)[..., None]
    s = np.asarray(sd, dtype=float)[..., None]
    return -0.5 * ((grid - m) / s) ** 2 - np.log(s)


def posterior_weights(log_lik: np.ndarray, log_prior: np.ndarray) -> np.ndarray:
    """(P, Q) normalised posterior weights on a grid from log-likelihood and log prior."""
    log_post = log_lik + log_prior
    log_post = log_post - log_post.max(axis=-1, keepdims=True)
    w = np.exp(log_post)
    return w / w.sum(axis=-1, keepdims=True)


def posterior_mean_sd(
    log_lik: np.ndarray, log_prior: np.ndarray, grid: np.ndarray
) -> AbilityEstimate:
    """EAP and posterior SD from a (P, Q) log-likelihood on ``grid`` (Q,) and a log prior."""
    w = posterior_weights(np.atleast_2d(log_lik), log_prior)
    mean = w @ grid
    var = w @ (grid * grid) - mean * mean
    return AbilityEstimate(theta=mean, se=np.sqrt(np.maximum(var, 0.0)))


def eap(
    params: ItemParameters,
    responses: np.ndarray,
    *,
    prior_mean: float | np.ndarray = 0.0,
    prior_sd: float | np.ndarray = 1.0,
    log_prior: np.ndarray | None = None,
    grid: np.ndarray = DEFAULT_GRID,
) -> AbilityEstimate:
    """Expected a posteriori θ̂ with the posterior SD as SE.

    Parameters
    ----------
    params : n items.
    responses : (P, n) int, ``-1`` = not administered.
    prior_mean, prior_sd : scalar or (P,) — normal prior, logits.
    log_prior : optional (Q,) or (P, Q) log prior density on ``grid``; overrides the normal.
    grid : (Q,) quadrature points in logits.
    """
    resp = check_responses(params, responses)
    lp = normal_log_prior(grid, prior_mean, prior_sd) if log_prior is None else log_prior
    lp = np.broadcast_to(lp, (resp.shape[0], grid.shape[0])) if lp.ndim == 2 else lp
    thetas, ses = [], []
    for rows in _chunks(resp.shape[0], grid.shape[0] * params.n_items):
        part_lp = lp[rows] if lp.ndim == 2 else lp
        est = posterior_mean_sd(log_likelihood(grid, params, resp[rows]), part_lp, grid)
        thetas.append(est.theta)
        ses.append(est.se)
    return AbilityEstimate(np.concatenate(thetas), np.concatenate(ses))


def mle(
    params: ItemParameters,
    responses: np.ndarray,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimate:
    """Maximum likelihood θ̂; SE = 1/√I(θ̂).

    All-right, all-wrong or empty patterns have no interior maximum: θ̂ is the nearer
    bound (logits) and SE is ``inf``.
    """
    return _solve(params, responses, bounds, kind="mle")


def map_estimate(
    params: ItemParameters,
    responses: np.ndarray,
    *,
    prior_mean: float | np.ndarray = 0.0,
    prior_sd: float | np.ndarray = 1.0,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimate:
    """Maximum a posteriori θ̂ under a normal prior; SE = 1/√(I(θ̂) + 1/sd²)."""
    return _solve(params, responses, bounds, kind="map", prior=(prior_mean, prior_sd))


def wle(
    params: ItemParameters,
    responses: np.ndarray,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimate:
    """Warm's weighted likelihood θ̂: root of l'(θ) + J(θ)/(2I(θ)); SE = 1/√I(θ̂)."""
    return _solve(params, responses, bounds, kind="wle")


def _chunks(n_persons: int, cells_per_person: int) -> list[slice]:
    size = max(1, _CHUNK_CELLS // max(1, cells_per_person))
    return [slice(s, min(s + size, n_persons)) for s in range(0, n_persons, size)] or [
        slice(0, 0)
    ]


def _solve(
    params: ItemParameters,
    responses: np.ndarray,
    bounds: tuple[float, float],
    kind: str,
    prior: tuple[float | np.ndarray, float | np.ndarray] = (0.0, 1.0),
) -> AbilityEstimate:
    resp = check_responses(params, responses)
    n_persons = resp.shape[0]
    lo, hi = float(bounds[0]), float(bounds[1])
    grid = np.linspace(lo, hi, round((hi - lo) / _SEARCH_STEP) + 1)
    mean = np.broadcast_to(np.asarray(prior[0], dtype=float), (n_persons,))
    sd = np.broadcast_to(np.asarray(prior[1], dtype=float), (n_persons,))
    theta = np.empty(n_persons)
    se = np.empty(n_persons)
    for rows in _chunks(n_persons, grid.shape[0] * params.n_items * 4):
        r = resp[rows]
        theta[rows], se[rows] = _solve_chunk(params, r, grid, kind, mean[rows], sd[rows])
    return AbilityEstimate(theta, se)


def _solve_chunk(
    params: ItemParameters,
    resp: np.ndarray,
    grid: np.ndarray,
    kind: str,
    mean: np.ndarray,
    sd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n_p = resp.shape[0]

    def estimating(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """g(θ) whose root is the estimate, and the test information; θ is (P, M)."""
        s, info, j = score_terms(theta, params, resp)
        if kind == "map":
            s = s - (theta - mean[:, None]) / (sd[:, None] ** 2)
        elif kind == "wle":
            s = s + j / (2.0 * np.maximum(info, 1e-12))
        return s, info

    # objective on the search grid picks the basin; for WLE the Jeffreys-penalised
    # likelihood l + ½ log I (exact for 1PL/2PL/GPCM, close for 3PL)
    objective = log_likelihood(grid, params, resp)
    if kind == "map":
        objective = objective + normal_log_prior(grid, mean, sd)
    elif kind == "wle":
        _, info_grid = estimating(np.broadcast_to(grid, (n_p, grid.shape[0])))
        objective = objective + 0.5 * np.log(np.maximum(info_grid, 1e-300))
    best = np.argmax(objective, axis=1)
    last = grid.shape[0] - 1
    lower = grid[np.maximum(best - 1, 0)]
    upper = grid[np.minimum(best + 1, last)]
    theta = _bisect(lambda t: estimating(t[:, None])[0][:, 0], lower, upper)
    _, info = estimating(theta[:, None])
    info = info[:, 0]

    if kind == "map":
        return theta, 1.0 / np.sqrt(info + 1.0 / sd**2)
    se = 1.0 / np.sqrt(np.maximum(info, 1e-300))
    if kind == "mle":
        # no interior maximum: the likelihood still rises at the bound
        g_lo = estimating(np.full((n_p, 1), grid[0]))[0][:, 0]
        g_hi = estimating(np.full((n_p, 1), grid[-1]))[0][:, 0]
        at_top = (best == last) & (g_hi >= 0)
        at_bottom = (best == 0) & (g_lo <= 0)
        theta = np.where(at_top, grid[-1], np.where(at_bottom, grid[0], theta))
        se = np.where(at_top | at_bottom, np.inf, se)
    return theta, se


def _bisect(
    g: Callable[[np.ndarray], np.ndarray], lower: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    """Vectorised bisection for a decreasing g on [lower, upper] (P,); clamps to the ends."""
    lo, hi = lower.astype(float).copy(), upper.astype(float).copy()
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        positive = g(mid) > 0
        lo = np.where(positive, mid, lo)
        hi = np.where(positive, hi, mid)
    return 0.5 * (lo + hi)
