"""Calibration at scale, at small size: answers in long form, the long CSV and block
readers, the sparse MML path, and recovery on adaptive data the scoring model did not
produce (a selector with calibration error; answers with guessing).

The full-size run (15 million answers) is ``benchmarks/bench_calibration_scale.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.adaptive_data import adaptive_year

from lang_assess.psychometrics.calibrate import (
    DataError,
    Responses,
    fit_mml,
    mml,
    read_answer_blocks,
    read_responses_csv,
    readers,
)

WIDE = "person,q1,q2,q3\np1,1,,2\np2,0,1,\np3,,NA,0\n"
LONG = "person,item,score\np1,q1,1\np1,q3,2\np2,q1,0\n\np2,q2,1\np3,q3,0\n"


def aligned(r: Responses, persons: list[str], items: list[str]) -> np.ndarray:
    """r's dense matrix with rows and columns in the given id order."""
    rows = [r.persons.tolist().index(p) for p in persons]
    cols = [r.items.tolist().index(i) for i in items]
    return r.matrix[np.ix_(rows, cols)]


# ---- answers in long form ---------------------------------------------------------------
def test_long_csv_is_recognised_by_its_header_and_reads_as_the_wide_file(tmp_path):
    (tmp_path / "w.csv").write_text(WIDE, encoding="utf-8")
    (tmp_path / "l.csv").write_text("\ufeff" + LONG, encoding="utf-8")  # with a BOM
    wide, long = read_responses_csv(tmp_path / "w.csv"), read_responses_csv(tmp_path / "l.csv")
    assert long.n_answers == wide.n_answers == 5
    assert long.persons.tolist() == ["p1", "p2", "p3"]
    assert long.items.tolist() == ["q1", "q3", "q2"]  # order of first appearance
    np.testing.assert_array_equal(aligned(long, ["p1", "p2", "p3"], ["q1", "q2", "q3"]),
                                  wide.matrix)
    for arr in (long.person_index, long.item_index, long.scores):
        assert arr.dtype == np.int32 and not arr.flags.writeable
    # sorted by person then item, as the EM's blocks need
    key = long.person_index.astype(np.int64) * long.n_items + long.item_index
    assert np.all(np.diff(key) > 0)


