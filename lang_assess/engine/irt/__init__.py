"""Item response theory: item parameters, models and ability estimation (pure numpy)."""

from lang_assess.engine.irt.estimate import (
    DEFAULT_GRID,
    AbilityEstimate,
    eap,
    map_estimate,
    mle,
    normal_log_prior,
    posterior_mean_sd,
    posterior_weights,
    wle,
)
from lang_assess.engine.irt.models import (
    MISSING,
    category_probabilities,
    check_responses,
    expected_score,
    item_information,
    log_likelihood,
    score_terms,
    test_information,
)
from lang_assess.engine.irt.params import SKILLS, ItemParameters

__all__ = [
    "DEFAULT_GRID",
    "MISSING",
    "SKILLS",
    "AbilityEstimate",
    "ItemParameters",
    "category_probabilities",
    "check_responses",
    "eap",
    "expected_score",
    "item_information",
    "log_likelihood",
    "map_estimate",
    "mle",
    "normal_log_prior",
    "posterior_mean_sd",
    "posterior_weights",
    "score_terms",
    "test_information",
    "wle",
]
