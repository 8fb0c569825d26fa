"""Real headless Chromium (Debian's /usr/bin/chromium) and a real Voila server for tests."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil

from lang_assess.ui.serve import PARTICIPANT_LIMITS, PARTICIPANT_PAGE, ServerLimits, voila_command
from support import REPO

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = REPO / "dashboards"
ARTIFACTS = REPO / "artifacts"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"


def fonts_only(folder: Path, *patterns: str) -> dict[str, str]:
    """An environment whose fontconfig sees only the font files matching ``patterns``
    (globs): a phone without the Ethiopic or Arabic fonts this machine may have."""
    import glob

    fonts = folder / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    for pattern in patterns:
        for f in glob.glob(pattern):
            link = fonts / Path(f).name
            if not link.exists():
                link.symlink_to(f)
    conf = folder / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
                    f"<fontconfig><dir>{fonts}</dir><cachedir>{folder / 'cache'}</cachedir>"
                    f"</fontconfig>")
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


@contextlib.contextmanager
def chromium(*extra_flags: str, env: dict[str, str] | None = None) -> Iterator:
    """Debian's headless Chromium driven by Playwright (never `playwright install`);
    ``env`` replaces the browser's environment (e.g. a FONTCONFIG_FILE)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *extra_flags],
                                    headless=True, env=env)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A port p with p and p + 1 free (``lang-assess serve`` puts teachers on p + 1),
    below the ephemeral range, where the kernels' own random ports cannot take them
    while the servers start."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two free neighbouring ports")


class VoilaServer:
    """A page (default: the participant's) served by the guarded Voila server on a free
    port, with its own data folder; ``limits`` (pool of one unless they say otherwise)
    and ``trusted_proxies`` as `lang-assess serve` would pass them."""

    def __init__(self, data_dir: Path, port: int | None = None,
                 notebook: Path = PAGES / PARTICIPANT_PAGE,
                 limits: ServerLimits | None = None,
                 trusted_proxies: tuple[str, ...] = (),
                 extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.port = port or free_port()
        self.notebook = notebook
        self.limits = limits
        self.trusted_proxies = trusted_proxies
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        jupyter = self.data_dir / "jupyter"
        # the kernel's working folder is the notebook's: every path goes absolute
        bank = os.environ.get("LANG_ASSESS_BANK") or str(REPO / "item_bank" / "nb")
        return {**os.environ, "LANG_ASSESS_DATA": str(self.data_dir), "LANG_ASSESS_BANK": bank,
                "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
                "JUPYTER_DATA_DIR": str(jupyter / "data"),
                "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
                "IPYTHONDIR": str(jupyter / "ipython"), **self.extra_env}

    def start(self) -> VoilaServer:
        log = (self.data_dir / f"voila-{self.port}.log").open("ab")
        command = voila_command(self.notebook, self.port, self.limits or PARTICIPANT_LIMITS,
                                pool_size=None if self.limits else 1,
                                trusted_proxies=self.trusted_proxies)
        self.proc = subprocess.Popen(command,
                                     env=self.env(), stdout=log, stderr=log,
                                     start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.url + "voila/static/", timeout=2)
                return self
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.url, timeout=2)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        log_text = (self.data_dir / f"voila-{self.port}.log").read_text()[-2000:]
        raise RuntimeError(f"voila did not start: {log_text}")

    def kernels(self) -> list[psutil.Process]:
        """The kernel processes this server runs, oldest first."""
        if self.proc is None:
            return []
        kernels = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):  # gone or a zombie while we look
                if "ipykernel" in " ".join(child.cmdline()) and child.status() != "zombie":
                    kernels.append((child.create_time(), child))
        return [k for _, k in sorted(kernels, key=lambda pair: pair[0])]

    def page_kernels(self) -> list[psutil.Process]:
        """Kernels serving pages: all but the newest, which waits preheated in the pool."""
        return self.kernels()[:-1]

    def kill(self) -> None:
        """SIGKILL the server and every kernel it started."""
        if self.proc is None:
            return
        for kernel in self.kernels():
            with contextlib.suppress(psutil.NoSuchProcess):
                kernel.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None
