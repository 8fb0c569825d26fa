import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml

from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.psychometrics.standard_setting import (
    angoff_cuts,
    bookmark_cuts,
    cut_provenance,
    impact,
    ordered_item_booklet,
    rp_locations,
)


def _p3(theta, a, b, c):
    return c + (1 - c) / (1 + np.exp(-a * (theta - b)))


def _gpcm_at_least(theta, a, steps, k):
    """P(X >= k | theta) for one GPCM item, written out from the model's definition."""
    logits = [0.0]
    for b in steps:
        logits.append(logits[-1] + a * (theta - b))
    w = np.exp(np.array(logits) - max(logits))
    return w[k:].sum() / w.sum()


def _bank(n=60, seed=3):
    rng = np.random.default_rng(seed)
    b = np.sort(rng.uniform(-3, 3, n))
    a = rng.uniform(0.8, 2.0, n)
    ids = [f"it{i:03d}" for i in range(n)]
    return ItemParameters.dichotomous(ids, a, b, skill=["reading"] * n)


# ---- RP locations and the booklet ------------------------------------------------------
def test_rp67_locations_match_the_closed_form_for_2pl_and_3pl_items():
    a = np.array([1.0, 1.5, 0.8, 2.2])
    b = np.array([-1.0, 0.0, 1.2, 0.4])
    c = np.array([0.0, 0.2, 0.25, 0.0])
    params = ItemParameters.dichotomous(["i1", "i2", "i3", "i4"], a, b, c)
    expected = b + np.log((0.67 - c) / 0.33) / a  # hand formula
    loc = rp_locations(params, 0.67)[:, 0]
    np.testing.assert_allclose(loc, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_p3(loc, a, b, c), 0.67, atol=1e-12)

    booklet = ordered_item_booklet(params, levels=["A1", "A2", "B1", "A2"])
    assert booklet.columns.tolist() == ["page", "item", "skill", "level", "score", "location"]
    assert booklet["page"].tolist() == [1, 2, 3, 4]
    by_hand = np.array(["i1", "i2", "i3", "i4"])[np.argsort(expected)]
    assert booklet["item"].tolist() == by_hand.tolist()
    assert booklet["level"].tolist() == [
        {"i1": "A1", "i2": "A2", "i3": "B1", "i4": "A2"}[i] for i in booklet["item"]
    ]
    assert np.all(np.diff(booklet["location"]) >= 0)
    assert booklet.attrs["rp"] == 0.67
    # a 2PL item's RP location moves up with rp, and equals b at rp = 0.5
    np.testing.assert_allclose(rp_locations(params, 0.5)[[0, 3], 0], b[[0, 3]])
    assert np.all(rp_locations(params, 0.8) > rp_locations(params, 0.67))


def test_rated_items_get_one_page_per_score_point_at_p_at_least_k_equal_rp():
    a, steps = [1.2, 0.7], [[-1.0, 0.5, 0.2], [0.8, np.nan, np.nan]]
    rated = ItemParameters.gpcm(["r1", "r2"], a, steps, skill=["listening"] * 2)
    mcq = ItemParameters.dichotomous(["d1"], [1.0], [0.0])
    params = ItemParameters.concat([rated, mcq])
    loc = rp_locations(params, 0.67)
    for k in (1, 2, 3):
        p = _gpcm_at_least(loc[0, k - 1], 1.2, [-1.0, 0.5, 0.2], k)
        assert p == pytest.approx(0.67, abs=1e-9)
    assert np.all(np.diff(loc[0]) > 0)  # higher score points lie higher, even with
    # disordered steps (0.5 > 0.2)
    # a one-step GPCM item is a 2PL item: closed form
    assert loc[1, 0] == pytest.approx(0.8 + np.log(0.67 / 0.33) / 0.7, abs=1e-9)
    assert np.isnan(loc[1, 1:]).all()

    booklet = ordered_item_booklet(params)
    assert len(booklet) == 5
    assert sorted(zip(booklet["item"], booklet["score"], strict=True)) == [
        ("d1", 1), ("r1", 1), ("r1", 2), ("r1", 3), ("r2", 1)
    ]
    r1 = booklet[booklet["item"] == "r1"]
    assert r1["score"].tolist() == [1, 2, 3]  # in page order
    assert np.all(np.diff(booklet["location"]) >= 0)


def test_items_whose_guessing_reaches_rp_are_refused_or_skipped():
    params = ItemParameters.dichotomous(["ok", "lucky"], [1.0, 1.0], [0.0, 0.0], [0.2, 0.7])
    with pytest.raises(ValueError, match=r"'lucky' \(c = 0.7\)"):
        ordered_item_booklet(params)
    booklet = ordered_item_booklet(params, on_guessing="skip")
    assert booklet["item"].tolist() == ["ok"]
    assert booklet.attrs["skipped"] == ["lucky"]
    with pytest.raises(ValueError, match="rp must be"):
        ordered_item_booklet(params, rp=1.0)


