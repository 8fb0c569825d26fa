"""The participant's test in real headless Chromium against a real Voila server."""

import datetime as dt
import json
import re

import numpy as np
import pytest
from sqlalchemy import select
from support import needs
from support.browser import ARTIFACTS, AXE, CHROMIUM, VoilaServer, chromium
from support.programme import simulated_answer

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import Estimate, Response, TestRun
from lang_assess.ui.messages import catalogue

pytestmark = pytest.mark.browser

ITEM_ID = re.compile(r"nb-(preA1|A1|A2|B1|B2|C1)-[a-z]{3}-\d{3}")
PHONE, LAPTOP = {"width": 360, "height": 740}, {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank):
    needs("Chromium", __import__("os").path.exists(CHROMIUM))
    data = tmp_path_factory.mktemp("voila")
    url = f"sqlite:///{data / 'lang_assess.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    now = dt.datetime.now(dt.UTC)
    svc = Service(engine, nb_bank, load_config(), seed=1)
    org = svc.create_organisation("Browser test")
    svc.create_teacher(org, "teacher", "lærer-passord-1")
    teacher = svc.login_teacher("teacher", "lærer-passord-1")
    today = svc.create_cohort(teacher, "Inntak i dag", now.date())
    people = {e.pseudonym: e for e in svc.enrol(teacher, today, [
        Intake(f"pseudo-B{i:02d}", "ar") for i in range(9)])}  # no base64 look-alike
    people.update({e.pseudonym: e for e in svc.enrol(teacher, today, [
        Intake("pseudo-N01", "ar", years_schooling=0, literate_l1=False)])})
    earlier = svc.create_cohort(teacher, "Inntak forrige uke", now.date() - dt.timedelta(days=8))
    weekly = svc.enrol(teacher, earlier, [Intake("pseudo-W01", "ti")])[0]
    at_intake = Service(engine, nb_bank, load_config(), seed=2,
                        clock=lambda: now - dt.timedelta(days=8))
    who = at_intake.login_participant(weekly.code)
    view, rng = at_intake.start_or_resume(who), np.random.default_rng(0)
    while view is not None:
        view = at_intake.answer(who, view.session_id, view.item_id,
                                simulated_answer(nb_bank, view, rng))
    engine.dispose()
    server = VoilaServer(data).start()
    with chromium() as browser:
        yield {"server": server, "browser": browser, "people": people, "weekly": weekly,
               "url": url, "bank": nb_bank}
    server.kill()


def login(page, site, code, lang="nb"):
    page.goto(site["server"].url, timeout=90_000)
    page.wait_for_selector(f".la-lang-{lang}", timeout=90_000)
    page.click(f".la-lang-{lang}")
    page.wait_for_selector(".la-code input")
    page.fill(".la-code input", code)
    page.click("button.mod-primary")


def privacy_notice(page):
    """After the first login the privacy notice comes first: read, then OK."""
    page.wait_for_function("""() => document.querySelector('.la-privacy')
        || document.querySelector('.la-stem') || document.querySelector('.la-choice')""",
                           timeout=60_000)
    if page.query_selector(".la-privacy"):
        page.click("button.mod-primary")
        page.wait_for_selector(".la-privacy", state="detached")


def practice(page):
    privacy_notice(page)
    page.wait_for_selector("text=Trykk på sola.")
    page.click(".la-pic-sol")  # the picture is the button (issue 14)
    page.click("button.mod-primary")


