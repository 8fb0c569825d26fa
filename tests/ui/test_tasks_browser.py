"""Speaking and writing tasks in real headless Chromium with a fake microphone (issue
16, acceptance 1): a participant records a spoken answer and types a written one; the
kernel is killed while an answer is on its way; after the code again the database holds
each answer exactly once, or the page asks for it again."""

import datetime as dt
import json
import os
import subprocess

import numpy as np
import pytest
from sqlalchemy import select
from support import needs
from support.browser import CHROMIUM, VoilaServer, chromium
from support.programme import simulated_answer

from lang_assess.programme.recordings import inspect
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import Estimate, RatedAnswer
from lang_assess.ui.messages import catalogue

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
NB = catalogue("nb")


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank):
    needs("Chromium", os.path.exists(CHROMIUM))
    data = tmp_path_factory.mktemp("voila")
    wav = data / "voice.wav"  # what the fake microphone says
    subprocess.run(["espeak-ng", "-v", "nb", "-s", "120", "-w", str(wav),
                    "Jeg heter Amal. Jeg bor i Kristiansand sammen med familien min."],
                   check=True, timeout=60)
    url = f"sqlite:///{data / 'lang_assess.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    svc = Service(engine, nb_bank, load_config(), seed=3)
    org = svc.create_organisation("Browser test")
    svc.create_teacher(org, "teacher", "lærer-passord-1")
    teacher = svc.login_teacher("teacher", "lærer-passord-1")
    cohort = svc.create_cohort(teacher, "Inntak", dt.datetime.now(dt.UTC).date())
    person = svc.enrol(teacher, cohort, [Intake("pseudo-T01", "en", years_schooling=12)])[0]
    # the adaptive part through the service: the page opens at the first task
    who = svc.login_participant(person.code)
    view, rng = svc.start_or_resume(who), np.random.default_rng(0)
    while view.type != "rated":
        view = svc.answer(who, view.session_id, view.item_id,
                          simulated_answer(nb_bank, view, rng))
    engine.dispose()
    server = VoilaServer(data).start()
    with chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-audio-capture={wav}") as browser:
        yield {"server": server, "browser": browser, "person": person, "url": url,
               "bank": nb_bank, "session": view.session_id}
    server.kill()


def open_page(site):
    page = site["browser"].new_page(viewport=PHONE)
    page.goto(site["server"].url, timeout=90_000)
    page.wait_for_selector(".la-lang-en", timeout=90_000)
    page.click(".la-lang-en")
    page.wait_for_selector(".la-code input")
    page.fill(".la-code input", site["person"].code)
    page.click("button.mod-primary")
    page.wait_for_selector(".la-privacy, .la-recorder, .la-writing, .la-end", timeout=90_000)
    if page.query_selector(".la-privacy"):  # the privacy notice at the first login (issue 19)
        page.click("button.mod-primary")
        page.wait_for_selector(".la-recorder, .la-writing, .la-end", timeout=90_000)
    return page


def stored(site):
    engine = make_engine(site["url"])
    with engine.connect() as conn:
        rows = conn.execute(select(RatedAnswer.item_id, RatedAnswer.skill, RatedAnswer.audio,
                                   RatedAnswer.text, RatedAnswer.position)
                            .where(RatedAnswer.session_id == site["session"])).all()
        finished = conn.execute(select(Estimate.rated_pending)
                                .where(Estimate.session_id == site["session"])).all()
    engine.dispose()
    return rows, finished


def position(page):
    return page.get_attribute(".la-progress", "data-position")


def record(page, seconds=2.5):
    page.click(".la-rec-start")
    page.wait_for_selector(".la-rec-stop:visible")
    page.wait_for_timeout(int(seconds * 1000))
    page.click(".la-rec-stop")
    page.wait_for_selector(".la-rec-audio:visible")
    page.wait_for_timeout(800)  # the bytes' widget message reaches the kernel


