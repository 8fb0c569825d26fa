"""Calibrating right/wrong items with the py-irt models (see the package docstring)."""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from lang_assess.engine.irt.params import ItemParameters
from lang_assess.psychometrics.calibrate.data import DataError, Responses
from lang_assess.psychometrics.calibrate.pyirt.scale import quadrature, to_irt
from lang_assess.psychometrics.calibrate.result import Calibration, CalibrationWarning

if TYPE_CHECKING:
    from lang_assess.psychometrics.calibrate.pyirt.svi import SviRun

MODELS: dict[str, bool] = {"2pl": True, "1pl": False, "rasch": False}  # name → free slopes
A_BOUNDS = (0.05, 8.0)  # slopes outside this are flagged (same bounds as the MML backend)
THETA_FLAG = 6.0  # a difficulty beyond ±6 population SDs is flagged
SMALL_WORK = 500_000_000  # persons × items × nodes below which torch runs one thread

# Pyro's parameter store and torch's random generator are process-wide: one fit at a time.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Data:
    """Observed responses as triples (persons without a response dropped)."""

    n_persons: int
    rows: np.ndarray  # (N,) person index of each response
    cols: np.ndarray  # (N,) item index of each response
    score: np.ndarray  # (N,) 0/1
    n_responses: np.ndarray  # (I,) responses per item


def fit_pyirt(
    responses: Responses | np.ndarray,
    model: str = "2pl",
    *,
    seed: int = 0,
    max_epochs: int = 3000,
    tol: float = 1e-4,
    param_tol: float = 0.1,
    patience: int = 3,
    check_every: int = 20,
    lr: float = 0.05,
    prior_b_sd: float = 3.0,
    prior_log_a_sd: float = 1.0,
    prior_log_sd_sd: float = 1.0,
    n_quad: int = 61,
    theta_range: float = 6.0,
    progress: bool = False,
) -> Calibration:
    """Calibrate right/wrong items by variational inference with a py-irt model.

    Parameters
    ----------
    responses : Responses or (P, I) float array
        Scores 0/1, NaN = not administered (sparse rows are the normal case).
    model : {"2pl", "1pl", "rasch"}
        ``"2pl"``: a slope per item, abilities θ ~ N(0, 1) fix the scale.  ``"1pl"`` /
        ``"rasch"``: a = 1, θ ~ N(0, σ²) with σ estimated (as the MML backend does).
    seed : int
        Seeds Pyro/torch for this fit; the same seed and data give bit-identical results
        (on one machine: float sums can differ in the last bits across thread counts).
    max_epochs : int
        Most SVI steps (each step uses every response once).
    tol : float
        ELBO part of the convergence rule: the mean loss of a window of ``check_every``
        steps changed, relative to the previous window, by less than ``tol`` (or by less
        than twice the Monte Carlo standard error of that change).
    param_tol : float
        Parameter part of the rule: no variational mean (the centred intercepts e, log a;
        log σ for the 1PL), averaged over the window, moved by more than ``param_tol``
        of its own posterior SD.
    patience : int
        Consecutive windows meeting both parts before the fit stops as converged.
    check_every : int
        Window length in steps.
    lr : float
        Adam's starting learning rate; halved at each window where the ELBO is flat.
    prior_b_sd : float
        Prior SD of each difficulty b ~ N(0, prior_b_sd²), logits.
    prior_log_a_sd : float
        Prior SD of each log slope, log a ~ N(0, prior_log_a_sd²) (2PL).
    prior_log_sd_sd : float
        Prior SD of log σ, the population SD (1PL).
    n_quad : int
        Quadrature nodes on which θ is integrated out (evenly spaced, as in MML).
    theta_range : float
        The nodes span ±``theta_range`` population SDs.
    progress : bool
        Show a tqdm progress bar (works in notebooks).

    Returns
    -------
    Calibration
        ``params``: a = exp(E log a) (the posterior median) and b from the posterior
        means of the centred parameters, in the order of the response columns;
        ``se_a``/``se_b``: posterior SDs by the delta method; ``log_likelihood``: the
        marginal log-likelihood at the estimates (MML's quadrature, so the two backends'
        values compare); ``iterations``: SVI steps.  The estimates are posterior means,
        not modes: the slopes come out a few percent below MML's (docs/psychometrics/pyirt.md).

    Raises
    ------
    DataError
        Listing every item that cannot be estimated (nobody answered it, all responses
        the same) and any score other than 0/1.
    ValueError
        For an unknown model or nonsensical options.
    """
    resp = responses if isinstance(responses, Responses) else Responses.from_matrix(responses)
    key = model.lower()
    if key not in MODELS:
        raise ValueError(f"model {model!r}: the py-irt backend fits {', '.join(MODELS)} "
                         "(right/wrong items); use backend='mml' for rated items")
    if (max_epochs < 1 or tol <= 0 or param_tol <= 0 or patience < 1 or check_every < 2
            or lr <= 0 or min(prior_b_sd, prior_log_a_sd, prior_log_sd_sd) <= 0
            or n_quad < 5 or theta_range <= 0):
        raise ValueError("need max_epochs ≥ 1, check_every ≥ 2, patience ≥ 1, n_quad ≥ 5 "
                         "and positive tol, param_tol, lr, prior SDs and theta_range")
    free_slope = MODELS[key]
    data = _prepare(resp)

    import torch  # lazily: see the package docstring

    from lang_assess.psychometrics.calibrate.pyirt.model import MODEL_CLASSES
    from lang_assess.psychometrics.calibrate.pyirt.svi import (
        private_pyro_state,
        run_svi,
        torch_threads,
    )

    work = data.n_persons * resp.n_items * n_quad
    with _LOCK, private_pyro_state(seed), torch_threads(1 if work < SMALL_WORK else None):
        irt = MODEL_CLASSES[free_slope](
            num_items=resp.n_items, num_subjects=data.n_persons, priors="weak",
            prior_b_sd=prior_b_sd, prior_log_a_sd=prior_log_a_sd,
            prior_log_sd_sd=prior_log_sd_sd, n_quad=n_quad, theta_range=theta_range,
            init=_start_values(data, resp.n_items),
        )
        triples = (
            torch.as_tensor(data.rows, dtype=torch.long),
            torch.as_tensor(data.cols, dtype=torch.long),
            torch.as_tensor(data.score, dtype=torch.float32),
        )
        run = run_svi(irt, triples, max_epochs=max_epochs, tol=tol, param_tol=param_tol,
                      patience=patience, window=check_every, lr=lr, progress=progress,
                       desc=f"py-irt {key}")
    return _result(resp, key, free_slope, data, run, quadrature(n_quad, theta_range))


