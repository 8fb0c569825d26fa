"""`lang-assess serve` (what `make demo` runs): URL, logins, and a page with no code."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from support.browser import free_port_pair

pytestmark = pytest.mark.browser

SCRIPT = Path(sys.executable).parent / "lang-assess"
ROUTE = "0123456789abcdef0123456789abcdef"  # a route id as the proxy hands them out


def test_serve_prints_the_url_and_logins_and_hides_the_notebook(tmp_path):
    (tmp_path / "demo-logins.txt").write_text("teacher: kari pw\ncode: ABCD-EFGH (x)\n")
    port = free_port_pair()
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
        for path in ("tree", "voila/tree", "api/contents", "voila/files/participant.ipynb"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=5)
                reachable = True
            except OSError:
                reachable = False
            assert not reachable, path
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_the_participant_page_imports_no_torch_py_irt_pandas_or_plotly(tmp_path):
    code = ("import sys, lang_assess.ui.participant_page as t; app = t.make_app(); "
            "heavy = [m for m in ('torch', 'pyro', 'py_irt', 'pandas', 'plotly', 'openpyxl', "
            "'scipy') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "LANG_ASSESS_DATA": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _get(url: str, cookie: str | None = None, timeout: float = 60) -> tuple[int, str, str]:
    """(status, body, Set-Cookie) of a GET, retried until the server answers."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read().decode(), "; ".join(r.headers.get_all("Set-Cookie") or [])
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _tree(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _role(proc: psutil.Process) -> str:
    cmd = " ".join(proc.cmdline())
    if "nginx" in cmd:
        return "proxy"
    if "lang_assess.ui.kernel" in cmd or "ipykernel" in cmd:
        return "kernel"
    return "voila" if "lang_assess.ui.guard" in cmd or "voila" in cmd else "other"


def _start_set(tmp_path, instances: int):
    port = free_port_pair()
    proc = subprocess.Popen([str(SCRIPT), "serve", "--port", str(port), "--pool-size", "1",
                             "--instances", str(instances)],
                            env={**os.environ, "LANG_ASSESS_DATA": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return port, proc


def test_sigterm_stops_every_server_the_proxy_and_their_kernels(tmp_path):
    port, proc = _start_set(tmp_path, instances=2)
    try:
        status, _, cookie = _get(f"http://127.0.0.1:{port}/", timeout=180)
        assert status == 200 and "la_route=" in cookie
        assert _get(f"http://127.0.0.1:{port + 1}/", timeout=180)[0] == 200
        children = _tree(proc.pid)
        roles = sorted(_role(c) for c in children)
        assert roles.count("voila") == 3 and roles.count("kernel") >= 3 and "proxy" in roles
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(children, timeout=20)
        assert alive == []
        for p in (port, port + 1):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", p)) != 0  # nobody holds the ports
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def test_a_killed_server_takes_its_kernels_and_the_proxy_fails_over(tmp_path):
    port, proc = _start_set(tmp_path, instances=2)
    try:
        _get(f"http://127.0.0.1:{port}/", cookie=f"la_route={ROUTE}", timeout=180)
        servers = {c.pid: c for c in _tree(proc.pid) if _role(c) == "voila"}
        first = next(c for c in servers.values()
                     if "runtime/participant-1" in " ".join(c.cmdline()))
        kernels = [k for k in first.children(recursive=True) if _role(k) == "kernel"]
        assert kernels  # the page's kernel and the preheated one
        first.kill()  # SIGKILL: no chance to shut its kernels down
        _, alive = psutil.wait_procs(kernels, timeout=20)
        assert alive == []  # they died with their server
        status, page, _ = _get(f"http://127.0.0.1:{port}/", cookie=f"la_route={ROUTE}", timeout=120)
        assert status == 200 and "lang_assess" not in page  # served by the other server
        assert proc.poll() is None  # the set goes on
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_a_page_kernel_runs_without_debugpy_or_input_history(tmp_path, monkeypatch):
    from jupyter_client.manager import start_new_kernel

    from lang_assess.ui.kernel import install_kernelspec

    install_kernelspec(tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        kc.execute("import sys; print('debugpy' in sys.modules and sys.modules['debugpy'] "
                   "is not None, get_ipython().history_manager.enabled)")
        out = ""
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert out.split() == ["False", "False"]
