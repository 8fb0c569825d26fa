"""Thirty participants answering at once on the embedded SQLite database: no lock error,
no lost answer.  (A short run here; benchmarks/bench_concurrency.py runs five minutes.)"""

import os

import pytest
from support.concurrency import run_concurrent

pytestmark = pytest.mark.db

SECONDS = float(os.environ.get("LANG_ASSESS_CONCURRENCY_SECONDS", "12"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_thirty_participants_at_once(tmp_path, nb_bank):
    report = run_concurrent(f"sqlite:///{tmp_path / 'busy.sqlite'}", nb_bank,
                            participants=30, seconds=SECONDS, min_answers=5)
    assert report["errors"] == []
    assert report["answers_acknowledged"] >= 30 * 5
    assert report["answers_stored"] == report["answers_acknowledged"] + report["in_flight"]
    assert report["in_flight"] == 0
    assert report["duplicates"] == 0