def answer_one(page, rng):
    """Answer the item on screen through the UI only; wait for the next screen.  Returns
    "task" for a speaking or writing task (issue 16: written, or "I cannot" for speaking:
    this module's Chromium has no microphone; tests/ui/test_tasks_browser.py records),
    "item" otherwise."""
    page.wait_for_selector(".la-choice, .la-writing, .la-recorder")
    position = page.get_attribute(".la-progress", "data-position")
    task = page.query_selector(".la-writing, .la-recorder") is not None
    choices = page.query_selector_all("button.la-choice")
    if page.query_selector(".la-writing"):
        page.fill(".la-writing textarea", "Jeg heter Amal og jeg bor i Kristiansand.")
        page.wait_for_timeout(300)
    elif task:
        page.click("button.la-cannot")
        choices = []
    elif page.query_selector("button:has-text('↺')"):
        for b in choices:  # ordering: tap every part
            b.click()
    elif choices:
        choices[int(rng.integers(len(choices)))].click()
    if choices or page.query_selector(".la-writing"):
        page.click("button.mod-primary")
    page.wait_for_function(
        """p => document.querySelector('.la-end') || (document.querySelector('.la-progress')
             && document.querySelector('.la-progress').dataset.position !== p)""",
        arg=position, timeout=60_000)
    return "task" if task else "item"


def finish(page, rng, limit=44):
    """Answer until the end screen; returns the number of items answered (tasks are
    not items: their answers are rated, not scored)."""
    n = 0
    for _ in range(limit):
        n += answer_one(page, rng) == "item"
        if page.query_selector(".la-end"):
            return n
    raise AssertionError("the test did not end")


def session_of(site, code):
    engine = make_engine(site["url"])
    svc = Service(engine, site["bank"], load_config())
    who = svc.login_participant(code)
    with engine.connect() as conn:
        rows = conn.execute(select(TestRun).where(
            TestRun.participant_id == who.participant_id).order_by(TestRun.id)).all()
        positions = {r.id: conn.execute(select(Response.position).where(
            Response.session_id == r.id).order_by(Response.position)).scalars().all()
            for r in rows}
        done = set(conn.execute(select(Estimate.session_id)).scalars())
    engine.dispose()
    return rows, positions, done


def test_full_placement_test_through_the_ui(site):
    person = site["people"]["pseudo-B00"]
    page = site["browser"].new_page(viewport=PHONE)
    login(page, site, person.code)
    practice(page)
    n = finish(page, np.random.default_rng(1))
    rows, positions, done = session_of(site, person.code)
    assert len(rows) == 1 and rows[0].kind == "placement" and rows[0].id in done
    assert positions[rows[0].id] == list(range(1, n + 1))
    page.close()


def test_a_participant_enrolled_as_not_literate_meets_audio_and_pictures_first(site):
    """Issue 13, acceptance 5: the routing stage's items, as the browser shows them: a
    spoken question (an audio player), a picture on every option, no text to read."""
    from lang_assess.bank.literacy import is_routing_item

    person = site["people"]["pseudo-N01"]
    assert person.track == 1
    page = site["browser"].new_page(viewport=PHONE)
    login(page, site, person.code)
    practice(page)
    rng = np.random.default_rng(6)
    for k in range(4):
        page.wait_for_selector(".la-choice")
        choices = page.query_selector_all("button.la-choice")
        assert page.query_selector(".la-app audio") is not None, k
        pictures = page.eval_on_selector_all(  # the picture is the button (issue 14)
            "button.la-choice", "bs => bs.filter(b => getComputedStyle(b).backgroundImage"
            ".startsWith('url(\"data:image')).length")
        assert pictures == len(choices) >= 3, k
        assert page.query_selector(".la-passage") is None, k
        if k == 0:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "participant-routing-nb-phone.png",
                            full_page=True)
        answer_one(page, rng)
    rows, positions, _ = session_of(site, person.code)
    assert positions[rows[0].id] == [1, 2, 3, 4]
    engine = make_engine(site["url"])
    with engine.connect() as conn:
        first = conn.execute(select(Response.item_id).where(
            Response.session_id == rows[0].id).order_by(Response.position)).scalars().all()
    engine.dispose()
    assert all(is_routing_item(site["bank"].items[i]) for i in first)
    page.close()