# ---- data -------------------------------------------------------------------------------
def _prepare(resp: Responses) -> _Data:
    """Observed triples; every item that cannot be estimated is reported at once."""
    rows, cols, score, n_persons = resp.answered()
    rows, cols, score = rows.astype(np.int64), cols.astype(np.int64), score.astype(float)
    problems: list[str] = []
    bad = np.flatnonzero(score > 1)
    for j in bad[:20]:
        person = resp.persons[resp.person_index[j]]
        problems.append(f"person '{person}', item '{resp.items[cols[j]]}': score "
                        f"{score[j]:g} (the py-irt backend fits right/wrong items, 0/1; "
                        "use backend='mml' for rated items)")
    if bad.size > 20:
        problems.append(f"... {bad.size - 20} more scores above 1")
    n_resp = np.bincount(cols, minlength=resp.n_items)
    n_right = np.bincount(cols, weights=(score == 1), minlength=resp.n_items)
    for i in range(resp.n_items):
        name = f"item '{resp.items[i]}'"
        if n_resp[i] == 0:
            problems.append(f"{name}: nobody answered it")
        elif n_right[i] in (0, n_resp[i]):
            problems.append(f"{name}: all {n_resp[i]} responses are score "
                            f"{int(n_right[i] > 0)} (nothing to estimate it from)")
    if problems:
        raise DataError([*problems, "leave these items out of the calibration"])
    return _Data(n_persons, rows, cols, score, n_resp)


def _start_values(data: _Data, n_items: int) -> dict[str, np.ndarray]:
    """Starting values: b from the proportion correct, SDs from counts, item centres.

    With a = 1 and θ ~ N(0, 1), P(correct) ≈ logistic(-b / √(1 + π/8)), hence the factor;
    a start near the answer saves most of the early noisy steps.  The centre c of an item
    is the mean of θ weighted by the item's information at the start values: the point
    about which its slope and location are nearly uncorrelated (see ``MarginalIrt``).
    """
    right = np.bincount(data.cols, weights=data.score, minlength=n_items)
    p = np.clip((right + 0.5) / (data.n_responses + 1.0), 0.02, 0.98)
    b = -np.log(p / (1 - p)) * math.sqrt(1 + math.pi / 8)
    z, log_w = quadrature(41, 6.0)
    prob = 1.0 / (1.0 + np.exp(-(z[None, :] - b[:, None])))
    info = np.exp(log_w) * prob * (1 - prob)  # (I, 41)
    centre = (info @ z) / info.sum(axis=1)
    sd = 1.0 / np.sqrt(0.2 * data.n_responses + 1.0)  # ~ 1/√information of an item
    return {"b": b, "centre": centre, "sd": sd}


