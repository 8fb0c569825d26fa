"""Response probabilities, likelihoods and information for 1PL/2PL/3PL and GPCM items.

All functions are vectorised: ``theta`` is any array of abilities (logits) with shape
``S`` and results gain a trailing item axis (and a category axis where stated).
Responses are integer scores with ``-1`` meaning "not administered".
"""

from __future__ import annotations

import numpy as np

from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.special import logistic

MISSING = -1
_TINY = 1e-300


def _theta(theta: float | np.ndarray) -> np.ndarray:
    return np.asarray(theta, dtype=float)


def _arrays(
    params: ItemParameters, items: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, steps, c) of all items, or of the bank positions ``items`` (repeats allowed)."""
    if items is None:
        return params.a, params.steps, params.c
    idx = np.asarray(items, dtype=int)
    return params.a[idx], params.steps[idx], params.c[idx]


def category_probabilities(
    theta: float | np.ndarray, params: ItemParameters, items: np.ndarray | None = None
) -> np.ndarray:
    """P(X = x | θ) for every item and score category.

    Parameters
    ----------
    theta : float or array, shape S
        Abilities in logits.
    params : ItemParameters
        n items with at most K steps.
    items : optional (m,) int
        Bank positions to evaluate (repeats allowed) instead of all n items.

    Returns
    -------
    (*S, n or m, K+1) float
        Probabilities over scores 0..K; scores above an item's maximum have probability 0.
    """
    a, steps, c = _arrays(params, items)
    return _probabilities(a[:, None] * (_theta(theta)[..., None, None] - steps), c)


def paired_probabilities(
    theta: np.ndarray, params: ItemParameters, items: np.ndarray
) -> np.ndarray:
    """(m, K+1) P(X = x) of person j at ``theta[j]`` on bank position ``items[j]``."""
    a, steps, c = _arrays(params, items)
    return _probabilities(a[:, None] * (_theta(theta)[:, None] - steps), c)


def _probabilities(z: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Category probabilities from z = a(θ - b_v), shape (..., n, K) NaN-padded."""
    if z.shape[-1] == 1:
        p = logistic(z[..., 0])
        if np.any(c):
            p = c + (1.0 - c) * p
        return np.stack([1.0 - p, p], axis=-1)
    z = np.where(np.isnan(z), -np.inf, z)  # NaN padding: the category does not exist
    cum = np.cumsum(z, axis=-1)
    logits = np.concatenate([np.zeros((*cum.shape[:-1], 1)), cum], axis=-1)
    logits -= logits.max(axis=-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=-1, keepdims=True)
    guess = c > 0  # validation guarantees c = 0 for multi-step items
    if np.any(guess):
        p1 = np.where(guess, c + (1 - c) * probs[..., 1], probs[..., 1])
        probs[..., 1] = p1
        probs[..., 0] = np.where(guess, 1.0 - p1, probs[..., 0])
    return probs


