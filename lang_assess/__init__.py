"""lang_assess: adaptive CEFR placement and weekly progress tests.

Layers (see docs/architecture.md):

- :mod:`lang_assess.irt` — item response models and ability estimation (pure numpy).
- :mod:`lang_assess.cat` — the adaptive test: start, select, estimate, stop, session.
- :mod:`lang_assess.levels` — CEFR cut scores and level probabilities.
- :mod:`lang_assess.simulate` — simulees through a test design; accuracy and exposure.
- :mod:`lang_assess.bank` — reading item parameters from files (the only I/O here).
"""

__version__ = "0.1.0"
