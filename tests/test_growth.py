"""The learner's trend filter (level and growth) and the growth prior from data."""

import numpy as np
import pytest

from lang_assess.growth import GrowthPrior, growth_prior_from_data, start_trend

LEVEL_DRIFT, GROWTH_DRIFT = 0.05, 0.005


def kalman_step(x, P, weeks, theta, se):
    """The textbook Kalman filter in matrix form: predict ``weeks`` on, then update with
    a measurement of the level whose variance R makes the posterior SD equal ``se``."""
    F = np.array([[1.0, weeks], [0.0, 1.0]])
    Q = weeks * np.diag([LEVEL_DRIFT**2, GROWTH_DRIFT**2])
    x, P = F @ x, F @ P @ F.T + Q
    # the test's posterior N(theta, se²) under prior N(x0, P00) ⇔ a measurement y, R
    R = 1.0 / (1.0 / se**2 - 1.0 / P[0, 0])
    y = x[0] + (theta - x[0]) * (P[0, 0] + R) / P[0, 0]
    H = np.array([[1.0, 0.0]])
    K = P @ H.T / (H @ P @ H.T + R)
    return x + (K * (y - x[0])).ravel(), (np.eye(2) - K @ H) @ P


def test_predict_and_update_are_the_kalman_filter():
    rng = np.random.default_rng(0)
    trend = start_trend(-1.2, 0.3, 0.05, 0.04)
    x, P = np.array([-1.2, 0.05]), np.diag([0.09, 0.0016])
    for weeks in (1, 1, 2, 1, 3, 1):
        prior = trend.predict(weeks, LEVEL_DRIFT, GROWTH_DRIFT)
        theta = float(prior.level + rng.normal(0, 0.3))
        se = float(prior.se * rng.uniform(0.5, 0.9))
        trend = prior.update(theta, se)
        x, P = kalman_step(x, P, weeks, theta, se)
        assert [trend.level, trend.growth] == pytest.approx(x)
        assert [[trend.var_level, trend.cov], [trend.cov, trend.var_growth]] == pytest.approx(P)


def test_the_trend_learns_a_learners_own_growth():
    """Learners growing 0.02 and 0.12 a week, measured with SE 0.3 a week: after 20 weeks
    each one's growth is found (vectorised: many learners at once)."""
    rng = np.random.default_rng(1)
    true_growth = np.repeat([0.02, 0.12], 200)
    level = rng.normal(0.0, 0.5, true_growth.size)
    trend = start_trend(level + rng.normal(0, 0.3, level.size), 0.3, 0.05, 0.04)
    for _ in range(20):
        level = level + true_growth
        prior = trend.predict(1, LEVEL_DRIFT, GROWTH_DRIFT)
        # a test's posterior: prior combined with a measurement of SD 0.5
        y = level + rng.normal(0, 0.5, level.size)
        w = prior.var_level / (prior.var_level + 0.25)
        trend = prior.update(prior.level + w * (y - prior.level), np.sqrt(w * 0.25))
    slow, fast = trend.growth[:200], trend.growth[200:]
    assert abs(slow.mean() - 0.02) < 0.015 and abs(fast.mean() - 0.12) < 0.015
    # the posterior SD of the growth is honest: about 95 % of learners inside ±2 SD
    z = (trend.growth - true_growth) / trend.growth_se
    assert 0.9 < np.mean(np.abs(z) < 2) <= 1.0
    # and the level follows the truth without lag
    assert abs(np.mean(trend.level - level)) < 0.05


def test_growth_prior_from_data_recovers_the_population():
    """Posteriors of learners whose growth is N(0.07, 0.02²), each seen with noise: the
    mean of the posterior means and the total variance give back the population."""
    rng = np.random.default_rng(2)
    mu, tau, sigma = 0.07, 0.02, 0.03
    g = rng.normal(mu, tau, 5000)
    y = g + rng.normal(0, sigma, g.size)
    shrink = tau**2 / (tau**2 + sigma**2)
    post_mean = mu + shrink * (y - mu)
    post_sd = np.full(g.size, np.sqrt(shrink * sigma**2))
    default = GrowthPrior(0.05, 0.04)
    prior = growth_prior_from_data(post_mean, post_sd, default=default, min_learners=20)
    assert prior.n == 5000
    assert prior.mean == pytest.approx(mu, abs=0.002)
    assert prior.sd == pytest.approx(tau, abs=0.002)


def test_growth_prior_needs_enough_learners_and_stays_open_minded():
    default = GrowthPrior(0.05, 0.04)
    few = growth_prior_from_data([0.1] * 19, [0.01] * 19, default=default, min_learners=20)
    assert few == default
    same = growth_prior_from_data([0.1] * 30, [0.0] * 30, default=default, min_learners=20)
    assert same.mean == pytest.approx(0.1) and same.sd == pytest.approx(0.01)
    assert same.n == 30


def test_predict_refuses_going_back_in_time():
    with pytest.raises(ValueError, match="weeks"):
        start_trend(0.0, 0.3, 0.05, 0.04).predict(-1, LEVEL_DRIFT, GROWTH_DRIFT)