def _p_correct(th: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(*S, n) P(X=1) for right/wrong items."""
    p_star = logistic(a * (th[..., None] - b))
    if not np.any(c):
        return p_star
    return c + (1.0 - c) * p_star


def expected_score(theta: float | np.ndarray, params: ItemParameters) -> np.ndarray:
    """(*S, n) expected item score E[X | θ] (the probability correct for right/wrong items)."""
    th = _theta(theta)
    if params.is_dichotomous:
        return _p_correct(th, params.a, params.steps[:, 0], params.c)
    probs = category_probabilities(th, params)
    return probs @ np.arange(probs.shape[-1], dtype=float)


def item_information(
    theta: float | np.ndarray, params: ItemParameters, items: np.ndarray | None = None
) -> np.ndarray:
    """(*S, n or m) Fisher information of each item (or of bank positions ``items``) at θ.

    2PL/GPCM: a²·Var(X | θ).  3PL: a²·P*²·Q/P with P* the logistic part, P = c + (1-c)P*.
    """
    th = _theta(theta)
    a, steps, c = _arrays(params, items)
    if steps.shape[1] == 1:
        p_star = logistic(a * (th[..., None] - steps[:, 0]))
        if not np.any(c):
            return a * a * p_star * (1.0 - p_star)
        p = c + (1.0 - c) * p_star
        return a * a * p_star * p_star * (1.0 - p) / p
    probs = category_probabilities(th, params, items)
    x = np.arange(probs.shape[-1], dtype=float)
    mean = probs @ x
    info = a * a * np.maximum(probs @ (x * x) - mean * mean, 0.0)
    guess = c > 0
    if np.any(guess):
        p = probs[..., 1]
        p_star = (p - c) / (1.0 - c)
        info = np.where(guess, a * a * p_star * p_star * (1.0 - p) / np.maximum(p, _TINY), info)
    return info


def test_information(theta: float | np.ndarray, params: ItemParameters) -> np.ndarray:
    """(*S,) test information: the sum of item information over all n items."""
    return item_information(theta, params).sum(axis=-1)


def check_responses(
    params: ItemParameters, responses: np.ndarray, items: np.ndarray | None = None
) -> np.ndarray:
    """Validate a score matrix and return it as int (``-1`` = not administered).

    Without ``items`` the matrix is (P, n): one column per bank item.  With ``items``
    (P, L) bank positions, ``responses`` is (P, L): the score on each of those items.
    Raises ``ValueError`` naming the item when a score is outside 0..max score.
    """
    resp = np.asarray(responses)
    if resp.ndim == 1:
        resp = resp[None, :]
    width = params.n_items if items is None else np.shape(items)[-1]
    if resp.ndim != 2 or resp.shape[1] != width or (
        items is not None and np.shape(items) != resp.shape
    ):
        raise ValueError(
            f"responses must have shape (persons, {width}), got {np.shape(responses)}"
        )
    if resp.dtype.kind == "f":
        if np.any(np.isinf(resp)):
            raise ValueError("responses contain infinite values")
        resp = np.where(np.isnan(resp), MISSING, resp)
        if np.any(resp != np.round(resp)):
            raise ValueError("responses must be whole scores")
    resp = resp.astype(int)
    pos = np.broadcast_to(np.arange(width), resp.shape) if items is None else np.asarray(items)
    bad = (resp < MISSING) | (resp > params.n_steps[pos])
    if np.any(bad):
        p, k = np.argwhere(bad)[0]
        i = pos[p, k]
        raise ValueError(
            f"item '{params.ids[i]}': score {resp[p, k]} for person {p} is outside "
            f"0..{params.n_steps[i]}"
        )
    return resp


def response_indicators(responses: np.ndarray, n_categories: int) -> np.ndarray:
    """(P, n, n_categories) one-hot coding of scores; all zero where not administered."""
    resp = np.asarray(responses, dtype=int)
    return (resp[..., None] == np.arange(n_categories)).astype(float)


def log_likelihood(
    theta: np.ndarray,
    params: ItemParameters,
    responses: np.ndarray,
    items: np.ndarray | None = None,
) -> np.ndarray:
    """Log-likelihood of each person's responses at each θ of a shared grid.

    Parameters
    ----------
    theta : (Q,) float
        Ability points in logits (e.g. a quadrature grid).
    params : ItemParameters
        n items.
    responses : (P, n) int, or (P, L) with ``items``
        Scores, ``-1`` where not administered.
    items : optional (P, L) int
        Bank positions of each person's L responses (the compact form a CAT produces).

    Returns
    -------
    (P, Q) float
        log L(θ_q | x_p); a person with no responses gets 0 everywhere.
    """
    th = np.atleast_1d(_theta(theta))
    resp = check_responses(params, responses, items)
    if items is None:
        logp = np.log(np.maximum(category_probabilities(th, params), _TINY))  # (Q, n, K+1)
        onehot = response_indicators(resp, logp.shape[-1])  # (P, n, K+1)
        # one matrix product sums over items and categories at every grid point (BLAS)
        return onehot.reshape(resp.shape[0], -1) @ logp.reshape(th.shape[0], -1).T
    flat_items, flat_resp = np.asarray(items).ravel(), resp.ravel()
    if params.is_dichotomous:  # skip the category axis: P(X=x) is p or 1 - p
        a, steps, c = _arrays(params, flat_items)
        p1 = _p_correct(th, a, steps[:, 0], c)  # (Q, P·L)
        picked = np.where(flat_resp == 1, p1, 1.0 - p1)
    else:
        probs = category_probabilities(th, params, flat_items)  # (Q, P·L, K+1)
        index = np.maximum(flat_resp, 0).reshape(1, -1, 1)
        picked = np.take_along_axis(probs, index, axis=2)[..., 0]
    logp = np.log(np.maximum(picked, _TINY)).reshape(th.shape[0], *resp.shape)  # (Q, P, L)
    return np.where(resp >= 0, logp, 0.0).sum(axis=2).T


def score_terms(
    theta: np.ndarray,
    params: ItemParameters,
    responses: np.ndarray,
    items: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Derivative terms of each person's log-likelihood at person-specific abilities.

    Parameters
    ----------
    theta : (P, M) float
        M ability values for each of P persons.
    params : ItemParameters
        n items.
    responses : (P, n) int, or (P, L) with ``items``
        Scores, ``-1`` where not administered (validated by the caller).
    items : optional (P, L) int
        Bank positions of each person's responses.

    Returns
    -------
    score, information, j : (P, M) float each
        d log L / dθ; test information I(θ) over the person's administered items; and
        Warm's J(θ) = Σ P'P''/(PQ) (the third-cumulant term), used by the WLE.
    """
    th = np.asarray(theta, dtype=float)
    resp = np.asarray(responses, dtype=int)[:, None, :]  # (P, 1, n or L)
    given = resp >= 0
    if items is None:
        a, steps, c = params.a, params.steps, params.c
    else:  # each person's own items, broadcast over the M abilities
        a, steps, c = (arr[:, None] for arr in _arrays(params, np.asarray(items)))
    probs = _probabilities(a[..., None] * (th[:, :, None, None] - steps), c)  # (P, M, ·, K+1)
    x = np.arange(probs.shape[-1], dtype=float)
    mean = probs @ x
    dev = x - mean[..., None]
    var = np.maximum(np.einsum("...k,...k->...", probs, dev * dev), 0.0)
    mu3 = np.einsum("...k,...k->...", probs, dev * dev * dev)
    score = a * (resp - mean)
    info = a * a * var
    j = a * a * a * mu3
    guess = c > 0
    if np.any(guess):
        p = np.maximum(probs[..., 1], _TINY)
        p_star = (p - c) / (1.0 - c)
        q_star = 1.0 - p_star
        score = np.where(guess, a * (resp - p) * p_star / p, score)
        info = np.where(guess, a * a * p_star * p_star * (1.0 - p) / p, info)
        j = np.where(
            guess, a * a * a * (1.0 - c) * p_star * p_star * q_star * (1 - 2 * p_star) / p, j
        )
    return (
        np.where(given, score, 0.0).sum(axis=-1),
        np.where(given, info, 0.0).sum(axis=-1),
        np.where(given, j, 0.0).sum(axis=-1),
    )
