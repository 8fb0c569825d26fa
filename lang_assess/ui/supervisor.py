"""The page servers as one process set: start, watch, stop cleanly on SIGTERM.

``lang-assess serve`` runs the participant page in one Voila server and the teachers'
page in another; with ``--instances N`` it runs N participant servers and the teachers'
server on loopback behind nginx (:mod:`lang_assess.ui.proxy`).  A supervisor (systemd, a
container runtime, Ctrl-C) stops the whole set with one SIGTERM or SIGINT: the proxy
first, then every server, then any kernel left behind.  Kernels are launched through
:mod:`lang_assess.ui.kernel` and die with their server; a server that dies on its own has
its leftover kernels swept (found by the server's own runtime folder in their command
line) and the set goes on with the others, which the proxy fails over to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lang_assess.ui.kernel import install_kernelspec
from lang_assess.ui.proxy import nginx_config
from lang_assess.ui.serve import PARTICIPANT_PAGE, TEACHER_PAGE, voila_command

STOP_SECONDS = 20  # how long a server gets to exit after SIGTERM before SIGKILL
INTERNAL_OFFSET = 100  # behind the proxy, page servers listen on port + 100 + k


@dataclass
class Child:
    """One process of the set: a page server or the proxy."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    runtime_dir: Path | None = None  # a page server's Jupyter runtime folder (its kernels)
    proc: subprocess.Popen | None = None
    gone: bool = False

    def start(self) -> None:
        """Start in its own process group, output appended to ``log``."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        """Running now."""
        return self.proc is not None and self.proc.poll() is None


@dataclass
class ProcessSet:
    """Page servers (and, with several, the proxy) for one deployment on this machine.

    ``port`` is where participants connect and ``port + 1`` teachers; ``instances``
    participant servers; ``env`` the environment every server gets (settings as absolute
    paths, Jupyter folders); ``state_dir`` holds logs, runtime folders and the proxy's
    configuration.
    """

    pages: Path
    state_dir: Path
    env: dict[str, str]
    port: int
    instances: int = 1
    pool_size: int = 30
    listen: str = "127.0.0.1"
    cookie_secure: bool = False
    only: str | None = None  # "participant" or "teachers": one page (a container's job)
    log: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    _stopping: bool = False

    def plan(self) -> list[Child]:
        """The processes to start, in start order (servers first, the proxy last)."""
        jupyter = Path(self.env["JUPYTER_DATA_DIR"])
        install_kernelspec(jupyter)
        proxied = self.instances > 1
        base = self.port + INTERNAL_OFFSET if proxied else self.port
        host = "127.0.0.1" if proxied else self.listen
        children = []
        servers = [(f"participant-{k + 1}", PARTICIPANT_PAGE, base + k, self.pool_size)
                   for k in range(self.instances)]
        teacher_port = base + self.instances if proxied else self.port + 1
        servers.append(("teachers", TEACHER_PAGE, teacher_port, 2))
        if self.only is not None:
            if proxied:
                raise ValueError("one page per process set runs without the proxy")
            servers = [s for s in servers if s[0].startswith(self.only)]
            servers = [(n, page, self.port, pool) for n, page, _, pool in servers]
        for name, page, port, pool in servers:
            runtime = self.state_dir / "runtime" / name
            env = {**self.env, "JUPYTER_RUNTIME_DIR": str(runtime)}
            children.append(Child(name, voila_command(self.pages / page, port, pool_size=pool,
                                                      ip=host), env,
                                  self.state_dir / "logs" / f"{name}.log", runtime))
        if proxied:
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            prefix = self.state_dir / "nginx"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
            conf = prefix / "nginx.conf"
            conf.write_text(nginx_config(
                [f"127.0.0.1:{base + k}" for k in range(self.instances)],
                [f"127.0.0.1:{teacher_port}"], listen=self.listen, port=self.port,
                teacher_port=self.port + 1, prefix=prefix, cookie_secure=self.cookie_secure),
                encoding="utf-8")
            children.append(Child("proxy", [nginx, "-p", str(prefix), "-c", str(conf),
                                            "-e", str(prefix / "error.log")],
                                  dict(self.env), self.state_dir / "logs" / "proxy.log"))
        return children

    def start(self) -> None:
        """Start every process of the plan."""
        self.children = self.plan()
        for child in self.children:
            child.start()
            self.log(f"started {child.name} (pid {child.proc.pid})")

    def run(self) -> int:
        """Start, then watch until SIGTERM/SIGINT or until no participant server is left;
        returns the exit status (0 after a requested stop)."""
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGTERM,
                                                                        signal.SIGINT)}
        try:
            self.start()
            while not self._stopping:
                self.watch()
                if not any(c.alive() for c in self.children if c.name != "proxy"):
                    self.log("no page server is running: stopping")
                    return 1
                time.sleep(0.5)
            return 0
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)

    def watch(self) -> list[str]:
        """Notice servers that died since the last look; sweep their kernels.  Returns
        their names."""
        died = []
        for child in self.children:
            if child.proc is not None and not child.gone and child.proc.poll() is not None:
                child.gone = True
                died.append(child.name)
                swept = sweep_kernels(child.runtime_dir) if child.runtime_dir else 0
                self.log(f"{child.name} stopped (exit {child.proc.returncode}); "
                         f"{swept} leftover kernel(s) ended")
        return died

    def stop(self) -> None:
        """Stop the proxy, then the servers (SIGTERM, then SIGKILL after a grace period),
        then any kernel they left."""
        for group in ([c for c in self.children if c.name == "proxy"],
                      [c for c in self.children if c.name != "proxy"]):
            for child in group:
                if child.alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_SECONDS
            for child in group:
                if child.proc is None:
                    continue
                try:
                    child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.proc.pid, signal.SIGKILL)
                    child.proc.wait()
        for child in self.children:
            if child.runtime_dir is not None:
                sweep_kernels(child.runtime_dir)

    def _request_stop(self, signum: int, _frame: object) -> None:
        self._stopping = True


def sweep_kernels(runtime_dir: Path) -> int:
    """End every kernel whose connection file lies in ``runtime_dir`` (a page server's own
    runtime folder); returns how many were ended."""
    import psutil

    marker = str(Path(runtime_dir).resolve()) + os.sep
    ended = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(part.startswith(marker) and part.endswith(".json") for part in cmdline):
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
                ended.append(proc)
    _, alive = psutil.wait_procs(ended, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return len(ended)


def jupyter_env(data_dir: Path) -> dict[str, str]:
    """Jupyter's folders inside the data folder (nothing under the user's home)."""
    jupyter = Path(data_dir) / "jupyter"
    return {"JUPYTER_CONFIG_DIR": str(jupyter / "config"),
            "JUPYTER_DATA_DIR": str(jupyter / "share"),
            "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
            "IPYTHONDIR": str(jupyter / "ipython")}

