"""The quadrature rule and the item parametrisation the py-irt models use (numpy or
torch arrays alike; no torch import)."""

from __future__ import annotations

from typing import Any

import numpy as np


def quadrature(n_quad: int, theta_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights on which θ ~ N(0, 1) is integrated out (MML's rule).

    Parameters
    ----------
    n_quad : int
        Number of nodes.
    theta_range : float
        Nodes are evenly spaced on [-theta_range, theta_range] (population SDs).

    Returns
    -------
    z, log_w : (n_quad,) float
        Nodes and normalised log weights (standard normal density at the nodes).

    Notes
    -----
    Evenly spaced nodes, as in :func:`lang_assess.psychometrics.calibrate.mml.fit_mml`, rather than
    Gauss–Hermite: with many items per person the likelihood in θ is much narrower than
    the normal weight, and 21 Gauss–Hermite nodes (spaced ~0.5 apart near 0) biased a
    20,000 × 100 complete fit by 9 % in a; the same rule also makes the log-likelihood
    comparable with MML's.
    """
    z = np.linspace(-theta_range, theta_range, n_quad)
    log_w = -0.5 * z * z
    return z, log_w - np.logaddexp.reduce(log_w)


def to_irt(free_slope: bool, centre: Any, slope: Any, e: Any) -> tuple[Any, Any]:
    """IRT parameters (b, a) from the centred ones; numpy arrays or torch tensors.

    Parameters
    ----------
    free_slope : bool
        2PL (``slope`` = a, shape (I,)) or 1PL (``slope`` = σ, a scalar).
    centre, e : (I,)
        Item centres c_i and centred intercepts e_i.
    slope : (I,) or scalar
        Slopes a_i (2PL) or the population SD σ (1PL).

    Returns
    -------
    b, a : (I,)
        Difficulties (logits) and slopes (ones for the 1PL).
    """
    if free_slope:
        return centre - e / slope, slope
    return slope * centre - e, e * 0.0 + 1.0
