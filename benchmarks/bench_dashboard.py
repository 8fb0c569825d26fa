"""The teachers' overview for one cohort of 500 participants × 30 weeks of tests.

The database is filled directly with finished tests (θ̂, SE, level) — this measures the
overview, not the CAT — then two timings:

- kernel-side: ``TeacherDashboard.login`` builds everything the page shows (flags, table,
  downloads, levels by week, growth by group);
- in the browser: Debian's Chromium (Playwright) on the real Voila page, from the click
  on "Logg inn" until the cohort table and the level chart are drawn.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py`` (``make bench`` runs it).
"""

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def build_database(folder: Path, participants: int, weeks: int):
    """``folder/lang_assess.sqlite`` with one teacher ("t", "lærer-passord-1") and one cohort of
    ``participants`` × ``weeks`` finished tests; returns the service on it."""
    from lang_assess.bank.loader import load_bank
    from lang_assess.programme.rules import load_config
    from lang_assess.programme.service import Service
    from lang_assess.programme.store.db import make_engine, migrate, session_factory
    from lang_assess.programme.store.models import (
        Cohort,
        Estimate,
        Organisation,
        Participant,
        TestRun,
    )

    bank = load_bank(REPO / "item_bank" / "nb")
    cuts = bank.cuts
    rng = np.random.default_rng(0)
    today = dt.date(2026, 11, 22)
    intake = today - dt.timedelta(weeks=weeks)
    engine = make_engine(f"sqlite:///{folder}/lang_assess.sqlite")
    migrate(engine)
    svc = Service(engine, bank, load_config(),
                  clock=lambda: dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC))
    org = svc.create_organisation("Big")
    svc.create_teacher(org, "t", "lærer-passord-1")
    teacher = svc.login_teacher("t", "lærer-passord-1")
    cid = svc.create_cohort(teacher, "Big intake", intake)
    with session_factory(engine).begin() as db:
        cohort = db.get(Cohort, cid)
        assert db.get(Organisation, org) is not None
        for k in range(participants):
            theta0, growth = rng.normal(-0.8, 1.0), rng.uniform(0.0, 0.1)
            p = Participant(cohort_id=cohort.id, pseudonym=f"BIG-{k:04d}",
                            code_lookup=f"{k:04d}", code_hash="x", language="ar",
                            gender=str(rng.choice(["f", "m"])),
                            birth_year=int(rng.integers(1970, 2006)), track=2,
                            track_suggested=2, intake_date=intake, course_level="A2")
            db.add(p)
            db.flush()
            for w in range(weeks):
                theta = theta0 + growth * w + rng.normal(0, 0.3)
                t = TestRun(participant_id=p.id, kind="placement" if w == 0
                                else "progress", week=w, params_version="v0", state="{}",
                                n_answered=5, started_at=dt.datetime(2026, 1, 1),
                                finished_at=dt.datetime.combine(
                                    intake + dt.timedelta(weeks=w), dt.time(9)))
                db.add(t)
                db.flush()
                db.add(Estimate(session_id=t.id, theta=theta, se=0.3,
                                level=str(cuts.level_label(theta)),
                                level_probabilities={}))
    return svc, engine


def main(participants: int = 500, weeks: int = 30) -> None:
    from lang_assess.ui.teacher_page import TeacherDashboard

    with tempfile.TemporaryDirectory() as tmp:
        svc, engine = build_database(Path(tmp), participants, weeks)
        dash = TeacherDashboard(svc, "nb")
        dash.user.value, dash.password.value = "t", "lærer-passord-1"
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            dash.login()  # login + show_cohort: everything the overview shows
            times.append(time.perf_counter() - t0)
        engine.dispose()
        browser_times = in_browser(Path(tmp))
    print(f"\n### Teachers' overview, {participants} participants × {weeks} weeks\n")
    print("| participants | tests | kernel build s (best / worst of 3) "
          "| in Chromium s (best / worst of 3) |")
    print("| ---: | ---: | ---: | ---: |")
    print(f"| {participants} | {participants * weeks} | {min(times):.2f} / {max(times):.2f} "
          f"| {min(browser_times):.2f} / {max(browser_times):.2f} |")


def in_browser(data: Path, runs: int = 3) -> list[float]:
    """Seconds from the login click to the table and the level chart on screen."""
    from support.browser import PAGES, VoilaServer, chromium

    from lang_assess.ui.serve import TEACHER_PAGE

    server = VoilaServer(data, notebook=PAGES / TEACHER_PAGE).start()
    times = []
    try:
        with chromium() as browser:
            for _ in range(runs):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(server.url, timeout=120_000)
                page.wait_for_selector("text=Logg inn", timeout=120_000)
                fields = page.query_selector_all("input")
                fields[0].fill("t")
                fields[1].fill("lærer-passord-1")
                t0 = time.perf_counter()
                page.click("button.mod-primary")
                page.wait_for_selector(".la-cohort-table", timeout=60_000)
                t_table = time.perf_counter() - t0
                page.wait_for_selector(".js-plotly-plot .bars", timeout=60_000)
                times.append(time.perf_counter() - t0)
                print(f"  table on screen {t_table:.2f} s, chart {times[-1]:.2f} s",
                      file=sys.stderr)
                page.close()
    finally:
        server.kill()
    return times


if __name__ == "__main__":
    main()
