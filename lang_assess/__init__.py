"""lang_assess: adaptive CEFR placement and weekly progress tests.

Four layers, each a package; imports flow downwards only (``tests/test_layers.py``):

- :mod:`lang_assess.engine` — item response theory and the adaptive test, pure numpy.
- :mod:`lang_assess.bank` — item content on disk: format, validation, scoring, versions.
- :mod:`lang_assess.psychometrics` and :mod:`lang_assess.programme` — calibration and
  checks; the programme's rules, storage and the service (side by side, neither imports
  the other).
- :mod:`lang_assess.ui` and :mod:`lang_assess.cli` — the pages and the command line.

``lang_assess.errors`` holds the exceptions every layer raises.  docs/architecture.md
describes the layout.
"""

__version__ = "0.1.0"