def test_weekly_progress_test_through_the_ui(site):
    page = site["browser"].new_page(viewport=LAPTOP)
    login(page, site, site["weekly"].code)
    practice(page)
    n = finish(page, np.random.default_rng(2))
    rows, positions, done = session_of(site, site["weekly"].code)
    progress = [r for r in rows if r.kind == "progress"]
    assert len(progress) == 1 and progress[0].week == 1 and progress[0].id in done
    assert 5 <= n <= 14 and positions[progress[0].id] == list(range(1, n + 1))
    page.close()


@pytest.mark.parametrize("what", ["kernel", "server"])
def test_killed_kernel_or_server_resumes_at_the_same_item(site, what):
    person = site["people"]["pseudo-B01" if what == "kernel" else "pseudo-B02"]
    rng = np.random.default_rng(3)
    page = site["browser"].new_page(viewport=PHONE)
    login(page, site, person.code)
    practice(page)
    for _ in range(3):
        answer_one(page, rng)
    page.wait_for_selector(".la-choice")
    on_screen = page.inner_text(".la-stem")
    page.close()
    server = site["server"]
    if what == "kernel":
        kernels = server.page_kernels()
        assert kernels
        for k in kernels:
            k.kill()
    else:
        server.kill()
        server.start()
    page = site["browser"].new_page(viewport=PHONE)
    login(page, site, person.code)
    page.wait_for_selector(f"text={catalogue('nb').text('resume.welcome_back')}",
                           timeout=90_000)
    assert page.inner_text(".la-stem") == on_screen
    rows, positions, _ = session_of(site, person.code)
    assert positions[rows[0].id] == [1, 2, 3]  # every earlier answer, exactly once
    n = finish(page, rng)
    rows, positions, done = session_of(site, person.code)
    assert positions[rows[0].id] == list(range(1, 4 + n)) and rows[0].id in done
    page.close()


def test_no_key_parameter_or_other_participant_reaches_the_browser(site):
    person = site["people"]["pseudo-B03"]
    frames = []
    page = site["browser"].new_page(viewport=LAPTOP)
    page.on("websocket", lambda ws: (
        ws.on("framereceived", lambda f: frames.append(str(f))),
        ws.on("framesent", lambda f: frames.append(str(f)))))
    login(page, site, person.code)
    practice(page)
    rng = np.random.default_rng(4)
    for _ in range(6):
        answer_one(page, rng)
    page.wait_for_selector(".la-choice")
    everything = "\n".join(frames) + page.content()
    assert len(frames) > 20
    assert not ITEM_ID.search(everything)  # not even which item it is
    for word in ('"key"', "within_level", '"theta"', "params", "exposure", "rubric",
                 "expert rule"):
        assert word not in everything, word
    for other in site["people"].values():
        if other.pseudonym != person.pseudonym:
            assert other.pseudonym not in everything and other.code not in everything
    assert "Traceback" not in everything
    page.close()


def test_wrong_codes_get_a_friendly_rate_limit(site):
    person = site["people"]["pseudo-B04"]
    page = site["browser"].new_page(viewport=PHONE)
    wrong = person.code[:4] + "-AAAAA"
    config = load_config()
    for _ in range(config.pair_max_failures):  # a new page each time: the address counts
        login(page, site, wrong)
        page.wait_for_selector(f"text={catalogue('nb').text('login.wrong_code')}")
    login(page, site, wrong)
    page.wait_for_selector(f"text={catalogue('nb').text('login.paused')}")
    page.close()
    # tests/ui/test_security_browser.py: the participant, elsewhere, still gets in


