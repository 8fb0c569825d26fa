"""`lang-assess serve` (what `make demo` runs): URL, logins, and a page with no code."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support.browser import free_port

pytestmark = pytest.mark.browser

SCRIPT = Path(sys.executable).parent / "lang-assess"


def test_serve_prints_the_url_and_logins_and_hides_the_notebook(tmp_path):
    (tmp_path / "demo-logins.txt").write_text("teacher: kari pw\ncode: ABCD-EFGH (x)\n")
    port = free_port()
    proc = subprocess.Popen([str(SCRIPT), "serve", "--port", str(port), "--pool-size", "1"],
                            env={**os.environ, "LANG_ASSESS_DATA": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(6)]
        assert f"http://127.0.0.1:{port}/" in lines
        assert f"http://127.0.0.1:{port + 1}/" in lines
        assert "teacher: kari pw" in lines and "code: ABCD-EFGH (x)" in lines
        deadline, page = time.monotonic() + 300, b""
        while time.monotonic() < deadline and not page:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60).read()
            except OSError:
                time.sleep(0.5)
        assert page, "the participant page did not load"
        text = page.decode()
        assert "make_app" not in text and "lang_assess" not in text  # sources stripped
        for path in ("tree", "voila/tree", "api/contents", "voila/files/test.ipynb"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=5)
                reachable = True
            except OSError:
                reachable = False
            assert not reachable, path
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_the_participant_page_imports_no_torch_pyro_or_py_irt(tmp_path):
    code = ("import sys, lang_assess.ui.participant_page as t; app = t.make_app(); "
            "heavy = [m for m in ('torch', 'pyro', 'py_irt') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "LANG_ASSESS_DATA": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
