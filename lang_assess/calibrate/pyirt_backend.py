"""Item calibration with py-irt (Pyro variational inference), its known traps handled.

py-irt 0.7.1 fits IRT models by stochastic variational inference (SVI) in Pyro.  Used as
shipped, it has traps that would give wrong or irreproducible item parameters; this module
keeps py-irt's model framework (an :class:`py_irt.models.abstract_model.IrtModel` subclass,
registered in py-irt's model registry, so py-irt's own ``IrtModelTrainer`` can run it) and
replaces what is wrong (docs/pyirt.md has the evidence for each point):

- **Priors.**  py-irt's "vague" 2PL priors are b ~ N(0, 0.1), a ~ LogNormal(0, 0.1): they
  pull every item to b ≈ 0, a ≈ 1 and shrink the scale.  Here b ~ N(0, ``prior_b_sd``²)
  and log a ~ N(0, ``prior_log_a_sd``²), weakly informative (defaults 3 and 1).
- **Scale.**  Abilities are integrated out on quadrature nodes under θ ~ N(0, 1) (the
  "collapsed" model), exactly as marginal maximum likelihood does, so the item parameters
  are on the same logistic scale as :func:`lang_assess.calibrate.mml.fit_mml`.  py-irt's
  own models put a Gaussian variational factor on every person's θ instead; that is
  slower to converge (2·P extra noisy parameters) and was further from MML here.  Each
  item is parametrised about the centre of its information (see ``MarginalIrt``), so the
  mean-field guide does not miss the strong slope–difficulty correlation of easy and
  hard items.
- **Seed.**  py-irt's Python API ignores the configured seed; here ``seed`` seeds Pyro and
  torch (the caller's global random states are restored afterwards), so the same seed
  gives bit-identical parameters.
- **Convergence.**  py-irt runs a fixed number of epochs; here the fit stops when the
  smoothed ELBO is flat and the parameter means move less than a tenth of their own
  posterior SD, for several consecutive checks (``max_epochs`` caps it, ``converged``
  says which happened).  Gradients come from antithetic pairs of draws, without which
  the noise alone moves the means by more than that.
- **Global parameter store.**  Pyro keeps parameters in one process-wide store (and torch
  one global random generator): fits hold a module lock, clear the store before they
  start and put back whatever the caller had in it afterwards.
- **Standard errors.**  py-irt gives none; here they are the SDs of the mean-field
  Gaussian variational posterior: in the median 0.93–1.0 of MML's SEs, down to about
  0.7 for items with few responses and a low slope.
- **Sparse data.**  Only observed (person, item, response) triples enter the likelihood;
  nothing is imputed.

torch, pyro and py_irt are imported inside the functions: importing this module is cheap
and the participant's test page never loads them.
"""

from __future__ import annotations

import math
import random
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from lang_assess.calibrate.data import DataError, Responses
from lang_assess.calibrate.result import Calibration, CalibrationWarning
from lang_assess.irt.params import ItemParameters

MODELS: dict[str, bool] = {"2pl": True, "1pl": False, "rasch": False}  # name → free slopes
REGISTRY_NAMES: dict[bool, str] = {True: "lang_assess_2pl", False: "lang_assess_1pl"}
A_BOUNDS = (0.05, 8.0)  # slopes outside this are flagged (same bounds as the MML backend)
THETA_FLAG = 6.0  # a difficulty beyond ±6 population SDs is flagged
DENSE_CELLS = 20_000_000  # response matrices up to this many cells are held dense (BLAS)
MAX_RECENTRES = 2  # item centres are re-estimated at most this often during a fit
RECENTRE_MIN = 0.05  # ... and only while they still move by more than this (z units)
MIN_LR_RATIO = 1 / 64  # the learning rate is halved down to this share of its start
SMALL_WORK = 500_000_000  # persons × items × nodes below which torch runs one thread

