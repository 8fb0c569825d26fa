"""CEFR levels from abilities: cut scores, the level of a θ, and level probabilities.

Cut scores are θ values (logits) at the lower boundary of each level above the first;
with labels ``preA1, A1, A2, B1, B2, C1`` there are five cuts.  A person at exactly a
cut belongs to the upper level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lang_assess.engine.special import normal_cdf

CEFR_LEVELS: tuple[str, ...] = ("preA1", "A1", "A2", "B1", "B2", "C1")


@dataclass(frozen=True)
class CutScores:
    """Ordered cut scores on the θ scale and the level labels they separate.

    ``cuts`` is (L-1,) strictly increasing logits; ``labels`` has L names.
    """

    cuts: tuple[float, ...]
    labels: tuple[str, ...] = CEFR_LEVELS

    def __post_init__(self) -> None:
        cuts = np.asarray(self.cuts, dtype=float)
        if cuts.ndim != 1 or cuts.size == 0 or not np.all(np.isfinite(cuts)):
            raise ValueError(f"cut scores must be finite numbers, got {list(self.cuts)}")
        if np.any(np.diff(cuts) <= 0):
            raise ValueError(f"cut scores must be strictly increasing, got {list(self.cuts)}")
        labels = self.labels
        if len(labels) != cuts.size + 1:
            # fewer cuts than CEFR levels: use the first len(cuts)+1 labels
            if labels == CEFR_LEVELS and cuts.size + 1 <= len(CEFR_LEVELS):
                labels = CEFR_LEVELS[: cuts.size + 1]
            else:
                raise ValueError(
                    f"{cuts.size} cut scores need {cuts.size + 1} level labels, got {len(labels)}"
                )
        object.__setattr__(self, "cuts", tuple(float(c) for c in cuts))
        object.__setattr__(self, "labels", tuple(labels))

    @classmethod
    def parse(cls, text: str, labels: Sequence[str] = CEFR_LEVELS) -> CutScores:
        """Cut scores from ``"c1,c2,..."`` (logits)."""
        try:
            values = tuple(float(v) for v in text.split(",") if v.strip())
        except ValueError as exc:
            raise ValueError(f"cut scores must be numbers separated by commas: {text!r}") from exc
        return cls(values, tuple(labels))

    @property
    def array(self) -> np.ndarray:
        """(L-1,) cut scores as floats."""
        return np.asarray(self.cuts, dtype=float)

    @property
    def n_levels(self) -> int:
        """Number of levels L."""
        return len(self.labels)

    def level_index(self, theta: float | np.ndarray) -> np.ndarray:
        """Level index 0..L-1 of each θ (same shape as ``theta``)."""
        return np.searchsorted(self.array, np.asarray(theta, dtype=float), side="right")

    def level_label(self, theta: float | np.ndarray) -> np.ndarray:
        """Level name of each θ (same shape as ``theta``)."""
        return np.asarray(self.labels, dtype=object)[self.level_index(theta)]

    def probabilities(self, theta: float | np.ndarray, se: float | np.ndarray) -> np.ndarray:
        """Rudner's level probabilities from θ̂ and its SE (normal approximation).

        P(level k) = Φ((cut_k − θ̂)/SE) − Φ((cut_{k−1} − θ̂)/SE).  Shapes: θ̂ and SE
        broadcast to S; returns (*S, L), rows summing to 1.
        """
        th = np.asarray(theta, dtype=float)[..., None]
        s = np.maximum(np.asarray(se, dtype=float)[..., None], 1e-12)
        upper = normal_cdf((self.array - th) / s)  # P(θ < cut_k)
        ones = np.ones((*upper.shape[:-1], 1))
        cdf = np.concatenate([upper, ones], axis=-1)
        return np.diff(cdf, axis=-1, prepend=0.0)

    def posterior_probabilities(self, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Level probabilities from posterior weights (P, Q) on ``grid`` (Q,); returns (P, L)."""
        onehot = self.level_index(grid)[:, None] == np.arange(self.n_levels)
        return np.asarray(weights) @ onehot.astype(float)
