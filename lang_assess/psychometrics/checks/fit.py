"""Item fit after a calibration: infit/outfit mean squares and a chi-square per item.

Responses are (P, n) floats with NaN where an item was not administered; nothing is
imputed.  Three statistics per item:

- **Infit and outfit mean squares** (Wright & Masters 1982): outfit = mean of
  z² = (x − E)²/W over the persons who answered; infit = Σ(x − E)²/ΣW
  (information-weighted).  Both are 1 under the model; > 1 means noisier than the model
  (too flat, guessing, a key problem), < 1 more predictable (too steep, local dependence).
  Their Wilson–Hilferty standardisations ``infit_t``/``outfit_t`` are returned too.
  E and W are by default each response's prediction from the person's *other*
  responses (see below), not the model at a point estimate θ̂: an EAP θ̂ from a short
  adaptive test is shrunk and contains the response itself, which pulls mean squares
  below 1 (seen: outfit 0.6–0.75 for well-fitting items).  Pass ``theta`` for the
  classic point-estimate version.
- **S-X²** (Orlando & Thissen 2000, 2003) for right/wrong items on *complete* data: the
  persons are grouped by their summed score and observed proportions correct are
  compared with the model's, computed with the Lord–Wingersky recursion.  Summed scores
  mean nothing when persons took different items (an adaptive test), so S-X² is used
  only when every person answered every item.
- **Rest-posterior grouped chi-square** for sparse (adaptive) data and rated items, in the
  spirit of Yen's Q1 but without its known flaw (grouping and predicting with a θ̂ that
  contains the studied response): for each response the item's own likelihood is divided
  out of the person's grid posterior, giving the prediction E[x | other responses] and a
  rest-ability θ̂₋ᵢ; respondents are split into equal-count groups of θ̂₋ᵢ and
  χ² = Σ_g (Σ_{p∈g} (x − E))² / Σ_{p∈g} Var(x | other responses).

See docs/psychometrics/checks.md for thresholds and what to do with a flag.

One module of ~490 lines on purpose: the three statistics share the rest-posterior
machinery (grid posteriors with one item divided out), and split apart they would pass
the same intermediate arrays back and forth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

from lang_assess.engine.irt.estimate import DEFAULT_GRID, normal_log_prior
from lang_assess.engine.irt.models import category_probabilities, check_responses, log_likelihood
from lang_assess.engine.irt.params import ItemParameters

MS_RANGE: tuple[float, float] = (0.7, 1.3)
MIN_N = 100  # responses per item below which no flag is raised (statistics too noisy)
ALPHA = 0.01
T_MIN = 2.0  # |standardised mean square| that counts as beyond chance
MIN_GROUP = 25  # persons per θ group in the grouped chi-square
_CHUNK_CELLS = 4_000_000
_TINY = 1e-300


def item_fit(
    params: ItemParameters,
    responses: np.ndarray,
    *,
    theta: np.ndarray | None = None,
    method: str = "auto",
    n_groups: int = 10,
    min_group: int = MIN_GROUP,
    min_n: int = MIN_N,
    ms_range: tuple[float, float] = MS_RANGE,
    alpha: float = ALPHA,
    n_item_params: int | None = None,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    grid: np.ndarray = DEFAULT_GRID,
) -> pd.DataFrame:
    """Infit, outfit and a chi-square fit statistic for every item, with flags.

    Parameters
    ----------
    params : ItemParameters
        The calibrated parameters of the n items (logistic metric).
    responses : (P, n) float
        Scores, NaN where not administered.
    theta : optional (P,) float
        θ̂ in logits: compute infit/outfit at these point estimates (the classic way, e.g.
        with WLE to compare with Rasch software).  Default: from each response's
        prediction given the person's other responses (:func:`predictive_moments`).
    method : {"auto", "sx2", "grouped"}
        Chi-square: ``"auto"`` uses S-X² for right/wrong items when no response is missing
        and the rest-posterior grouped chi-square otherwise (and for rated items);
        ``"sx2"`` insists on S-X² (complete data only).
    n_groups : int
        Most θ groups of the grouped chi-square (fewer when an item has fewer than
        ``min_group`` respondents per group).
    min_group : int
        Fewest persons per θ group.
    min_n : int
        Items answered by fewer persons get statistics but no flag.
    ms_range : (low, high)
        Acceptable infit/outfit mean squares; one outside it flags the item when its
        standardised t is also beyond ±2.
    alpha : float
        Per-item significance level of the chi-square (no multiplicity correction; the
        Benjamini–Hochberg ``q`` column is given for that).
    n_item_params : optional int
        Parameters estimated per item, subtracted from the degrees of freedom; default 1
        when all slopes are equal (Rasch), 3 when c > 0, else 2.
    prior_mean, prior_sd : float
        Population distribution (logits) for the posterior and S-X²'s integral.
    grid : (Q,) float
        Quadrature points in logits.

    Returns
    -------
    pandas.DataFrame
        One row per item: ``item, n, infit, outfit, infit_t, outfit_t, method, statistic,
        df, p, q, flag, reasons`` (``reasons`` names what fired: "infit", "outfit", "chi2";
        "too few" when n < ``min_n``).
    """
    if method not in ("auto", "sx2", "grouped"):
        raise ValueError(f"method must be 'auto', 'sx2' or 'grouped', got {method!r}")
    resp = check_responses(params, responses)
    answered = resp >= 0
    complete = bool(np.all(answered))
    if method == "sx2" and not complete:
        raise ValueError(
            "S-X² needs complete data (every person answered every item); "
            "use method='grouped' for adaptive or sparse data"
        )
    log_prior = normal_log_prior(grid, prior_mean, prior_sd)
    log_post = _log_posterior(params, resp, log_prior, grid)
    expected, variance, fourth, theta_rest = predictive_moments(params, resp, log_post, grid)
    if theta is None:
        ms = mean_squares(resp, expected, variance, fourth)
    else:
        ms = mean_squares(resp, *moments_at_theta(params, np.asarray(theta, dtype=float)))
    m = _n_item_params(params) if n_item_params is None else np.full(params.n_items, n_item_params)

    stat, df = grouped_chi_square(
        resp, expected, variance, theta_rest, n_groups=n_groups, min_group=min_group
    )
    df = df - m
    kind = np.full(params.n_items, "grouped", dtype=object)
    one_step = params.n_steps == 1
    if complete and method != "grouped" and np.any(one_step):
        sx2, sx2_df = s_x2(params, resp, log_prior, grid)
        stat = np.where(one_step, sx2, stat)
        df = np.where(one_step, sx2_df - m, df)
        kind[one_step] = "S-X2"
    valid = df > 0
    stat = np.where(valid, stat, np.nan)
    df = np.where(valid, df, 0)
    p = np.full(params.n_items, np.nan)
    p[valid] = chi2.sf(stat[valid], df[valid])

    n = answered.sum(axis=0)
    enough = n >= min_n
    lo, hi = ms_range
    # a mean square counts when it is both far from 1 and beyond chance (|t| ≥ 2):
    # outfit of an item far from most persons is skewed and strays on its own
    infit_out, outfit_out = (
        enough & ((ms[k] < lo) | (ms[k] > hi)) & (np.abs(ms[f"{k}_t"]) >= T_MIN)
        for k in ("infit", "outfit")
    )
    chi_out = enough & (p < alpha)
    reasons = [
        ",".join(name for name, hit in (("infit", a), ("outfit", b), ("chi2", c)) if hit)
        if big else "too few"
        for a, b, c, big in zip(infit_out, outfit_out, chi_out, enough, strict=True)
    ]
    return pd.DataFrame(
        {
            "item": params.ids,
            "n": n,
            "infit": ms["infit"],
            "outfit": ms["outfit"],
            "infit_t": ms["infit_t"],
            "outfit_t": ms["outfit_t"],
            "method": kind,
            "statistic": stat,
            "df": df.astype(int),
            "p": p,
            "q": benjamini_hochberg(p),
            "flag": infit_out | outfit_out | chi_out,
            "reasons": reasons,
        }
    )


def mean_squares(
    responses: np.ndarray, expected: np.ndarray, variance: np.ndarray, fourth: np.ndarray
) -> dict[str, np.ndarray]:
    """Infit/outfit mean squares and their standardised t per item.

    Parameters
    ----------
    responses : (P, n) int, ``-1`` = not administered.
    expected, variance, fourth : (P, n) float
        Model mean, variance and fourth central moment of each score (from
        :func:`predictive_moments` or :func:`moments_at_theta`); ignored where not
        administered.

    Returns
    -------
    dict of (n,) float arrays ``infit, outfit, infit_t, outfit_t`` (NaN for an item nobody
    answered).  t uses the Wilson–Hilferty cube-root transformation with the model
    variance of the mean square (Wright & Masters 1982, p. 100).
    """
    given = np.asarray(responses) >= 0
    w = np.where(given, np.maximum(variance, 1e-12), 1.0)  # W → 0 far from an item: guard
    res2 = np.where(given, (responses - expected) ** 2, 0.0)
    c = np.where(given, fourth, 0.0)
    n = given.sum(axis=0)
    w_sum = np.where(given, w, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        outfit = (res2 / w).sum(axis=0) / n
        infit = res2.sum(axis=0) / w_sum
        q_out = np.sqrt(np.maximum((c / w**2).sum(axis=0) / n**2 - 1.0 / n, 1e-12))
        q_in = np.sqrt(
            np.maximum(np.where(given, c - w**2, 0.0).sum(axis=0) / w_sum**2, 1e-12)
        )
        outfit_t = (np.cbrt(outfit) - 1.0) * (3.0 / q_out) + q_out / 3.0
        infit_t = (np.cbrt(infit) - 1.0) * (3.0 / q_in) + q_in / 3.0
    return {"infit": infit, "outfit": outfit, "infit_t": infit_t, "outfit_t": outfit_t}


def moments_at_theta(
    params: ItemParameters, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, variance and fourth central moment of every score at point estimates θ̂.

    ``theta`` is (P,) logits; returns three (P, n) arrays (the classic residuals of
    Rasch software, which inherit the estimator's bias: EAP shrinkage lowers them).
    """
    probs = category_probabilities(np.asarray(theta, dtype=float), params)  # (P, n, K+1)
    return _moments(probs)


