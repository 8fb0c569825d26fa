"""The learner's trend filter (level and growth) and the growth prior from data."""

import numpy as np
import pytest

from lang_assess.programme.growth import (
    GrowthPrior,
    growth_prior_from_data,
    measurement,
    own_growth,
    start_trend,
)

LEVEL_DRIFT, GROWTH_DRIFT = 0.05, 0.005


def kalman_step(x, P, weeks, theta, se):
    """The textbook Kalman filter in matrix form: ``weeks`` one-week predictions, then an
    update with a measurement of the level whose variance R makes the posterior SD equal
    ``se``."""
    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    Q = np.diag([LEVEL_DRIFT**2, GROWTH_DRIFT**2])
    for _ in range(weeks):
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


def test_predicting_several_weeks_is_several_one_week_steps():
    trend = start_trend(0.3, 0.25, 0.06, 0.03)
    steps = trend
    for _ in range(5):
        steps = steps.predict(1, 0.05, 0.2)  # a large growth drift shows any shortcut
    jump = trend.predict(5, 0.05, 0.2)
    for field in ("level", "growth", "var_level", "var_growth", "cov"):
        assert getattr(jump, field) == pytest.approx(getattr(steps, field))


def test_a_test_that_started_from_another_prior_is_used_as_it_ran():
    """with_prior keeps the growth-given-level regression: updating from it equals
    updating the joint Gaussian whose level marginal is the test's real prior."""
    trend = start_trend(0.0, 0.3, 0.05, 0.04).predict(3, LEVEL_DRIFT, GROWTH_DRIFT)
    moved = trend.with_prior(0.2, 0.4)
    slope = trend.cov / trend.var_level
    assert moved.level == 0.2 and moved.se == pytest.approx(0.4)
    assert moved.growth == pytest.approx(trend.growth + slope * (0.2 - trend.level))
    assert moved.cov / moved.var_level == pytest.approx(slope)
    residual = trend.var_growth - slope * trend.cov
    assert moved.var_growth - moved.cov**2 / moved.var_level == pytest.approx(residual)


def test_measurement_is_what_turns_the_prior_into_the_posterior():
    y, r = measurement(theta=0.5, se=0.3, prior_mean=0.0, prior_sd=0.5)
    post_var = 1 / (1 / 0.25 + 1 / r)
    assert post_var == pytest.approx(0.09)
    assert post_var * (0.0 / 0.25 + y / r) == pytest.approx(0.5)
    y, r = measurement(theta=0.5, se=0.5, prior_mean=0.5, prior_sd=0.5)
    assert np.isinf(r)  # a test that narrowed nothing says nothing


def test_own_growth_is_the_weighted_least_squares_slope():
    rng = np.random.default_rng(5)
    weeks = np.arange(8.0)
    y = 0.3 + 0.07 * weeks + rng.normal(0, 0.2, 8)
    r = rng.uniform(0.02, 0.08, 8)
    slope, var = own_growth(weeks, y[None, :], r[None, :])
    # numpy's polyfit weights are 1/σ
    assert slope[0] == pytest.approx(np.polyfit(weeks, y, 1, w=1 / np.sqrt(r))[0])
    t_bar = np.sum(weeks / r) / np.sum(1 / r)
    assert var[0] == pytest.approx(1 / np.sum((weeks - t_bar) ** 2 / r))
    y[3:] = np.nan  # tests not taken
    y2 = y.copy()
    y2[1:] = np.nan
    slope, var = own_growth(weeks, np.stack([y, y2]), np.stack([r, r]))
    assert slope[0] == pytest.approx(np.polyfit(weeks[:3], y[:3], 1, w=1 / np.sqrt(r[:3]))[0])
    assert np.isnan(slope[1]) and np.isnan(var[1])  # one test: no slope


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
    """Learners whose growth is N(0.07, 0.02²), each estimated from their own tests with
    a sampling SD of 0.01-0.05: the random-effects estimate gives the population back."""
    rng = np.random.default_rng(2)
    g = rng.normal(0.07, 0.02, 5000)
    sampling_sd = rng.uniform(0.01, 0.05, g.size)
    own = g + rng.normal(0, sampling_sd)
    prior = growth_prior_from_data(own, sampling_sd**2, default=GrowthPrior(0.05, 0.04),
                                   min_learners=20)
    assert prior.n == 5000
    assert prior.mean == pytest.approx(0.07, abs=0.002)
    assert prior.sd == pytest.approx(0.02, abs=0.002)


def test_growth_prior_needs_enough_learners_and_stays_open_minded():
    default = GrowthPrior(0.05, 0.04)
    few = growth_prior_from_data([0.1] * 19, [0.01] * 19, default=default, min_learners=20)
    assert few == default
    nan = growth_prior_from_data([np.nan] * 30, [0.01] * 30, default=default, min_learners=20)
    assert nan == default  # learners without an estimate do not count
    same = growth_prior_from_data([0.1] * 30, [1e-4] * 30, default=default, min_learners=20)
    assert same.mean == pytest.approx(0.1) and same.sd == pytest.approx(0.01)
    assert same.n == 30


def test_predict_refuses_going_back_in_time():
    with pytest.raises(ValueError, match="weeks"):
        start_trend(0.0, 0.3, 0.05, 0.04).predict(-1, LEVEL_DRIFT, GROWTH_DRIFT)
