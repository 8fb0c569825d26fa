"""Estimators: the current ability estimate of each test from its answers so far."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lang_assess.engine.cat.state import PreparedBank, TestState
from lang_assess.engine.irt.estimate import (
    AbilityEstimate,
    map_estimate,
    mle,
    posterior_mean_sd,
    wle,
)
from lang_assess.engine.irt.params import ItemParameters


class Estimator(Protocol):
    """Updates the ability estimate of tests after an answer."""

    def estimate(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> AbilityEstimate:
        """Estimates (θ̂, SE) for the persons at positions ``rows`` (int array)."""
        ...


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
        used = int(state.length[rows].max(initial=0))
        if used == 0:
            return AbilityEstimate(np.full(rows.shape, np.nan), np.full(rows.shape, np.inf))
        # each person's own items, compact (P, L); unused slots are scored -1
        items = np.maximum(state.items[rows, :used], 0)
        return self._fit(bank.params, state.scores[rows, :used], items, state, rows)

    def _fit(
        self,
        params: ItemParameters,
        scores: np.ndarray,
        items: np.ndarray,
        state: TestState,
        rows: np.ndarray,
    ) -> AbilityEstimate:
        raise NotImplementedError


@dataclass(frozen=True)
class MLEEstimator(_PatternEstimator):
    """Maximum likelihood; all-right/all-wrong patterns give the bound with SE = inf."""

    def _fit(self, params, scores, items, state, rows):  # noqa: ANN001, ANN202
        return mle(params, scores, items=items)


@dataclass(frozen=True)
class WLEEstimator(_PatternEstimator):
    """Warm's weighted likelihood: finite for all-right/all-wrong patterns (1PL/2PL/GPCM)."""

    def _fit(self, params, scores, items, state, rows):  # noqa: ANN001, ANN202
        return wle(params, scores, items=items)


@dataclass(frozen=True)
class MAPEstimator(_PatternEstimator):
    """Maximum a posteriori under each person's normal prior."""

    def _fit(self, params, scores, items, state, rows):  # noqa: ANN001, ANN202
        mean, sd = state.prior_mean[rows], state.prior_sd[rows]
        return map_estimate(params, scores, prior_mean=mean, prior_sd=sd, items=items)
