"""Ability estimates against independent brute-force computations and a published example."""

import numpy as np
import pytest
from scipy import integrate, optimize
from support.reference import loglik_by_hand

from lang_assess.engine.irt import ItemParameters, eap, map_estimate, mle, wle


def random_patterns(bank, rng, n):
    """Response patterns drawn from the model, about 30 % of items not administered."""
    out = []
    while len(out) < n:
        theta = rng.normal()
        pattern = []
        for i in range(bank.n_items):
            if rng.random() < 0.3:
                pattern.append(-1)
                continue
            k = int(bank.n_steps[i])
            pattern.append(int(rng.integers(0, k + 1)) if rng.random() < 0.3
                           else int(np.clip(round((theta - bank.b[i]) * k / 3 + k / 2), 0, k)))
        out.append(pattern)
    return np.array(out)


def mixed_patterns(bank, rng, n):
    """Patterns that are neither all-lowest nor all-highest (finite MLE)."""
    pats = random_patterns(bank, rng, 4 * n)
    given = pats >= 0
    top = np.where(given, pats == bank.n_steps, True).all(axis=1)
    bottom = np.where(given, pats == 0, True).all(axis=1)
    return pats[~top & ~bottom & (given.sum(axis=1) >= 3)][:n]


def test_eap_matches_adaptive_quadrature(mixed_bank, rng):
    pats = random_patterns(mixed_bank, rng, 12)
    est = eap(mixed_bank, pats, prior_mean=0.3, prior_sd=1.2)
    for p, pattern in enumerate(pats):
        def post(t, pattern=pattern):
            return np.exp(loglik_by_hand(t, mixed_bank, pattern)
                          - 0.5 * ((t - 0.3) / 1.2) ** 2)
        z = integrate.quad(post, -12, 12, limit=200, epsabs=1e-13)[0]
        m = integrate.quad(lambda t: t * post(t), -12, 12, limit=200, epsabs=1e-13)[0] / z
        v = integrate.quad(lambda t, m=m: (t - m) ** 2 * post(t), -12, 12, limit=200,
                           epsabs=1e-13)[0] / z
        assert est.theta[p] == pytest.approx(m, abs=2e-4)
        assert est.se[p] == pytest.approx(np.sqrt(v), abs=2e-4)


def test_eap_with_given_prior_on_grid(mixed_bank, rng):
    pats = random_patterns(mixed_bank, rng, 3)
    grid = np.linspace(-6, 6, 121)
    bimodal = np.log(np.exp(-0.5 * (grid + 1.5) ** 2) + np.exp(-0.5 * (grid - 1.5) ** 2))
    est = eap(mixed_bank, pats, log_prior=bimodal, grid=grid)
    for p, pattern in enumerate(pats):
        w = np.exp([loglik_by_hand(t, mixed_bank, pattern) for t in grid] + bimodal)
        assert est.theta[p] == pytest.approx(np.sum(w * grid) / w.sum(), abs=1e-9)


def test_mle_matches_direct_optimisation(mixed_bank, rng):
    pats = mixed_patterns(mixed_bank, rng, 15)
    assert len(pats) >= 10
    est = mle(mixed_bank, pats)
    for p, pattern in enumerate(pats):
        res = optimize.minimize_scalar(lambda t, pt=pattern: -loglik_by_hand(t, mixed_bank, pt),
                                       bounds=(-6, 6), method="bounded",
                                       options={"xatol": 1e-10})
        assert est.theta[p] == pytest.approx(res.x, abs=1e-5)
        # SE: inverse of the observed information (= expected information for 2PL/GPCM)
        h = 1e-4
        d2 = (loglik_by_hand(res.x + h, mixed_bank, pattern) - 2 * loglik_by_hand(
            res.x, mixed_bank, pattern) + loglik_by_hand(res.x - h, mixed_bank, pattern)) / h**2
        assert np.isfinite(est.se[p]) and est.se[p] > 0
        if np.all(mixed_bank.c[pattern >= 0] == 0):
            assert est.se[p] == pytest.approx(1 / np.sqrt(-d2), rel=1e-3)