def _result(
    resp: Responses,
    key: str,
    free_slope: bool,
    data: _Data,
    run: SviRun,
    nodes: tuple[np.ndarray, np.ndarray],
) -> Calibration:
    """Assemble the Calibration; log-likelihood recomputed in float64 at the estimates."""
    e, sd_e, centre = run.means["loc_e"], run.means["scale_e"], run.centre
    if free_slope:
        log_s, sd_log_s = run.means["loc_slope"], run.means["scale_slope"]
        b, a = to_irt(True, centre, np.exp(log_s), e)
        se_a = a * sd_log_s  # delta method on a = exp(log a)
        # b = c - e / a: delta method over the independent guide factors of e and log a
        se_b = np.hypot(sd_e / a, (e / a) * sd_log_s)
        pop_sd, se_pop_sd = 1.0, math.nan
    else:
        log_s, sd_log_s = float(run.means["loc_log_sd"]), float(run.means["scale_log_sd"])
        pop_sd = math.exp(log_s)
        b, a = to_irt(False, centre, pop_sd, e)
        se_a = np.full(resp.n_items, np.nan)
        se_b = np.hypot(sd_e, pop_sd * centre * sd_log_s)  # b = σ c - e
        se_pop_sd = pop_sd * sd_log_s
    params = ItemParameters.dichotomous(resp.items.copy(), a, b)
    loglik = _marginal_loglik(data, resp.n_items, a, b, pop_sd, nodes)
    flags = _flags(params, free_slope, pop_sd)
    if not run.converged:
        warnings.warn(f"py-irt {key}: not converged after {run.epochs} steps; raise "
                      "max_epochs or check the flagged items", CalibrationWarning,
                      stacklevel=3)
    if flags:
        warnings.warn(f"py-irt {key}: " + "; ".join(flags), CalibrationWarning, stacklevel=3)
    return Calibration(
        params=params,
        se_a=se_a,
        se_steps=se_b[:, None].copy(),
        se_b=se_b.copy(),
        n_responses=resp.n_responses.astype(int),
        fixed=np.zeros(resp.n_items, dtype=bool),
        log_likelihood=loglik,
        iterations=run.epochs,
        converged=run.converged,
        population_mean=0.0,
        population_sd=pop_sd,
        model=key,
        backend="pyirt",
        se_population_mean=math.nan,
        se_population_sd=se_pop_sd,
        se_method=("SD of the mean-field Gaussian variational posterior in centred "
                   "coordinates, mapped to a and b by the delta method; in the median "
                   "0.93-1.0 of MML's SEs (docs/psychometrics/pyirt.md)"),
        flags=tuple(flags),
    )


def _marginal_loglik(
    data: _Data,
    n_items: int,
    a: np.ndarray,
    b: np.ndarray,
    pop_sd: float,
    nodes: tuple[np.ndarray, np.ndarray],
) -> float:
    """Marginal log-likelihood (natural log) at the estimates, float64, same quadrature."""
    z, log_w = nodes
    logit = a[:, None] * (pop_sd * z[None, :] - b[:, None])  # (I, Q)
    shape = (data.n_persons, n_items)
    right = sparse.csr_matrix((data.score, (data.rows, data.cols)), shape=shape)
    seen = sparse.csr_matrix((np.ones(data.rows.size), (data.rows, data.cols)), shape=shape)
    table = right @ logit - seen @ np.logaddexp(0.0, logit) + log_w
    peak = table.max(axis=1, keepdims=True)
    return float(np.sum(np.log(np.exp(table - peak).sum(axis=1)) + peak[:, 0]))


def _flags(params: ItemParameters, free_slope: bool, pop_sd: float) -> list[str]:
    """One line per item whose estimate is implausible (no bounds are imposed in VI)."""
    flags = []
    lo, hi = A_BOUNDS
    for i in range(params.n_items):
        name = f"item '{params.ids[i]}'"
        if free_slope and params.a[i] < lo:
            flags.append(f"{name}: slope {params.a[i]:.3f} below {lo} (no or negative "
                         "discrimination: check the key and the content)")
        elif free_slope and params.a[i] > hi:
            flags.append(f"{name}: slope {params.a[i]:.2f} above {hi} (nearly deterministic "
                         "item, or too few responses)")
        if abs(params.b[i]) > THETA_FLAG * pop_sd:
            flags.append(f"{name}: difficulty {params.b[i]:.2f} outside "
                         f"±{THETA_FLAG * pop_sd:.1f} (too easy or too hard for these persons)")
    return flags
