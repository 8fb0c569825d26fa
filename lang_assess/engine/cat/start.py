"""Initializers: the ability used to choose the first item, before any answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Initializer(Protocol):
    """Chooses the ability used to select the first item."""

    def initial_theta(self, prior_mean: np.ndarray) -> np.ndarray:
        """(P,) starting abilities from the (P,) prior means (logits)."""
        ...


@dataclass(frozen=True)
class PriorMeanStart:
    """Start at each person's prior mean (logits)."""

    def initial_theta(self, prior_mean: np.ndarray) -> np.ndarray:
        """(P,) starting abilities from the (P,) prior means."""
        return np.asarray(prior_mean, dtype=float).copy()


@dataclass(frozen=True)
class FixedStart:
    """Start every test at the same ability ``theta`` (logits)."""

    theta: float = 0.0

    def initial_theta(self, prior_mean: np.ndarray) -> np.ndarray:
        """(P,) starting abilities, all equal to ``theta``."""
        return np.full(np.shape(prior_mean), float(self.theta))
