"""Rating speaking and writing answers in the teachers' page, in real headless Chromium
(issue 16, acceptance 2): a teacher plays the recording and rates it with the rubric; a
second teacher double-rates, blind to the first; the participant's speaking level and the
agreement figures appear."""

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from support import needs
from support.browser import CHROMIUM, PAGES, VoilaServer, chromium
from support.programme import simulated_answer

from lang_assess.engine.raters import agreement
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import Estimate, RatedAnswer, Rating, Teacher
from lang_assess.ui.serve import TEACHER_PAGE

pytestmark = pytest.mark.browser

RECORDING = Path(__file__).parents[1] / "fixtures" / "recording.webm"  # Chromium's own
KARI = ["2", "2", "2", "1"]  # the first rater's scores, in queue order
OLA = ["2", "0", "2", "1"]  # the second's: one split of two steps → a third rating


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank):
    needs("Chromium", os.path.exists(CHROMIUM))
    data = tmp_path_factory.mktemp("rating")
    config = data / "programme.yaml"
    config.write_text("rating:\n  double_rate_share: 1.0\n", encoding="utf-8")
    url = f"sqlite:///{data / 'lang_assess.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    svc = Service(engine, nb_bank, load_config(config), seed=4)
    org = svc.create_organisation("Browser test")
    for user in ("kari", "ola", "admin"):
        svc.create_teacher(org, user, f"{user}-passord-2026", is_admin=user == "admin")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    admin = svc.login_teacher("admin", "admin-passord-2026")
    cohort = svc.create_cohort(kari, "Inntak", dt.datetime.now(dt.UTC).date())
    person = svc.enrol(kari, cohort, [Intake("pseudo-R01", "ar", years_schooling=12)])[0]
    with engine.connect() as c:
        ola_id = c.scalar(select(Teacher.id).where(Teacher.username == "ola"))
    svc.add_cohort_rater(admin, cohort, ola_id)
    who = svc.login_participant(person.code)
    view, rng = svc.start_or_resume(who), np.random.default_rng(1)
    while view is not None:
        if view.skill == "speaking":
            view = svc.submit_recording(who, view.session_id, view.item_id,
                                        RECORDING.read_bytes())
        else:
            view = svc.answer(who, view.session_id, view.item_id,
                              simulated_answer(nb_bank, view, rng, 0.65))
    server = VoilaServer(data, notebook=PAGES / TEACHER_PAGE,
                         extra_env={"LANG_ASSESS_CONFIG": str(config)}).start()
    with chromium() as browser:
        yield {"server": server, "browser": browser, "engine": engine, "person": person}
    server.kill()
    engine.dispose()


def login(page, site, user):
    page.goto(site["server"].url, timeout=90_000)
    page.wait_for_selector("text=Logg inn", timeout=90_000)
    fields = page.query_selector_all("input")
    fields[0].fill(user)
    fields[1].fill(f"{user}-passord-2026")
    page.click("button.mod-primary")
    page.wait_for_selector(".la-open-rating", timeout=60_000)
    page.click(".la-open-rating")
    page.wait_for_selector(".la-queue-count")


def rate_queue(page, scores, comment):
    """Rate every answer in the queue with ``scores``; plays each recording first.
    Returns what each answer screen showed."""
    seen = []
    for score in scores:
        page.wait_for_selector(".la-rate-task")
        answer = page.get_attribute(".la-rate-task", "data-answer")
        shown = page.inner_text(".la-rating")
        if page.query_selector(".la-answer-audio"):
            played = page.evaluate("""async () => {
                const a = document.querySelector('.la-answer-audio');
                a.muted = true; await a.play();
                await new Promise(r => setTimeout(r, 1200));
                return [a.currentTime, a.duration]; }""")
            assert played[0] > 0.5, played  # the recording really plays
            seen.append(("audio", answer, shown))
        else:
            assert page.inner_text(".la-answer-text").strip()
            seen.append(("text", answer, shown))
        page.click(f".la-rubric label:has-text('{score} —')")
        page.fill(".la-rate-comment textarea", comment)
        page.click(".la-rate-save")
        page.wait_for_function(
            "a => !document.querySelector('.la-rate-task') || "
            "document.querySelector('.la-rate-task').dataset.answer !== a", arg=answer,
            timeout=30_000)
    return seen


