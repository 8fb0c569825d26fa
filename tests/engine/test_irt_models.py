import numpy as np
import pytest
from support.reference import loglik_by_hand, probs_by_hand

from lang_assess.engine.irt import (
    ItemParameters,
    category_probabilities,
    expected_score,
    item_information,
    log_likelihood,
)
from lang_assess.engine.irt import test_information as total_information
from lang_assess.engine.irt.models import paired_probabilities


def test_probabilities_match_textbook_formulas(mixed_bank):
    thetas = np.array([-2.3, -0.4, 0.0, 1.7])
    probs = category_probabilities(thetas, mixed_bank)
    assert probs.shape == (4, mixed_bank.n_items, 4)
    for t, theta in enumerate(thetas):
        for i in range(mixed_bank.n_items):
            expected = probs_by_hand(theta, mixed_bank.a[i], list(mixed_bank.steps[i]),
                                     mixed_bank.c[i])
            got = probs[t, i, : expected.size]
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
            assert np.all(probs[t, i, expected.size:] == 0)


def test_probabilities_sum_to_one_and_stay_finite_far_out(mixed_bank):
    probs = category_probabilities(np.array([-40.0, 0.0, 40.0]), mixed_bank)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0)


def test_rasch_is_2pl_with_unit_slope():
    b = np.array([-1.0, 0.5, 2.0])
    r = ItemParameters.rasch(["a", "b", "c"], b)
    p = category_probabilities(0.5, r)[..., 1]
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-(0.5 - b))))


def test_information_equals_squared_score_expectation(mixed_bank):
    """Fisher information Σ_x P'_x² / P_x, with P' by central differences."""
    thetas = np.linspace(-3, 3, 13)
    h = 1e-5
    dp = (category_probabilities(thetas + h, mixed_bank)
          - category_probabilities(thetas - h, mixed_bank)) / (2 * h)
    p = category_probabilities(thetas, mixed_bank)
    with np.errstate(divide="ignore", invalid="ignore"):
        numeric = np.where(p > 0, dp**2 / p, 0.0).sum(axis=-1)
    np.testing.assert_allclose(item_information(thetas, mixed_bank), numeric, rtol=1e-6)
    np.testing.assert_allclose(total_information(thetas, mixed_bank), numeric.sum(axis=-1),
                               rtol=1e-6)


def test_fast_dichotomous_path_agrees_with_general_path(mixed_bank):
    dich = mixed_bank.subset(np.arange(12))
    assert dich.is_dichotomous and not mixed_bank.is_dichotomous
    thetas = np.array([-1.0, 0.3, 2.2])
    np.testing.assert_allclose(item_information(thetas, dich),
                               item_information(thetas, mixed_bank)[:, :12], rtol=1e-12)
    np.testing.assert_allclose(expected_score(thetas, dich),
                               expected_score(thetas, mixed_bank)[:, :12], rtol=1e-12)


def test_expected_score_of_rated_items():
    bank = ItemParameters.gpcm(["g"], [1.0], [[-1.0, 0.0, 1.0]])
    # symmetric steps: at θ = 0 the expected score is the middle of 0..3
    assert expected_score(0.0, bank)[0] == pytest.approx(1.5)


def test_log_likelihood_matches_item_by_item_sum(mixed_bank, rng):
    grid = np.linspace(-4, 4, 9)
    resp = np.array([[rng.integers(0, k + 1) if rng.random() < 0.7 else -1
                      for k in mixed_bank.n_steps] for _ in range(5)])
    ll = log_likelihood(grid, mixed_bank, resp)
    assert ll.shape == (5, 9)
    for p in range(5):
        for q, theta in enumerate(grid):
            assert ll[p, q] == pytest.approx(loglik_by_hand(theta, mixed_bank, resp[p]),
                                             rel=1e-10)


def test_log_likelihood_rejects_impossible_scores(mixed_bank):
    resp = np.full((1, mixed_bank.n_items), -1)
    resp[0, 0] = 2  # item d0 is right/wrong
    with pytest.raises(ValueError, match="item 'd0': score 2"):
        log_likelihood(np.zeros(1), mixed_bank, resp)


def test_paired_probabilities_pair_each_person_with_one_item(mixed_bank):
    thetas = np.array([-1.0, 0.5, 2.0])
    items = np.array([13, 0, 13])
    paired = paired_probabilities(thetas, mixed_bank, items)
    full = category_probabilities(thetas, mixed_bank)
    for j in range(3):
        np.testing.assert_allclose(paired[j], full[j, items[j]])
