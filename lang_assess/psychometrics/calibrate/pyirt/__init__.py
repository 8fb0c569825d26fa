"""Item calibration with py-irt (Pyro variational inference), its known traps handled.

py-irt 0.7.1 fits IRT models by stochastic variational inference (SVI) in Pyro.  Used as
shipped, it has traps that would give wrong or irreproducible item parameters; this module
keeps py-irt's model framework (an :class:`py_irt.models.abstract_model.IrtModel` subclass,
registered in py-irt's model registry, so py-irt's own ``IrtModelTrainer`` can run it) and
replaces what is wrong (docs/psychometrics/pyirt.md has the evidence for each point):

- **Priors.**  py-irt's "vague" 2PL priors are b ~ N(0, 0.1), a ~ LogNormal(0, 0.1): they
  pull every item to b ≈ 0, a ≈ 1 and shrink the scale.  Here b ~ N(0, ``prior_b_sd``²)
  and log a ~ N(0, ``prior_log_a_sd``²), weakly informative (defaults 3 and 1).
- **Scale.**  Abilities are integrated out on quadrature nodes under θ ~ N(0, 1) (the
  "collapsed" model), exactly as marginal maximum likelihood does, so the item parameters
  are on the same logistic scale as
  :func:`lang_assess.psychometrics.calibrate.mml.fit_mml`.  py-irt's own models put a
  Gaussian variational factor on every person's θ instead; that is slower to converge
  (2·P extra noisy parameters) and was further from MML here.  Each item is
  parametrised about the centre of its information (see ``MarginalIrt``), so the
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

The package is laid out as :mod:`.fit` (data, start values, the result),
:mod:`.model` (the py-irt model classes, module-level and typed), :mod:`.svi` (the
inference loop) and :mod:`.scale` (quadrature, parametrisation).  torch, pyro and py_irt
are imported only by :mod:`.model` and :mod:`.svi`, which the fit imports when it runs:
importing this package is cheap and the participant's test page never loads them.
"""

from __future__ import annotations

from lang_assess.psychometrics.calibrate.pyirt.fit import MODELS, fit_pyirt
from lang_assess.psychometrics.calibrate.pyirt.scale import quadrature, to_irt

REGISTRY_NAMES: dict[bool, str] = {True: "lang_assess_2pl", False: "lang_assess_1pl"}

__all__ = ["MODELS", "REGISTRY_NAMES", "fit_pyirt", "model_class", "quadrature", "to_irt"]


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
    from lang_assess.psychometrics.calibrate.pyirt.model import MODEL_CLASSES  # torch

    return MODEL_CLASSES[free_slope]
