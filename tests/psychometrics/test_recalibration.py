"""The recalibration loop on a synthetic programme export, and the notebooks' figures."""

import numpy as np
import pandas as pd
import pytest

from lang_assess.engine.irt.models import expected_score
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.psychometrics.plots import (
    booklet_figure,
    dif_figure,
    drift_figure,
    fit_figure,
    icc_figure,
)
from lang_assess.psychometrics.recalibration import recalibrate, responses_from_export
from lang_assess.psychometrics.standard_setting import ordered_item_booklet

N_ITEMS, N_TESTS, PER_TEST = 30, 4000, 12


@pytest.fixture(scope="module")
def programme():
    """An export like Service.calibration_responses: truth 2PL, 12 of 30 items a test;
    item 0 is 0.8 logits harder for Somali speakers (DIF)."""
    rng = np.random.default_rng(11)
    ids = [f"it{k:02d}" for k in range(N_ITEMS)]
    truth = ItemParameters.dichotomous(ids, rng.uniform(0.9, 1.8, N_ITEMS),
                                       rng.normal(0, 1, N_ITEMS))
    theta = rng.normal(0, 1, N_TESTS)
    language = np.where(rng.random(N_TESTS) < 0.35, "so", "ar")
    items = np.argsort(rng.random((N_TESTS, N_ITEMS)), axis=1)[:, :PER_TEST]
    b = truth.b[items] + np.where((items == 0) & (language[:, None] == "so"), 0.8, 0.0)
    p = 1 / (1 + np.exp(-truth.a[items] * (theta[:, None] - b)))
    score = (rng.random(p.shape) < p).astype(int)
    occ = np.repeat(np.arange(N_TESTS), PER_TEST)
    export = pd.DataFrame({
        "occasion": occ, "participant": occ, "item": np.array(ids)[items.ravel()],
        "score": score.ravel(), "params_version": "v0", "kind": "progress", "week": 3,
        "answered_at": pd.Timestamp("2026-10-01") + pd.to_timedelta(occ % 50, unit="D"),
        "language": language[occ], "gender": np.where(occ % 2, "f", "m"), "track": 2,
        "birth_year": 1990})
    # the bank's current values: right, except ten items that drifted by 0.8 logits
    current = ItemParameters.dichotomous(ids, truth.a, truth.b + np.r_[np.zeros(20),
                                                                       np.full(10, 0.8)])
    return export, truth, current


def test_stocking_lord_keeps_the_scale_and_drops_drifted_anchors(programme):
    export, truth, current = programme
    r = recalibrate(export, current, linking="stocking-lord", min_responses=100)
    assert set(r.anchors) == set(truth.ids[:20])  # the drifted ten are not anchors
    assert abs(r.transform.A - 1.0) < 0.08
    assert abs(r.transform.B) < 0.08
    error = np.abs(r.params.b - truth.b)
    assert error.mean() < 0.1 and error.max() < 0.3
    assert set(r.drift.loc[r.drift["flag"], "item"]) == set(truth.ids[20:])
    assert r.data_window == "2026-10-01..2026-11-19"
    assert "stocking-lord through 20 anchors" in r.summary()
    dif = r.dif[(r.dif["grouping"] == "L1") & r.dif["flag"]]
    assert "it00" in set(dif["item"])
    assert len(set(dif["item"])) <= 2


def test_fixed_item_calibration_estimates_only_the_free_items(programme):
    export, truth, current = programme
    free = list(truth.ids[20:])
    r = recalibrate(export, current, linking="fixed", free=free, min_responses=100)
    est = r.params.index_of(free)
    error = np.abs(r.params.b[est] - truth.b[20:])
    assert error.mean() < 0.12 and error.max() < 0.3
    kept = r.params.index_of(truth.ids[:20])
    assert np.allclose(r.params.b[kept], current.b[:20])
    table = r.publishable()
    assert list(table["item"]) == free and table["publish"].all()
    strict = r.publishable(max_se_b=0.01)
    assert not strict["publish"].any() and strict["why"].str.contains("SE").all()
    with pytest.raises(ValueError, match="no item to calibrate"):
        recalibrate(export, current, linking="fixed", free=free, min_responses=10**6)


