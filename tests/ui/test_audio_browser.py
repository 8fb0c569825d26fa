"""Audio plays in real headless Chromium (Debian's /usr/bin/chromium via Playwright)."""

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest
from support import REPO
from support.browser import CHROMIUM, chromium

pytestmark = pytest.mark.browser

BANK = REPO / "item_bank" / "nb"


def browser_or_skip():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing under CI=true: `make test` installs it")
        pytest.skip("Chromium not installed (make test installs it)")


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(BANK))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_bank_audio_has_a_duration_in_chromium(server):
    browser_or_skip()
    files = sorted((BANK / "media" / "audio").glob("*.ogg"))
    assert files, "the bank ships audio"
    sample = [files[0], files[len(files) // 2], files[-1]]
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        page = browser.new_page()
        page.goto(f"{server}/media/")  # an HTML page (a folder listing) on the same origin
        for f in sample:
            url = f"{server}/media/audio/{f.name}"
            duration = page.evaluate(
                """url => new Promise((resolve, reject) => {
                    const a = document.createElement('audio');
                    document.body.appendChild(a);
                    a.preload = 'auto';
                    a.onloadedmetadata = () => resolve(a.duration);
                    a.onerror = () => reject(new Error('cannot load ' + url));
                    a.src = url;
                })""",
                url,
            )
            assert duration > 0.2, f.name