def _moments(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, variance and fourth central moment over the last (category) axis."""
    x = np.arange(probs.shape[-1], dtype=float)
    mean = probs @ x
    dev2 = (x - mean[..., None]) ** 2
    return mean, np.einsum("...k,...k->...", probs, dev2), np.einsum(
        "...k,...k->...", probs, dev2 * dev2
    )


def grouped_chi_square(
    responses: np.ndarray,
    expected: np.ndarray,
    variance: np.ndarray,
    theta_rest: np.ndarray,
    *,
    n_groups: int = 10,
    min_group: int = MIN_GROUP,
) -> tuple[np.ndarray, np.ndarray]:
    """Rest-posterior grouped chi-square of every item, valid for sparse data.

    Parameters
    ----------
    responses : (P, n) int, ``-1`` = not administered.
    expected, variance, theta_rest : (P, n) float
        From :func:`predictive_moments`: each score's prediction from the person's other
        responses, its variance, and the rest-ability the persons are grouped by.
    n_groups : most groups per item; min_group : fewest persons per group.

    Returns
    -------
    statistic, groups : (n,) float and (n,) int
        χ² = Σ_g (Σ_{p∈g} (x − E))² / Σ_{p∈g} Var, and the number of groups used (the
        degrees of freedom before subtracting the item's parameters); NaN and 0 for
        items with fewer than 2 groups.
    """
    resp = np.asarray(responses, dtype=int)
    n_items = resp.shape[1]
    n = (resp >= 0).sum(axis=0)
    g_per_item = np.minimum(n_groups, n // min_group)
    groups = theta_groups(np.where(resp >= 0, theta_rest, np.nan), g_per_item)
    g_max = max(int(g_per_item.max(initial=0)), 1)
    ok = groups >= 0
    flat = (np.broadcast_to(np.arange(n_items), resp.shape) * g_max + groups)[ok]
    res_sum = np.bincount(flat, (resp - expected)[ok], minlength=n_items * g_max)
    var_sum = np.bincount(flat, variance[ok], minlength=n_items * g_max)
    res_sum, var_sum = res_sum.reshape(n_items, g_max), var_sum.reshape(n_items, g_max)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(var_sum > 0, res_sum**2 / var_sum, 0.0)
    stat = np.where(g_per_item >= 2, terms.sum(axis=1), np.nan)
    return stat, np.where(g_per_item >= 2, g_per_item, 0)


def predictive_moments(
    params: ItemParameters, responses: np.ndarray, log_post: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What each response should be, judged from the person's *other* responses.

    For every administered (person, item) the item's likelihood is divided out of the
    person's grid posterior (leave-one-out); the rest posterior gives the predictive
    distribution of the score.  Under the model the residual has mean 0 and exactly this
    variance whatever the estimator's shrinkage, so mean squares centre on 1 for short
    adaptive tests too.

    Parameters
    ----------
    params : n items.
    responses : (P, n) int, ``-1`` = not administered.
    log_post : (P, Q) log posterior from all responses (any additive constant per row).
    grid : (Q,) logits.

    Returns
    -------
    expected, variance, fourth, theta_rest : (P, n) float each
        Predictive mean, variance and fourth central moment of the score, and the
        rest-ability EAP (logits); NaN where not administered.
    """
    resp = np.asarray(responses, dtype=int)
    probs = category_probabilities(grid, params)  # (Q, n, K+1)
    log_p = np.log(np.maximum(probs, _TINY))
    person, item = np.nonzero(resp >= 0)
    score = resp[person, item]
    out = [np.full(resp.shape, np.nan) for _ in range(4)]
    step = max(1, _CHUNK_CELLS // (grid.shape[0] * probs.shape[-1]))
    for lo in range(0, person.size, step):  # chunks of responses bound peak memory
        p, i, x = person[lo : lo + step], item[lo : lo + step], score[lo : lo + step]
        lw = log_post[p] - log_p[:, i, x].T  # (m, Q): posterior without this response
        lw -= lw.max(axis=1, keepdims=True)
        w = np.exp(lw)
        w /= w.sum(axis=1, keepdims=True)
        predictive = np.einsum("mq,qmk->mk", w, probs[:, i, :])  # (m, K+1)
        for arr, values in zip(out, (*_moments(predictive), w @ grid), strict=True):
            arr[p, i] = values
    return out[0], out[1], out[2], out[3]


def theta_groups(values: np.ndarray, n_groups: np.ndarray | int) -> np.ndarray:
    """Equal-count groups of a matching variable, separately for every item.

    Parameters
    ----------
    values : (P, n) float
        The matching value of each person for each item (e.g. θ̂), NaN where the person
        is not to be grouped (did not answer).  A (P,) array is used for every item.
    n_groups : int or (n,) int
        Groups wanted per item (items with 0 get none).

    Returns
    -------
    (P, n) int
        Group 0..G−1 by rank of the value among the item's persons (lowest first), -1
        for NaN values.  Ties are split by position, so groups stay equal in size.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    missing = np.isnan(v)
    order = np.argsort(np.where(missing, np.inf, v), axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(v.shape[0])[:, None], axis=0)
    count = (~missing).sum(axis=0)
    g = np.broadcast_to(np.asarray(n_groups, dtype=int), count.shape)
    group = ranks * g // np.maximum(count, 1)
    return np.where(missing | (g == 0), -1, group)


def s_x2(
    params: ItemParameters,
    responses: np.ndarray,
    log_prior: np.ndarray,
    grid: np.ndarray,
    *,
    min_expected: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Orlando–Thissen S-X² of every right/wrong item on complete data.

    Parameters
    ----------
    params : n items (rated items count in the summed score; their statistic is NaN).
    responses : (P, n) int with no missing value.
    log_prior : (Q,) log density of the population on ``grid``.
    grid : (Q,) logits.
    min_expected : adjacent score groups are merged until the expected numbers right and
        wrong in each reach this (Orlando & Thissen used 1).

    Returns
    -------
    statistic, groups : (n,) float and (n,) int
        S-X² and the number of score groups after merging (degrees of freedom before
        subtracting the item's parameters).
    """
    resp = np.asarray(responses, dtype=int)
    if np.any(resp < 0):
        raise ValueError("S-X² needs complete data (no missing responses)")
    probs = category_probabilities(grid, params)  # (Q, n, K+1)
    rest = _rest_score_distributions(probs, params.n_steps)  # (n, Q, S+1)
    prior = np.exp(log_prior - log_prior.max())
    prior /= prior.sum()
    n_items, s_max = params.n_items, rest.shape[-1] - 1
    # P(score s and X_i = 1) = ∫ P_i1(θ) P(rest = s−1 | θ) g(θ) dθ, and P(score s)
    joint1 = np.zeros((n_items, s_max + 1))
    joint1[:, 1:] = np.einsum("q,qi,iqs->is", prior, probs[:, :, 1], rest[:, :, :-1])
    total = np.zeros(s_max + 1)
    for k in range(probs.shape[-1]):  # P(score s) from item 0: Σ_k P_0k · rest_0(s − k)
        total[k:] += prior @ (probs[:, 0, k, None] * rest[0, :, : s_max + 1 - k])
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = joint1 / total  # (n, S+1) P(X_i = 1 | score s)
    scores = resp.sum(axis=1)
    n_s = np.bincount(scores, minlength=s_max + 1).astype(float)
    right = np.zeros((s_max + 1, n_items))
    np.add.at(right, scores, (resp == 1).astype(float))
    stat = np.full(n_items, np.nan)
    groups = np.zeros(n_items, dtype=int)
    inner = slice(1, s_max)  # scores 0 and max say nothing: E is 0 or 1 there
    for i in np.flatnonzero(params.n_steps == 1):  # merging is sequential per item
        stat[i], groups[i] = _collapsed_chi2(
            n_s[inner], right[inner, i], expected[i, inner], min_expected
        )
    return stat, groups


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """(n,) Benjamini–Hochberg adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok])]
    scaled = p[order] * ok.size / np.arange(1, ok.size + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


def _collapsed_chi2(
    n_s: np.ndarray, right: np.ndarray, expected: np.ndarray, min_expected: float
) -> tuple[float, int]:
    """χ² over score groups merged left to right until N·E and N·(1−E) ≥ min_expected."""
    keep = n_s > 0
    n_s, right, exp_right = n_s[keep], right[keep], (n_s * expected)[keep]
    bounds, acc_n, acc_e = [], 0.0, 0.0
    for s in range(n_s.size):
        acc_n += n_s[s]
        acc_e += exp_right[s]
        if acc_e >= min_expected and acc_n - acc_e >= min_expected:
            bounds.append(s + 1)
            acc_n = acc_e = 0.0
    if not bounds:
        return np.nan, 0
    bounds[-1] = n_s.size  # a short tail joins the last full group
    starts = np.r_[0, bounds[:-1]]
    n_g = np.add.reduceat(n_s, starts)
    o_g = np.add.reduceat(right, starts)
    e_g = np.add.reduceat(exp_right, starts)
    stat = np.sum((o_g - e_g) ** 2 / e_g + (o_g - e_g) ** 2 / (n_g - e_g))
    return float(stat), int(n_g.size)


def _rest_score_distributions(probs: np.ndarray, n_steps: np.ndarray) -> np.ndarray:
    """(n, Q, S+1) P(summed score of all items but i = s | θ_q) (Lord–Wingersky).

    All n leave-one-out recursions run side by side: each item is added to every copy but
    its own.  The recursion is sequential in the items by nature; each step is vectorised.
    """
    n_q, n_items, _ = probs.shape
    s_max = int(n_steps.sum())
    dist = np.zeros((n_items, n_q, s_max + 1))
    dist[:, :, 0] = 1.0
    copies = np.arange(n_items)
    for j in range(n_items):
        new = np.zeros_like(dist)
        for k in range(int(n_steps[j]) + 1):
            new[:, :, k:] += dist[:, :, : s_max + 1 - k] * probs[None, :, j, k, None]
        dist = np.where((copies == j)[:, None, None], dist, new)
    return dist


def _log_posterior(
    params: ItemParameters, resp: np.ndarray, log_prior: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """(P, Q) log posterior on the grid, normalised so each row's maximum is 0."""
    out = np.empty((resp.shape[0], grid.shape[0]))
    for rows in _person_chunks(resp.shape[0], grid.shape[0] * params.n_items):
        out[rows] = log_likelihood(grid, params, resp[rows]) + log_prior
    return out - out.max(axis=1, keepdims=True)


def _n_item_params(params: ItemParameters) -> np.ndarray:
    """(n,) parameters estimated per item: 1 (Rasch: common slope), 2, or 3 (c > 0)."""
    rasch = bool(np.allclose(params.a, params.a[0])) if params.n_items else True
    m = np.where(params.c > 0, 3, 1 if rasch else 2)
    # a rated item estimates its steps (and a slope unless Rasch/PCM)
    return np.where(params.n_steps > 1, params.n_steps + (0 if rasch else 1), m)


def _person_chunks(n_persons: int, cells_per_person: int) -> list[slice]:
    size = max(1, _CHUNK_CELLS // max(1, cells_per_person))
    return [slice(s, min(s + size, n_persons)) for s in range(0, n_persons, size)]