def test_the_export_becomes_one_row_per_test(programme):
    export, truth, _ = programme
    resp = responses_from_export(export, list(truth.ids))
    assert resp.matrix.shape == (N_TESTS, N_ITEMS)
    assert np.all((~np.isnan(resp.matrix)).sum(axis=1) == PER_TEST)


def test_figures_carry_the_tables_numbers(programme):
    export, truth, current = programme
    r = recalibrate(export, current, linking="fixed", free=list(truth.ids[20:]),
                    min_responses=100)
    icc = icc_figure({"old": current, "new": r.params}, "it25")
    grid = np.asarray(icc.data[1].x)
    assert np.allclose(icc.data[1].y, expected_score(grid, r.params.subset(
        r.params.index_of(["it25"])))[:, 0])
    drift = drift_figure(r.drift)
    shown = {t.name: set(t.text) for t in drift.data[1:]}
    assert shown["drifted"] == set(r.drift.loc[r.drift["flag"], "item"])
    fit = fit_figure(r.fit)
    assert sum(len(t.x) for t in fit.data) == len(r.fit)
    dif = dif_figure(r.dif, "L1")
    assert sum(len(t.y) for t in dif.data) == int((r.dif["grouping"] == "L1").sum())
    cuts = CutScores((-1.0, 0.0, 1.0))
    booklet = ordered_item_booklet(truth)
    fig = booklet_figure(booklet, cuts)
    assert list(fig.data[0].y) == list(booklet["location"])


def test_the_loop_calibrates_guessing_as_a_3pl():
    """Issue 13: answers with c = 0.25; the bank's current parameters carry c = 1/k.
    A 3PL recalibration finds a, b and c on the bank's scale, the fit checks pass its
    items, and a 2PL of the same answers misfits and misplaces the hard items."""
    rng = np.random.default_rng(13)
    n_items, n_tests, per_test = 30, 6000, 15
    ids = [f"mc{k:02d}" for k in range(n_items)]
    truth = ItemParameters.dichotomous(ids, rng.uniform(0.9, 1.8, n_items),
                                       rng.normal(0.3, 1.0, n_items), np.full(n_items, 0.25))
    theta = rng.normal(0, 1, n_tests)
    items = np.argsort(rng.random((n_tests, n_items)), axis=1)[:, :per_test]
    p = 0.25 + 0.75 / (1 + np.exp(-truth.a[items] * (theta[:, None] - truth.b[items])))
    occ = np.repeat(np.arange(n_tests), per_test)
    export = pd.DataFrame({
        "occasion": occ, "participant": occ, "item": np.array(ids)[items.ravel()],
        "score": (rng.random(p.shape) < p).astype(int).ravel(), "params_version": "v0",
        "kind": "placement", "week": 0, "answered_at": pd.Timestamp("2026-12-01"),
        "language": "ar", "gender": np.where(occ % 2, "f", "m"), "track": 1 + occ % 3,
        "birth_year": 1990})
    three = recalibrate(export, truth, model="3pl", linking="stocking-lord")
    assert three.calibration.model == "3pl"
    assert np.sqrt(np.mean((three.params.b - truth.b) ** 2)) < 0.2
    assert abs(np.mean(three.params.c) - 0.25) < 0.03
    table = three.publishable()
    assert {"c", "se_c"} <= set(table.columns) and table["se_c"].notna().all()
    assert three.fit["flag"].mean() <= 0.1
    two = recalibrate(export, truth, model="2pl", linking="stocking-lord")
    assert np.all(two.params.c == 0)
    assert two.fit["flag"].mean() >= 0.25  # the fit checks see the missing floor
    hard = truth.b > 1
    assert (np.abs(two.params.b - truth.b)[hard].mean()
            > 2 * np.abs(three.params.b - truth.b)[hard].mean())
    with pytest.raises(ValueError, match="chance level"):
        recalibrate(export, ItemParameters.dichotomous(ids[:5], [1.0] * 5, [0.0] * 5),
                    model="3pl")
