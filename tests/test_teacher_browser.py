"""The teachers' overview in real headless Chromium against a real Voila server."""

import datetime as dt
import os

import pytest
from browser import ARTIFACTS, CHROMIUM, FLAGS, VoilaServer
from conftest import needs

from lang_assess.demo import build_demo
from lang_assess.programme import load_config
from lang_assess.serve import TEACHER_PAGE
from lang_assess.service import Service
from lang_assess.store.db import make_engine, migrate


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank):
    needs("Chromium", os.path.exists(CHROMIUM))
    data = tmp_path_factory.mktemp("teacher")
    engine = make_engine(f"sqlite:///{data / 'lang_assess.sqlite'}")
    migrate(engine)
    build_demo(lambda clock: Service(engine, nb_bank, load_config(), clock=clock, seed=3),
               today=dt.date.today(), n_participants=16, weeks=6, intakes=4, seed=9)
    svc = Service(engine, nb_bank, load_config())
    server = VoilaServer(data, notebook=TEACHER_PAGE).start()
    test_page = VoilaServer(data).start()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield {"server": server, "browser": browser, "svc": svc, "test_page": test_page}
        browser.close()
    server.kill()
    test_page.kill()
    engine.dispose()


def login(page, site, user, password):
    page.goto(site["server"].url, timeout=90_000)
    page.wait_for_selector("text=Logg inn", timeout=90_000)
    fields = page.query_selector_all("input")
    fields[0].fill(user)
    fields[1].fill(password)
    page.click("button.mod-primary")


def test_a_teacher_sees_only_their_cohorts_with_the_right_numbers(site):
    svc = site["svc"]
    kari = svc.login_teacher("kari", "demo-kari-2026")
    ola = svc.login_teacher("ola", "demo-ola-2026")
    own, other = svc.cohorts(kari), svc.cohorts(ola)
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "kari", "demo-kari-2026")
    page.wait_for_selector(".la-cohort-table")
    offered = page.eval_on_selector(  # the first select: the cohort picker
        "select", "s => Array.from(s.options).map(o => o.textContent.replace(/\\u00a0/g, ' '))")
    assert sorted(offered) == sorted(f"{r.name} ({r.teacher})" for r in own.itertuples())
    assert not {f"{r.name} ({r.teacher})" for r in other.itertuples()} & set(offered)
    progress = svc.cohort_progress(kari, int(own["id"].iloc[0]))
    table = page.inner_text(".la-cohort-table")
    for name in progress["pseudonym"]:
        assert name in table
    stalled = int(progress["stalled"].sum())
    assert page.inner_text(".la-count-stalled") == f"Står stille: {stalled}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    page.screenshot(path=ARTIFACTS / "teacher-overview.png", full_page=True)
    page.click(".la-open-person")
    page.wait_for_selector(".la-history")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    first = progress["pseudonym"].iloc[0]
    assert first in page.inner_text("h2")
    page.screenshot(path=ARTIFACTS / "teacher-participant.png", full_page=True)
    page.close()


def test_wrong_password_shows_nothing(site):
    page = site["browser"].new_page()
    login(page, site, "kari", "wrong-password")
    page.wait_for_selector("text=Feil brukernavn eller passord.")
    assert page.query_selector(".la-cohort-table") is None
    page.close()


def test_enrolment_through_the_ui_gives_codes_that_open_the_test(site):
    page = site["browser"].new_page(viewport={"width": 1280, "height": 900})
    login(page, site, "kari", "demo-kari-2026")
    page.wait_for_selector(".la-enrol")
    page.click(".la-enrol")
    page.wait_for_selector("text=Nytt inntak")
    page.fill("input[type=text]", "pseudo-UI-001")
    page.click("button:has-text('Legg til')")
    page.wait_for_selector("li:has-text('pseudo-UI-001')")
    page.click(".la-save")
    page.wait_for_selector(".la-new-code")
    code = page.inner_text(".la-new-code").strip()
    assert "bare denne ene gangen" in page.inner_text(".la-dashboard")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "teacher-codes.png", full_page=True)
    page.close()
    participant = site["browser"].new_page(viewport={"width": 360, "height": 740})
    participant.goto(site["test_page"].url, timeout=90_000)
    participant.wait_for_selector(".la-lang-nb", timeout=90_000)
    participant.click(".la-lang-nb")
    participant.wait_for_selector(".la-code input")
    participant.fill(".la-code input", code)
    participant.keyboard.press("Enter")
    participant.wait_for_selector("text=Trykk på sola.")  # the placement test begins
    participant.close()
