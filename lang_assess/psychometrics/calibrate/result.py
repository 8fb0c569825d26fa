"""The result of a calibration, whichever backend produced it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lang_assess.engine.irt.params import ItemParameters


class CalibrationWarning(UserWarning):
    """A calibration finished but needs a look (not converged, estimates at a bound)."""


@dataclass(frozen=True, eq=False)
class Calibration:
    """Item parameters estimated from responses, with their standard errors.

    All per-item arrays follow ``params.ids`` (the order of the response columns).

    Attributes
    ----------
    params : ItemParameters
        Estimates on the logistic metric (``c`` = 0 except for 3PL items); anchored
        items keep their given parameters (including ``c`` and ``skill``).
    se_a : (I,) float
        Standard error of the slope ``a``; NaN where ``a`` was not estimated (Rasch/PCM
        items, anchors).
    se_steps : (I, K) float
        Standard errors of the step difficulties, NaN-padded like ``params.steps``;
        NaN for anchors.
    se_b : (I,) float
        Standard error of the item location ``params.b`` (the mean step difficulty).
    n_responses : (I,) int
        Persons who answered each item.
    fixed : (I,) bool
        True for anchors (parameters given, not estimated).
    log_likelihood : float
        Marginal log-likelihood of the data at the estimates (natural log).
    iterations : int
        Iterations of the fitting algorithm.
    converged : bool
        Whether the convergence rule was met before the iteration limit.
    population_mean, population_sd : float
        Mean and SD of the ability distribution in logits (0 and 1 where they define the
        scale).
    se_population_mean, se_population_sd : float
        Their standard errors; NaN where fixed.
    model : str
        ``"2pl"``/``"gpcm"`` (free slopes) or ``"1pl"``/``"rasch"``/``"pcm"`` (a = 1).
    backend : str
        ``"mml"`` (numpy Bock–Aitkin EM) or ``"pyirt"``.
    se_method : str
        How the standard errors were computed (one line).
    flags : tuple of str
        One line per item estimate that needs a look (e.g. a slope at its bound).
    se_c : (I,) float
        Standard error of the lower asymptote ``c``; NaN where c was not estimated.
    """

    params: ItemParameters
    se_a: np.ndarray
    se_steps: np.ndarray
    se_b: np.ndarray
    n_responses: np.ndarray
    fixed: np.ndarray
    log_likelihood: float
    iterations: int
    converged: bool
    population_mean: float
    population_sd: float
    model: str
    backend: str
    se_population_mean: float = float("nan")
    se_population_sd: float = float("nan")
    se_method: str = ""
    flags: tuple[str, ...] = ()
    se_c: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.se_c is None:
            object.__setattr__(self, "se_c", np.full(self.params.n_items, np.nan))
        for arr in (self.se_a, self.se_steps, self.se_b, self.n_responses, self.fixed,
                    self.se_c):
            arr.setflags(write=False)

    @property
    def n_items(self) -> int:
        """Number of items I."""
        return self.params.n_items

    def summary(self) -> str:
        """A few lines for a log or a notebook: fit, population, worst items."""
        status = "converged" if self.converged else "NOT converged"
        lines = [
            f"{self.backend} {self.model}: {self.n_items} items "
            f"({int(self.fixed.sum())} anchors), {status} after {self.iterations} "
            f"iterations, log-likelihood {self.log_likelihood:.2f}",
            f"population: mean {self.population_mean:.3f}, sd {self.population_sd:.3f}",
        ]
        lines += [f"flag: {f}" for f in self.flags]
        return "\n".join(lines)
