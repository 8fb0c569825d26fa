"""The engine: item response theory and the adaptive test, in numpy, with no I/O.

- :mod:`~lang_assess.engine.irt` — item parameters (1PL/2PL/3PL, GPCM), probabilities,
  information, EAP/MAP/MLE/WLE for P persons at once.
- :mod:`~lang_assess.engine.cat` — the adaptive test as small parts (start, select,
  estimate, stop), designs, the loop over P tests and a participant's resumable session.
- :mod:`~lang_assess.engine.levels` — CEFR cut scores and level probabilities (Rudner).
- :mod:`~lang_assess.engine.simulate` — simulees through a design: accuracy, length,
  oracle length, exposure, placed too high or too low, by level and by track.
- :mod:`~lang_assess.engine.answers` — how simulees answer: parameters that may differ
  from the scoring ones (guessing, slips, calibration error).

Everything above the engine may use it; it uses nothing above itself.
"""