# ---- Bookmark --------------------------------------------------------------------------
KNOWN_PAGES = np.array([8, 20, 32, 44, 54])


def _panel(booklet_len, n=12, seed=11):
    rng = np.random.default_rng(seed)
    pages = KNOWN_PAGES + rng.integers(-3, 4, size=(n, KNOWN_PAGES.size))
    assert pages.max() <= booklet_len
    return pages


def test_simulated_panel_recovers_known_cuts_with_sd_over_root_n_se():
    booklet = ordered_item_booklet(_bank())
    pages = _panel(len(booklet))
    theta_sample = np.random.default_rng(5).normal(0, 1.5, 4000)
    result = bookmark_cuts(booklet, pages, theta_sample=theta_sample)

    loc = booklet["location"].to_numpy()
    per_panellist = loc[pages - 1]  # independent: page p is row p - 1
    # the cuts are near the known pages' locations: inside the span of ±3 pages
    known = loc[KNOWN_PAGES - 1]
    assert np.all(np.abs(result.cuts.array - known) <= loc[KNOWN_PAGES + 2] - loc[KNOWN_PAGES - 4])
    np.testing.assert_allclose(result.cuts.array, np.median(per_panellist, axis=0))
    se = np.std(per_panellist, axis=0, ddof=1) / np.sqrt(12)
    np.testing.assert_allclose(result.se, se, rtol=1e-12)
    np.testing.assert_allclose(result.summary["se"], se, rtol=1e-12)
    assert result.cuts.labels == ("preA1", "A1", "A2", "B1", "B2", "C1")
    assert result.summary.index.tolist() == ["A1", "A2", "B1", "B2", "C1"]

    long = result.panellists
    assert len(long) == 12 * 5
    first = long[long["panellist"] == "P01"]
    assert first["page"].tolist() == pages[0].tolist()
    np.testing.assert_allclose(first["theta"], per_panellist[0])

    assert result.impact is not None
    assert result.impact.sum() == pytest.approx(1.0)
    assert result.impact.index.tolist() == list(result.cuts.labels)
    below_a1 = np.mean(theta_sample < result.cuts.array[0])
    assert result.impact["preA1"] == pytest.approx(below_a1)

    mean = bookmark_cuts(booklet, pages, aggregate="mean")
    np.testing.assert_allclose(mean.cuts.array, per_panellist.mean(axis=0))
    mid = bookmark_cuts(booklet, pages, placement="midpoint")
    np.testing.assert_allclose(
        mid.panellists["theta"], ((loc[pages - 1] + loc[pages]) / 2).ravel()
    )


def test_table_level_standard_error():
    booklet = ordered_item_booklet(_bank())
    pages = _panel(len(booklet))
    tables = np.repeat(["t1", "t2", "t3"], 4)
    result = bookmark_cuts(booklet, pages, tables=tables)
    theta = booklet["location"].to_numpy()[pages - 1]
    table_medians = np.stack([np.median(theta[tables == t], axis=0) for t in ("t1", "t2", "t3")])
    np.testing.assert_allclose(result.se, table_medians.std(axis=0, ddof=1) / np.sqrt(3))
    assert result.n_tables == 3
    np.testing.assert_allclose(
        result.summary["se_panellists"], theta.std(axis=0, ddof=1) / np.sqrt(12)
    )
    with pytest.raises(ValueError, match="at least two tables"):
        bookmark_cuts(booklet, pages, tables=["t1"] * 12)


def test_non_increasing_cuts_are_a_clear_error():
    booklet = ordered_item_booklet(_bank())
    pages = _panel(len(booklet))
    pages[4, 2] = pages[4, 1]  # P05 puts B1 on the same page as A2
    with pytest.raises(ValueError, match=r"panellist 'P05'.*strictly later pages"):
        bookmark_cuts(booklet, pages)
    with pytest.raises(ValueError, match=r"pages are 1\.\.60"):
        bookmark_cuts(booklet, [[5, 61]], labels=("a", "b", "c"))
    # two identical items: different pages, one location
    twins = ItemParameters.dichotomous(["x", "y", "z"], [1, 1, 1], [0.0, 0.0, 1.0])
    tb = ordered_item_booklet(twins)
    with pytest.raises(ValueError, match="cuts must be strictly increasing"):
        bookmark_cuts(tb, [[1, 2]], labels=("low", "mid", "high"))
    with pytest.raises(ValueError, match=r"panellist 'P02'.*got pages \[3, 2\]"):
        bookmark_cuts(tb, [[1, 3], [3, 2]], labels=("low", "mid", "high"))


