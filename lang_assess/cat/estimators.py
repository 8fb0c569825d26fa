"""Estimators: the current ability estimate of each test from its answers so far."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lang_assess.cat.state import PreparedBank, TestState
from lang_assess.irt.estimate import AbilityEstimate, map_estimate, mle, posterior_mean_sd, wle


@dataclass(frozen=True)
class EAPEstimator:
    """Expected a posteriori on the design's grid; SE is the posterior SD.

    Uses the log-likelihood the engine keeps on the grid, so an update costs O(Q).
    """

    def estimate(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> AbilityEstimate:
        """Estimates for the persons at positions ``rows`` (int array)."""
        return posterior_mean_sd(state.log_lik[rows], state.log_prior[rows], bank.grid)


@dataclass(frozen=True)
class _PatternEstimator:
    """Estimators that need the response pattern itself (MLE, WLE, MAP)."""

    def estimate(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> AbilityEstimate:
        """Estimates for the persons at positions ``rows`` (int array)."""
        items = state.items[rows]
        used = np.unique(items[items >= 0])
        if used.size == 0:
            return AbilityEstimate(np.full(rows.shape, np.nan), np.full(rows.shape, np.inf))
        col = np.full(bank.n_items, -1)
        col[used] = np.arange(used.size)
        resp = np.full((rows.size, used.size), -1)
        r, k = np.nonzero(items >= 0)
        resp[r, col[items[r, k]]] = state.scores[rows][r, k]
        return self._fit(bank.params.subset(used), resp, state, rows)

    def _fit(
        self, params: object, resp: np.ndarray, state: TestState, rows: np.ndarray
    ) -> AbilityEstimate:
        raise NotImplementedError


@dataclass(frozen=True)
class MLEEstimator(_PatternEstimator):
    """Maximum likelihood; all-right/all-wrong patterns give the bound with SE = inf."""

    def _fit(self, params, resp, state, rows):  # noqa: ANN001, ANN202
        return mle(params, resp)


@dataclass(frozen=True)
class WLEEstimator(_PatternEstimator):
    """Warm's weighted likelihood: finite for all-right/all-wrong patterns (1PL/2PL/GPCM)."""

    def _fit(self, params, resp, state, rows):  # noqa: ANN001, ANN202
        return wle(params, resp)


@dataclass(frozen=True)
class MAPEstimator(_PatternEstimator):
    """Maximum a posteriori under each person's normal prior."""

    def _fit(self, params, resp, state, rows):  # noqa: ANN001, ANN202
        mean, sd = state.prior_mean[rows], state.prior_sd[rows]
        return map_estimate(params, resp, prior_mean=mean, prior_sd=sd)
