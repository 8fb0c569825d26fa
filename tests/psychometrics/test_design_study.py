"""Design comparison by simulation: the summary, the conditional table, the figures."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lang_assess.engine.cat.design import placement_design
from lang_assess.engine.levels import CutScores
from lang_assess.engine.simulate import synthetic_bank
from lang_assess.programme.rules import ProgrammeConfig
from lang_assess.programme.simulation import progress_prior
from lang_assess.psychometrics.design_study import (
    CONDITIONAL_COLUMNS,
    SUMMARY_COLUMNS,
    compare_designs,
    conditional_figure,
    conditional_table,
    exposure_figure,
    findings,
    rmse_length_figure,
    run_designs,
    summary_table,
)

N = 400
CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))


@pytest.fixture(scope="module")
def params():
    return synthetic_bank(300, seed=5)


@pytest.fixture(scope="module")
def thetas():
    return np.random.default_rng(6).normal(0.0, 1.0, N)


@pytest.fixture(scope="module")
def designs():
    return {
        "strict": placement_design(se_target=0.25, max_items=40),
        "loose": placement_design(se_target=0.40, max_items=40),
        "rand1": placement_design(se_target=0.40, max_items=40, randomesque=1),
    }


@pytest.fixture(scope="module")
def results(params, designs, thetas):
    return run_designs(params, designs, thetas, seed=7, cuts=CUTS)


@pytest.fixture(scope="module")
def summary(results):
    return summary_table(results)


def test_summary_has_one_row_per_design_with_every_measure(summary, designs):
    assert list(summary.index) == list(designs)
    assert set(SUMMARY_COLUMNS) <= set(summary.columns)
    assert "mean_oracle_length" not in summary.columns  # no oracle was run
    assert (summary["n"] == N).all()
    assert summary["cefr_accuracy"].between(0, 1).all()
    assert summary["share_never_used"].between(0, 1).all()
    assert (summary["p90_length"] <= summary["max_length"]).all()


def test_a_stricter_se_target_measures_better_with_longer_tests(summary):
    strict, loose = summary.loc["strict"], summary.loc["loose"]
    assert strict["rmse"] < loose["rmse"] - 0.05
    assert strict["mean_length"] > loose["mean_length"] + 5
    assert strict["mean_se"] <= 0.26 and loose["mean_se"] <= 0.41
    assert strict["cefr_accuracy"] > loose["cefr_accuracy"]


def test_randomesque_one_exposes_items_more_than_five(summary):
    # without randomisation everyone starts on the same item
    assert summary.at["rand1", "max_exposure"] == 1.0
    assert summary.at["loose", "max_exposure"] < 0.8
    assert summary.at["rand1", "test_overlap"] > summary.at["loose", "test_overlap"]


def test_compare_designs_is_deterministic_given_the_seed(params, designs, thetas, summary):
    again = compare_designs(params, designs, thetas, seed=7, cuts=CUTS)
    pd.testing.assert_frame_equal(again, summary)
    other = compare_designs(params, designs, thetas, seed=8, cuts=CUTS)
    assert not np.allclose(other["rmse"], summary["rmse"])


def test_oracle_adds_the_oracle_length(params, thetas):
    table = compare_designs(params, {"loose": placement_design(se_target=0.40)}, thetas[:100],
                            seed=1, oracle=True)
    assert 5 <= table.at["loose", "mean_oracle_length"] <= table.at["loose", "mean_length"] + 1
    assert np.isnan(table.at["loose", "cefr_accuracy"])  # no cuts given


def test_a_design_prior_override_reaches_the_simulation(params, designs, thetas):
    # a prior centred on the truth and very narrow leaves almost no error
    one = {"loose": designs["loose"]}
    informed = compare_designs(params, one, thetas, seed=3, priors={"loose": (thetas, 0.05)})
    assert informed.at["loose", "rmse"] < 0.06
    with pytest.raises(ValueError, match="not in the comparison"):
        run_designs(params, one, thetas, seed=3, priors={"other": (0.0, 1.0)})


def test_progress_prior_is_last_weeks_estimate_widened_by_growth(thetas):
    config = ProgrammeConfig()
    mean, sd = progress_prior(thetas, last_se=0.4, config=config, seed=2)
    assert mean.shape == sd.shape == thetas.shape
    # level variance + a week's growth variance + a week's drift of the level
    assert np.allclose(sd, np.sqrt(0.4**2 + config.growth_between_sd**2
                                   + config.level_drift_sd**2))
    err = mean - thetas
    assert abs(err.mean()) < 0.08  # growth added back; the error has mean zero
    assert 0.33 < err.std() < 0.47


def test_conditional_table_adds_up_to_the_summary(results, summary):
    table = conditional_table(results, 12)
    assert list(table.columns) == list(CONDITIONAL_COLUMNS)
    assert list(dict.fromkeys(table["design"])) == list(results)
    for name, part in table.groupby("design", sort=False):
        assert part["n"].sum() == N  # every simulee in exactly one bin
        assert part["theta"].is_monotonic_increasing
        w = part["n"] / N
        assert np.sqrt(np.sum(w * part["rmse"] ** 2)) == pytest.approx(summary.at[name, "rmse"])
        assert np.sum(w * part["bias"]) == pytest.approx(summary.at[name, "bias"])
        assert np.sum(w * part["length"]) == pytest.approx(summary.at[name, "mean_length"])


def test_conditional_table_by_hand_in_one_bin(results):
    edges = np.array([-1.0, 0.0, 1.0])
    table = conditional_table(results, edges)
    r = results["strict"]
    inside = (r.true_theta >= 0.0) & (r.true_theta <= 1.0)  # the last bin is closed
    row = table[(table["design"] == "strict") & (table["theta"] == 0.5)].iloc[0]
    err = r.theta[inside] - r.true_theta[inside]
    assert row["n"] == inside.sum()
    assert row["bias"] == pytest.approx(err.mean())
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)))
    # simulees outside the edges are left out
    assert table[table["design"] == "strict"]["n"].sum() == np.sum(np.abs(r.true_theta) <= 1.0)
    with pytest.raises(ValueError, match="increasing"):
        conditional_table(results, [1.0, 0.0])


def test_rmse_length_figure_has_one_labelled_marker_per_design(summary):
    fig = rmse_length_figure(summary)
    assert [t.name for t in fig.data] == list(summary.index)
    for t in fig.data:
        assert list(t.x) == [summary.at[t.name, "mean_length"]]
        assert list(t.y) == [summary.at[t.name, "rmse"]]
        assert list(t.text) == [t.name]
    assert "length" in fig.layout.xaxis.title.text
    assert "RMSE" in fig.layout.yaxis.title.text


@pytest.mark.parametrize("what", ["rmse", "bias", "length"])
def test_conditional_figure_draws_the_table(results, what):
    table = conditional_table(results, 10)
    fig = conditional_figure(table, what, cuts=CUTS)
    assert [t.name for t in fig.data] == list(results)
    for t in fig.data:
        part = table[table["design"] == t.name]
        np.testing.assert_array_equal(t.x, part["theta"])
        np.testing.assert_array_equal(t.y, part[what])
    # one dotted line per cut score (and the zero line for bias)
    assert len(fig.layout.shapes) == len(CUTS.cuts) + (what == "bias")
    assert fig.layout.xaxis.title.text == "true θ (logits)"
    with pytest.raises(ValueError, match="what"):
        conditional_figure(table, "se")


def test_conditional_figure_leaves_out_cuts_beyond_the_data(results):
    table = conditional_table(results, [-1.5, -0.5, 0.5])  # centres −1 and 0
    fig = conditional_figure(table, "rmse", cuts=CUTS)
    assert [s.x0 for s in fig.layout.shapes] == [-1.0, 0.0]
    assert [a.text for a in fig.layout.annotations] == ["A2", "B1"]


def test_exposure_figure_draws_sorted_exposure(results, params):
    fig = exposure_figure(results)
    assert [t.name for t in fig.data] == list(results)
    for t in fig.data:
        expected = np.sort(results[t.name].exposure)[::-1]
        np.testing.assert_array_equal(t.y, expected)
        np.testing.assert_array_equal(t.x, np.arange(1, params.n_items + 1))
    assert fig.data[0].y[0] >= fig.data[0].y[-1]


def test_findings_name_the_designs_from_the_numbers(summary):
    text = findings(summary)
    assert text[0].startswith("Most precise: strict")
    assert text[1].startswith("Shortest: ")
    assert any("highest: rand1 at 100.0%" in line for line in text)
    assert "400 simulees" in text[-1]
    # the sentences follow the table, not a script: swap the RMSEs and the winner changes
    swapped = summary.copy()
    swapped.loc[["strict", "loose"], "rmse"] = summary.loc[["loose", "strict"], "rmse"].to_numpy()
    assert findings(swapped)[0].startswith("Most precise: loose")


def test_designs_keep_their_colour_across_figures(results, summary):
    fig_a = rmse_length_figure(summary)
    fig_b = exposure_figure(results)
    colours_a = {t.name: t.marker.color for t in fig_a.data}
    colours_b = {t.name: t.line.color for t in fig_b.data}
    assert colours_a == colours_b
    assert len(set(colours_a.values())) == len(colours_a)


def test_run_designs_uses_the_same_simulees_for_every_design(results, thetas):
    for r in results.values():
        np.testing.assert_array_equal(r.true_theta, thetas)
    # the same design twice under two names gives the same result (common random numbers)
    d = placement_design(se_target=0.40)
    twin = run_designs(synthetic_bank(50, seed=1), {"a": d, "b": dataclasses.replace(d)},
                       thetas[:50], seed=4)
    np.testing.assert_array_equal(twin["a"].theta, twin["b"].theta)

