"""Checks a psychometrician runs after a calibration (pure numpy/scipy, no I/O).

- :mod:`~lang_assess.psychometrics.checks.fit` — infit/outfit, S-X² (complete data) and a
  rest-posterior grouped chi-square (adaptive data) per item.
- :mod:`~lang_assess.psychometrics.checks.dif` — Mantel–Haenszel (ETS A/B/C) and logistic-regression
  DIF on θ̂ bands, for several groupings at once.
- :mod:`~lang_assess.psychometrics.checks.lord` — Lord's chi-square on separate calibrations.
- :mod:`~lang_assess.psychometrics.checks.drift` — Δb, Δa between two parameter versions.
- :mod:`~lang_assess.psychometrics.checks.precision` — information and SEM over θ and at the cuts;
  Rudner classification accuracy and consistency.

Each returns a tidy pandas DataFrame; docs/psychometrics/checks.md says what to do with a flag.
"""

from lang_assess.psychometrics.checks.dif import dif_report, logistic_dif, mantel_haenszel
from lang_assess.psychometrics.checks.drift import parameter_drift
from lang_assess.psychometrics.checks.fit import item_fit
from lang_assess.psychometrics.checks.lord import lord_test
from lang_assess.psychometrics.checks.precision import (
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
    "lord_test",
    "mantel_haenszel",
    "parameter_drift",
    "precision_at_cuts",
]
