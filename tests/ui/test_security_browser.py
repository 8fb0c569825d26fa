"""The attacks of issue 19 against served pages: real guarded Voila servers, real
Chromium, clients at different addresses behind a trusted proxy (X-Forwarded-For).

Each test is an attack that worked before: a stranger locking a participant out,
telling known codes from unknown ones, guessing fast, flooding the server, attaching to
a logged-in teacher's kernel, guessing a teacher's password, bypassing the pool with
?template=, and a page kernel culled right after leaving the pool.
"""

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import needs
from support.browser import CHROMIUM, PAGES, VoilaServer, chromium
from support.programme import new_programme

from lang_assess.programme.rules import load_config
from lang_assess.programme.service.access import CODE_ALPHABET
from lang_assess.ui.messages import catalogue
from lang_assess.ui.page_parts import INLINE_HANDLERS as SPEAKER_HANDLERS
from lang_assess.ui.recording_tool import INLINE_HANDLERS as RECORDER_HANDLERS
from lang_assess.ui.serve import TEACHER_PAGE, ServerLimits

pytestmark = pytest.mark.browser

PROXY = ("127.0.0.1",)  # the tests play the reverse proxy: X-Forwarded-For is believed
PHONE = {"width": 360, "height": 740}
NB = catalogue("nb")
# the defaults scaled down to this machine: a pool, caps, and fewer unconnected pages
# per address than the pool holds (lang_assess/ui/serve.py has the real numbers)
PARTICIPANT_LIMITS = ServerLimits(pool_size=4, max_kernels=8, max_kernels_per_client=3,
                                  max_unconnected_per_client=2, cull_idle_seconds=30,
                                  unconnected_seconds=20, cull_interval_seconds=5)


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module (Playwright's sync API runs one at a time)."""
    needs("Chromium", os.path.exists(CHROMIUM))
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank, browser):
    data = tmp_path_factory.mktemp("security")
    people = new_programme(f"sqlite:///{data / 'lang_assess.sqlite'}", nb_bank, 12,
                           prefix="SEC-")
    server = VoilaServer(data, limits=PARTICIPANT_LIMITS, trusted_proxies=PROXY).start()
    wait_for_pool(server, PARTICIPANT_LIMITS.pool_size)
    yield {"server": server, "browser": browser, "people": people}
    server.kill()


