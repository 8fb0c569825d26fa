"""Checks a psychometrician runs after a calibration (pure numpy/scipy, no I/O).

- :mod:`~lang_assess.checks.fit` — infit/outfit, S-X² (complete data) and a
  rest-posterior grouped chi-square (adaptive data) per item.
- :mod:`~lang_assess.checks.dif` — Mantel–Haenszel (ETS A/B/C) and logistic-regression
  DIF on θ̂ bands, for several groupings at once.
- :mod:`~lang_assess.checks.drift` — Δb, Δa between two parameter versions.
- :mod:`~lang_assess.checks.precision` — information and SEM over θ and at the cuts;
  Rudner classification accuracy and consistency.

Each returns a tidy pandas DataFrame; docs/checks.md says what to do with a flag.
"""

from lang_assess.checks.dif import dif_report, logistic_dif, mantel_haenszel
from lang_assess.checks.drift import parameter_drift
from lang_assess.checks.fit import item_fit
from lang_assess.checks.precision import (
    classification_indices,
    information_curve,
    precision_at_cuts,
)

__all__ = [
    "classification_indices",
    "dif_report",
    "information_curve",
    "item_fit",
    "logistic_dif",
    "mantel_haenszel",
    "parameter_drift",
    "precision_at_cuts",
]