@pytest.mark.parametrize("lang", ["nb", "ar"])
def test_accessibility_and_screenshots(site, lang):
    needs("axe-core (npm)", AXE.exists())
    person = site["people"]["pseudo-B05" if lang == "nb" else "pseudo-B06"]
    ARTIFACTS.mkdir(exist_ok=True)
    problems = {}
    for size_name, size in (("phone", PHONE), ("laptop", LAPTOP)):
        page = site["browser"].new_page(viewport=size)
        shots = {}
        page.goto(site["server"].url, timeout=90_000)
        page.wait_for_selector(f".la-lang-{lang}")
        page.click(f".la-lang-{lang}")
        page.wait_for_selector(".la-code input")
        shots["login"] = axe(page)
        page.screenshot(path=ARTIFACTS / f"participant-login-{lang}-{size_name}.png",
                        full_page=True)
        page.fill(".la-code input", person.code)
        page.click("button.mod-primary")
        if size_name == "phone":  # the first login: the privacy notice
            page.wait_for_selector(".la-privacy")
            shots["privacy"] = axe(page)
            page.screenshot(path=ARTIFACTS / f"participant-privacy-{lang}-{size_name}.png",
                            full_page=True)
        practice(page)  # nothing answered yet, so both visits start with the practice
        page.wait_for_selector(".la-choice")
        shots["item"] = axe(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"horizontal scrolling at {size_name}: {width}px"
        page.screenshot(path=ARTIFACTS / f"participant-item-{lang}-{size_name}.png",
                        full_page=True)
        if size_name == "laptop":
            finish(page, np.random.default_rng(5))
            shots["end"] = axe(page)
            page.screenshot(path=ARTIFACTS / f"participant-end-{lang}-{size_name}.png",
                            full_page=True)
        for screen, found in shots.items():
            if found:
                problems[f"{size_name}/{screen}"] = found
        page.close()
    assert problems == {}, json.dumps(problems, indent=1)[:3000]


def axe(page):
    """Serious and critical axe-core violations on the page (rule id → targets)."""
    # through DevTools, not a <script> tag: the page's CSP (scripts from its server only)
    # stays on while axe looks
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return {v["id"]: [n["target"] for n in v["nodes"]][:5] for v in result["violations"]
            if v["impact"] in ("serious", "critical")}


def tab_to(page, predicate_js, limit=60):
    """Press Tab until the focused element satisfies ``predicate_js`` (a JS arrow fn)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"({predicate_js})(document.activeElement)"):
            return
    raise AssertionError(f"keyboard focus never reached {predicate_js}")


def test_keyboard_only(site):
    person = site["people"]["pseudo-B07"]
    page = site["browser"].new_page(viewport=LAPTOP)
    page.goto(site["server"].url, timeout=90_000)
    page.wait_for_selector(".la-lang-nb")
    tab_to(page, "e => e.closest('.la-lang-nb') !== null")
    page.keyboard.press("Enter")
    page.wait_for_selector(".la-code input")
    tab_to(page, "e => e.tagName === 'INPUT'")
    page.keyboard.type(person.code)
    page.keyboard.press("Enter")
    page.wait_for_selector(".la-privacy")  # the privacy notice, by keyboard too
    tab_to(page, "e => e.classList.contains('mod-primary')")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Trykk på sola.")
    tab_to(page, "e => e.tagName === 'BUTTON' && e.title === 'sol'")
    page.keyboard.press("Enter")
    page.wait_for_selector("button.mod-primary")
    tab_to(page, "e => e.classList.contains('mod-primary')")
    page.keyboard.press("Enter")
    page.wait_for_selector(".la-choice")
    outline = page.evaluate("""() => { const b = document.querySelector('button.la-choice');
        b.focus(); return getComputedStyle(b).outlineStyle; }""")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Enter")  # the focused first option
    if page.query_selector("button:has-text('↺')"):  # ordering: every part, by keyboard
        for _ in range(len(page.query_selector_all("button.la-choice")) - 1):
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
    tab_to(page, "e => e.classList.contains('mod-primary')")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.la-progress')?.dataset.position === '2'"
        " || document.querySelector('.la-end')", timeout=60_000)
    rows, positions, _ = session_of(site, person.code)
    assert positions[rows[0].id] == [1]
    page.close()
