"""Each learner's ability trend from week to week: level and growth, tracked by a filter.

The weekly progress test needs a prior: where is this person now?  Last week's result
moved by a growth everyone shares ignores that learners grow at different rates (a
Track 3 learner may grow three times as fast as a Track 1 learner), so the estimates of
fast learners lag and those of stalled learners run ahead.  A *local linear trend*
(the textbook state-space model for a series that grows) keeps two numbers per person —
the level θ (logits) and the growth (logits a week) — and their 2×2 covariance:

* **start**: after the placement test, level ~ the placement posterior; growth ~ the
  track's growth prior (the config default, or estimated from the programme's own data
  by :func:`growth_prior_from_data`), independent of the level;
* **predict**: one week on, level += growth, and both wander a little (``level_drift_sd``,
  ``growth_drift_sd`` in ``programme.yaml``); the level's marginal is the progress test's
  prior;
* **update**: the test's posterior of the level (θ̂, SE) corrects the level and, through
  their covariance, the growth.

The update treats the test's posterior as Gaussian and exact for the level; the growth is
then the regression of growth on level (the Gaussian conditional), which is the Kalman
update for a measurement of the level.  Pure numpy, no I/O; every function takes scalars
or (N,) arrays so the simulation runs many learners at once.  docs/programme/programme.md has the
figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

_FLOOR = 1e-12


@dataclass(frozen=True)
class Trend:
    """Posterior of a learner's (level, growth): means and 2×2 covariance entries.

    ``level`` in logits, ``growth`` in logits a week; ``var_level`` (logits²),
    ``var_growth`` ((logits/week)²), ``cov`` (logits²/week).  Scalars or (N,) arrays.
    """

    level: np.ndarray
    growth: np.ndarray
    var_level: np.ndarray
    var_growth: np.ndarray
    cov: np.ndarray

    @property
    def se(self) -> np.ndarray:
        """SD of the level, logits."""
        return np.sqrt(self.var_level)

    @property
    def growth_se(self) -> np.ndarray:
        """SD of the growth, logits a week."""
        return np.sqrt(self.var_growth)

    def predict(self, weeks: ArrayLike, level_drift_sd: float,
                growth_drift_sd: float) -> Trend:
        """The trend ``weeks`` (≥ 0) weeks on: level += weeks × growth; each week the level
        drifts by N(0, level_drift_sd²) and the growth by N(0, growth_drift_sd²) (logits,
        logits a week).  Equal to ``weeks`` one-week steps."""
        w = np.asarray(weeks, dtype=float)
        if np.any(w < 0):
            raise ValueError("weeks must be ≥ 0")
        qg = growth_drift_sd**2
        return Trend(
            level=self.level + w * self.growth,
            growth=self.growth,
            # F^w P F^wᵀ + Σ_j F^j Q F^jᵀ, j = 0 … w-1, with F = [[1, 1], [0, 1]]
            var_level=self.var_level + 2 * w * self.cov + w**2 * self.var_growth
            + w * level_drift_sd**2 + qg * (w - 1) * w * (2 * w - 1) / 6,
            var_growth=self.var_growth + w * qg,
            cov=self.cov + w * self.var_growth + qg * w * (w - 1) / 2,
        )

    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, SD) of the level, logits: the prior of a test taken now."""
        return self.level, self.se

    def update(self, theta: ArrayLike, se: ArrayLike) -> Trend:
        """The trend after a test started from :meth:`prior` ended with posterior
        N(θ̂, SE²) of the level (θ̂, SE in logits).

        The test measures the level only, so p(level, growth | answers) =
        p(growth | level) · p(level | answers): the growth follows the level through their
        regression, whatever the test's posterior (even wider than the prior, as guessing
        can make it).
        """
        theta = np.asarray(theta, dtype=float)
        var_post = np.square(np.asarray(se, dtype=float))
        var0 = np.maximum(self.var_level, _FLOOR)
        slope = self.cov / var0  # regression of growth on level
        return Trend(
            level=theta,
            growth=self.growth + slope * (theta - self.level),
            var_level=var_post,
            var_growth=np.maximum(self.var_growth - slope**2 * (var0 - var_post), _FLOOR),
            cov=slope * var_post,
        )

    def with_prior(self, mean: ArrayLike, sd: ArrayLike) -> Trend:
        """This trend with the level's marginal replaced by N(mean, SD²) (logits), the
        growth's conditional on the level kept: for updating from a test that started
        from a slightly different prior (e.g. settings changed while it ran)."""
        mean = np.asarray(mean, dtype=float)
        var = np.square(np.asarray(sd, dtype=float))
        slope = self.cov / np.maximum(self.var_level, _FLOOR)
        residual = self.var_growth - slope * self.cov
        return Trend(mean, self.growth + slope * (mean - self.level), var,
                     np.maximum(residual + slope**2 * var, _FLOOR), slope * var)