def test_two_teachers_rate_blind_and_the_levels_and_agreement_appear(site):
    browser = site["browser"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, site, "kari")
    assert page.inner_text(".la-queue-count") == "4"
    first = rate_queue(page, KARI, "kari-kommentar")
    assert sorted(kind for kind, _, _ in first) == ["audio", "audio", "text", "text"]
    page.wait_for_selector(".la-queue-empty")
    page.close()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, site, "ola")
    assert page.inner_text(".la-queue-count") == "4"
    second = rate_queue(page, OLA, "")
    assert all("kari-kommentar" not in shown for _, _, shown in second)  # blind
    assert all("2. " in shown or "vurdering 2" in shown for _, _, shown in second)
    page.close()
    with site["engine"].connect() as c:
        ratings = c.execute(select(Rating.answer_id, Rating.round, Rating.score,
                                   Rating.comment).order_by(Rating.answer_id,
                                                            Rating.round)).all()
        est = c.execute(select(Estimate.skills, Estimate.rated_pending)).one()
        answers = c.execute(select(RatedAnswer.id, RatedAnswer.raters_needed)).all()
    pairs = {}
    for r in ratings:
        pairs.setdefault(r.answer_id, []).append(r.score)
    assert len(ratings) == 8 and all(len(v) == 2 for v in pairs.values())
    split = [a for a, v in pairs.items() if abs(v[0] - v[1]) > 1]
    assert split and {a.id for a in answers if a.raters_needed == 3} == set(split)
    # the admin: the third rating of the split, then the agreement figures
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, site, "admin")
    assert page.inner_text(".la-queue-count") == str(len(split))
    rate_queue(page, ["2"] * len(split), "")
    page.wait_for_selector(".la-agreement")
    rows = page.eval_on_selector_all(
        ".la-agreement tr", "rs => rs.map(r => Array.from(r.children).map(c => c.innerText))")
    first_scores = np.array([v[0] for v in pairs.values()])
    second_scores = np.array([v[1] for v in pairs.values()])
    overall = agreement(first_scores, second_scores, 4)
    assert rows[1][:5] == ["—", "4", f"{overall.exact:.0%}", f"{overall.adjacent:.0%}",
                           f"{overall.kappa:.2f}"]
    assert {r[0] for r in rows[2:]} == {"kari", "ola"}
    page.close()
    # the speaking level: in the cohort table and on the participant's page
    with site["engine"].connect() as c:
        est = c.execute(select(Estimate.skills, Estimate.rated_pending)).one()
    assert est.rated_pending == 0
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, site, "kari")
    page.wait_for_selector(".la-queue-empty")
    page.select_option("select", index=0)  # the cohort picker shows the cohort again
    page.goto(site["server"].url, timeout=90_000)
    page.wait_for_selector("text=Logg inn", timeout=90_000)
    fields = page.query_selector_all("input")
    fields[0].fill("kari")
    fields[1].fill("kari-passord-2026")
    page.click("button.mod-primary")
    page.wait_for_selector("table", timeout=60_000)
    table = page.eval_on_selector_all(
        "table tr", "rs => rs.map(r => Array.from(r.children).map(c => c.innerText))")
    header, row = table[0], table[1]
    speaking = est.skills["speaking"]
    shown = row[header.index("Muntlig")]
    assert shown == (speaking["level"] or "—"), (shown, speaking)
    assert speaking["n"] == 2 and speaking["level"] is not None
    assert row[header.index("Skriftlig")] == (est.skills["writing"]["level"] or "—")
    page.click(".la-open-person")
    page.wait_for_selector(".la-skill-levels")
    assert page.inner_text(".la-skill-speaking .la-skill-level") == speaking["level"]
    page.close()
