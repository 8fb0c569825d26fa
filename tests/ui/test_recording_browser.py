"""Issue 14, acceptance 2: an admin records an instruction in the teachers' app with the
browser's microphone (Chromium's fake device, fed a sound file), listens, saves; the
participant page then plays the recording in place of the synthetic clip."""

import base64
import datetime as dt
import math
import os
import struct
import wave

import pytest
from support import needs
from support.browser import ARTIFACTS, CHROMIUM, PAGES, VoilaServer, chromium

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.ui.serve import TEACHER_PAGE
from lang_assess.ui.speech import AUDIO

pytestmark = pytest.mark.browser

KEY = "login.title"  # shown after the page opens (a preheated kernel drew the first screen)


def tone(path, seconds=4.0, rate=48_000):
    """A WAV file for the fake microphone: a rising tone, loud enough to be heard."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(12000 * math.sin(2 * math.pi * (300 + 40 * i / rate)
                                                   * i / rate)))
            for i in range(int(seconds * rate))))


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank):
    needs("Chromium", os.path.exists(CHROMIUM))
    data = tmp_path_factory.mktemp("recording")
    engine = make_engine(f"sqlite:///{data / 'lang_assess.sqlite'}")
    migrate(engine)
    svc = Service(engine, nb_bank, load_config(), seed=1)
    org = svc.create_organisation("Recording test")
    svc.create_teacher(org, "admin", "lærer-passord-1", is_admin=True)
    svc.create_teacher(org, "teacher", "lærer-passord-2")
    admin = svc.login_teacher("admin", "lærer-passord-1")
    svc.create_cohort(admin, "Inntak", dt.date.today())
    engine.dispose()
    wav = data / "voice.wav"
    tone(wav)
    teachers = VoilaServer(data, notebook=PAGES / TEACHER_PAGE).start()
    participants = VoilaServer(data).start()
    flags = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-audio-capture={wav}")
    with chromium(*flags) as browser:
        yield {"teachers": teachers, "participants": participants, "browser": browser,
               "data": data}
    teachers.kill()
    participants.kill()


def login(page, site, user, password):
    page.goto(site["teachers"].url, timeout=90_000)
    page.wait_for_selector("text=Logg inn", timeout=90_000)
    fields = page.query_selector_all("input")
    fields[0].fill(user)
    fields[1].fill(password)
    page.click("button.mod-primary")


def playing(page, selector):
    page.wait_for_function(
        """s => { const a = document.querySelector(s); if (!a) return false;
                  if (a.paused && !a.ended) a.play().catch(() => {});
                  return a.currentTime > 0.3; }""", arg=selector, timeout=30_000)


def test_a_recorded_instruction_replaces_the_synthetic_one(site):
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "admin", "lærer-passord-1")
    page.click(".la-open-recorder", timeout=90_000)
    page.wait_for_selector(".la-recorder")
    page.select_option(".la-rec-language select", label="ትግርኛ")
    page.wait_for_function("() => [...document.querySelectorAll('.la-rec-key option')]"
                           ".some(o => o.textContent.includes('ትግርኛ'))")
    before = page.inner_text(".la-rec-counts")
    label = page.eval_on_selector_all(
        ".la-rec-key option", f"os => os.find(o => o.textContent.startsWith('{KEY}:'))"
        ".textContent")
    page.select_option(".la-rec-key select", label=label)
    page.wait_for_selector(".la-rec-words[lang='ti']")
    page.click(".la-rec-button")  # start
    page.wait_for_selector(".la-rec-state[data-state='recording']")
    page.wait_for_timeout(2000)
    page.click(".la-rec-button")  # stop
    page.wait_for_selector(".la-rec-preview", timeout=30_000)
    playing(page, ".la-rec-preview")  # the admin listens
    page.click(".la-rec-save")
    page.wait_for_selector(".la-rec-saved")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "teacher-recording-tool.png", full_page=True)
    saved = site["data"] / "recordings" / "ti" / page.get_attribute(".la-rec-saved",
                                                                     "data-file")
    assert saved.stem == KEY and saved.stat().st_size > 1000
    after = page.inner_text(".la-rec-counts")
    assert before.rsplit(":", 1)[1].split("/")[0].strip() == "0"
    assert after.rsplit(":", 1)[1].split("/")[0].strip() == "1"
    page.close()
    # the participant page: the Tigrinya welcome is now the recording
    page = site["browser"].new_page(viewport={"width": 360, "height": 740})
    page.goto(site["participants"].url, timeout=90_000)
    page.wait_for_selector(".la-lang-row", timeout=90_000)
    page.click(".la-lang-ti")
    page.wait_for_selector(".la-pad")
    sound = f".la-say[data-lang='ti'] audio[data-key='{KEY}']"
    src = page.get_attribute(sound, "src")
    assert src.startswith("data:audio/webm;base64,")
    assert src.split(",", 1)[1] == base64.b64encode(saved.read_bytes()).decode()
    synthetic = base64.b64encode((AUDIO / "ti" / f"{KEY}.ogg").read_bytes()).decode()
    assert synthetic not in page.content()
    playing(page, sound)
    page.close()


def test_a_teacher_who_is_not_admin_has_no_recording_tool(site):
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "teacher", "lærer-passord-2")
    page.wait_for_selector(".widget-dropdown", timeout=90_000)
    assert page.query_selector(".la-open-recorder") is None
    page.close()
