"""Psychometrics: what the psychometricians' notebooks call.

- :mod:`~lang_assess.psychometrics.calibrate` — ``calibrate(responses, model, backend)``:
  marginal ML (numpy) or py-irt (Pyro, imported on demand); PARAMS.csv out.
- :mod:`~lang_assess.psychometrics.checks` — item fit, DIF (Mantel–Haenszel, logistic,
  Lord), drift, precision and classification accuracy.
- :mod:`~lang_assess.psychometrics.linking` — mean/sigma, mean/mean, Stocking–Lord.
- :mod:`~lang_assess.psychometrics.recalibration` — export → calibration → linking →
  checks, the loop before ``bank publish``.
- :mod:`~lang_assess.psychometrics.standard_setting` — the ordered item booklet,
  Bookmark and Angoff cuts.
- :mod:`~lang_assess.psychometrics.design_study` — test designs compared by simulation.
- :mod:`~lang_assess.psychometrics.plots` — plotly figures for the notebooks.

Uses the engine and the bank; never the programme (data reach it as arrays and tables).
"""