def start_trend(theta: ArrayLike, se: ArrayLike, growth_mean: ArrayLike,
                growth_sd: ArrayLike) -> Trend:
    """The trend after placement: level N(θ̂, SE²), growth N(mean, SD²), independent.

    θ̂, SE in logits; growth mean and SD in logits a week (the track's growth prior).
    """
    theta = np.asarray(theta, dtype=float)
    shape = np.broadcast_shapes(theta.shape, np.shape(se), np.shape(growth_mean),
                                np.shape(growth_sd))
    return Trend(
        level=np.broadcast_to(theta, shape).astype(float),
        growth=np.broadcast_to(np.asarray(growth_mean, float), shape).astype(float),
        var_level=np.broadcast_to(np.square(np.asarray(se, float)), shape).astype(float),
        var_growth=np.broadcast_to(np.square(np.asarray(growth_sd, float)), shape)
        .astype(float),
        cov=np.zeros(shape),
    )


@dataclass(frozen=True)
class GrowthPrior:
    """The growth a new learner of one track is expected to have: N(mean, sd²) logits a
    week, and where it came from (``n`` learners' data, 0 for the config default)."""

    mean: float
    sd: float
    n: int = 0


def measurement(theta: ArrayLike, se: ArrayLike, prior_mean: ArrayLike,
                     prior_sd: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """What a test's answers alone say about the level: the Gaussian measurement (y, R)
    that turns the prior N(prior_mean, prior_sd²) into the posterior N(θ̂, SE²).

    All in logits (R in logits²); arrays broadcast.  A test that narrowed nothing has
    R = inf (it says nothing).
    """
    theta, se = np.asarray(theta, dtype=float), np.asarray(se, dtype=float)
    m0, s0 = np.asarray(prior_mean, dtype=float), np.asarray(prior_sd, dtype=float)
    gain = 1.0 / se**2 - 1.0 / s0**2
    informative = gain > 1e-9
    r = np.where(informative, 1.0 / np.where(informative, gain, 1.0), np.inf)
    y = np.where(informative, m0 + (theta - m0) * s0**2 / np.where(informative, s0**2 - se**2,
                                                                   1.0), theta)
    return y, r


def own_growth(weeks: ArrayLike, y: ArrayLike, r: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Each learner's growth from their own tests alone: the weighted least-squares slope
    of the measurements ``y`` on ``weeks``, weights 1/``r``.

    (N, K) arrays (NaN ``y`` for no test); returns the slope (N,) in logits a week and
    its variance (N,); NaN where fewer than two informative tests.
    """
    t = np.asarray(weeks, dtype=float)
    y, r = np.asarray(y, dtype=float), np.asarray(r, dtype=float)
    w = np.where(np.isfinite(y) & np.isfinite(r) & (r > 0), 1.0 / np.where(r > 0, r, 1.0), 0.0)
    y0 = np.where(w > 0, y, 0.0)
    sw = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_bar = (w * t).sum(axis=-1) / sw
        sxx = (w * (t - t_bar[..., None]) ** 2).sum(axis=-1)
        slope = (w * (t - t_bar[..., None]) * y0).sum(axis=-1) / sxx
        var = 1.0 / sxx
    few = (w > 0).sum(axis=-1) < 2
    return np.where(few, np.nan, slope), np.where(few, np.nan, var)


def growth_prior_from_data(growth: ArrayLike, growth_var: ArrayLike, *, default: GrowthPrior,
                           min_learners: int) -> GrowthPrior:
    """A track's growth prior from its learners' own growth estimates.

    ``growth``, ``growth_var`` (N,): each learner's growth from their own tests (logits a
    week, :func:`own_growth`) and its sampling variance.  The track's mean and
    between-learner SD come from the DerSimonian–Laird random-effects moment estimate:
    learners weighted by precision, the spread beyond sampling error is the SD.  The
    learners' *posterior* growth would not do: it shrinks towards the prior they
    started from and would hand that prior back.  Fewer than ``min_learners`` learners
    with an estimate: ``default``.  The SD never falls below a quarter of the default's,
    so a run of similar learners cannot make the prior so narrow that a new learner's
    own data stop counting.
    """
    g, v = np.asarray(growth, dtype=float), np.asarray(growth_var, dtype=float)
    ok = np.isfinite(g) & np.isfinite(v) & (v > 0)
    g, v = g[ok], v[ok]
    if g.size < max(min_learners, 2):
        return default
    w = 1.0 / v
    fixed = np.sum(w * g) / np.sum(w)
    q = np.sum(w * (g - fixed) ** 2)
    tau2 = max(0.0, (q - (g.size - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
    w_re = 1.0 / (v + tau2)
    mean = float(np.sum(w_re * g) / np.sum(w_re))
    return GrowthPrior(mean, max(float(np.sqrt(tau2)), default.sd / 4), int(g.size))


def growth_prior_from_tests(weeks: ArrayLike, theta: ArrayLike, se: ArrayLike,
                            prior_mean: ArrayLike, prior_sd: ArrayLike, *,
                            default: GrowthPrior, min_learners: int) -> GrowthPrior:
    """A track's growth prior from its learners' tests: the whole chain, in one place.

    Each test's own measurement (:func:`measurement`), each learner's growth from their
    own measurements (:func:`own_growth`), then the track's prior
    (:func:`growth_prior_from_data`).  ``weeks`` (K,) programme weeks; ``theta``, ``se``,
    ``prior_mean``, ``prior_sd`` (N, K) logits over learners × weeks, NaN where a learner
    has no test that week.  The service and the programme simulation both call this.
    """
    y, r = measurement(theta, se, prior_mean, prior_sd)
    slope, var = own_growth(weeks, y, r)
    return growth_prior_from_data(slope, var, default=default, min_learners=min_learners)
