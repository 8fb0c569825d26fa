"""Marginal maximum likelihood calibration by the Bock–Aitkin EM algorithm (numpy only).

Models (logistic metric, no scaling constant; x = 0..k_i is the score on item i)::

    P(X_i = x | θ) ∝ exp(a_i x θ + Σ_{v≤x} d_iv),     d_iv = -a_i b_iv

which is the GPCM; a right/wrong item is the one-step case, i.e. the 2PL
``logistic(a (θ - b))``.  ``model="2pl"``/``"gpcm"`` estimates a slope per item,
``"1pl"``/``"rasch"``/``"pcm"`` fixes a = 1 (Rasch and the partial credit model).  One call
handles a bank that mixes right/wrong and rated items.  ``model="3pl"`` adds a lower
asymptote to right/wrong items with a chance level (``chance`` = 1/k for k options):
P = c + (1 − c)·logistic(a(θ − b)), c estimated under a Beta prior with its mode at 1/k
(BILOG's default form, weight 20) or fixed at 1/k; rated items stay GPCM.  The 3PL is not
an exponential family, so those items get their own M-step (Fisher scoring on a, d and
logit c) and their own terms in the standard errors.

Abilities follow N(μ, σ²), integrated out on ``n_quad`` nodes θ_q = μ + σ z_q, z_q evenly
spaced on [-R, R] with normal weights.  The scale is set by N(0, 1) for free slopes; for
a = 1 models μ = 0 and σ is estimated; with anchors (``fixed``) both μ and σ are estimated,
so the anchors set the scale.

In the slope-intercept form each item's expected complete-data log-likelihood is a
multinomial logit in (a, d), hence concave: the M-step is a batched Newton–Raphson over all
items at once.  Responses live in one indicator matrix Y (persons × item-categories),
dense or scipy.sparse by density, so the E-step is two matrix products::

    log L = Y @ log π   (P × Q),     expected counts r = Yᵀ @ posterior   (I·C × Q)

and nothing is imputed: a missing response simply has no entry in Y.
See docs/psychometrics/calibration.md for the algorithm, its convergence rule and the
standard errors.

One module of ~950 lines on purpose: it is one algorithm (E-step, batched M-steps for
the exponential-family and the 3PL items, PX-EM acceleration, anchors, convergence and
the cross-product SEs all work on the same indicator matrix and quadrature), and its
parts are not used apart.
"""

from __future__ import annotations

import math
import warnings
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit, log_expit, log_softmax, logit, logsumexp, softmax

from lang_assess.engine.irt.models import category_probabilities, paired_probabilities
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.psychometrics.calibrate.data import DataError, Responses
from lang_assess.psychometrics.calibrate.result import Calibration, CalibrationWarning

MODELS: dict[str, bool] = {"2pl": True, "gpcm": True, "3pl": True, "1pl": False,
                           "rasch": False, "pcm": False}
A_BOUNDS = (0.05, 8.0)  # slopes outside this are not credible; estimates are clipped + flagged
MAX_STEP = 1.0  # cap on a Newton step (logits): the M-step is concave, but counts can be tiny
DENSE_ABOVE = 0.10  # indicator matrices denser than this are held as numpy arrays (BLAS)
_CHUNK = 2**20  # floats per block when a (persons × something) product is done in blocks
_START_RESPONSES = 200_000  # responses used for the start values (a random subset)
_FULL_SE_MAX = 6000  # above this many free parameters the SE matrix is inverted per item
_XPD_WORK_MAX = 5e8  # above this many multiply-adds the cross-product is kept per item
_SMALL_PRODUCT = 50_000_000  # E-step multiply-adds below which BLAS runs single-threaded
C_PRIOR_WEIGHT = 20.0  # BILOG's Beta prior on c: α = 20·(1/k) + 1, β = 20·(1 − 1/k) + 1
_GAMMA_BOUNDS = (-9.0, 1.0)  # logit c: c within about 1e-4 .. 0.73


@dataclass
class _Data:
    """The responses in the form the EM works on (persons without responses dropped)."""

    n_persons: int  # persons with at least one response
    n_cat: int  # C: categories of the widest item (max score + 1)
    k: np.ndarray  # (I,) max score per item
    rows: np.ndarray  # (nnz,) person of each response
    cols: np.ndarray  # (nnz,) item of each response
    score: np.ndarray  # (nnz,) score of each response
    y: np.ndarray | sparse.csr_matrix  # (P, I·C) one-hot indicators
    yt: np.ndarray | sparse.csc_matrix  # (I·C, P), a transposed view of y
    counts: np.ndarray  # (I, C) observed category counts


@dataclass
class _Guess:
    """Lower asymptotes of the free items (3PL); all arrays (F,) over free items."""

    c: np.ndarray  # current c (0: a 2PL/GPCM item)
    has: np.ndarray  # bool: a 3PL item
    estimate: np.ndarray  # bool: c is estimated (else fixed at its chance level)
    alpha: np.ndarray  # Beta prior of c
    beta: np.ndarray


