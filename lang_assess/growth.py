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
or (N,) arrays so the simulation runs many learners at once.  docs/programme.md has the
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
        """The trend ``weeks`` (≥ 0) weeks on: level += weeks × growth, with the random
        drift of level and growth added for each week."""
        w = np.asarray(weeks, dtype=float)
        if np.any(w < 0):
            raise ValueError("weeks must be ≥ 0")
        return Trend(
            level=self.level + w * self.growth,
            growth=self.growth,
            var_level=self.var_level + 2 * w * self.cov + w**2 * self.var_growth
            + w * level_drift_sd**2,
            var_growth=self.var_growth + w * growth_drift_sd**2,
            cov=self.cov + w * self.var_growth,
        )

    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, SD) of the level, logits: the prior of a test taken now."""
        return self.level, self.se

    def update(self, theta: ArrayLike, se: ArrayLike) -> Trend:
        """The trend after a test started from :meth:`prior` ended with posterior
        N(θ̂, SE²) of the level (θ̂, SE in logits)."""
        theta = np.asarray(theta, dtype=float)
        se = np.asarray(se, dtype=float)
        var0 = np.maximum(self.var_level, _FLOOR)
        slope = self.cov / var0  # regression of growth on level
        var_post = np.minimum(se**2, var0)  # a test never adds uncertainty
        return Trend(
            level=theta,
            growth=self.growth + slope * (theta - self.level),
            var_level=var_post,
            var_growth=np.maximum(self.var_growth - slope**2 * (var0 - var_post), _FLOOR),
            cov=slope * var_post,
        )


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


def growth_prior_from_data(growth: ArrayLike, growth_se: ArrayLike, *, default: GrowthPrior,
                           min_learners: int) -> GrowthPrior:
    """A track's growth prior estimated from its learners' current trends.

    ``growth``, ``growth_se`` (N,): each learner's posterior growth mean and SD (logits a
    week), for learners with enough weekly tests to say something.  The mean of the
    posterior means estimates the track's mean growth; by the law of total variance the
    spread of the means plus the mean posterior variance estimates the between-learner
    SD (an empirical-Bayes moment estimate).  Fewer than ``min_learners`` learners:
    ``default``.  The SD never falls below a quarter of the default's, so a run of
    similar learners cannot make the prior so narrow that new learners' own data stop
    counting.
    """
    g = np.asarray(growth, dtype=float)
    s = np.asarray(growth_se, dtype=float)
    ok = np.isfinite(g) & np.isfinite(s)
    g, s = g[ok], s[ok]
    if g.size < max(min_learners, 2):
        return default
    sd = float(np.sqrt(np.var(g, ddof=1) + np.mean(s**2)))
    return GrowthPrior(float(np.mean(g)), max(sd, default.sd / 4), int(g.size))