# Pyro's parameter store and torch's random generator are process-wide: one fit at a time.
_LOCK = threading.Lock()
_CLASSES: dict[bool, type] = {}


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
        not modes: the slopes come out a few percent below MML's (docs/pyirt.md).

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

    import torch  # lazily: see the module docstring

    work = data.n_persons * resp.n_items * n_quad
    with _LOCK, _private_pyro_state(seed), _torch_threads(1 if work < SMALL_WORK else None):
        irt = model_class(free_slope)(
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
        run = _run_svi(irt, triples, max_epochs=max_epochs, tol=tol, param_tol=param_tol,
                       patience=patience, window=check_every, lr=lr, progress=progress,
                       desc=f"py-irt {key}")
    return _result(resp, key, free_slope, data, run, quadrature(n_quad, theta_range))


def model_class(free_slope: bool = True) -> type:
    """The py-irt model class (2PL or 1PL), registered in py-irt's model registry.

    Registered as ``"lang_assess_2pl"`` / ``"lang_assess_1pl"``, so py-irt's own trainer
    can run it, e.g. ``IrtConfig(model_type="lang_assess_2pl", priors="weak")``; it takes
    py-irt's (subjects, items, observations) index tensors and integrates θ out.

    Parameters
    ----------
    free_slope : bool
        True for the 2PL (a slope per item), False for the 1PL (a = 1, σ estimated).

    Returns
    -------
    type
        A subclass of ``py_irt.models.abstract_model.IrtModel``.
    """
    if free_slope not in _CLASSES:
        _CLASSES.update(_build_classes())
    return _CLASSES[free_slope]


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
    Evenly spaced nodes, as in :func:`lang_assess.calibrate.mml.fit_mml`, rather than
    Gauss–Hermite: with many items per person the likelihood in θ is much narrower than
    the normal weight, and 21 Gauss–Hermite nodes (spaced ~0.5 apart near 0) biased a
    20,000 × 100 complete fit by 9 % in a; the same rule also makes the log-likelihood
    comparable with MML's.
    """
    z = np.linspace(-theta_range, theta_range, n_quad)
    log_w = -0.5 * z * z
    return z, log_w - np.logaddexp.reduce(log_w)


# ---- data -------------------------------------------------------------------------------
def _prepare(resp: Responses) -> _Data:
    """Observed triples; every item that cannot be estimated is reported at once."""
    given = resp.administered
    keep = given.any(axis=1)  # persons without a response carry no information
    rows, cols = np.nonzero(given[keep])
    score = resp.matrix[keep][rows, cols]
    problems: list[str] = []
    bad = np.flatnonzero(score > 1)
    for j in bad[:20]:
        person = resp.persons[np.flatnonzero(keep)[rows[j]]]
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
    return _Data(int(keep.sum()), rows, cols, score, n_resp)


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


# ---- py-irt model -----------------------------------------------------------------------
def _build_classes() -> dict[bool, type]:
    """Define the two model classes (needs torch/pyro/py_irt) and register them."""
    import pyro
    import pyro.distributions as dist
    import torch
    from py_irt.models.abstract_model import _IRT_REGISTRY, IrtModel
    from pyro.infer import TraceMeanField_ELBO
    from torch.distributions import constraints

    softplus = torch.nn.functional.softplus

    class PairedNormal(dist.Normal):  # type: ignore[misc]
        """A Normal whose reparameterised draw is loc + scale · ε for a given ε.

        Used for antithetic pairs (ε, -ε); everything else (log density, analytic KL)
        is the plain Normal's.
        """

        def __init__(self, loc: Any, scale: Any, eps: Any) -> None:
            super().__init__(loc, scale)
            self.eps = eps

        def rsample(self, sample_shape: Any = ()) -> Any:
            """loc + scale · ε; one draw per site (no particle dimension is used)."""
            return self.loc + self.scale * self.eps

        def expand(self, batch_shape: Any, _instance: Any = None) -> Any:
            """Pyro's plates expand every site's distribution; keep ε along."""
            shape = torch.Size(batch_shape)
            return PairedNormal(self.loc.expand(shape), self.scale.expand(shape),
                                self.eps.expand(shape))

    class MarginalIrt(IrtModel):  # type: ignore[misc]  # py-irt is untyped
        """IRT model with θ integrated out on quadrature nodes (py-irt interface).

        The random variables are the item parameters only; person p contributes
        log Σ_q w_q Π_i P(x_pi | z_q) over the responses they gave.  Each item's logit is
        written about its centre c_i (from the start values, then re-estimated by
        :meth:`recentre`; a constant of the model while the guide is fitted)::

            2PL:  a_i (z - b_i)   = a_i (z - c_i) + e_i,   e_i = a_i (c_i - b_i)
            1PL:  σ z - b_i       = σ (z - c_i) + e_i,     e_i = σ c_i - b_i

        For an easy or hard item a and b trade off strongly, and a mean-field guide on
        (log a, b) would ignore that correlation: its SDs came out at 0.4 of MML's SEs
        for such items.  (log a, e) are nearly uncorrelated, so the same mean-field
        guide matches MML's SEs (docs/pyirt.md).  The prior is still b ~ N(0, σ_b²):
        given the slope, e is an affine function of b, so e | a ~ N(a c, (a σ_b)²)
        (2PL) or e | σ ~ N(σ c, σ_b²) (1PL).
        """

        free_slope = True

        def __init__(
            self,
            *,
            num_items: int,
            num_subjects: int,
            priors: str = "weak",
            device: str = "cpu",
            verbose: bool = False,
            prior_b_sd: float = 3.0,
            prior_log_a_sd: float = 1.0,
            prior_log_sd_sd: float = 1.0,
            n_quad: int = 61,
            theta_range: float = 6.0,
            init: dict[str, np.ndarray] | None = None,
            **kwargs: Any,  # py-irt's trainer passes dims, dropout, hidden, vocab_size
        ) -> None:
            super().__init__(num_items=num_items, num_subjects=num_subjects, device=device,
                             verbose=verbose)
            if priors != "weak":
                raise ValueError(f"priors {priors!r}: this model's priors are 'weak' "
                                 "(b ~ N(0, prior_b_sd²), log a ~ N(0, prior_log_a_sd²)); "
                                 "py-irt's 'vague' ones shrink the scale")
            self.prior_b_sd = float(prior_b_sd)
            self.prior_log_a_sd = float(prior_log_a_sd)
            self.prior_log_sd_sd = float(prior_log_sd_sd)
            z, log_w = quadrature(n_quad, theta_range)
            self.nodes = torch.tensor(z, dtype=torch.float32)
            self.log_w = torch.tensor(log_w, dtype=torch.float32)
            init = init or {}

            def start(name: str, default: float) -> Any:
                value = init.get(name, np.full(num_items, default))
                return torch.as_tensor(value, dtype=torch.float32)

            self.centre = start("centre", 0.0)
            self._init_b = start("b", 0.0)
            self._init_sd = start("sd", 0.1)
            self._design: tuple[Any, ...] | None = None
            self._noise: dict[str, Any] | None = None  # set per step by antithetic_loss

        # -- data: indicator matrices built once from the triples -----------------------
        def _indicators(self, subjects: Any, items: Any, obs: Any) -> tuple[Any, Any]:
            """(P, I) right-answer and answered indicators, built once per data set.

            A response not given is a zero in both, i.e. absent from every sum: nothing
            is imputed.  Dense (one BLAS product per step) unless the matrix is huge.
            """
            key = (subjects.data_ptr(), items.data_ptr(), obs.data_ptr(), int(obs.numel()))
            if self._design is None or self._design[0] != key:
                shape = (self.num_subjects, self.num_items)
                idx = torch.stack([subjects, items])
                hit = obs > 0.5
                right = torch.sparse_coo_tensor(idx[:, hit], obs[hit], shape,
                                                check_invariants=True).coalesce()
                seen = torch.sparse_coo_tensor(idx, torch.ones_like(obs), shape,
                                               check_invariants=True).coalesce()
                if shape[0] * shape[1] <= DENSE_CELLS:
                    right, seen = right.to_dense(), seen.to_dense()
                self._design = (key, right, seen)
            return self._design[1], self._design[2]

        def _logits(self, slope: Any, e: Any) -> Any:
            """(I, Q) logits s (z_q - c_i) + e_i; ``slope`` is a (I,) or σ (scalar)."""
            s = slope[..., None] if slope.dim() else slope
            return s * (self.nodes - self.centre[:, None]) + e[:, None]

        def _person_loglik(self, right: Any, seen: Any, logits: Any) -> Any:
            """(P, Q) log Π_i P(x_pi | z_q) + log w_q over each person's responses."""
            # Σ_i [x log σ(z) + (1 - x) log σ(-z)] = Σ_i x z - seen · softplus(z)
            mm = torch.sparse.mm if right.is_sparse else torch.mm
            return mm(right, logits) - mm(seen, softplus(logits)) + self.log_w

        # -- pyro model and guide ---------------------------------------------------------
        def model(self, subjects: Any, items: Any, obs: Any) -> None:
            """Priors on the item parameters, then the marginal likelihood as a factor."""
            right, seen = self._indicators(subjects, items, obs)
            if self.free_slope:
                with pyro.plate("bs", self.num_items):
                    slope = pyro.sample("log_a", dist.Normal(0.0, self.prior_log_a_sd)).exp()
                    e = pyro.sample("e", dist.Normal(slope * self.centre,
                                                     slope * self.prior_b_sd))
            else:
                slope = pyro.sample("log_sd", dist.Normal(0.0, self.prior_log_sd_sd)).exp()
                with pyro.plate("bs", self.num_items):
                    e = pyro.sample("e", dist.Normal(slope * self.centre, self.prior_b_sd))
            table = self._person_loglik(right, seen, self._logits(slope, e))
            pyro.factor("marginal", torch.logsumexp(table, dim=1).sum())

        def guide(self, subjects: Any, items: Any, obs: Any) -> None:
            """Mean-field Gaussian guide on (log a or log σ, e)."""
            positive = constraints.positive
            loc_e = pyro.param("loc_e", self.centre - self._init_b)
            scale_e = pyro.param("scale_e", self._init_sd.clone(), constraint=positive)
            if self.free_slope:
                loc_s = pyro.param("loc_slope", torch.zeros(self.num_items))
                scale_s = pyro.param("scale_slope", self._init_sd.clone(),
                                     constraint=positive)
                with pyro.plate("bs", self.num_items):
                    pyro.sample("log_a", self._normal("log_a", loc_s, scale_s))
                    pyro.sample("e", self._normal("e", loc_e, scale_e))
            else:
                loc_s = pyro.param("loc_log_sd", torch.tensor(0.0))
                scale_s = pyro.param("scale_log_sd", torch.tensor(0.05), constraint=positive)
                pyro.sample("log_sd", self._normal("log_sd", loc_s, scale_s))
                with pyro.plate("bs", self.num_items):
                    pyro.sample("e", self._normal("e", loc_e, scale_e))

        def _normal(self, site: str, loc: Any, scale: Any) -> Any:
            """The guide's Normal; a fixed-noise one inside :meth:`antithetic_loss`."""
            if self._noise is None:
                return dist.Normal(loc, scale)
            return PairedNormal(loc, scale, self._noise[site])

        def antithetic_loss(self, model: Any, guide: Any, *args: Any) -> Any:
            """Negative ELBO averaged over an antithetic pair of guide draws (ε, -ε).

            For a locally quadratic log density the two draws' gradient noise with
            respect to the means cancels exactly; the single-draw estimate is so noisy
            that Adam's iterates wander by a sizeable part of a posterior SD and a
            convergence rule cannot tell drift from noise.  Costs two evaluations.
            """
            shapes = {"e": (self.num_items,),
                      "log_a" if self.free_slope else "log_sd":
                      (self.num_items,) if self.free_slope else ()}
            draws = {site: torch.randn(shape) for site, shape in shapes.items()}
            elbo = TraceMeanField_ELBO()
            total = 0.0
            try:
                for sign in (1.0, -1.0):
                    self._noise = {site: sign * eps for site, eps in draws.items()}
                    total = total + elbo.differentiable_loss(model, guide, *args)
            finally:
                self._noise = None
            return total / 2.0


        def get_model(self) -> Any:
            """The Pyro model (py-irt interface)."""
            return self.model

        def get_guide(self) -> Any:
            """The Pyro guide (py-irt interface)."""
            return self.guide

        def watched(self) -> tuple[tuple[str, str], ...]:
            """(mean, SD) parameter names that the convergence rule follows."""
            slope = ("loc_slope", "scale_slope") if self.free_slope else (
                "loc_log_sd", "scale_log_sd")
            return (("loc_e", "scale_e"), slope)

        def _current(self) -> tuple[Any, Any]:
            """Guide means now: (slope a_i or σ, e_i), detached."""
            loc_s = "loc_slope" if self.free_slope else "loc_log_sd"
            return pyro.param(loc_s).detach().exp(), pyro.param("loc_e").detach()

        def _posterior(self, slope: Any, e: Any) -> Any:
            """(P, Q) each person's posterior over the nodes at the given parameters."""
            with torch.no_grad():
                table = self._person_loglik(self._design[1], self._design[2],
                                            self._logits(slope, e))
                return torch.softmax(table, dim=1)

        def recentre(self, min_change: float = 0.0) -> bool:
            """Move each item's centre to where its information lies now; keep a and b.

            The start centres assume every item met the whole population; in adaptive
            data an item meets persons near its own difficulty, so the centres are
            recomputed from the persons' posteriors: c_i = information-weighted mean of
            z over the persons who answered item i.  Nothing changes unless some centre
            moves by more than ``min_change`` (z units); returns whether they moved.
            """
            slope, e = self._current()
            b, a = to_irt(self.free_slope, self.centre, slope, e)
            post = self._posterior(slope, e)
            seen = self._design[2]
            counts = (torch.sparse.mm(seen.t(), post) if seen.is_sparse
                      else seen.t() @ post)  # (I, Q) expected answerers per node
            theta = self.nodes * (1.0 if self.free_slope else slope)
            prob = torch.sigmoid(a[:, None] * (theta - b[:, None]))
            weight = counts * prob * (1 - prob)  # (I, Q) information about e at each node
            centre = (weight @ self.nodes) / weight.sum(dim=1).clamp_min(1e-12)
            if float((centre - self.centre).abs().max()) <= min_change:
                return False
            self.centre = centre
            store = pyro.get_param_store()
            # same b and a in the new coordinates: e = a (c - b), or σ c - b for the 1PL
            store["loc_e"] = slope * centre - (slope * b if self.free_slope else b)
            # the guide SDs start at 1/√(expected information) in the new coordinates;
            # the slope's SD was the conditional one given a badly centred e, too small
            store["scale_e"] = (weight.sum(dim=1) + self.prior_b_sd**-2).rsqrt()
            if self.free_slope:
                spread = (weight * (self.nodes - centre[:, None]) ** 2).sum(dim=1)
                store["scale_slope"] = (a**2 * spread + self.prior_log_a_sd**-2).rsqrt()
            return True

        def export(self) -> dict[str, Any]:
            """py-irt's export: difficulties, slopes and EAP abilities (once data seen)."""
            slope, e = self._current()
            b, a = to_irt(self.free_slope, self.centre, slope, e)
            out: dict[str, Any] = {"diff": b.tolist(), "disc": a.tolist(), "ability": []}
            if self._design is not None:
                theta = self.nodes * (1.0 if self.free_slope else slope)
                out["ability"] = (self._posterior(slope, e) @ theta).tolist()
            return out

    class MarginalTwoParam(MarginalIrt):
        """2PL, θ ~ N(0, 1) integrated out; registered as ``lang_assess_2pl``."""

        free_slope = True

    class MarginalOneParam(MarginalIrt):
        """1PL (a = 1), θ ~ N(0, σ²) integrated out; registered as ``lang_assess_1pl``."""

        free_slope = False

    classes = {True: MarginalTwoParam, False: MarginalOneParam}
    for slope, cls in classes.items():
        name = REGISTRY_NAMES[slope]
        if name not in _IRT_REGISTRY:  # py-irt's own duplicate check compares classes
            IrtModel.register(name)(cls)
    return classes


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


# ---- the SVI loop -----------------------------------------------------------------------
@contextmanager
def _private_pyro_state(seed: int) -> Iterator[None]:
    """Seed Pyro/torch for one fit; restore the caller's random states and param store.

    ``pyro.set_rng_seed`` seeds Python's, numpy's and torch's global generators; a
    library call should not change those behind the caller's back, nor wipe parameters
    the caller keeps in Pyro's global store.
    """
    import pyro
    import torch

    store = pyro.get_param_store()
    saved_store = store.get_state()
    # the legacy numpy state is what pyro.set_rng_seed reseeds, so it is what to restore
    saved_rng = (random.getstate(), np.random.get_state(), torch.get_rng_state())  # noqa: NPY002
    store.clear()
    pyro.set_rng_seed(seed)
    try:
        yield
    finally:
        store.clear()
        store.set_state(saved_store)
        random.setstate(saved_rng[0])
        np.random.set_state(saved_rng[1])  # noqa: NPY002
        torch.set_rng_state(saved_rng[2])


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (None: leave as is), restored afterwards.

    An SVI step is a few (persons × items) @ (items × nodes) products, too small to gain
    from threads: on this project's 2-core machine, shared with other work, a 2,000 × 60
    fit took 17–25 s with two threads and 3 s with one, and one step at 10,000 × 300
    3.6–5× longer with two.  The setting is process-wide, hence inside the lock.
    """
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class _Run:
    """Window-averaged variational parameters and how the loop ended."""

    means: dict[str, np.ndarray]  # name → window mean of the parameter (float64)
    epochs: int
    converged: bool
    elbo: float  # mean ELBO over the last window
    centre: np.ndarray


def _run_svi(
    irt: Any,
    triples: tuple[Any, Any, Any],
    *,
    max_epochs: int,
    tol: float,
    param_tol: float,
    patience: int,
    window: int,
    lr: float,
    progress: bool,
    desc: str,
) -> _Run:
    """Adam on the mean-field ELBO until the convergence rule holds (or ``max_epochs``).

    Every ``window`` steps: the mean loss of the window is compared with the previous
    window's (flat if the change is below ``tol`` relative, or below twice its Monte Carlo
    SE), and the window-averaged means with the previous ones, in units of the posterior
    SD.  A flat ELBO halves the learning rate: what is left is gradient noise, and a
    smaller step averages it out.  The estimates are the averages over the last window
    (Polyak averaging), which also damps that noise.
    """
    import pyro
    from pyro.infer import SVI
    from tqdm.auto import tqdm

    def loss_and_grads(model: Any, guide: Any, *args: Any) -> float:
        loss = irt.antithetic_loss(model, guide, *args)
        loss.backward()
        return float(loss.item())

    def new_svi() -> tuple[Any, Any]:
        optim = pyro.optim.Adam({"lr": lr})
        return optim, SVI(irt.get_model(), irt.get_guide(), optim, loss=irt.antithetic_loss,
                          loss_and_grads=loss_and_grads)

    optim, svi = new_svi()
    watched = irt.watched()
    names = [n for pair in watched for n in pair]
    sums: dict[str, Any] = {}
    losses: list[float] = []
    prev: tuple[float, float, dict[str, np.ndarray]] | None = None
    calm, epoch, rate, converged, recentred = 0, 0, lr, False, 0
    means: dict[str, np.ndarray] = {}
    last_elbo = math.nan
    with tqdm(total=max_epochs, desc=desc, unit="step", disable=not progress) as bar:
        for epoch in range(1, max_epochs + 1):
            losses.append(svi.step(*triples))
            for n in names:
                value = pyro.param(n).detach()
                sums[n] = value.clone() if n not in sums else sums[n] + value
            if len(losses) < window and epoch < max_epochs:
                continue
            count = len(losses)
            means = {n: (sums[n] / count).double().numpy() for n in names}
            loss, loss_var = float(np.mean(losses)), float(np.var(losses)) / count
            last_elbo = -loss
            sums, losses = {}, []
            bar.update(count)
            if prev is None:
                prev = (loss, loss_var, means)
                continue
            change = abs(loss - prev[0])
            flat = change < max(tol * abs(loss), 2.0 * math.sqrt(loss_var + prev[1]))
            moved = max(
                float(np.max(np.abs(means[m] - prev[2][m]) / np.maximum(means[s], 1e-6)))
                for m, s in watched
            )
            bar.set_postfix(elbo=f"{-loss:.1f}", moved=f"{moved:.2f}", refresh=False)
            prev = (loss, loss_var, means)
            if (flat and recentred < MAX_RECENTRES and epoch < max_epochs
                    and irt.recentre(RECENTRE_MIN)):
                # new coordinates: restart the comparison and Adam's moment estimates
                recentred += 1
                optim, svi = new_svi()
                prev, calm, rate = None, 0, lr
                continue
            calm = calm + 1 if flat and moved < param_tol else 0
            if calm >= patience:
                converged = True
                break
            if flat:  # what is left is gradient noise: a smaller step averages it out
                rate = max(rate / 2, lr * MIN_LR_RATIO)
                for opt in optim.optim_objs.values():
                    for group in opt.param_groups:
                        group["lr"] = rate
    return _Run(means=means, epochs=epoch, converged=converged, elbo=last_elbo,
                centre=irt.centre.double().numpy())


# ---- result -----------------------------------------------------------------------------
def _result(
    resp: Responses,
    key: str,
    free_slope: bool,
    data: _Data,
    run: _Run,
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
                   "0.93-1.0 of MML's SEs (docs/pyirt.md)"),
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