def fit_mml(
    responses: Responses | np.ndarray,
    model: str = "2pl",
    *,
    fixed: ItemParameters | None = None,
    n_quad: int = 61,
    theta_range: float = 6.0,
    max_iter: int = 500,
    tol: float = 1e-4,
    se: bool = True,
    progress: bool = False,
    chance: float | np.ndarray | None = None,
    fix_c: bool = False,
    c_prior_weight: float = C_PRIOR_WEIGHT,
) -> Calibration:
    """Calibrate items by marginal maximum likelihood (Bock–Aitkin EM).

    Parameters
    ----------
    responses : Responses or (P, I) float array
        Scores 0..k, NaN = not administered (sparse rows are the normal case).
    model : {"2pl", "gpcm", "3pl", "1pl", "rasch", "pcm"}
        Free slopes (2PL for right/wrong items, GPCM for rated ones), the same with a
        lower asymptote on right/wrong items (3PL), or a = 1 (Rasch/PCM).
    fixed : ItemParameters, optional
        Anchor items: those whose ids appear in the responses keep these parameters
        (any c is honoured) and the population mean and SD are estimated, which puts the
        free items on the anchors' scale (linking, online calibration of pretest items).
    n_quad : int
        Quadrature nodes.
    theta_range : float
        Nodes span μ ± ``theta_range`` σ (logits).
    max_iter : int
        EM iterations at most; reaching it warns (CalibrationWarning).
    tol : float
        Convergence: largest absolute change of any a, b_v (logits), μ or σ in one
        iteration below ``tol``.
    se : bool
        Compute standard errors (cross-product of the persons' score contributions).
    progress : bool
        Show a tqdm progress bar (works in notebooks).
    chance : float or (I,) float, required for ``"3pl"``
        Each item's chance level 1/k (k options); 0 for items without guessing
        (ordering tasks), which stay 2PL.  Rated items and anchors ignore it.
    fix_c : bool
        ``"3pl"``: keep c at the chance level instead of estimating it.
    c_prior_weight : float
        ``"3pl"``: weight w of the Beta(w·p + 1, w·(1 − p) + 1) prior on c, p = chance
        (mode p; BILOG's default w = 20).  c is the posterior mode; its SE includes the
        prior.

    Returns
    -------
    Calibration
        Estimates in the order of the response columns.

    Raises
    ------
    DataError
        Listing every item that cannot be estimated: nobody answered it, all responses
        in one category, a score category inside 0..k that nobody reached, or a score
        above an anchor's maximum.
    """
    resp = responses if isinstance(responses, Responses) else Responses.from_matrix(responses)
    key = model.lower()
    if key not in MODELS:
        raise ValueError(f"model {model!r}: use one of {', '.join(MODELS)}")
    free_slope = MODELS[key]
    if n_quad < 5 or theta_range <= 0 or max_iter < 1 or tol <= 0:
        raise ValueError("need n_quad ≥ 5, theta_range > 0, max_iter ≥ 1 and tol > 0")
    is_fixed, anchor = _anchors(resp, fixed)
    data = _prepare(resp, is_fixed, anchor)
    guess = _guessing(key, chance, fix_c, c_prior_weight, data.k, is_fixed)
    z = np.linspace(-theta_range, theta_range, n_quad)
    log_w = -0.5 * z * z
    log_w -= logsumexp(log_w)
    mu_free = bool(is_fixed.any())
    sd_free = mu_free or not free_slope
    cells = data.rows.size if sparse.issparse(data.y) else data.y.shape[0] * data.y.shape[1]
    with _blas_threads(cells * n_quad):
        return _fit(resp, key, free_slope, data, is_fixed, anchor, z, log_w, mu_free, sd_free,
                    max_iter, tol, se, progress, theta_range, guess)


def _guessing(key: str, chance: float | np.ndarray | None, fix_c: bool, weight: float,
              k: np.ndarray, is_fixed: np.ndarray) -> _Guess | None:
    """The free items' lower asymptotes for a 3PL fit (None for other models)."""
    if key != "3pl":
        if chance is not None or fix_c:
            raise ValueError(f"chance and fix_c are for model '3pl', not {key!r}")
        return None
    if chance is None:
        raise ValueError("model '3pl' needs chance: each item's 1/k (k options), "
                         "0 for items without guessing")
    p = np.broadcast_to(np.asarray(chance, dtype=float), k.shape)
    if np.any(~np.isfinite(p) | (p < 0) | (p >= 1)):
        raise ValueError("chance levels must be in [0, 1)")
    if not weight >= 0:
        raise ValueError("c_prior_weight must be ≥ 0")
    free = ~is_fixed
    p = np.where(k == 1, p, 0.0)[free]
    has = p > 0
    return _Guess(c=p.copy(), has=has, estimate=has & (not fix_c),
                  alpha=weight * p + 1.0, beta=weight * (1.0 - p) + 1.0)


