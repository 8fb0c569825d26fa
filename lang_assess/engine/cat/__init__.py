"""Computerized adaptive testing: small interchangeable parts and the loop that runs them.

- :mod:`~lang_assess.engine.cat.start` — initializers (the ability before any answer)
- :mod:`~lang_assess.engine.cat.select` — item selection, content balancing, exposure control
- :mod:`~lang_assess.engine.cat.routing` — the routing stage for those who may not read
- :mod:`~lang_assess.engine.cat.estimators` — the current ability estimate
- :mod:`~lang_assess.engine.cat.stop` — stopping rules
- :mod:`~lang_assess.engine.cat.design` — a test design bundling the parts; placement/progress
- :mod:`~lang_assess.engine.cat.engine` — the loop for P tests at once
- :mod:`~lang_assess.engine.cat.session` — one participant's resumable test
"""

from lang_assess.engine.cat.design import (
    DEFAULT_SKILL_TARGETS,
    TestDesign,
    placement_design,
    progress_design,
)
from lang_assess.engine.cat.session import CATSession

__all__ = [
    "DEFAULT_SKILL_TARGETS",
    "CATSession",
    "TestDesign",
    "placement_design",
    "progress_design",
]