def test_long_csv_problems_are_named_by_line_person_item_and_value(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("person,item,score\np1,q1,1\np1,q2,x\n\np2,q1,2\n,q1,1\np1,q1,0\n"
                 "p3,q2,0.5\np4,q1,1,9\np5,q2,\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_responses_csv(f, max_score=1)
    problems = err.value.problems
    assert str(err.value).startswith(str(f))
    expected = [
        "line 3, person 'p1', item 'q2': value 'x' is not a whole score",
        "line 5, person 'p2', item 'q1': score 2 is above the item's maximum 1",
        "line 6: empty person id",
        "line 7, person 'p1', item 'q1': answered twice (first at line 2)",
        "line 8, person 'p3', item 'q2': value '0.5' is not a whole score",
        "line 9, person 'p4': 4 cells but the header has 3",
        "line 10, person 'p5', item 'q2': value '' is not a whole score ≥ 0 (a row is an",
    ]
    for e in expected:
        assert any(p.startswith(e) for p in problems), (e, problems)
    assert len(problems) == len(expected)


def test_long_csv_read_in_blocks_gives_the_same_answers(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    person = rng.integers(0, 40, 400)
    item = rng.integers(0, 25, 400)
    _, first = np.unique(person * 100 + item, return_index=True)  # one answer a pair
    lines = [f"p{person[k]},i{item[k]},{rng.integers(0, 3)}" for k in sorted(first)]
    f = tmp_path / "l.csv"
    f.write_text("person,item,score\n" + "\n".join(lines) + "\n", encoding="utf-8")
    whole = read_responses_csv(f)
    monkeypatch.setattr(readers, "_BLOCK", 7)  # ids first met in later blocks
    parts = read_responses_csv(f)
    assert parts.persons.tolist() == whole.persons.tolist()
    assert parts.items.tolist() == whole.items.tolist()
    np.testing.assert_array_equal(parts.matrix, whole.matrix)
    assert whole.n_answers == len(lines)


def test_answer_blocks_as_a_database_gives_them():
    blocks = [(np.array([7, 7, 8]), np.array(["q1", "q2", "q1"], dtype=object),
               np.array([1.0, 0.0, 1.0])),
              (np.array([9]), np.array(["q2"], dtype=object), np.array([1.0]))]
    r = read_answer_blocks(iter(blocks), max_score=1)
    assert r.persons.tolist() == ["7", "8", "9"] and r.items.tolist() == ["q1", "q2"]
    np.testing.assert_array_equal(r.matrix, [[1, 0], [1, np.nan], [np.nan, 1]])
    bad = [(np.array([7, 7]), np.array(["q1", "q1"], dtype=object), np.array([1.0, 0.0])),
           (np.array([8, 9]), np.array(["q1", ""], dtype=object), np.array([2.0, 1.0])),
           (np.array([10]), np.array(["q1"], dtype=object), np.array([np.nan]))]
    with pytest.raises(DataError) as err:
        read_answer_blocks(bad, max_score=1)
    text = str(err.value)
    for e in ("row 2, person '7', item 'q1': answered twice (first at row 1)",
              "row 3, person '8', item 'q1': score 2 is above the item's maximum 1",
              "row 4: empty item id", "row 5, person '10', item 'q1': value 'nan'"):
        assert e in text, (e, text)


def test_from_columns_is_from_long_vectorised_and_ids_compare_as_text():
    rows = [(7, "q1", 1), ("7", "q2", 0), (" 8", "q1", 1.0)]
    by_rows = Responses.from_long(rows)
    by_cols = Responses.from_columns(np.array([7, 7, 8]), ["q1", "q2", "q1"], [1, 0, 1])
    assert by_rows.persons.tolist() == by_cols.persons.tolist() == ["7", "8"]
    np.testing.assert_array_equal(by_rows.matrix, by_cols.matrix)
    with pytest.raises(DataError, match=r"row 3, person '7', item 'q1': answered twice"):
        Responses.from_columns([7, 8, "7"], ["q1", "q1", "q1"], [1, 1, 0])


# ---- the sparse MML path ----------------------------------------------------------------
@pytest.fixture(scope="module")
def year_2pl():
    return adaptive_year(2500, 60, seed=5, lengths=(15, 25), block=2500)


@pytest.fixture(scope="module")
def year_sparse():
    """~7 % of the persons × items matrix filled: the scipy.sparse indicator path."""
    return adaptive_year(4000, 150, seed=6, lengths=(8, 12), block=4000)


def as_responses(year) -> Responses:
    return Responses(np.arange(year.theta.size).astype(str),
                     np.arange(year.a.size).astype(str), year.person, year.item, year.score)


def test_sparse_and_dense_indicator_paths_agree_and_no_matrix_is_made(year_sparse,
                                                                      monkeypatch):
    resp = as_responses(year_sparse)
    assert resp.density < mml.DENSE_ABOVE
    sparse_fit = fit_mml(resp, "2pl", n_quad=31)
    assert "matrix" not in resp.__dict__  # the dense (P, I) view was never built
    monkeypatch.setattr(mml, "DENSE_ABOVE", 0.0)  # force the dense numpy path
    dense_fit = fit_mml(as_responses(year_sparse), "2pl", n_quad=31)
    np.testing.assert_allclose(sparse_fit.params.a, dense_fit.params.a, atol=1e-8)
    np.testing.assert_allclose(sparse_fit.params.b, dense_fit.params.b, atol=1e-8)
    np.testing.assert_allclose(sparse_fit.se_b, dense_fit.se_b, rtol=1e-6)
    assert sparse_fit.iterations == dense_fit.iterations


def test_recovery_on_adaptive_data_from_a_miscalibrated_selector(year_2pl):
    """Who got which item was chosen with b off by N(0, 0.3²): MAR, so MML still
    recovers the truth (r(b) ≥ 0.99 is the issue's bar at 500+ answers)."""
    cal = fit_mml(as_responses(year_2pl), "2pl", n_quad=31)
    n = cal.n_responses
    assert n.min() >= 250 and year_2pl.n_answers > 40_000
    assert np.corrcoef(cal.params.b, year_2pl.b)[0, 1] >= 0.99
    assert np.sqrt(np.mean((cal.params.b - year_2pl.b) ** 2)) < 0.2
    assert np.corrcoef(cal.params.a, year_2pl.a)[0, 1] >= 0.85


def test_3pl_recovers_guessing_data_that_a_2pl_gets_wrong():
    year = adaptive_year(3000, 50, seed=9, guessing=True, lengths=(20, 30), block=3000)
    resp = as_responses(year)
    three = fit_mml(resp, "3pl", chance=0.25, n_quad=31)
    two = fit_mml(resp, "2pl", n_quad=31)

    def rmse(x, y):
        return float(np.sqrt(np.mean((x - y) ** 2)))

    assert np.corrcoef(three.params.b, year.b)[0, 1] >= 0.97
    assert rmse(three.params.b, year.b) < 0.3
    assert rmse(three.params.c, year.c) < 0.08
    # the 2PL pushes b down and a down to absorb the lower asymptote
    assert rmse(two.params.b, year.b) > 2 * rmse(three.params.b, year.b)


def test_past_the_cross_product_budget_ses_come_from_item_blocks(year_sparse, monkeypatch):
    """A year of national data would need ~4.5e9 multiply-adds for the full XPD; past
    _XPD_WORK_MAX the information is summed per item and inverted per item.  That drops
    the covariances between items, so those SEs are somewhat smaller (measured here)."""
    resp = as_responses(year_sparse)
    full = fit_mml(resp, "2pl", n_quad=31)
    monkeypatch.setattr(mml, "_XPD_WORK_MAX", 0.0)
    blocks = fit_mml(resp, "2pl", n_quad=31)
    assert full.se_method.endswith("in full")
    assert blocks.se_method.endswith("per item block")
    np.testing.assert_allclose(blocks.params.b, full.params.b, atol=1e-12)  # SEs only
    ratio = blocks.se_b / full.se_b
    assert np.all(np.isfinite(ratio)) and np.all(ratio <= 1.0 + 1e-9)
    assert 0.75 < np.median(ratio) < 1.0