def _fit(
    resp: Responses,
    key: str,
    free_slope: bool,
    data: _Data,
    is_fixed: np.ndarray,
    anchor: ItemParameters | None,
    z: np.ndarray,
    log_w: np.ndarray,
    mu_free: bool,
    sd_free: bool,
    max_iter: int,
    tol: float,
    se: bool,
    progress: bool,
    theta_range: float,
    guess: _Guess | None = None,
) -> Calibration:
    """The EM iterations and the result (see :func:`fit_mml`)."""
    from tqdm.auto import tqdm

    n_items, n_quad = resp.n_items, z.size
    free = np.flatnonzero(~is_fixed)
    pad = _padding(data.k[free], data.n_cat, free_slope)  # (F, n_par) True = unused
    eta, mu, sd = _start(data, free, anchor, is_fixed, free_slope, pad, theta_range)
    phi_cache: dict[tuple[float, float], np.ndarray] = {}

    def features(theta: np.ndarray) -> np.ndarray:
        k = (float(theta[0]), float(theta[-1]))
        if k not in phi_cache:
            phi_cache.clear()
            phi_cache[k] = _features(theta, data.n_cat, free_slope)
        return phi_cache[k]

    converged = False
    iteration, change = 0, math.inf
    old = _natural(eta, free_slope, pad, guess)
    with tqdm(total=max_iter, desc=f"MML {key}", unit="it", disable=not progress) as bar:
        for step in range(1, max_iter + 1):
            iteration = step
            theta = mu + sd * z
            post, loglik = _estep(data, _log_probs(eta, free, theta, data, anchor,
                                                   free_slope, guess), log_w)
            counts = (data.yt @ post).reshape(n_items, data.n_cat, n_quad)
            three = np.zeros(free.size, bool) if guess is None else guess.has
            rest = ~three
            eta[rest] = _mstep(eta[rest], counts[free[rest]], theta, data.k[free[rest]],
                               features(theta), pad[rest], free_slope)
            if three.any():
                eta[three], guess.c[three] = _mstep_3pl(eta[three], guess, three,
                                                        counts[free[three]], theta)
            new_mu, new_sd = _population(post, theta)
            if not mu_free:  # no anchors: the scale is fixed, use parameter expansion
                eta, new_mu, new_sd = _px_reduce(eta, new_mu, new_sd, free_slope)
            new = _natural(eta, free_slope, pad, guess)
            change = max(
                float(np.nanmax(np.abs(new - old), initial=0.0)),
                abs(new_mu - mu), abs(new_sd - sd),
            )
            old, mu, sd = new, new_mu, new_sd
            bar.update()
            bar.set_postfix(loglik=f"{loglik:.2f}", change=f"{change:.1e}", refresh=False)
            if change < tol:
                converged = True
                break
    if not converged:
        warnings.warn(
            f"MML {key}: not converged after {max_iter} iterations (last change "
            f"{change:.2g} > tol {tol:g}); raise max_iter or check the flagged items",
            CalibrationWarning,
            stacklevel=3,
        )

    theta = mu + sd * z
    post, loglik = _estep(data, _log_probs(eta, free, theta, data, anchor, free_slope, guess),
                          log_w)
    params = _assemble(resp, eta, free, free_slope, data, is_fixed, anchor, guess)
    se_c = np.full(n_items, np.nan)
    if se:
        ses = _standard_errors(data, post, theta, eta, free, pad, free_slope, mu, sd,
                               mu_free, sd_free, anchor, is_fixed, guess, se_c)
        method = ("empirical information: cross-product of the persons' score "
                  "contributions (XPD, Fisher's identity), inverted "
                  + ("in full" if ses[-1] else "per item block"))
    else:
        nan_i = np.full(n_items, np.nan)
        ses = (nan_i, np.full(params.steps.shape, np.nan), nan_i.copy(), math.nan, math.nan,
               True)
        method = "not computed"
    flags = _flags(params, is_fixed, free_slope, mu, sd, theta_range)
    if flags:
        warnings.warn(f"MML {key}: " + "; ".join(flags), CalibrationWarning, stacklevel=3)
    return Calibration(
        params=params,
        se_a=ses[0],
        se_steps=ses[1],
        se_b=ses[2],
        n_responses=resp.n_responses.astype(int),
        fixed=is_fixed,
        log_likelihood=float(loglik),
        iterations=iteration,
        converged=converged,
        population_mean=float(mu),
        population_sd=float(sd),
        model=key,
        backend="mml",
        se_population_mean=float(ses[3]),
        se_population_sd=float(ses[4]),
        se_method=method,
        flags=tuple(flags),
        se_c=se_c,
    )


def _blas_threads(work: int) -> AbstractContextManager[object]:
    """One BLAS thread for small E-step products (``work`` multiply-adds), when
    threadpoolctl is installed: on a busy machine OpenBLAS threads spinning for a lock
    made a 1,000 × 10 fit 17 times slower; large products keep the default."""
    if work > _SMALL_PRODUCT:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: only a speed-up
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ---- data -------------------------------------------------------------------------------
def _anchors(
    resp: Responses, fixed: ItemParameters | None
) -> tuple[np.ndarray, ItemParameters | None]:
    """(I,) bool anchor mask and the anchors' parameters in response-column order."""
    is_fixed = np.zeros(resp.n_items, dtype=bool)
    if fixed is None:
        return is_fixed, None
    known = set(fixed.ids.tolist())
    is_fixed = np.array([item in known for item in resp.items.tolist()], dtype=bool)
    if not is_fixed.any():
        raise DataError("none of the fixed (anchor) items appear in the responses")
    return is_fixed, fixed.subset(fixed.index_of(resp.items[is_fixed]))


def _prepare(resp: Responses, is_fixed: np.ndarray, anchor: ItemParameters | None) -> _Data:
    """Check every item can be estimated and build the indicator matrices."""
    rows, cols, score, n_persons = resp.answered()  # sorted by person
    k = resp.max_score.copy()
    if anchor is not None:
        k[is_fixed] = anchor.n_steps
    n_cat = int(max(k.max(initial=0), 1)) + 1
    flat = cols.astype(np.int64) * n_cat + np.minimum(score, n_cat - 1)
    counts = np.bincount(flat, minlength=resp.n_items * n_cat).reshape(resp.n_items, n_cat)

    problems: list[str] = []
    n_resp = resp.n_responses
    for i in range(resp.n_items):  # once per item, to word each problem
        name = f"item '{resp.items[i]}'"
        if is_fixed[i]:
            top = resp.max_score[i]
            if top > k[i]:
                problems.append(f"{name}: score {top} is above the anchor's maximum {k[i]}")
            continue
        if n_resp[i] == 0:
            problems.append(f"{name}: nobody answered it")
        elif k[i] == 0 or counts[i, : k[i] + 1].max() == n_resp[i]:
            only = int(np.argmax(counts[i]))
            problems.append(f"{name}: all {n_resp[i]} responses are score {only} "
                            "(nothing to estimate it from)")
        else:
            empty = [v for v in range(k[i] + 1) if counts[i, v] == 0]
            if empty:
                problems.append(f"{name}: no response has score "
                                f"{', '.join(map(str, empty))} (scores 0..{k[i]} seen)")
    if problems:
        raise DataError([*problems, "leave these items out, or give them as fixed anchors"])

    shape = (n_persons, resp.n_items * n_cat)
    slot = flat  # column of each response in Y: item · C + score
    if rows.size > DENSE_ABOVE * n_persons * resp.n_items:  # dense: BLAS products
        y = np.zeros(shape)
        y[rows, slot] = 1.0
        return _Data(n_persons, n_cat, k, rows, cols, score, y, y.T, counts)  # yt: a view
    y_sp = sparse.csr_matrix((np.ones(rows.size), (rows, slot)), shape=shape)
    # yt is Y's CSC transpose, no copy: Yᵀ @ post then walks the persons in order and adds
    # into the small (I·C, Q) result; a CSR Yᵀ would jump around the (P, Q) posterior and
    # was 10× slower at 15 M answers
    return _Data(n_persons, n_cat, k, rows, cols, score, y_sp, y_sp.T, counts)