def test_map_matches_direct_optimisation(mixed_bank, rng):
    pats = random_patterns(mixed_bank, rng, 15)
    est = map_estimate(mixed_bank, pats, prior_mean=-0.2, prior_sd=0.8)
    for p, pattern in enumerate(pats):
        def neg(t, pt=pattern):
            return -loglik_by_hand(t, mixed_bank, pt) + 0.5 * ((t + 0.2) / 0.8) ** 2
        res = optimize.minimize_scalar(neg, bounds=(-6, 6), method="bounded",
                                       options={"xatol": 1e-10})
        assert est.theta[p] == pytest.approx(res.x, abs=1e-5)


def test_wle_solves_warms_equation_by_finite_differences(rng):
    bank = ItemParameters.dichotomous([f"i{k}" for k in range(10)],
                                      rng.lognormal(0, 0.3, 10), rng.uniform(-2, 2, 10))
    pats = np.concatenate([random_patterns(bank, rng, 8),
                           np.ones((1, 10), int), np.zeros((1, 10), int)])
    est = wle(bank, pats)

    def warm(t, pattern):
        h = 1e-5
        given = pattern >= 0
        dl = (loglik_by_hand(t + h, bank, pattern) - loglik_by_hand(t - h, bank, pattern)) / (2 * h)

        def info(x):
            p = 1 / (1 + np.exp(-bank.a * (x - bank.b)))
            return np.sum((bank.a**2 * p * (1 - p))[given])
        return dl + (info(t + h) - info(t - h)) / (2 * h) / (2 * info(t))

    for p, pattern in enumerate(pats):
        root = optimize.brentq(warm, -6, 6, args=(pattern,), xtol=1e-12)
        assert est.theta[p] == pytest.approx(root, abs=1e-5)
    # all-right and all-wrong patterns have finite WLEs inside the bounds
    assert -6 < est.theta[-1] < -1 and 1 < est.theta[-2] < 6


def test_mle_for_perfect_and_zero_scores_is_the_bound_with_infinite_se(mixed_bank):
    top = mixed_bank.n_steps[None, :].copy()
    bottom = np.zeros_like(top)
    nothing = np.full_like(top, -1)
    est = mle(mixed_bank, np.concatenate([top, bottom]), bounds=(-5, 5))
    assert est.theta.tolist() == [5.0, -5.0]
    assert np.all(np.isinf(est.se))
    empty = mle(mixed_bank, nothing)
    assert np.isinf(empty.se[0])


def test_published_example_baker_2001():
    """Baker (2001), *The Basics of Item Response Theory*, 2nd ed., ch. 5: three 2PL items
    b = (-1, 0, 1), a = (1.0, 1.2, 0.8), responses (1, 0, 1); the book reports the MLE
    θ̂ = .3249 with standard error 1.23."""
    bank = ItemParameters.dichotomous(["1", "2", "3"], [1.0, 1.2, 0.8], [-1.0, 0.0, 1.0])
    est = mle(bank, np.array([[1, 0, 1]]))
    assert est.theta[0] == pytest.approx(0.3249, abs=5e-4)
    assert est.se[0] == pytest.approx(1.23, abs=0.005)


def test_estimators_vectorise_over_many_persons(mixed_bank, rng):
    pats = random_patterns(mixed_bank, rng, 40)
    one_by_one = np.array([eap(mixed_bank, p[None, :]).theta[0] for p in pats])
    np.testing.assert_allclose(eap(mixed_bank, pats).theta, one_by_one, rtol=1e-12)
    w_all = wle(mixed_bank, pats).theta
    w_one = np.array([wle(mixed_bank, p[None, :]).theta[0] for p in pats[:5]])
    np.testing.assert_allclose(w_all[:5], w_one, atol=1e-9)


@pytest.mark.parametrize("estimator", [mle, wle, map_estimate])
def test_compact_item_form_gives_the_same_estimates(estimator, rng):
    """A CAT keeps each person's (P, L) items and scores; estimates must not depend on form."""
    bank = ItemParameters.dichotomous([f"i{k}" for k in range(40)], rng.lognormal(0, 0.3, 40),
                                      rng.uniform(-2, 2, 40))
    items = np.array([rng.choice(40, 8, replace=False) for _ in range(60)])
    scores = rng.integers(0, 2, (60, 8))
    scores[:, 6:] = -1  # slots not used yet
    full = np.full((60, 40), -1)
    np.put_along_axis(full, items, scores, axis=1)
    a, b = estimator(bank, full), estimator(bank, scores, items=items)
    np.testing.assert_allclose(a.theta, b.theta, atol=1e-8)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-8)
