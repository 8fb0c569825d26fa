"""`lang-assess demo-data`: a simulated programme built through the real service."""

import datetime as dt
import itertools
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from support import REPO

pytestmark = pytest.mark.db

SCRIPT = Path(sys.executable).parent / "lang-assess"


def test_demo_data_builds_the_programme_through_the_cat(tmp_path):
    env = {"LANG_ASSESS_DATA": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([str(SCRIPT), "demo-data"], capture_output=True, text=True, cwd=REPO,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("teacher: ") == 3 and out.stdout.count("code: ") == 5
    engine = create_engine(f"sqlite:///{tmp_path / 'lang_assess.sqlite'}")
    with engine.connect() as conn:
        cohorts = pd.read_sql(text("select * from cohort order by intake_date"), conn)
        people = pd.read_sql(text("select * from participant"), conn)
        tests = pd.read_sql(text("select * from test_session"), conn)
        answers = pd.read_sql(text("select session_id, count(*) n from response "
                                   "group by session_id"), conn)
        estimates = pd.read_sql(text("select * from estimate"), conn)
    dates = pd.to_datetime(cohorts["intake_date"]).dt.date.tolist()
    gaps = {(b - a).days for a, b in itertools.pairwise(dates[:4])}
    assert len(dates) >= 4 and gaps == {14}
    tested = people[people["id"].isin(tests["participant_id"])]
    assert len(tested) >= 60 and set(tested["track"]) == {1, 2, 3}
    weeks = tests.groupby("participant_id")["week"].max()
    assert weeks.max() >= 19  # twenty weeks of tests for the first intake
    # every test ran the CAT: answers stored, one estimate per finished test
    merged = tests.merge(answers, left_on="id", right_on="session_id")
    assert (merged["n"] == merged["n_answered"]).all() and (merged["n"] >= 5).all()
    assert len(estimates) == tests["finished_at"].notna().sum() == len(tests)
    # missed weeks: first intake's participants did not all test every week
    first = tests[tests["participant_id"].isin(
        people.loc[people["cohort_id"] == cohorts["id"].iloc[0], "id"])]
    per_person = first.groupby("participant_id").size()
    assert (per_person < 20).sum() >= 3
    assert not {"name", "first_name"} & set(people.columns)
    again = subprocess.run([str(SCRIPT), "demo-data", "--if-empty"], capture_output=True,
                           text=True, cwd=REPO, env=env, timeout=120)
    assert again.returncode == 0 and "already there" in again.stdout
    refused = subprocess.run([str(SCRIPT), "demo-data"], capture_output=True, text=True,
                             cwd=REPO, env=env, timeout=120)
    assert refused.returncode == 2 and "already has" in refused.stderr
    assert dt.date.fromisoformat(str(dates[-1])[:10]) == dt.date.today()