def _padding(k: np.ndarray, n_cat: int, free_slope: bool) -> np.ndarray:
    """(F, n_par) True where a parameter slot is unused (steps beyond an item's max)."""
    steps = np.arange(1, n_cat)[None, :] > k[:, None]
    if free_slope:
        return np.concatenate([np.zeros((k.size, 1), dtype=bool), steps], axis=1)
    return steps


# ---- model ------------------------------------------------------------------------------
def _split(eta: np.ndarray, free_slope: bool) -> tuple[np.ndarray, np.ndarray]:
    """Slopes (F,) and intercepts (F, K) from the parameter rows."""
    if free_slope:
        return eta[:, 0], eta[:, 1:]
    return np.ones(eta.shape[0]), eta


def _natural(eta: np.ndarray, free_slope: bool, pad: np.ndarray,
             guess: _Guess | None = None) -> np.ndarray:
    """(F, n_par [+ 1]) the IRT parameters [a,] b_1..b_K (NaN padded) [, c] for the
    convergence check."""
    a, d = _split(eta, free_slope)
    b = np.where(pad[:, int(free_slope):], np.nan, -d / a[:, None])
    out = np.concatenate([a[:, None], b], axis=1) if free_slope else b
    return out if guess is None else np.concatenate([out, guess.c[:, None]], axis=1)


def _logits(eta: np.ndarray, theta: np.ndarray, k: np.ndarray, free_slope: bool) -> np.ndarray:
    """(F, Q, C) category logits a·x·θ + Σ_{v≤x} d_v; -inf above each item's max score."""
    a, d = _split(eta, free_slope)
    n_cat = d.shape[1] + 1
    x = np.arange(n_cat)
    cum = np.concatenate([np.zeros((d.shape[0], 1)), np.cumsum(d, axis=1)], axis=1)
    z = a[:, None, None] * theta[None, :, None] * x + cum[:, None, :]
    return np.where(x <= k[:, None, None], z, -np.inf)


def _features(theta: np.ndarray, n_cat: int, free_slope: bool) -> np.ndarray:
    """(Q, C, n_par) derivative of the logit of category x at node q w.r.t. [a,] d_1..d_K."""
    x = np.arange(n_cat)
    steps = np.broadcast_to((x[:, None] >= np.arange(1, n_cat)).astype(float),
                            (theta.size, n_cat, n_cat - 1))
    if not free_slope:
        return np.ascontiguousarray(steps)
    return np.concatenate([(theta[:, None] * x)[..., None], steps], axis=2)


def _log_probs(
    eta: np.ndarray,
    free: np.ndarray,
    theta: np.ndarray,
    data: _Data,
    anchor: ItemParameters | None,
    free_slope: bool,
    guess: _Guess | None = None,
) -> np.ndarray:
    """(I·C, Q) log P(X_i = x | θ_q), 0 in unused slots (Y is 0 there; avoids 0·-inf)."""
    n_items, n_cat, n_quad = data.k.size, data.n_cat, theta.size
    logp = np.zeros((n_items, n_quad, n_cat))
    if free.size:
        lp = log_softmax(_logits(eta, theta, data.k[free], free_slope), axis=2)
        logp[free] = np.where(np.isfinite(lp), lp, 0.0)
    if guess is not None and guess.has.any():
        three = guess.has
        z = eta[three, 0][:, None] * theta + eta[three, 1][:, None]  # (G, Q)
        c = guess.c[three][:, None]
        logp[free[three], :, 1] = np.log(c + (1.0 - c) * expit(z))
        logp[free[three], :, 0] = np.log1p(-c) + log_expit(-z)
    if anchor is not None:
        probs = category_probabilities(theta, anchor)  # (Q, A, K_a + 1), honours c
        fixed_pos = np.setdiff1d(np.arange(n_items), free)
        width = min(probs.shape[2], n_cat)
        lp = np.log(np.maximum(probs[:, :, :width], 1e-300)).transpose(1, 0, 2)
        logp[fixed_pos, :, :width] = lp
    return logp.transpose(0, 2, 1).reshape(n_items * n_cat, n_quad)


