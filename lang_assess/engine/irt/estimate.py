"""Ability estimation with standard errors: EAP, MAP, MLE and WLE.

Every estimator takes a (P, n) score matrix (``-1`` = not administered) and returns an
:class:`AbilityEstimate` with θ̂ and its standard error for all P persons at once.

Decisions (see docs/decisions.md):

- EAP integrates on a fixed grid (default 121 points on [-6, 6] logits); its SE is the
  posterior standard deviation.
- MLE, MAP and WLE locate the maximum on a 0.25-logit search grid inside ``bounds`` and then
  solve the estimating equation by safeguarded Newton steps to 1e-10 logits.
  SE = 1/√I(θ̂) (MAP adds the prior precision).
- MLE has no finite maximum for all-right or all-wrong patterns (or no responses): it
  returns the nearer bound with SE = ∞, so a caller can tell it apart from a real estimate.
  WLE is finite for such patterns under 1PL/2PL/GPCM and is the frequentist choice for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lang_assess.engine.irt.models import check_responses, log_likelihood, score_terms
from lang_assess.engine.irt.params import ItemParameters

DEFAULT_GRID: np.ndarray = np.linspace(-6.0, 6.0, 121)
DEFAULT_BOUNDS: tuple[float, float] = (-6.0, 6.0)
_SEARCH_STEP = 0.25
_MAX_ITER = 60
_TOL = 1e-10
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


def equivalent_normal_prior(
    log_lik: np.ndarray,
    grid: np.ndarray,
    theta: np.ndarray,
    se: np.ndarray,
    reference: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """(P,) means and SDs of the normal priors that turn what the answers alone say into
    the posteriors N(θ̂, SE²) (logits).

    What the answers say is read through the wide ``reference`` prior (mean, SD): the
    posterior under it, N(θ_r, SE_r²), less the reference by the normal algebra gives a
    measurement y with variance R (the flat likelihood floor of guessable items makes
    the raw likelihood unusable for that: its mean runs off to the grid's edge).  The
    prior then has precision 1/SE² − 1/R and mean SE_0²·(θ̂/SE² − y/R): for a normal prior
    about that prior; for a mixed prior, the normal it acted as for each person.  SD is
    capped at 1,000 where the prior added nothing.
    """
    ref_mean, ref_sd = reference
    ref = posterior_mean_sd(log_lik, normal_log_prior(grid, ref_mean, ref_sd), grid)
    gain = np.maximum(1.0 / np.square(ref.se) - 1.0 / ref_sd**2, 1e-12)
    r = 1.0 / gain
    y = ref_mean + (ref.theta - ref_mean) * ref_sd**2 / np.maximum(
        ref_sd**2 - np.square(ref.se), 1e-12)
    precision = 1.0 / np.square(se) - gain
    informative = precision > 1e-6
    var0 = np.where(informative, 1.0 / np.where(informative, precision, 1.0), 1e6)
    mean = np.where(informative, var0 * (theta / np.square(se) - y / r), theta)
    return mean, np.sqrt(var0)


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
    items: np.ndarray | None = None,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimate:
    """Maximum likelihood θ̂; SE = 1/√I(θ̂).

    All-right, all-wrong or empty patterns have no interior maximum: θ̂ is the nearer
    bound (logits) and SE is ``inf``.
    """
    return _solve(params, responses, items, bounds, kind="mle")


def map_estimate(
    params: ItemParameters,
    responses: np.ndarray,
    *,
    prior_mean: float | np.ndarray = 0.0,
    prior_sd: float | np.ndarray = 1.0,
    items: np.ndarray | None = None,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimate:
    """Maximum a posteriori θ̂ under a normal prior; SE = 1/√(I(θ̂) + 1/sd²)."""
    return _solve(params, responses, items, bounds, kind="map", prior=(prior_mean, prior_sd))


def wle(
    params: ItemParameters,
    responses: np.ndarray,
    *,
    items: np.ndarray | None = None,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> AbilityEstimate:
    """Warm's weighted likelihood θ̂: root of l'(θ) + J(θ)/(2I(θ)); SE = 1/√I(θ̂)."""
    return _solve(params, responses, items, bounds, kind="wle")


def _chunks(n_persons: int, cells_per_person: int) -> list[slice]:
    size = max(1, _CHUNK_CELLS // max(1, cells_per_person))
    return [slice(s, min(s + size, n_persons)) for s in range(0, n_persons, size)] or [
        slice(0, 0)
    ]


def _solve(
    params: ItemParameters,
    responses: np.ndarray,
    items: np.ndarray | None,
    bounds: tuple[float, float],
    kind: str,
    prior: tuple[float | np.ndarray, float | np.ndarray] = (0.0, 1.0),
) -> AbilityEstimate:
    resp = check_responses(params, responses, items)
    n_persons = resp.shape[0]
    lo, hi = float(bounds[0]), float(bounds[1])
    grid = np.linspace(lo, hi, round((hi - lo) / _SEARCH_STEP) + 1)
    mean = np.broadcast_to(np.asarray(prior[0], dtype=float), (n_persons,))
    sd = np.broadcast_to(np.asarray(prior[1], dtype=float), (n_persons,))
    theta = np.empty(n_persons)
    se = np.empty(n_persons)
    for rows in _chunks(n_persons, grid.shape[0] * resp.shape[1] * 4):
        pos = None if items is None else np.asarray(items)[rows]
        theta[rows], se[rows] = _solve_chunk(
            params, resp[rows], pos, grid, kind, mean[rows], sd[rows]
        )
    return AbilityEstimate(theta, se)


def _solve_chunk(
    params: ItemParameters,
    resp: np.ndarray,
    items: np.ndarray | None,
    grid: np.ndarray,
    kind: str,
    mean: np.ndarray,
    sd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n_p = resp.shape[0]

    everyone = np.arange(n_p)

    def estimating(
        theta: np.ndarray, rows: np.ndarray = everyone
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """g(θ) whose root is the estimate, its slope (≈ −information), and I(θ); (m, M)."""
        pos = None if items is None else items[rows]
        s, info, j = score_terms(theta, params, resp[rows], pos)
        slope = -info
        if kind == "map":
            s = s - (theta - mean[rows, None]) / (sd[rows, None] ** 2)
            slope = slope - 1.0 / sd[rows, None] ** 2
        elif kind == "wle":
            s = s + j / (2.0 * np.maximum(info, 1e-12))
        return s, slope, info

    # objective on the search grid picks the basin; for WLE the Jeffreys-penalised
    # likelihood l + ½ log I (exact for 1PL/2PL/GPCM, close for 3PL)
    objective = log_likelihood(grid, params, resp, items)
    if kind == "map":
        objective = objective + normal_log_prior(grid, mean, sd)
    elif kind == "wle":
        info_grid = estimating(np.broadcast_to(grid, (n_p, grid.shape[0])))[2]
        objective = objective + 0.5 * np.log(np.maximum(info_grid, 1e-300))
    best = np.argmax(objective, axis=1)
    last = grid.shape[0] - 1
    lower = grid[np.maximum(best - 1, 0)]
    upper = grid[np.minimum(best + 1, last)]

    def g_slope(t: np.ndarray, rows: np.ndarray = everyone) -> tuple[np.ndarray, np.ndarray]:
        g, slope, _ = estimating(t[:, None], rows)
        return g[:, 0], slope[:, 0]

    theta = _find_root(g_slope, lower, upper)
    info = estimating(theta[:, None])[2][:, 0]

    if kind == "map":
        return theta, 1.0 / np.sqrt(info + 1.0 / sd**2)
    se = 1.0 / np.sqrt(np.maximum(info, 1e-300))
    if kind == "mle":
        # no interior maximum: the likelihood still rises at the bound
        g_lo = g_slope(np.full(n_p, grid[0]))[0]
        g_hi = g_slope(np.full(n_p, grid[-1]))[0]
        at_top = (best == last) & (g_hi >= 0)
        at_bottom = (best == 0) & (g_lo <= 0)
        theta = np.where(at_top, grid[-1], np.where(at_bottom, grid[0], theta))
        se = np.where(at_top | at_bottom, np.inf, se)
    return theta, se


def _find_root(
    g_slope: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    """Root of a decreasing g in [lower, upper] (P,): Newton steps kept inside a shrinking
    bracket, bisection when a step would leave it; the nearer end without a sign change.

    ``g_slope(theta, rows)`` returns g and dg/dθ for the persons at ``rows``.
    """
    lo, hi = lower.astype(float).copy(), upper.astype(float).copy()
    rows = np.arange(lo.size)
    g_lo, _ = g_slope(lo, rows)
    g_hi, _ = g_slope(hi, rows)
    theta = np.where(g_lo <= 0, lo, np.where(g_hi >= 0, hi, 0.5 * (lo + hi)))
    active = rows[(g_lo > 0) & (g_hi < 0)]
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        t = theta[active]
        g, slope = g_slope(t, active)
        positive = g > 0
        lo[active] = np.where(positive, t, lo[active])
        hi[active] = np.where(positive, hi[active], t)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = t - g / np.where(slope < 0, slope, np.nan)
        inside = np.isfinite(newton) & (newton > lo[active]) & (newton < hi[active])
        new = np.where(g == 0, t, np.where(inside, newton, 0.5 * (lo[active] + hi[active])))
        theta[active] = new
        active = active[(np.abs(new - t) >= _TOL) & (g != 0)]
    return theta