def wait_for_pool(server, size, timeout=120):
    """Until the server has its pool (and the start-up probe's page kernel) running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(server.kernels()) < size:
        time.sleep(0.5)
    time.sleep(3)  # the kernels run the page's notebook


def at(browser, address, viewport=PHONE):
    """A browser context at ``address`` (as the trusted proxy reports it)."""
    return browser.new_context(extra_http_headers={"X-Forwarded-For": address},
                               viewport=viewport)


def http(url, headers=None, method="GET", data=None):
    """(status, headers, body) of one request, errors included."""
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=120) as answer:
            return answer.status, answer.headers, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode(errors="replace")


def http_served(url, headers):
    """:func:`http`, trying again after the busy page as it asks: the tests before leave
    unconnected page kernels that hold the server at its cap until they are culled (a
    quiet machine gets to the next test sooner)."""
    deadline = time.monotonic() + 3 * PARTICIPANT_LIMITS.unconnected_seconds + 30
    while (answer := http(url, headers))[0] == 503:
        assert time.monotonic() < deadline, "the server stayed busy"
        time.sleep(3)
    return answer


def open_login(page, url, lang="nb"):
    page.goto(url, timeout=90_000)
    page.wait_for_selector(f".la-lang-{lang}", timeout=90_000)
    page.click(f".la-lang-{lang}")
    page.wait_for_selector(".la-code input")


def try_code(page, code):
    """Type a code and press Enter; returns the message shown, or 'in' when it opened."""
    field = page.wait_for_selector(".la-code input")
    field.fill(code)
    page.keyboard.press("Enter")
    # every answer replaces the login screen: wait for this field to go, then read
    page.wait_for_function("el => !el.isConnected", arg=field, timeout=60_000)
    page.wait_for_function("""() => document.querySelector('.la-privacy')
        || document.querySelector('.la-stem')
        || (document.querySelector('.la-message')
            && document.querySelector('.la-message').innerText.trim())""", timeout=60_000)
    if page.query_selector(".la-privacy") or page.query_selector(".la-stem"):
        return "in"
    text = page.inner_text(".la-message").strip()
    page.wait_for_selector(".la-code input")
    return text


def wrong(code):
    return code.split("-")[0] + "-" + "".join("A" if c != "A" else "C"
                                              for c in code.split("-")[1])


# ---- participants -------------------------------------------------------------------------

def test_a_stranger_cannot_lock_a_participant_out(site):
    url, person = site["server"].url, site["people"][0]
    config = load_config()
    stranger = at(site["browser"], "203.0.113.10")
    page = stranger.new_page()
    open_login(page, url)
    answers = [try_code(page, wrong(person.code)) for _ in range(config.pair_max_failures)]
    assert answers == [NB.text("login.wrong_code")] * config.pair_max_failures
    open_login(page, url)  # a fresh page: this address may not try this code again today
    assert try_code(page, person.code) == NB.text("login.paused")  # not even the right one
    stranger.close()
    participant = at(site["browser"], "198.51.100.20")  # the participant, at home
    page = participant.new_page()
    open_login(page, url)
    assert try_code(page, person.code) == "in"
    page.wait_for_selector(".la-privacy")
    participant.close()


def test_unknown_and_known_codes_answer_alike(site):
    url = site["server"].url
    taken = {p.code.split("-")[0] for p in site["people"]}
    known = site["people"][1].code.split("-")[0]
    unknown = next(a + b + "XY" for a in CODE_ALPHABET for b in CODE_ALPHABET
                   if a + b + "XY" not in taken)
    context = at(site["browser"], "203.0.113.11")
    page = context.new_page()
    frames = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    open_login(page, url)
    answers, sizes = {}, {}
    for lookup in (known, unknown, known, unknown):
        before = len(frames)
        answers.setdefault(lookup, []).append(try_code(page, f"{lookup}-AAAAA"))
        time.sleep(0.5)
        sizes.setdefault(lookup, []).append(sorted(len(f) for f in frames[before:]
                                                   if "la-message" in f))
    assert answers[known] == answers[unknown] == [NB.text("login.wrong_code")] * 2
    assert sizes[known] == sizes[unknown]  # the same widget updates, byte for byte
    context.close()


def test_the_guessing_rate_of_one_client_is_capped(site):
    url, config = site["server"].url, load_config()
    taken = {p.code.split("-")[0] for p in site["people"]}
    lookups = [a + b + c + "Q" for a in CODE_ALPHABET[:4] for b in CODE_ALPHABET[:4]
               for c in CODE_ALPHABET[:4] if a + b + c + "Q" not in taken]
    context = at(site["browser"], "203.0.113.12")
    page = context.new_page()
    wrong_answers, waited = 0, None
    for guesses, lookup in enumerate(lookups):
        if guesses % config.page_max_failures == 0:
            open_login(page, url)  # a new page every five guesses: the page limit
        answer = try_code(page, f"{lookup}-AAAAA")
        if answer == NB.text("login.wrong_code"):
            wrong_answers += 1
        else:
            waited = answer
            break
    assert wrong_answers == config.client_max_failures
    assert waited is not None and re.search(r"\d+", waited)
    minutes = int(re.search(r"\d+", waited).group())
    assert waited == NB.text("login.rate_limited", minutes=minutes)
    assert 1 <= minutes <= config.client_window_minutes
    context.close()


def first_item(browser, url, person, address):
    """Seconds from opening the page to the first item, with a participant's clicks
    (language, code, privacy notice, practice question) done at once."""
    context = at(browser, address)
    page = context.new_page()
    start = time.monotonic()
    page.goto(url, timeout=90_000)
    page.wait_for_selector(".la-lang-nb", timeout=90_000)
    page.click(".la-lang-nb")
    page.wait_for_selector(".la-code input")
    page.fill(".la-code input", person.code)
    page.keyboard.press("Enter")
    page.wait_for_selector(".la-privacy")
    page.click("button.mod-primary")
    page.wait_for_selector("text=Trykk på sola.")
    page.click(".la-pic-sol.la-big")  # the practice: tap the sun
    page.click("button.mod-primary")
    page.wait_for_selector(".la-choice")
    seconds = time.monotonic() - start
    context.close()
    return seconds


def test_a_participant_is_served_during_a_flood(site):
    """The issue's bar is 5 s; on a machine so busy that a quiet first item already
    takes longer (the slower of a quiet run before and one after), the flood may add no
    more than half of that quiet time.  Before issue 19 the flood started 40 kernels and
    the participant waited over a minute."""
    server, people = site["server"], site["people"]
    quiet = first_item(site["browser"], server.url, people[3], "198.51.100.31")
    statuses = []

    def hostile(_):
        status, _, _ = http(server.url, {"X-Forwarded-For": "203.0.113.66"})
        statuses.append(status)

    with ThreadPoolExecutor(8) as pool:
        flood = pool.map(hostile, range(40))
        time.sleep(0.5)  # the flood is on
        during = first_item(site["browser"], server.url, people[2], "198.51.100.30")
        list(flood)
    time.sleep(PARTICIPANT_LIMITS.refill_delay_seconds + 10)  # the pool is full again
    quiet = max(quiet, first_item(site["browser"], server.url, people[4], "198.51.100.32"))
    print(f"first item: {quiet:.2f} s quiet, {during:.2f} s during 40 hostile page loads")
    assert len(statuses) == 40
    assert statuses.count(200) <= PARTICIPANT_LIMITS.max_unconnected_per_client
    assert statuses.count(503) >= 40 - PARTICIPANT_LIMITS.max_unconnected_per_client
    assert len(server.kernels()) <= PARTICIPANT_LIMITS.max_kernels + PARTICIPANT_LIMITS.pool_size
    assert during <= max(5.0, 1.5 * quiet)
    # the hostile pages never connected: their kernels go, the address is served again
    deadline = time.monotonic() + 3 * PARTICIPANT_LIMITS.unconnected_seconds + 30
    status = 503
    while time.monotonic() < deadline and status == 503:
        time.sleep(2)
        status, _, _ = http(server.url, {"X-Forwarded-For": "203.0.113.66"})
    assert status == 200


def test_busy_page_speaks_the_browsers_language_and_template_does_not_bypass(site):
    server = site["server"]
    address = {"X-Forwarded-For": "203.0.113.77", "Accept-Language": "ar,en;q=0.5"}
    served = [http_served(server.url + "?template=lab&theme=dark", address)
              for _ in range(PARTICIPANT_LIMITS.max_unconnected_per_client)]
    assert all(status == 200 for status, _, _ in served)
    for _, _, body in served:  # the pool's kernel and template, not a new one
        assert "la-setup.js" in body and "cdn" not in body.lower()
    status, headers, body = http(server.url + "?template=classic", address)
    assert status == 503 and headers["Retry-After"] == "60"
    arabic = catalogue("ar")
    assert arabic.text("busy.title") in body and 'dir="rtl"' in body
    assert NB.text("busy.text") in body  # and in bokmål
    assert "<script" not in body


def test_headers_cookies_and_error_pages(site):
    url = site["server"].url
    status, headers, body = http_served(url, {"X-Forwarded-For": "198.51.100.40"})
    assert status == 200
    csp = dict(rule.strip().split(" ", 1) for rule in headers["Content-Security-Policy"]
               .split(";"))
    # no inline script but the speakers' and the recorder's exact handlers, no eval, no
    # other site; blob: for widgets' own modules (made by a script already running)
    script = csp["script-src"].split()
    assert script[:3] == ["'self'", "blob:", "'unsafe-hashes'"]
    handlers = (*SPEAKER_HANDLERS, *RECORDER_HANDLERS)
    assert script[3:] == ["'sha256-" + base64.b64encode(hashlib.sha256(h.encode()).digest())
                          .decode() + "'" for h in handlers]
    assert headers["Permissions-Policy"] == ("camera=(), microphone=(self), geolocation=(), "
                                             "payment=()")
    assert csp["default-src"] == csp["connect-src"] == "'self'"
    assert csp["object-src"] == csp["base-uri"] == csp["frame-ancestors"] == "'none'"
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/)[^>]*>", body)
    cookies = headers.get_all("Set-Cookie")
    assert cookies and all("samesite" in c.lower() for c in cookies)
    assert not any("secure" in c.lower().split(";")[1:] for c in cookies)
    _, tls_headers, _ = http_served(url, {"X-Forwarded-For": "198.51.100.41",
                                          "X-Forwarded-Proto": "https"})
    assert all("; secure" in c.lower() for c in tls_headers.get_all("Set-Cookie"))
    kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', body).group(1)
    for path in (f"api/kernels/{kernel}", f"voila/query/{kernel}",
                 f"lang-assess/page/{kernel}", "api/kernels/00000000-0000-0000-0000-0",
                 "voila/files/participant.ipynb", "no/such/page"):
        status, _, error = http(url + path)
        assert status in (403, 404), path
        assert "Traceback" not in error and "site-packages" not in error, path
    status, _, page = http(url + "logout")
    assert status == 200 and NB.text("logout.title") in page


def test_connected_but_idle_kernels_are_culled(site):
    context = at(site["browser"], "198.51.100.50")
    page = context.new_page()
    urls = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    # the tests before leave unconnected page kernels that take the server to its cap
    # until they are culled (a fast machine gets here sooner): try again, as the busy
    # page asks
    deadline, busy = time.monotonic() + 3 * PARTICIPANT_LIMITS.unconnected_seconds + 30, 0
    while page.goto(site["server"].url, timeout=90_000).status == 503:
        assert time.monotonic() < deadline, "the server stayed busy"
        busy += 1
        time.sleep(3)
    print(f"busy page {busy} times before the page was served")
    page.wait_for_selector(".la-lang-nb", timeout=90_000)
    kernel = re.search(r"/api/kernels/([0-9a-f-]+)/channels", urls[0]).group(1)
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "la_device")
    owner = {"Cookie": f"la_device={cookie}"}
    assert http(site["server"].url + f"api/kernels/{kernel}", owner)[0] == 200
    deadline = time.monotonic() + PARTICIPANT_LIMITS.cull_idle_seconds + 40
    while time.monotonic() < deadline:
        time.sleep(3)
        if http(site["server"].url + f"api/kernels/{kernel}", owner)[0] == 404:
            break
    assert http(site["server"].url + f"api/kernels/{kernel}", owner)[0] == 404
    context.close()


def test_a_pool_kernel_is_not_culled_when_handed_out_and_stale_ones_are_recycled(
        tmp_path, nb_bank):
    limits = ServerLimits(pool_size=1, max_kernels=4, max_kernels_per_client=4,
                          cull_idle_seconds=15, unconnected_seconds=20,
                          pool_max_age_seconds=45, cull_interval_seconds=5)
    new_programme(f"sqlite:///{tmp_path / 'lang_assess.sqlite'}", nb_bank, 1)
    server = VoilaServer(tmp_path, limits=limits).start()
    try:
        wait_for_pool(server, 2)
        pool = server.kernels()[-1]
        while time.time() - pool.create_time() < 24:  # idle in the pool past the idle limit
            time.sleep(1)
        status, headers, body = http(server.url)
        assert status == 200
        kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', body).group(1)
        cookie = re.search(r"la_device=([^;]+)", ",".join(headers.get_all("Set-Cookie")))
        owner = {"Cookie": f"la_device={cookie.group(1)}"}
        time.sleep(2 * limits.cull_interval_seconds + 1)  # two culling rounds later
        assert http(server.url + f"api/kernels/{kernel}", owner)[0] == 200
        # never connected: gone after unconnected_seconds
        time.sleep(limits.unconnected_seconds + limits.cull_interval_seconds)
        assert http(server.url + f"api/kernels/{kernel}", owner)[0] == 404
        # the pool's kernel now: replaced once older than pool_max_age
        time.sleep(2)
        waiting = {k.pid: k.create_time() for k in server.kernels()}
        oldest = min(waiting, key=waiting.get)
        deadline = waiting[oldest] + limits.pool_max_age_seconds + 30
        while time.time() < deadline and oldest in {k.pid for k in server.kernels()}:
            time.sleep(1)
        assert oldest not in {k.pid for k in server.kernels()}
        wait_for_pool(server, 1)
        assert server.kernels(), "a fresh pool kernel replaced the stale one"
    finally:
        server.kill()


# ---- teachers -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def staff(tmp_path_factory, nb_bank, browser):
    from lang_assess.programme.service import Intake, Service
    from lang_assess.programme.store.db import make_engine, migrate

    data = tmp_path_factory.mktemp("staff")
    engine = make_engine(f"sqlite:///{data / 'lang_assess.sqlite'}")
    migrate(engine)
    svc = Service(engine, nb_bank, load_config())
    org = svc.set_up_organisation("Kristiansand kommune", "admin", "admin-passord-2026")
    svc.create_teacher(org, "kari", "kari-passord-2026")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    cohort = svc.create_cohort(kari, "Inntak", dt.date.today())
    people = svc.enrol(kari, cohort, [Intake(f"SEC-T{i}", "ar") for i in range(3)])
    limits = ServerLimits(pool_size=1, max_kernels=8, max_kernels_per_client=6,
                          cull_idle_seconds=600)
    server = VoilaServer(data, notebook=PAGES / TEACHER_PAGE, limits=limits,
                         trusted_proxies=PROXY).start()
    wait_for_pool(server, 1)
    yield {"server": server, "browser": browser, "svc": svc, "engine": engine,
           "people": people, "data": data}
    server.kill()
    engine.dispose()


def teacher_login(page, url, user, password):
    page.goto(url, timeout=90_000)
    page.wait_for_selector("text=Logg inn", timeout=90_000)
    fields = page.query_selector_all("input")
    fields[0].fill(user)
    fields[1].fill(password)
    page.click("button.mod-primary")
    page.wait_for_function("""() => document.querySelector('.la-logout')
        || (document.querySelector('.la-message')
            && document.querySelector('.la-message').innerText.trim())""", timeout=60_000)


def kernel_messages(url, kernel, cookie=None, wait=4.0):
    """Attach a second websocket client to ``kernel`` as an attacker would, list its
    widgets and ask each for its state; returns every message read (refused: raises)."""
    from websockets.sync.client import connect

    ws_url = url.replace("http", "ws") + f"api/kernels/{kernel}/channels?session_id=x"
    headers = {"Cookie": f"la_device={cookie}"} if cookie else {}

    def message(msg_type, content):
        return json.dumps({"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type,
                                      "username": "x", "session": "x", "version": "5.3",
                                      "date": "2026-01-01T00:00:00Z"},
                           "parent_header": {}, "metadata": {}, "content": content,
                           "channel": "shell", "buffers": []})

    seen = []
    with connect(ws_url, additional_headers=headers, origin=url.rstrip("/"),
                 open_timeout=20) as ws:
        ws.send(message("comm_info_request", {}))
        deadline = time.monotonic() + wait
        comms = []
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                text = ws.recv(timeout=0.5)
                seen.append(text if isinstance(text, str) else text.decode(errors="replace"))
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    reply = json.loads(seen[-1])
                    if reply["header"]["msg_type"] == "comm_info_reply":
                        comms = list(reply["content"]["comms"])
                        for comm in comms:
                            ws.send(message("comm_msg", {"comm_id": comm, "data": {
                                "method": "request_state"}}))
    return seen


def test_a_kernel_id_alone_reaches_nothing(staff):
    from websockets.exceptions import InvalidStatus

    server = staff["server"]
    context = at(staff["browser"], "198.51.100.60", {"width": 1280, "height": 800})
    page = context.new_page()
    urls = []
    page.on("websocket", lambda ws: urls.append(ws.url))
    teacher_login(page, server.url, "kari", "kari-passord-2026")
    page.wait_for_selector(".la-cohort-table")
    kernel = re.search(r"/api/kernels/([0-9a-f-]+)/channels", urls[0]).group(1)
    names = [p.pseudonym for p in staff["people"]]
    assert all(n in page.inner_text(".la-cohort-table") for n in names)
    # a stranger who knows the kernel id: no websocket, no REST, no shutdown, no query
    for cookie in (None, "a-device-cookie-of-another-browser-xxxxxxxxxxxxx"):
        with pytest.raises(InvalidStatus) as refused:
            kernel_messages(server.url, kernel, cookie)
        assert refused.value.response.status_code == 404
    assert http(server.url + f"api/kernels/{kernel}")[0] == 404
    status, _, _ = http(server.url + f"voila/api/shutdown/{kernel}", method="POST", data=b"")
    assert status in (403, 404)
    with pytest.raises(InvalidStatus):
        from websockets.sync.client import connect

        connect(server.url.replace("http", "ws") + f"voila/query/{kernel}", open_timeout=10)
    # another browser (its own cookie) opening the kernel's websocket from a page
    other = at(staff["browser"], "203.0.113.90")
    snoop = other.new_page()
    snoop.goto(server.url + "logout")
    opened = snoop.evaluate("""url => new Promise(resolve => {
        const ws = new WebSocket(url);
        ws.onopen = () => resolve('open'); ws.onerror = () => resolve('refused');
        setTimeout(() => resolve('timeout'), 10000); })""", urls[0])
    assert opened == "refused"
    other.close()
    # the teacher's page still works, the kernel is alive
    before = page.inner_text(".la-dashboard")
    page.click(".la-count-stalled")  # the answer: the names behind the count, or "nobody"
    page.wait_for_function("b => document.querySelector('.la-dashboard').innerText !== b",
                           arg=before)
    # log out: the page empties; even the owner's cookie, stolen, finds nothing in it
    page.click(".la-logout")
    page.wait_for_selector("text=Du er logget ut.")
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "la_device")
    everything = "\n".join(kernel_messages(server.url, kernel, cookie))
    assert "comm_info_reply" in everything
    leaked = [s for s in (*names, "kari-passord-2026", "la-cohort-table") if s in everything]
    assert leaked == []
    context.close()


def test_teacher_password_guessing_is_limited(staff):
    server, config = staff["server"], load_config()
    context = at(staff["browser"], "203.0.113.91")
    page = context.new_page()
    for _ in range(config.pair_max_failures):
        teacher_login(page, server.url, "kari", "not-the-password-1")
        assert page.inner_text(".la-message") == "Feil brukernavn eller passord."
    teacher_login(page, server.url, "kari", "kari-passord-2026")  # right, but too late
    assert "For mange forsøk" in page.inner_text(".la-message")
    assert page.query_selector(".la-cohort-table") is None
    context.close()
    staff_room = at(staff["browser"], "198.51.100.61")  # the teacher herself: in
    page = staff_room.new_page()
    teacher_login(page, server.url, "kari", "kari-passord-2026")
    page.wait_for_selector(".la-cohort-table")
    staff_room.close()


def test_no_traceback_reaches_the_teachers_browser(staff):
    server = staff["server"]
    for path in ("logout", "api/kernels/nope", "voila/render/x.ipynb", "tree",
                 "api/contents", "login"):
        status, _, body = http(server.url + path)
        assert status != 500, path
        assert "Traceback" not in body and "File \"" not in body, path
