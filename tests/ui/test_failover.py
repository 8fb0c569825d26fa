"""Several page servers behind nginx on one PostgreSQL: a Monday morning with a crash.

`lang-assess serve --instances 3` runs three participant servers behind the proxy.  Sixty
participants take their weekly test at once: three in real Chromium, the rest through
the widget protocol over the proxy's websockets (support/widget_client.py).  Half-way the
busiest server is killed (SIGKILL).  Its participants reload, land on another server
through the proxy, enter their code and go on at the item they were on.  In the end every
test is finished, and the database holds each participant's answers exactly once, in
order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.cookiejar
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import func, select
from support import needs
from support.browser import CHROMIUM, chromium, free_port_pair
from support.widget_client import PageBusy, PageGone, WidgetPage, wait_until_served

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import Estimate, Response, TestRun

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.slow]

SCRIPT = Path(sys.executable).parent / "lang-assess"
N_PEOPLE, N_BROWSERS, INSTANCES = 60, 3, 3


def seed(url: str, bank) -> list[str]:
    """60 participants who took their placement test 8 days ago: a weekly test is due."""
    engine = make_engine(url)
    migrate(engine)
    now = dt.datetime.now(dt.UTC)
    then = now - dt.timedelta(days=8)
    svc = Service(engine, bank, load_config(), seed=3, clock=lambda: then)
    org = svc.create_organisation("Fail-over")
    svc.create_teacher(org, "teacher", "lærer-passord-1")
    teacher = svc.login_teacher("teacher", "lærer-passord-1")
    cohort = svc.create_cohort(teacher, "Mandag", then.date())
    people = svc.enrol(teacher, cohort, [Intake(f"fo-{i:03d}", "ar") for i in range(N_PEOPLE)])
    rng = np.random.default_rng(4)
    for p in people:
        who = svc.login_participant(p.code)
        view = svc.start_or_resume(who)
        while view is not None:
            item = bank.items[view.item_id]
            if item.type == "rated":  # a speaking or writing task: "I cannot"
                view = svc.skip_task(who, view.session_id, view.item_id)
                continue
            answer = "".join(item.key) if rng.random() < 0.6 else "".join(
                o.id for o in item.options) if item.type == "ordering" else next(
                o.id for o in item.options if o.id != item.key[0])
            view = svc.answer(who, view.session_id, view.item_id, answer)
    engine.dispose()
    return [p.code for p in people]


class Participant:
    """One participant driven through the widget protocol; reloads when its page dies."""

    def __init__(self, base: str, code: str) -> None:
        self.base, self.code, self.pseudo = base, code, code
        self.jar = http.cookiejar.CookieJar()
        self.acknowledged = 0  # answers the page confirmed by showing the next screen
        self.reloads = 0
        self.busy = 0  # busy pages met (a burst of page loads from one address, issue 19)
        self.kernel_ids: list[str] = []  # the kernel of each page view it opened
        self.done = False
        self.resumed_at: list[tuple[int, int]] = []  # (answers before, position shown)

    async def run(self, halfway: asyncio.Event) -> None:
        while True:
            try:
                await self._session(halfway)
                self.done = True
                return
            except PageBusy:  # what the busy page's "try again" link does, after a pause
                self.busy += 1
                if self.busy > 200:
                    raise
                await asyncio.sleep(3)
            except (PageGone, OSError):
                self.reloads += 1
                if self.reloads > 10:
                    raise
                await asyncio.sleep(min(2 * self.reloads, 10))

    async def _session(self, halfway: asyncio.Event) -> None:
        page = WidgetPage(self.base, self.jar)
        await page.open()
        self.kernel_ids.append(page.kernel_id)
        try:
            await page.click(page.find("ButtonModel", "la-lang-nb"))
            await page.type_into(page.find("TextModel", "la-code"), self.code)
            resumed = bool(self.reloads)
            for _step in range(200):  # a test is at most ~30 items: never loop for ever
                if "la-end" in page.text():
                    break
                choices = page.buttons("la-choice")
                if not choices and not page.buttons():
                    return  # no test due: it was finished before the reload
                cannot = page.buttons("la-cannot")
                if not choices and not cannot:  # the practice screen, then "next"
                    await page.click(page.buttons()[0])
                    continue
                position = _position(page)
                if resumed:  # the first item shown after logging in again
                    self.resumed_at.append((self.acknowledged, position))
                    resumed = False
                if cannot:  # a speaking or writing task (issue 16): "I cannot"
                    await page.click(cannot[0])
                    continue
                for c in choices if "↺" in _descriptions(page) else choices[:1]:
                    await page.click(c)
                primary = [m for m in page.buttons()
                           if page.models[m].get("button_style") == "primary"]
                await page.click(primary[0])
                if "la-end" in page.text() or _position(page) == position + 1:
                    self.acknowledged = position
                if self.acknowledged >= 2:
                    halfway.set()
            else:
                shown = [page.models[m].get("description") for m in page.buttons()]
                raise AssertionError(f"{self.code}: the test did not end; buttons {shown}; "
                                     f"page {page.words()!r}; "
                                     f"kernel said {page.errors[-3:]!r}")
        finally:
            await page.close()


def _position(page: WidgetPage) -> int:
    text = page.text()
    marker = 'data-position="'
    at = text.find(marker)
    return int(text[at + len(marker):text.index('"', at + len(marker))]) if at >= 0 else 0


def _descriptions(page: WidgetPage) -> list[str]:
    return [page.models[m].get("description", "") for m in page.buttons()]


def browser_participant(browser, base: str, code: str, killed: asyncio.Event,
                        log: list) -> None:
    """A participant in real Chromium: answers, reloads after the crash, finishes."""
    page = browser.new_page(viewport={"width": 360, "height": 740})
    page.set_default_timeout(300_000)
    reloaded = False

    def login() -> None:
        # a page whose server dies while it loads never shows: reload, as a person would
        shown = ".la-privacy, .la-progress, :text('Trykk på sola.')"
        for _attempt in range(5):
            try:
                for _ in range(100):  # the busy page (issue 19's caps): try again shortly
                    if page.goto(base).status != 503:
                        break
                    page.wait_for_timeout(3000)
                page.click(".la-lang-nb", timeout=120_000)
                page.fill(".la-code input", code, timeout=60_000)
                page.click("button.mod-primary", timeout=60_000)
                page.wait_for_selector(shown, timeout=120_000)
                if page.query_selector(".la-privacy"):  # the privacy notice at the first login
                    page.click("button.mod-primary", timeout=60_000)
                    page.wait_for_selector(".la-progress, :text('Trykk på sola.')",
                                           timeout=120_000)
                return
            except PlaywrightTimeout:
                continue
        raise AssertionError(f"{code}: the page never let this participant in")

    login()
    while not page.query_selector(".la-end"):
        if page.query_selector("text=Trykk på sola."):
            try:
                page.click(".la-pic-sol.la-big", timeout=60_000)  # the picture is the button
                page.click("button.mod-primary", timeout=60_000)
            except PlaywrightTimeout:  # its server died under the practice: reload
                reloaded = True
                page.reload()
                login()
                log.append(code)
            continue
        if killed.is_set() and not reloaded:
            reloaded = True
            page.reload()
            login()
            log.append(code)
            continue
        position = page.get_attribute(".la-progress", "data-position")
        buttons = page.query_selector_all("button.la-choice")
        cannot = page.query_selector("button.la-cannot")
        if cannot is not None:  # a speaking or writing task (issue 16): "I cannot"
            cannot.click()
        else:
            for b in buttons if page.query_selector("button:has-text('↺')") else buttons[:1]:
                b.click()
            page.click("button.mod-primary")
        try:
            page.wait_for_function(
                """p => document.querySelector('.la-end') || (document.querySelector(
                     '.la-progress') && document.querySelector('.la-progress')
                     .dataset.position !== p)""", arg=position, timeout=20_000)
        except Exception:  # the server died under this page: reload and log in again
            reloaded = True
            page.reload()
            login()
            log.append(code)
    page.close()


def test_sixty_participants_survive_a_killed_page_server(tmp_path, postgres_server, nb_bank):
    needs("Chromium", os.path.exists(CHROMIUM))
    url = postgres_server.create_database("failover")
    codes = seed(url, nb_bank)
    port = free_port_pair()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [str(SCRIPT), "serve", "--port", str(port), "--instances", str(INSTANCES),
         "--pool-size", "8", "--db", url],
        env={**os.environ, "LANG_ASSESS_DATA": str(data)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until_served(base, data / "serve" / "logs", INSTANCES)
        people = [Participant(base, code) for code in codes[N_BROWSERS:]]
        victim_kernels, running = asyncio.run(_monday(proc, people, codes[:N_BROWSERS], base))
        # every test finished, every answer once and in order
        engine = make_engine(url)
        with engine.connect() as conn:
            runs = conn.execute(select(TestRun.id, TestRun.n_answered).where(
                TestRun.kind == "progress")).all()
            done = set(conn.execute(select(Estimate.session_id)).scalars())
            for run_id, n in runs:
                positions = conn.execute(select(Response.position).where(
                    Response.session_id == run_id).order_by(Response.position)).scalars().all()
                assert positions == list(range(1, n + 1)), run_id
            doubles = conn.execute(select(func.count()).select_from(
                select(Response.session_id, Response.position).group_by(
                    Response.session_id, Response.position)
                .having(func.count() > 1).subquery())).scalar()
        engine.dispose()
        assert len(runs) == N_PEOPLE and {r for r, _ in runs} <= done
        assert doubles == 0
        moved = [p for p in people if p.pseudo in running and victim_kernels & set(p.kernel_ids)]
        assert moved, "nobody was testing on the killed server"
        assert all(p.reloads for p in moved)  # they reloaded and finished elsewhere
        for p in moved:  # resumed at the item after the last one the page confirmed
            assert all(shown in (before + 1, before + 2) for before, shown in p.resumed_at)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)


async def _monday(proc, people: list[Participant], browser_codes: list[str],
                  base: str) -> tuple[set[str], set[str]]:
    """Everyone tests at once; once answers are coming in, the page server holding the
    most kernels is killed.  Returns its kernels' ids and who was still testing then."""
    halfway, killed = asyncio.Event(), asyncio.Event()
    log: list[str] = []

    def browsers() -> None:
        with chromium() as browser:
            for code in browser_codes:
                browser_participant(browser, base, code, killed, log)

    tasks = [asyncio.create_task(p.run(halfway)) for p in people]
    chrome = asyncio.create_task(asyncio.to_thread(browsers))
    await asyncio.wait_for(halfway.wait(), timeout=900)
    await asyncio.sleep(5)
    servers = [c for c in psutil.Process(proc.pid).children()
               if "runtime/participant-" in " ".join(c.cmdline())]
    victim = max(servers, key=lambda s: len(s.children()))
    kernels = {part.rsplit("kernel-", 1)[1].removesuffix(".json")
               for k in victim.children() for part in k.cmdline() if "kernel-" in part}
    running = {p.pseudo for p in people if not p.done}
    victim.kill()
    killed.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, chrome, return_exceptions=True),
                                     timeout=2400)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    return kernels, running


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
