"""The engine's numpy special functions against SciPy's."""

import numpy as np
from scipy.special import expit, ndtr

from lang_assess.engine.special import logistic, normal_cdf

X = np.concatenate([np.linspace(-40, 40, 4001), [-700.0, 0.0, 700.0, 745.0]])


def test_logistic_matches_expit_in_both_tails():
    assert np.allclose(logistic(X), expit(X), rtol=1e-14, atol=0)
    assert logistic(-700.0) > 0 and logistic(700.0) == 1.0
    assert logistic(-745.0) >= expit(-745.0)  # a denormal where SciPy rounds to 0
    assert logistic(np.array([[0.0, 1.0]])).shape == (1, 2)


def test_normal_cdf_matches_ndtr_in_both_tails():
    z = np.linspace(-37, 8, 2001)
    assert np.allclose(normal_cdf(z), ndtr(z), rtol=1e-12, atol=0)
    assert normal_cdf(-37.0) > 0 and float(normal_cdf(0.0)) == 0.5
    assert normal_cdf(np.zeros((2, 3))).shape == (2, 3)
