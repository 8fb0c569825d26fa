"""The two special functions the engine needs, in numpy alone.

SciPy's ``expit`` and ``ndtr`` would do, but importing ``scipy.special`` costs a page
kernel about 27 MB and a second (docs/deployment.md); these agree with SciPy to within a
few units in the last place (tests/engine/test_special.py) and keep both tails: no
probability rounds to 0 or 1 before ~1e-300.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

_erfc = np.frompyfunc(math.erfc, 1, 1)


def logistic(x: ArrayLike) -> np.ndarray:
    """1 / (1 + e^−x), elementwise, without overflow for either sign."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def normal_cdf(x: ArrayLike) -> np.ndarray:
    """Φ(x), the standard normal distribution function, elementwise (via ``math.erfc``,
    exact in both tails)."""
    x = np.asarray(x, dtype=float)
    return np.asarray(0.5 * _erfc(-x / math.sqrt(2.0)), dtype=float)