def send_and_wait(page):
    before = position(page)
    page.click("button.mod-primary")
    try:
        page.wait_for_function(
            """p => document.querySelector('.la-end') || (document.querySelector('.la-progress')
                 && document.querySelector('.la-progress').dataset.position !== p)""",
            arg=before, timeout=60_000)
    except Exception as exc:  # say what the page says instead
        raise AssertionError(page.inner_text(".la-app")) from exc


def kernel_of(site, page):
    """The kernel process behind ``page`` (by the kernel id the page was served with:
    a killed kernel is restarted, so "all but the newest" would miss it)."""
    config = json.loads(page.evaluate(
        "document.getElementById('jupyter-config-data').textContent"))
    kernels = [k for k in site["server"].kernels()
               if f"kernel-{config['kernelId']}" in " ".join(k.cmdline())]
    assert len(kernels) == 1
    return kernels[0]


def test_record_type_and_a_killed_kernel_lose_nothing_and_store_nothing_twice(site):
    page = open_page(site)
    assert page.query_selector(".la-recorder")  # two speaking tasks first
    # nothing recorded yet: Send asks for the answer, stores nothing
    page.click("button.mod-primary")
    page.wait_for_selector(f"text={catalogue('en').text('item.choose_answer_first')}")
    assert stored(site)[0] == []
    record(page, 1.0)
    record(page)  # record again: only the second one is sent
    send_and_wait(page)
    rows, _ = stored(site)
    assert len(rows) == 1 and rows[0].skill == "speaking"
    first = inspect(rows[0].audio)
    assert first.format == "webm" and 2.0 < first.seconds < 4.5  # the re-recording
    # the second speaking task: the kernel dies while the recording is on its way
    page.wait_for_selector(".la-recorder")
    second_position = position(page)
    record(page)
    kernel = kernel_of(site, page)
    page.click("button.mod-primary")
    kernel.kill()
    page.close()
    page = open_page(site)
    rows, _ = stored(site)
    assert len(rows) in (1, 2) and len({r.item_id for r in rows}) == len(rows)
    if len(rows) == 1:  # not stored: the same task asks for it again
        assert position(page) == second_position and page.query_selector(".la-recorder")
        record(page)
        send_and_wait(page)
    rows, _ = stored(site)
    assert [r.skill for r in rows] == ["speaking", "speaking"]
    # the writing tasks: typed, with æ ø å from their buttons
    page.wait_for_selector(".la-writing textarea")
    page.fill(".la-writing textarea", "Hei! Jeg heter Amal og bor p")
    page.click("button.la-letter:has-text('å')")
    page.type(".la-writing textarea", " Grim. Jeg liker ")
    page.click("button.la-letter:has-text('ø')")
    page.type(".la-writing textarea", "kologisk mat.")
    page.wait_for_timeout(500)
    send_and_wait(page)
    page.wait_for_selector(".la-writing textarea")
    page.fill(".la-writing textarea", "Jeg kan ikke komme i morgen. Hilsen Amal")
    page.wait_for_timeout(500)
    kernel = kernel_of(site, page)
    page.click("button.mod-primary")
    kernel.kill()  # while the last answer is on its way
    page.close()
    page = open_page(site)
    rows, finished = stored(site)
    if len(rows) == 3:  # not stored: asked for again
        assert page.query_selector(".la-writing")
        page.fill(".la-writing textarea", "Jeg kan ikke komme i morgen. Hilsen Amal")
        page.wait_for_timeout(500)
        send_and_wait(page)
        rows, finished = stored(site)
    else:
        assert NB is not None and not page.query_selector(".la-writing")
    assert len(rows) == 4 and len({r.item_id for r in rows}) == 4
    assert [r.skill for r in rows] == ["speaking", "speaking", "writing", "writing"]
    texts = [r.text for r in rows if r.skill == "writing"]
    assert texts[0] == "Hei! Jeg heter Amal og bor på Grim. Jeg liker økologisk mat."
    assert all(inspect(r.audio).format == "webm" for r in rows if r.skill == "speaking")
    assert finished == [(4,)]  # the test is over; four answers wait for a teacher
    page.close()
