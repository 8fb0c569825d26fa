"""Item response formulas written out by hand, item by item, to check the engine's
vectorised ones against."""

from __future__ import annotations

import numpy as np

from lang_assess.engine.irt import ItemParameters


def probs_by_hand(theta: float, a: float, steps: list[float], c: float) -> np.ndarray:
    """P(X=x) for one item from the textbook formulas, written without the engine."""
    steps = [s for s in steps if not np.isnan(s)]
    if len(steps) == 1:
        p = c + (1 - c) / (1 + np.exp(-a * (theta - steps[0])))
        return np.array([1 - p, p])
    numerators = [1.0]
    total = 0.0
    for s in steps:
        total += a * (theta - s)
        numerators.append(np.exp(total))
    numerators = np.array(numerators)
    return numerators / numerators.sum()


def loglik_by_hand(theta: float, bank: ItemParameters, pattern: np.ndarray) -> float:
    """log L(θ) of one response pattern (−1 = not given), item by item."""
    total = 0.0
    for i, x in enumerate(pattern):
        if x < 0:
            continue
        p = probs_by_hand(theta, bank.a[i], list(bank.steps[i]), bank.c[i])
        total += np.log(p[int(x)])
    return total