def _estep(data: _Data, logp: np.ndarray, log_w: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior weights (P, Q) of each person over the nodes, and the marginal log-lik."""
    ll = np.asarray(data.y @ logp)
    ll += log_w
    top = ll.max(axis=1, keepdims=True)
    np.subtract(ll, top, out=ll)
    # weights below e^-600 are flushed to 0: subnormal floats make BLAS ~10x slower
    ll[ll < -600.0] = -np.inf
    np.exp(ll, out=ll)
    total = ll.sum(axis=1, keepdims=True)
    ll /= total
    return ll, float(np.sum(top) + np.sum(np.log(total)))


def _mstep(
    eta: np.ndarray,
    counts: np.ndarray,
    theta: np.ndarray,
    k: np.ndarray,
    phi: np.ndarray,
    pad: np.ndarray,
    free_slope: bool,
    max_newton: int = 25,
) -> np.ndarray:
    """Maximise each free item's expected log-likelihood: batched Newton–Raphson.

    ``counts`` (F, C, Q) are the expected numbers of persons at node q scoring x.
    """
    eta = eta.copy()
    n_f, n_par = eta.shape
    if n_f == 0:
        return eta
    n_quad, n_cat = phi.shape[0], phi.shape[1]
    n = counts.sum(axis=1)  # (F, Q)
    # sufficient statistics and Σ_x π φφᵀ as matrix products over the flattened (q, x) axis
    observed = counts.transpose(0, 2, 1).reshape(n_f, -1) @ phi.reshape(-1, n_par)
    outer = (phi[..., :, None] * phi[..., None, :]).reshape(n_quad * n_cat, n_par * n_par)
    eye = np.eye(n_par)
    for _ in range(max_newton):
        pi = softmax(_logits(eta, theta, k, free_slope), axis=2)  # (F, Q, C)
        npi = (n[:, :, None] * pi).reshape(n_f, -1)
        mean = _feature_means(pi, theta, free_slope)  # (F, Q, n_par)
        grad = observed - np.einsum("iq,iqp->ip", n, mean)
        info = (npi @ outer).reshape(n_f, n_par, n_par) - np.matmul(
            (n[:, :, None] * mean).transpose(0, 2, 1), mean)
        grad[pad] = 0.0
        info = np.where(pad[:, :, None] | pad[:, None, :], 0.0, info) + pad[:, :, None] * eye
        step = np.linalg.solve(info + 1e-9 * eye, grad[:, :, None])[:, :, 0]
        biggest = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(biggest, 1e-300))[:, None]
        eta += step
        if free_slope:
            np.clip(eta[:, 0], *A_BOUNDS, out=eta[:, 0])
        if biggest.max() < 1e-8:
            break
    return eta


def _mstep_3pl(
    eta: np.ndarray,
    guess: _Guess,
    rows: np.ndarray,
    counts: np.ndarray,
    theta: np.ndarray,
    max_newton: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """M-step of the 3PL items: batched Fisher scoring on (a, d, logit c).

    ``eta`` (G, n_par) rows of the G items at ``rows`` of ``guess``; ``counts`` (G, C, Q)
    their expected counts.  Maximises Σ_q r_q log P_q + (n_q − r_q) log(1 − P_q) + the
    Beta prior's log density of c (posterior mode, as BILOG), P = c + (1 − c)·σ(aθ + d).
    The Fisher information Σ_q n_q ∇P ∇Pᵀ / P(1 − P) is positive definite, so each step
    is an ascent direction; steps are capped like the other M-step's.  Returns the new
    rows and c.
    """
    eta = eta.copy()
    r1, n = counts[:, 1, :], counts[:, :2, :].sum(axis=1)  # (G, Q)
    gam = logit(np.clip(guess.c[rows], 1e-6, 1 - 1e-6))
    alpha, beta, est = guess.alpha[rows], guess.beta[rows], guess.estimate[rows]
    a, d = eta[:, 0].copy(), eta[:, 1].copy()
    eye = np.eye(3)
    for _ in range(max_newton):
        c = expit(gam)[:, None]
        p = expit(a[:, None] * theta + d[:, None])
        big_p = np.clip(c + (1.0 - c) * p, 1e-12, 1.0 - 1e-12)
        dz = (1.0 - c) * p * (1.0 - p)
        grad_p = np.stack([dz * theta, dz, c * (1.0 - c) * (1.0 - p)], axis=2)  # (G, Q, 3)
        var = big_p * (1.0 - big_p)
        grad = np.einsum("gq,gqp->gp", (r1 - n * big_p) / var, grad_p)
        info = np.einsum("gq,gqp,gqr->gpr", n / var, grad_p, grad_p)
        cv = c[:, 0]
        grad[:, 2] += (alpha - 1.0) * (1.0 - cv) - (beta - 1.0) * cv
        info[:, 2, 2] += (alpha + beta - 2.0) * cv * (1.0 - cv)
        grad[~est, 2] = 0.0  # c fixed at its chance level
        info[~est, 2, :] = 0.0
        info[~est, :, 2] = 0.0
        info[~est, 2, 2] = 1.0
        step = np.linalg.solve(info + 1e-9 * eye, grad[:, :, None])[:, :, 0]
        biggest = np.abs(step).max(axis=1)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(biggest, 1e-300))[:, None]
        a = np.clip(a + step[:, 0], *A_BOUNDS)
        d += step[:, 1]
        gam = np.clip(gam + step[:, 2], *_GAMMA_BOUNDS)
        if biggest.max() < 1e-8:
            break
    eta[:, 0], eta[:, 1] = a, d
    return eta, np.where(est, expit(gam), guess.c[rows])


def _feature_means(pi: np.ndarray, theta: np.ndarray, free_slope: bool) -> np.ndarray:
    """(F, Q, n_par) E_q[φ]: θ·E[X] for the slope, P(X ≥ v) for each intercept d_v."""
    tails = np.cumsum(pi[..., ::-1], axis=2)[..., ::-1][..., 1:]  # P(X ≥ v), v = 1..K
    if not free_slope:
        return tails
    expected = pi @ np.arange(pi.shape[2], dtype=float)
    return np.concatenate([(expected * theta)[..., None], tails], axis=2)


def _population(post: np.ndarray, theta: np.ndarray) -> tuple[float, float]:
    """M-step for the ability distribution: mean and SD of the persons' posteriors."""
    weight = post.sum(axis=0)
    weight /= weight.sum()
    mu = float(weight @ theta)
    return mu, float(math.sqrt(weight @ (theta - mu) ** 2))


def _px_reduce(
    eta: np.ndarray, mu: float, sd: float, free_slope: bool
) -> tuple[np.ndarray, float, float]:
    """Parameter-expanded EM (Liu, Rubin & Wu 1998): map the freely estimated population
    N(mu, sd²) back onto the fixed scale by re-expressing the item parameters.

    With θ = mu + sd·θ', a·x·θ + D_x = (a·sd)·x·θ' + (D_x + a·mu·x), so a' = a·sd (free
    slopes; the SD is then 1) and d'_v = d_v + a·mu; for a = 1 models only the mean is
    fixed (at 0) and the SD stays estimated.  Without this step plain EM creeps along
    the scale direction (rate ≈ 0.97 per iteration on long tests): the scale is pinned
    only by the N(0, 1) prior, which long tests barely feel.
    """
    eta = eta.copy()
    if free_slope:
        a = eta[:, 0].copy()
        eta[:, 1:] += (a * mu)[:, None]
        eta[:, 0] = np.clip(a * sd, *A_BOUNDS)
        return eta, 0.0, 1.0
    return eta + mu, 0.0, sd


# ---- start values -----------------------------------------------------------------------
def _start(
    data: _Data,
    free: np.ndarray,
    anchor: ItemParameters | None,
    is_fixed: np.ndarray,
    free_slope: bool,
    pad: np.ndarray,
    theta_range: float,
    rounds: int = 30,
) -> tuple[np.ndarray, float, float]:
    """Start values from a few rounds of joint maximum likelihood (JML).

    Adaptive data defeat the usual p-value start: every item is answered ~60 % correct by
    the persons it was given to, so all items would start at the same place and EM would
    spend hundreds of iterations pulling them apart.  JML uses who took which item.
    Each free item is treated as a binomial(k, logistic(θ - δ)) item; anchors use their
    own model.  Returns the parameter rows (F, n_par) and the population mean and SD.
    """
    rows, cols, score = data.rows, data.cols, data.score.astype(float)
    n_p, n_i = data.n_persons, data.k.size
    if rows.size > _START_RESPONSES:  # start values need no more than a random subset
        chosen = np.random.default_rng(0).random(n_p) < _START_RESPONSES / rows.size
        keep = chosen[rows]
        rows, cols, score = (np.cumsum(chosen) - 1)[rows[keep]], cols[keep], score[keep]
        n_p = int(chosen.sum())
    k = data.k.astype(float)
    theta = np.zeros(n_p)
    delta = np.zeros(n_i)
    on_free = ~is_fixed[cols]
    f_cols = cols[on_free]
    fixed_pos = np.full(n_i, -1)
    if anchor is not None:
        fixed_pos[is_fixed] = np.arange(int(is_fixed.sum()))
    lim = theta_range - 1.0
    for _ in range(rounds):
        p = expit(theta[rows] - delta[cols])
        mean = k[cols] * p
        var = mean * (1 - p)
        slope = None
        if anchor is not None and not on_free.all():
            f = ~on_free
            probs = paired_probabilities(theta[rows[f]], anchor, fixed_pos[cols[f]])
            x = np.arange(probs.shape[1])
            m = probs @ x
            mean[f] = m
            var[f] = probs @ (x * x) - m * m
            slope = np.ones(rows.size)
            slope[f] = anchor.a[fixed_pos[cols[f]]]
        resid = score - mean
        if slope is None:
            g, h = np.bincount(rows, resid, n_p), np.bincount(rows, var, n_p)
        else:
            g = np.bincount(rows, slope * resid, n_p)
            h = np.bincount(rows, slope * slope * var, n_p)
        theta = np.clip(theta + np.clip(g / (h + 0.1), -1, 1), -lim, lim)  # 0.1: tiny prior
        gi = np.bincount(f_cols, resid[on_free], n_i)
        hi = np.bincount(f_cols, var[on_free], n_i) + 1e-3
        move = np.where(is_fixed, 0.0, np.clip(gi / hi, -1, 1))
        delta = np.clip(delta - move, -lim, lim)
        if anchor is None:  # the scale floats in JML: pin its origin
            delta -= theta.mean()
            theta -= theta.mean()
        if np.abs(move).max() < 0.01:
            break
    mu, sd = float(theta.mean()), float(max(theta.std(), 0.3))
    if anchor is None:
        # free slopes: rescale to N(0, 1), the slope absorbs the SD; a = 1: σ carries it
        scale, mu = (sd, 0.0) if free_slope else (1.0, 0.0)
        sd = 1.0 if free_slope else sd
    else:
        scale = 1.0
    # step spread from adjacent-category log-odds, centred on the JML location
    cnt = data.counts[free].astype(float) + 0.5
    log_odds = np.log(cnt[:, 1:] / cnt[:, :-1])  # (F, K)
    kf = data.k[free]
    used = np.arange(1, data.n_cat)[None, :] <= kf[:, None]
    centre = np.where(used, log_odds, 0.0).sum(axis=1) / np.maximum(kf, 1)
    b = (delta[free][:, None] - (log_odds - centre[:, None]) * 0.5) / scale
    a = np.full(free.size, scale if free_slope else 1.0)
    d = np.where(used, -a[:, None] * b, 0.0)
    eta = np.concatenate([a[:, None], d], axis=1) if free_slope else d
    return eta, mu, sd


# ---- results ----------------------------------------------------------------------------
def _assemble(
    resp: Responses,
    eta: np.ndarray,
    free: np.ndarray,
    free_slope: bool,
    data: _Data,
    is_fixed: np.ndarray,
    anchor: ItemParameters | None,
    guess: _Guess | None = None,
) -> ItemParameters:
    """All items in column order: estimates for free items, anchors as given."""
    width = max(data.n_cat - 1, 1)
    steps = np.full((resp.n_items, width), np.nan)
    a_all = np.ones(resp.n_items)
    c_all = np.zeros(resp.n_items)
    skill = np.full(resp.n_items, "", dtype=object)
    a, d = _split(eta, free_slope)
    used = np.arange(1, data.n_cat)[None, :] <= data.k[free][:, None]
    steps[free] = np.where(used, -d / a[:, None], np.nan)
    a_all[free] = a
    if guess is not None:
        c_all[free] = guess.c
    if anchor is not None:
        steps[is_fixed, : anchor.steps.shape[1]] = anchor.steps
        a_all[is_fixed] = anchor.a
        c_all[is_fixed] = anchor.c
        skill[is_fixed] = anchor.skill
    keep = max(1, int(np.isfinite(steps).sum(axis=1).max(initial=1)))
    return ItemParameters(ids=resp.items.copy(), a=a_all, steps=steps[:, :keep], c=c_all,
                          skill=skill.astype(str))


def _flags(
    params: ItemParameters,
    is_fixed: np.ndarray,
    free_slope: bool,
    mu: float,
    sd: float,
    theta_range: float,
) -> list[str]:
    """One line per free item whose estimate sits at a bound or outside the nodes."""
    flags = []
    lo, hi = A_BOUNDS
    reach = (mu - theta_range * sd, mu + theta_range * sd)
    for i in np.flatnonzero(~is_fixed):
        name = f"item '{params.ids[i]}'"
        if free_slope and params.a[i] <= lo * (1 + 1e-9):
            flags.append(f"{name}: slope at its lower bound {lo} (no or negative "
                         "discrimination: check the key and the content)")
        elif free_slope and params.a[i] >= hi * (1 - 1e-9):
            flags.append(f"{name}: slope at its upper bound {hi} (nearly deterministic "
                         "item, or too few responses)")
        steps = params.steps[i][np.isfinite(params.steps[i])]
        if np.any((steps < reach[0]) | (steps > reach[1])):
            flags.append(f"{name}: a step difficulty lies outside the ability range "
                         f"{reach[0]:.1f}..{reach[1]:.1f} (too easy or too hard for these "
                         "persons)")
    return flags


def _standard_errors(
    data: _Data,
    post: np.ndarray,
    theta: np.ndarray,
    eta: np.ndarray,
    free: np.ndarray,
    pad: np.ndarray,
    free_slope: bool,
    mu: float,
    sd: float,
    mu_free: bool,
    sd_free: bool,
    anchor: ItemParameters | None,
    is_fixed: np.ndarray,
    guess: _Guess | None = None,
    se_c: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, bool]:
    """Standard errors from the cross-product (XPD) of per-person score vectors.

    By Fisher's identity person p's score for the item parameters is the posterior mean
    of the complete-data score, s_p = Σ_q w_pq ∂ log P(x_p | θ_q)/∂η; the information is
    estimated by Σ_p s_p s_pᵀ (all free item parameters and μ, σ where free, so the
    correlation between items through the shared scale is kept) and inverted.  SEs of
    b_v = -d_v / a follow by the delta method.  3PL items have their own score terms
    (a, d and γ = logit c, with the Beta prior's curvature added to γ's information:
    c is a posterior mode); SE(c) = c(1 − c)·SE(γ) is written into ``se_c`` (I,).
    """
    n_items, n_cat, n_quad = data.k.size, data.n_cat, theta.size
    n_f, n_par = eta.shape
    # parameter columns: free item slots in order, then each estimated c's logit, then
    # μ and σ where free
    col_of = np.full((n_items, n_par), -1)
    slots = ~pad
    col_of[free] = np.where(slots, np.cumsum(slots.ravel()).reshape(slots.shape) - 1, -1)
    three = np.zeros(n_f, bool) if guess is None else guess.has
    est_c = np.zeros(n_f, bool) if guess is None else guess.estimate
    n_eta_par = int(slots.sum())
    col_gam = np.full(n_items, -1)
    col_gam[free[est_c]] = n_eta_par + np.arange(int(est_c.sum()))
    n_item_par = n_eta_par + int(est_c.sum())
    n_total = n_item_par + int(mu_free) + int(sd_free)
    is_three = np.zeros(n_items, bool)
    is_three[free[three]] = True
    pos3 = np.full(n_items, -1)
    pos3[free[three]] = np.arange(int(three.sum()))
    d3 = _score_terms_3pl(eta[three], guess.c[three], theta) if three.any() else None

    phi = _features(theta, n_cat, free_slope)  # (Q, C, n_par)
    pi = softmax(_logits(eta, theta, data.k[free], free_slope), axis=2)
    mean = _feature_means(pi, theta, free_slope)  # (F, Q, n_par) E[∂ logit]
    mean_all = np.zeros((n_items, n_quad, n_par))
    mean_all[free] = mean
    on_free = ~is_fixed[data.cols]
    r_rows, r_cols, r_score = data.rows[on_free], data.cols[on_free], data.score[on_free]
    pop = []  # scores for μ and σ: posterior means of the normal density's score
    if mu_free:
        pop.append((post @ theta - mu) / sd**2)
    if sd_free:
        pop.append((post @ (theta - mu) ** 2 - sd**2) / sd**3)
    flat_phi = phi.reshape(n_quad, -1)
    flat_mean = mean_all.transpose(1, 0, 2).reshape(n_quad, -1)
    dense = not sparse.issparse(data.y)
    # the full cross-product costs Σ_p (parameters of person p)²; past _XPD_WORK_MAX (a
    # year of national data: 200,000 × 150² ≈ 4.5e9) only the item blocks are summed,
    # by bincount over the answers, and inverted per item, as for very many parameters
    per_person = np.bincount(r_rows, minlength=data.n_persons).astype(float)
    work = float(np.sum(per_person**2)) * (n_par + int(est_c.any())) ** 2
    full = n_total <= _FULL_SE_MAX and (dense or work <= _XPD_WORK_MAX)
    info = np.zeros((n_total, n_total))
    width = n_par + int(d3 is not None)
    item_info = None if full else np.zeros((n_items, width, width))
    # persons in blocks, so that no (persons × parameters) array is ever whole
    block = max(1, _CHUNK // max(1, n_items * n_par, n_total))
    bounds = np.searchsorted(r_rows, np.arange(0, data.n_persons + block, block))
    for j, lo in enumerate(range(0, data.n_persons, block)):
        sl = slice(bounds[j], bounds[j + 1])
        rows, items = r_rows[sl] - lo, r_cols[sl]
        w = post[lo : lo + block]
        # s_pi = Σ_q w_pq φ(q, x_pi) - Σ_q w_pq E_q[φ]: two products over the nodes (BLAS)
        values = (w @ flat_phi).reshape(-1, n_cat, n_par)[rows, r_score[sl]]
        values -= (w @ flat_mean).reshape(-1, n_items, n_par)[rows, items]
        cols = col_of[items]
        if d3 is not None:  # 3PL items: their own terms for a, d, and γ where estimated
            m3 = is_three[items]
            v3 = (w @ d3).reshape(w.shape[0], -1, 2, 3)[rows[m3], pos3[items[m3]],
                                                       r_score[sl][m3]]  # (m, 3)
            values[m3, :2] = v3[:, :2]
            values = np.concatenate([values, np.zeros((values.shape[0], 1))], axis=1)
            values[m3, -1] = v3[:, 2]
            cols = np.concatenate([cols, col_gam[items][:, None]], axis=1)
        ok = cols >= 0
        if item_info is not None:  # per item block: Σ over its answers of s sᵀ
            values = np.where(ok, values, 0.0)
            for u in range(width):
                for v in range(u, width):  # width ≤ C + 1: a handful of bincounts
                    item_info[:, u, v] += np.bincount(items, values[:, u] * values[:, v],
                                                      minlength=n_items)
            if pop:
                s_pop = np.column_stack([s[lo : lo + block] for s in pop])
                info[n_item_par:, n_item_par:] += s_pop.T @ s_pop
            continue
        at = (np.broadcast_to(rows[:, None], cols.shape)[ok], cols[ok])
        if dense:
            scores = np.zeros((w.shape[0], n_total))
            scores[at] = values[ok]  # one response per (person, item): no collisions
            for k, s_pop in enumerate(pop):
                scores[:, n_item_par + k] = s_pop[lo : lo + block]
            info += scores.T @ scores
        else:
            scores = sparse.csr_matrix((values[ok], at), shape=(w.shape[0], n_total))
            if pop:
                scores = sparse.hstack([scores[:, :n_item_par], sparse.csr_matrix(
                    np.column_stack([s_pop[lo : lo + block] for s_pop in pop]))]).tocsr()
            info += (scores.T @ scores).toarray()
    if item_info is not None:  # scatter the item blocks into the information matrix
        every = col_of.copy() if d3 is None else np.concatenate([col_of, col_gam[:, None]],
                                                                 axis=1)
        for u in range(width):
            for v in range(u, width):
                has = (every[:, u] >= 0) & (every[:, v] >= 0)
                info[every[has, u], every[has, v]] = item_info[has, u, v]
                info[every[has, v], every[has, u]] = item_info[has, u, v]
    item_cols = col_of[free]
    if est_c.any():  # the Beta prior's curvature in γ: c is a posterior mode
        g = col_gam[free[est_c]]
        cv = guess.c[est_c]
        info[g, g] += (guess.alpha[est_c] + guess.beta[est_c] - 2.0) * cv * (1.0 - cv)
        item_cols = np.concatenate([item_cols, col_gam[free][:, None]], axis=1)
    cov = _invert(info, item_cols, n_item_par, n_total, full)
    if se_c is not None and est_c.any():
        g = col_gam[free[est_c]]
        cv = guess.c[est_c]
        se_c[free[est_c]] = cv * (1.0 - cv) * np.sqrt(np.maximum(cov[g, g], 0.0))

    # per-item covariance blocks of [a,] d_1..d_K, then the delta method to a, b_v
    idx = np.where(slots, col_of[free], 0)
    blk = cov[idx[:, :, None], idx[:, None, :]] * (slots[:, :, None] & slots[:, None, :])
    a, d = _split(eta, free_slope)
    k_max = n_cat - 1
    jac = np.zeros((n_f, k_max + 1, n_par))  # outputs: b_1..b_K, then the location b̄
    off = int(free_slope)
    used = slots[:, off:]
    kf = np.maximum(used.sum(axis=1), 1)
    rng = np.arange(k_max)
    jac[:, rng, off + rng] = -1.0 / a[:, None]
    if free_slope:
        jac[:, :k_max, 0] = d / a[:, None] ** 2
    jac[:, k_max] = (jac[:, :k_max] * used[:, :, None]).sum(axis=1) / kf[:, None]
    var = np.einsum("iop,ipr,ior->io", jac, blk, jac)
    se_out = np.sqrt(np.maximum(var, 0.0))
    width = max(k_max, 1)
    se_steps = np.full((n_items, width), np.nan)
    se_steps[free, :k_max] = np.where(used, se_out[:, :k_max], np.nan)
    se_b = np.full(n_items, np.nan)
    se_b[free] = se_out[:, k_max]
    se_a = np.full(n_items, np.nan)
    if free_slope:
        se_a[free] = np.sqrt(np.maximum(blk[:, 0, 0], 0.0))
    pos = n_item_par
    se_mu = se_sd = math.nan
    if mu_free:
        se_mu = math.sqrt(max(cov[pos, pos], 0.0))
        pos += 1
    if sd_free:
        se_sd = math.sqrt(max(cov[pos, pos], 0.0))
    keep = max(1, int(np.isfinite(se_steps).sum(axis=1).max(initial=1)))
    if anchor is not None:
        keep = max(keep, anchor.steps.shape[1])
    return se_a, se_steps[:, :keep], se_b, se_mu, se_sd, full


def _score_terms_3pl(eta: np.ndarray, c: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(Q, G·2·3) ∂ log P(X = x | θ_q)/∂(a, d, γ) of G 3PL items, for x = 0, 1.

    P = c + (1 − c)·p, p = σ(aθ + d), γ = logit c: for x = 1, ∂/∂z = (1 − c)p(1 − p)/P and
    ∂/∂γ = c(1 − c)(1 − p)/P; for x = 0, ∂/∂z = −p and ∂/∂γ = −c; ∂z/∂a = θ, ∂z/∂d = 1.
    """
    p = expit(eta[:, 0][:, None] * theta + eta[:, 1][:, None])  # (G, Q)
    cc = c[:, None]
    big_p = cc + (1.0 - cc) * p
    out = np.empty((p.shape[0], theta.size, 2, 3))
    z1 = (1.0 - cc) * p * (1.0 - p) / big_p
    out[:, :, 1, 0], out[:, :, 1, 1] = z1 * theta, z1
    out[:, :, 1, 2] = cc * (1.0 - cc) * (1.0 - p) / big_p
    out[:, :, 0, 0], out[:, :, 0, 1] = -p * theta, -p
    out[:, :, 0, 2] = -cc
    return out.transpose(1, 0, 2, 3).reshape(theta.size, -1)


def _invert(
    info: np.ndarray, item_cols: np.ndarray, n_item_par: int, n_total: int, full: bool
) -> np.ndarray:
    """Covariance of the estimates: the inverse information, in full or per item block."""
    if full:
        try:
            return np.linalg.inv(info)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(info)
    cov = np.zeros_like(info)
    for cols in item_cols:  # per item block, a loop over items only on this fallback
        c = cols[cols >= 0]
        cov[np.ix_(c, c)] = np.linalg.pinv(info[np.ix_(c, c)])
    rest = np.arange(n_item_par, n_total)
    if rest.size:
        cov[np.ix_(rest, rest)] = np.linalg.pinv(info[np.ix_(rest, rest)])
    return cov
