import numpy as np
import pytest
from scipy.stats import norm

from lang_assess.engine.irt.estimate import normal_log_prior, posterior_weights
from lang_assess.engine.levels import CEFR_LEVELS, CutScores

CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))


def test_level_of_theta_with_cut_belonging_to_upper_level():
    assert CUTS.labels == CEFR_LEVELS
    theta = np.array([-3.0, -2.0, -1.5, 0.0, 0.99, 2.5])
    assert CUTS.level_label(theta).tolist() == ["preA1", "A1", "A1", "B1", "B1", "C1"]


def test_rudner_probabilities_match_normal_cdf_differences():
    probs = CUTS.probabilities(np.array([0.3, -1.9]), np.array([0.4, 0.25]))
    assert probs.shape == (2, 6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    edges = np.r_[-np.inf, CUTS.cuts, np.inf]
    expected = np.diff(norm.cdf(edges, loc=0.3, scale=0.4))
    np.testing.assert_allclose(probs[0], expected, atol=1e-12)


def test_posterior_probabilities_from_grid():
    grid = np.linspace(-6, 6, 1201)
    w = posterior_weights(np.zeros((1, grid.size)), normal_log_prior(grid, 0.5, 0.3))
    probs = CUTS.posterior_probabilities(w, grid)[0]
    np.testing.assert_allclose(probs, CUTS.probabilities(0.5, 0.3), atol=5e-3)


def test_fewer_cuts_use_the_first_labels_and_bad_cuts_are_refused():
    assert CutScores((-1.0, 1.0)).labels == ("preA1", "A1", "A2")
    with pytest.raises(ValueError, match="strictly increasing"):
        CutScores((0.0, -1.0))
    with pytest.raises(ValueError, match="numbers separated by commas"):
        CutScores.parse("a,b")
    with pytest.raises(ValueError, match="need 3 level labels"):
        CutScores((0.0, 1.0), ("low", "high"))
