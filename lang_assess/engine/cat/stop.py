"""Stopping rules: when a test has measured enough.

Each rule answers "is this test done?" for P tests; :class:`StopRule` combines them with
a minimum and a maximum length.  A test also ends when no eligible item is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lang_assess.engine.cat.state import PreparedBank, TestState
from lang_assess.engine.irt.estimate import posterior_weights
from lang_assess.engine.levels import CutScores


class Stopper(Protocol):
    """One reason to stop."""

    def satisfied(self, bank: PreparedBank, state: TestState) -> np.ndarray:
        """(P,) bool: the rule is met for each test."""
        ...


@dataclass(frozen=True)
class StandardErrorTarget:
    """Stop once SE(θ̂) ≤ ``se`` logits (0.30 ≈ reliability 0.91 on a unit-variance scale)."""

    se: float = 0.30

    def satisfied(self, bank: PreparedBank, state: TestState) -> np.ndarray:
        """(P,) bool: SE at or below the target."""
        return state.se <= self.se


@dataclass(frozen=True)
class ClassificationConfidence:
    """Stop once the most probable CEFR level has posterior probability ≥ ``confidence``."""

    cuts: CutScores
    confidence: float = 0.90

    def satisfied(self, bank: PreparedBank, state: TestState) -> np.ndarray:
        """(P,) bool: the level is decided with the required probability."""
        w = posterior_weights(state.log_lik, state.log_prior)
        return self.cuts.posterior_probabilities(w, bank.grid).max(axis=1) >= self.confidence


@dataclass(frozen=True)
class CutDecided:
    """Stop once it is decided on which side of one cut θ lies: P(θ ≥ ``cut`` | answers
    and prior) ≥ ``probability`` or ≤ 1 − ``probability`` (``cut`` in logits).

    The weekly test's decision is whether the learner is past the cut above their
    course level; measuring θ more precisely than that decision needs costs items.
    """

    cut: float
    probability: float = 0.93

    def __post_init__(self) -> None:
        if not 0.5 < self.probability < 1.0:
            raise ValueError(f"probability must be in (0.5, 1), got {self.probability}")

    def satisfied(self, bank: PreparedBank, state: TestState) -> np.ndarray:
        """(P,) bool: the side of the cut is known with the required probability."""
        w = posterior_weights(state.log_lik, state.log_prior)
        above = w[:, bank.grid >= self.cut].sum(axis=1)
        return np.maximum(above, 1.0 - above) >= self.probability


@dataclass(frozen=True)
class StopRule:
    """Stop when ``min_items`` are given and any rule holds, or at ``max_items``."""

    min_items: int = 5
    max_items: int = 30
    rules: Sequence[Stopper] = field(default_factory=lambda: (StandardErrorTarget(),))

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if not 1 <= self.min_items <= self.max_items:
            raise ValueError(
                f"need 1 ≤ min_items ≤ max_items, got {self.min_items} and {self.max_items}"
            )

    def done(self, bank: PreparedBank, state: TestState) -> np.ndarray:
        """(P,) bool: the test is over."""
        met = np.zeros(state.n_persons, dtype=bool)
        for rule in self.rules:
            met |= rule.satisfied(bank, state)
        long_enough = state.length >= self.min_items
        return (long_enough & met) | (state.length >= self.max_items) | state.ended
