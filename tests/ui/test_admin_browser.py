"""What a municipality does before and during a programme, through the pages and the
command line (issue 19): set up the organisation and its admin, manage teachers, give a
participant a new code, export and erase a person's data, retention after leaving."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from support import REPO, needs
from support.browser import ARTIFACTS, CHROMIUM, PAGES, VoilaServer, chromium
from support.programme import simulated_answer

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine
from lang_assess.programme.store.models import Participant
from lang_assess.ui.messages import catalogue
from lang_assess.ui.serve import TEACHER_PAGE

pytestmark = pytest.mark.browser

SCRIPT = Path(sys.executable).parent / "lang-assess"
ADMIN_PASSWORD = "en lang setning om Otra"
NB = catalogue("nb", "teacher")


def t(key):
    return NB.text(f"teacher.{key}")


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank):
    needs("Chromium", os.path.exists(CHROMIUM))
    data = tmp_path_factory.mktemp("admin")
    url = f"sqlite:///{data / 'lang_assess.sqlite'}"
    env = {**os.environ, "LANG_ASSESS_DB": url, "LANG_ASSESS_DATA": str(data),
           "LANG_ASSESS_BANK": str(REPO / "item_bank" / "nb")}
    made = subprocess.run([str(SCRIPT), "admin", "init", "--organisation",
                           "Kristiansand kommune", "--user", "anne", "--password-stdin"],
                          input=ADMIN_PASSWORD + "\n", capture_output=True, text=True,
                          env=env, timeout=300)
    assert made.returncode == 0, made.stderr
    engine = make_engine(url)
    svc = Service(engine, nb_bank, load_config(), seed=4)
    anne = svc.login_teacher("anne", ADMIN_PASSWORD)
    org = anne.organisation_id
    svc.create_teacher(org, "kari", "kari-passord-2026")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    cohort = svc.create_cohort(kari, "Inntak", dt.date.today())
    people = svc.enrol(kari, cohort, [Intake(f"ADM-{i}", "ar", "f", 1990, 8, True)
                                      for i in range(3)])
    who = svc.login_participant(people[1].code)  # ADM-1 answers a few items
    view, rng = svc.start_or_resume(who), np.random.default_rng(0)
    for _ in range(3):
        view = svc.answer(who, view.session_id, view.item_id,
                          simulated_answer(nb_bank, view, rng))
    teachers = VoilaServer(data, notebook=PAGES / TEACHER_PAGE).start()
    participants = VoilaServer(data).start()
    with chromium() as browser:
        yield {"teachers": teachers, "participants": participants, "browser": browser,
               "engine": engine, "people": people, "env": env, "svc": svc}
    teachers.kill()
    participants.kill()
    engine.dispose()


def login(page, site, user, password, query=""):
    page.goto(site["teachers"].url + query, timeout=90_000)
    page.wait_for_selector(f"text={t('login')}", timeout=90_000)
    fields = page.query_selector_all("input")
    fields[0].fill(user)
    fields[1].fill(password)
    page.click("button.mod-primary")


def shoot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def participant_try(site, code):
    """The participant page with ``code``: 'notice', or the message shown."""
    page = site["browser"].new_page(viewport={"width": 360, "height": 740})
    page.goto(site["participants"].url, timeout=90_000)
    page.wait_for_selector(".la-lang-nb", timeout=90_000)
    page.click(".la-lang-nb")
    page.fill(".la-code input", code)
    page.keyboard.press("Enter")
    page.wait_for_function("""() => document.querySelector('.la-privacy')
        || document.querySelector('.la-stem') || (document.querySelector('.la-message')
        && document.querySelector('.la-message').innerText.trim())""", timeout=60_000)
    answer = ("in" if page.query_selector(".la-privacy, .la-stem")
              else page.inner_text(".la-message").strip())
    page.close()
    return answer


def test_an_admin_manages_teachers_through_the_page(site):
    browser = site["browser"]
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    login(admin, site, "anne", ADMIN_PASSWORD)
    admin.click(".la-admin")
    admin.wait_for_selector(".la-admin-title")
    accounts = admin.eval_on_selector_all(".la-account", "xs => xs.map(x => x.innerText)")
    assert accounts == ["anne (Administrator)", "kari"]
    admin.fill(".la-new-user input", "per")
    admin.click(".la-add-teacher")
    one_time = admin.inner_text("code.la-one-time").strip()
    shoot(admin, "teacher-admin-accounts")
    admin.click(".la-one-time-hide")
    admin.wait_for_selector("code.la-one-time", state="detached")
    assert one_time not in admin.content()

    per = browser.new_page(viewport={"width": 1280, "height": 900})
    login(per, site, "per", one_time)
    per.wait_for_selector(".la-save-password")  # nothing else before an own password
    assert per.query_selector(".la-cohort-table") is None
    per.fill(".la-old input", one_time)
    per.fill(".la-new input", "min egen setning om havet")
    per.fill(".la-again input", "min egen setning om havet")
    per.click(".la-save-password")
    per.wait_for_selector(".la-logout")
    assert t("password_changed") in per.inner_text(".la-status")

    admin.click(".la-toggle-per")  # the list shows per since the add: disable per
    admin.wait_for_selector(f".la-account:has-text('{t('disabled')}')")
    per.click(".la-change-password")  # per's next call: the session is gone
    per.fill(".la-old input", "min egen setning om havet")
    per.fill(".la-new input", "enda en lang setning her")
    per.fill(".la-again input", "enda en lang setning her")
    per.click(".la-save-password")
    per.wait_for_selector(f"text={t('session_ended')}")
    login(per, site, "per", "min egen setning om havet")
    per.wait_for_selector(f"text={t('wrong')}")
    per.close()

    admin.click(".la-reset-kari")  # kari forgot hers
    reset = admin.inner_text("code.la-one-time").strip()
    kari = browser.new_page(viewport={"width": 1280, "height": 900})
    login(kari, site, "kari", reset)
    kari.wait_for_selector(".la-save-password")
    kari.close()
    admin.click(".la-logout")
    admin.wait_for_selector(f"text={t('logged_out')}")
    admin.close()


def test_a_new_code_export_and_erasure_through_the_page(site, tmp_path):
    browser, people, engine = site["browser"], site["people"], site["engine"]
    lost, erased = people[0], people[1]
    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    login(admin, site, "anne", ADMIN_PASSWORD, f"?participant={lost.participant_id}")
    admin.wait_for_selector(".la-new-code-button")
    admin.click(".la-new-code-button")
    new_code = admin.inner_text("code.la-reissued").strip()
    assert new_code != lost.code
    admin.click(".la-reissued-hide")
    admin.wait_for_selector("code.la-reissued", state="detached")
    assert participant_try(site, lost.code) == catalogue("nb").text("login.wrong_code")
    assert participant_try(site, new_code) == "in"
    audit = site["svc"].audit_log(site["svc"].login_teacher("anne", ADMIN_PASSWORD))
    assert "reissue_code" in set(audit["action"])

    login(admin, site, "anne", ADMIN_PASSWORD, f"?participant={erased.participant_id}")
    admin.wait_for_selector(".la-export-data")
    admin.click(".la-export-data")
    admin.wait_for_selector("a.la-export-link")
    with admin.expect_download() as download:
        admin.click("a.la-export-link")
    path = tmp_path / "export.json"
    download.value.save_as(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["participant"]["pseudonym"] == "ADM-1"
    assert data["participant"]["birth_year"] == 1990
    assert len(data["tests"][0]["answers"]) == 3
    shoot(admin, "teacher-privacy-actions")
    admin.fill(".la-erase-confirm input", "ADM-1")
    admin.click(".la-erase")
    admin.wait_for_selector(".la-erased")
    with engine.connect() as conn:
        left = conn.scalar(select(func.count()).where(Participant.pseudonym == "ADM-1"))
    assert left == 0
    assert participant_try(site, erased.code) == catalogue("nb").text("login.wrong_code")
    admin.close()


def test_leaving_the_programme_and_retention(site):
    person = site["people"][2]
    admin = site["browser"].new_page(viewport={"width": 1280, "height": 900})
    login(admin, site, "anne", ADMIN_PASSWORD, f"?participant={person.participant_id}")
    admin.wait_for_selector(".la-left input")
    long_ago = dt.date.today() - dt.timedelta(days=400)
    admin.fill(".la-left input", long_ago.isoformat())
    admin.click(".la-left-save")
    due = long_ago + dt.timedelta(days=load_config().retention_days)
    admin.wait_for_selector(f".la-retention:has-text('{due.isoformat()}')")
    ran = subprocess.run([str(SCRIPT), "retention", "run"], capture_output=True, text=True,
                         env=site["env"], timeout=300)
    assert ran.returncode == 0 and "1 anonymised" in ran.stdout, ran.stderr
    login(admin, site, "anne", ADMIN_PASSWORD, f"?participant={person.participant_id}")
    admin.wait_for_selector("h2:has-text('anon-')")
    assert "ADM-2" not in admin.content()
    admin.close()
