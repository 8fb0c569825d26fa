"""py-irt model classes: the marginal 2PL and 1PL (θ integrated out on quadrature nodes).

Importing this module imports torch, pyro and py_irt; only the py-irt backend's fit (and
:func:`~lang_assess.psychometrics.calibrate.pyirt.model_class`) import it, when asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from py_irt.models.abstract_model import _IRT_REGISTRY, IrtModel
from pyro.infer import TraceMeanField_ELBO
from torch.distributions import constraints

from lang_assess.psychometrics.calibrate.pyirt.scale import quadrature, to_irt

DENSE_CELLS = 20_000_000  # response matrices up to this many cells are held dense (BLAS)
REGISTRY_NAMES: dict[bool, str] = {True: "lang_assess_2pl", False: "lang_assess_1pl"}

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
    guide matches MML's SEs (docs/psychometrics/pyirt.md).  The prior is still b ~ N(0, σ_b²):
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


MODEL_CLASSES: dict[bool, type[MarginalIrt]] = {True: MarginalTwoParam, False: MarginalOneParam}
for _slope, _cls in MODEL_CLASSES.items():
    if REGISTRY_NAMES[_slope] not in _IRT_REGISTRY:  # py-irt's duplicate check compares classes
        IrtModel.register(REGISTRY_NAMES[_slope])(_cls)
