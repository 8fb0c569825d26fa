"""Linking a new calibration to the bank scale through anchor items."""

from __future__ import annotations

import numpy as np
import pytest

from lang_assess.engine.irt import ItemParameters, category_probabilities
from lang_assess.errors import BankError
from lang_assess.psychometrics.checks import parameter_drift
from lang_assess.psychometrics.linking import Transform, mean_mean, mean_sigma, stocking_lord

TRUE = Transform(1.2, -0.4)  # θ_bank = 1.2 θ_new − 0.4


def bank_and_new(seed: int, noise: float = 0.05, n: int = 25, outliers: int = 0):
    """Bank parameters and the same items as a new calibration on another scale.

    The new scale is θ_new = (θ_bank − B)/A; estimation noise is added to b and ln a,
    and ``outliers`` anchors drift by +1 logit.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.lognormal(0.1, 0.25, n), rng.normal(0, 1.2, n)
    bank = ItemParameters.dichotomous([f"i{k}" for k in range(n)], a, b)
    back = TRUE.inverse()
    a_new = a / back.A * np.exp(rng.normal(0, noise, n))
    b_new = back.A * b + back.B + rng.normal(0, noise, n)
    b_new[:outliers] += 1.0
    return bank, ItemParameters.dichotomous(bank.ids, a_new, b_new)


def test_transform_leaves_probabilities_unchanged(mixed_bank, rng):
    t = Transform(0.8, 0.7)
    theta = rng.normal(0, 1, 9)
    moved = t.apply(mixed_bank)
    np.testing.assert_allclose(
        category_probabilities(t.theta(theta), moved), category_probabilities(theta, mixed_bank)
    )
    assert np.array_equal(moved.c, mixed_bank.c) and np.array_equal(moved.ids, mixed_bank.ids)
    back = t.inverse().apply(moved)
    np.testing.assert_allclose(back.a, mixed_bank.a)
    np.testing.assert_allclose(back.steps, mixed_bank.steps)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_methods_recover_a_known_transform(seed):
    bank, new = bank_and_new(seed)
    ms, mm, sl = mean_sigma(new, bank), mean_mean(new, bank), stocking_lord(new, bank)
    for t, tol in ((ms, 0.05), (mm, 0.05), (sl, 0.03)):
        assert abs(t.A - TRUE.A) < tol and abs(t.B - TRUE.B) < tol


def test_stocking_lord_is_exact_without_noise_and_with_rated_anchors(mixed_bank):
    new = TRUE.inverse().apply(mixed_bank)
    t = stocking_lord(new, mixed_bank)
    assert abs(t.A - TRUE.A) < 1e-5 and abs(t.B - TRUE.B) < 1e-5
    t = mean_sigma(new, mixed_bank)  # steps of rated items count as b's
    assert abs(t.A - TRUE.A) < 1e-12 and abs(t.B - TRUE.B) < 1e-12


def test_outlying_anchors():
    """3 of 25 anchors drifted by 1 logit: Stocking–Lord keeps A far better than
    mean/sigma, but neither keeps B (the drift is real location change); screening the
    anchors for drift and linking again recovers both."""
    err = {"ms": [], "sl": []}
    for seed in range(8):
        bank, new = bank_and_new(seed, outliers=3)
        for name, method in (("ms", mean_sigma), ("sl", stocking_lord)):
            t = method(new, bank)
            err[name].append((abs(t.A - TRUE.A), abs(t.B - TRUE.B)))
    ms, sl = np.mean(err["ms"], axis=0), np.mean(err["sl"], axis=0)
    assert sl[0] < 0.6 * ms[0]
    assert sl[1] > 0.05 and ms[1] > 0.05

    bank, new = bank_and_new(0, outliers=3)
    drift = parameter_drift(bank, stocking_lord(new, bank).apply(new))
    stable = drift.loc[~drift["flag"], "item"].to_numpy()
    assert set(drift.loc[drift["flag"], "item"]) == {"i0", "i1", "i2"}
    t = stocking_lord(new.subset(new.index_of(stable)), bank)
    assert abs(t.A - TRUE.A) < 0.03 and abs(t.B - TRUE.B) < 0.03


def test_too_few_anchors_and_mismatched_items_are_refused(mixed_bank):
    bank, new = bank_and_new(4)
    few = new.subset([0, 1, 2, 3])
    for method in (mean_sigma, mean_mean, stocking_lord):
        with pytest.raises(BankError, match=r"only 4 item.*at least 5 anchor items"):
            method(few, bank)
    rated_as_right_wrong = ItemParameters.dichotomous(
        mixed_bank.ids, mixed_bank.a, np.nanmean(mixed_bank.steps, axis=1)
    )
    with pytest.raises(BankError, match="item 'g0': field 'steps' has a different number"):
        stocking_lord(rated_as_right_wrong, mixed_bank)