def test_bookmarks_as_a_dataframe_name_panellists_and_check_columns():
    booklet = ordered_item_booklet(_bank())
    frame = pd.DataFrame(_panel(len(booklet))[:3], index=["ann", "bo", "cy"],
                         columns=["A1", "A2", "B1", "B2", "C1"])
    result = bookmark_cuts(booklet, frame)
    assert result.panellists["panellist"].unique().tolist() == ["ann", "bo", "cy"]
    with pytest.raises(ValueError, match="do not match"):
        bookmark_cuts(booklet, frame.rename(columns={"A1": "X"}))


# ---- Angoff ----------------------------------------------------------------------------
def _mixed_bank():
    mcq = ItemParameters.dichotomous(
        [f"m{i}" for i in range(20)],
        np.linspace(0.7, 2.0, 20), np.linspace(-2.5, 2.5, 20), np.r_[np.zeros(15), [0.2] * 5],
    )
    rated = ItemParameters.gpcm(["r1", "r2"], [1.0, 0.8], [[-1.0, 0.0, 1.0], [0.5, 1.5, np.nan]])
    return ItemParameters.concat([mcq, rated])


def _expected_by_hand(theta, params):
    out = []
    for i in range(params.n_items):
        a, c = params.a[i], params.c[i]
        steps = params.steps[i][np.isfinite(params.steps[i])]
        if steps.size == 1:
            out.append(_p3(theta, a, steps[0], c))
        else:
            out.append(sum(_gpcm_at_least(theta, a, steps, k) for k in range(1, steps.size + 1)))
    return np.array(out)


def test_angoff_ratings_equal_to_model_probabilities_recover_theta():
    params = _mixed_bank()
    true = np.array([[-1.6, -0.4, 0.9], [-1.2, 0.1, 1.3], [-1.9, -0.2, 0.7], [-1.4, 0.0, 1.0]])
    ratings = np.stack([[_expected_by_hand(t, params) for t in row] for row in true])
    result = angoff_cuts(params, ratings)
    got = result.panellists["theta"].to_numpy().reshape(true.shape)
    np.testing.assert_allclose(got, true, atol=1e-8)
    np.testing.assert_allclose(result.cuts.array, true.mean(axis=0), atol=1e-8)
    np.testing.assert_allclose(result.se, true.std(axis=0, ddof=1) / 2, atol=1e-8)
    assert result.cuts.labels == ("preA1", "A1", "A2", "B1")
    np.testing.assert_allclose(result.summary["expected_score"], ratings.sum(axis=2).mean(axis=0))


def test_angoff_refuses_ratings_out_of_range():
    params = _mixed_bank()
    ratings = np.full((2, 22), 0.5)
    ratings[1, 21] = 2.5  # r2's maximum score is 2
    with pytest.raises(ValueError, match=r"'P02'.*'r2'.*outside 0\.\.2"):
        angoff_cuts(params, ratings)
    low = np.zeros((1, 22))
    with pytest.raises(ValueError, match="no θ on the test characteristic curve"):
        angoff_cuts(params, low)  # below the guessing floor of 5 × 0.2
    decreasing = np.stack([np.full((2, 22), 0.6), np.full((2, 22), 0.4)], axis=1)
    with pytest.raises(ValueError, match="must increase"):
        angoff_cuts(params, decreasing)


# ---- impact and provenance -------------------------------------------------------------
def test_impact_shares_sum_to_one_and_count_a_cut_in_the_upper_level():
    cuts = CutScores((-1.0, 0.0, 1.0))
    shares = impact(cuts, np.array([-2.0, -1.0, -0.5, 0.0, 0.3, 1.0, 5.0, 0.99]))
    assert shares.sum() == pytest.approx(1.0)
    assert shares.tolist() == [1 / 8, 2 / 8, 3 / 8, 2 / 8]


def test_cut_provenance_is_plain_yaml_ready_data():
    booklet = ordered_item_booklet(_bank())
    result = bookmark_cuts(booklet, _panel(len(booklet)), tables=np.repeat(["a", "b", "c"], 4))
    prov = cut_provenance(
        result, date=dt.date(2025, 3, 14), source="12 teachers, 3 tables, form F1",
        params_version="v1", rounds=3,
    )
    assert prov["method"] == "bookmark" and prov["rp"] == 0.67
    assert prov["date"] == "2025-03-14" and prov["panel_size"] == 12 and prov["n_tables"] == 3
    assert prov["params_version"] == "v1" and prov["rounds"] == 3
    assert prov["values"] == [round(v, 3) for v in result.cuts.cuts]
    assert prov["se"] == [round(float(s), 3) for s in result.se]
    assert "table-level" in prov["se_method"]
    assert yaml.safe_load(yaml.safe_dump(prov)) == prov

    angoff = angoff_cuts(_mixed_bank(), np.full((3, 22), 0.5) * np.array([1, 1.1, 0.9])[:, None])
    prov = cut_provenance(angoff, date="2025-03-15", source="same panel", params_version="v1")
    assert prov["method"] == "angoff" and "rp" not in prov and "placement" not in prov
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        cut_provenance(angoff, date="15.03.2025", source="x", params_version="v1")
