"""The page servers as one process set: start, watch, stop cleanly on SIGTERM.

``lang-assess serve`` runs the participant page in one Voila server and the teachers'
page in another, each a guarded page server (:mod:`lang_assess.ui.guard`, its limits from
:mod:`lang_assess.ui.serve`); with ``--instances N`` it runs N participant servers and the
teachers' server on loopback behind nginx (:mod:`lang_assess.ui.proxy`), which they trust
for the client's address (their per-client limits count browsers, not the proxy).
A supervisor (systemd, a container runtime, Ctrl-C) stops the whole set with one SIGTERM
or SIGINT: the proxy first, then every server, then any kernel left behind. Kernels are
launched through :mod:`lang_assess.ui.kernel` and die with their server; a server that
dies on its own has its leftover kernels swept (found by the server's own runtime folder
in their command line) and the set goes on with the others, which the proxy fails over to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lang_assess.ui.kernel import die_with_parent, install_kernelspec
from lang_assess.ui.proxy import nginx_config
from lang_assess.ui.serve import (
    PARTICIPANT_LIMITS,
    PARTICIPANT_PAGE,
    TEACHER_LIMITS,
    TEACHER_PAGE,
    ServerLimits,
    voila_command,
)

STOP_SECONDS = 20  # how long a server gets to exit after SIGTERM before SIGKILL


@dataclass
class Child:
    """One process of the set: a page server or the proxy."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    runtime_dir: Path | None = None  # a page server's Jupyter runtime folder (its kernels)
    port: int = 0  # the port a page server listens on
    proc: subprocess.Popen | None = None
    gone: bool = False

    def start(self) -> None:
        """Start in its own process group, output appended to ``log``."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            # its own process group (a signal to the set reaches each child once), and it
            # dies with the supervisor even if the supervisor is SIGKILLed
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=die_with_parent)

    def alive(self) -> bool:
        """Running now."""
        return self.proc is not None and self.proc.poll() is None


@dataclass
class ProcessSet:
    """Page servers (and, with several, the proxy) for one deployment on this machine.

    ``port`` is where participants connect and ``port + 1`` teachers; ``instances``
    participant servers, each with ``participant_limits`` (``pool_size`` overrides its
    pool); ``env`` the environment every server gets (settings as absolute
    paths, Jupyter folders); ``state_dir`` holds logs, runtime folders and the proxy's
    configuration.  ``trusted_proxies``: reverse proxies in front of this set whose
    X-Forwarded-For/-Proto the servers believe (our own nginx is added when there is
    one); ``cookie_secure``: every cookie (the proxy's route, the servers' device and
    xsrf cookies) marked ``Secure`` (behind TLS).
    """

    pages: Path
    state_dir: Path
    env: dict[str, str]
    port: int
    instances: int = 1
    pool_size: int | None = None  # preheated kernels per participant server (limits')
    participant_limits: ServerLimits = PARTICIPANT_LIMITS
    listen: str = "127.0.0.1"
    cookie_secure: bool = False
    only: str | None = None  # "participant" or "teachers": one page (a container's job)
    trusted_proxies: tuple[str, ...] = ()
    log: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    _stopping: bool = False

    def _server(self, name: str, page: str, port: int, pool: int, host: str) -> Child:
        runtime = self.state_dir / "runtime" / name
        runtime.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "JUPYTER_RUNTIME_DIR": str(runtime)}
        limits = TEACHER_LIMITS if page == TEACHER_PAGE else self.participant_limits
        proxies = tuple(self.trusted_proxies)
        if self.instances > 1 and "127.0.0.1" not in proxies:
            proxies += ("127.0.0.1",)  # our nginx
        command = voila_command(self.pages / page, port, limits, pool_size=pool, ip=host,
                                connection_dir=runtime, trusted_proxies=proxies,
                                secure_cookies="always" if self.cookie_secure else "auto")
        child = Child(name, command, env, self.state_dir / "logs" / f"{name}.log", runtime)
        child.port = port
        return child

    def plan(self) -> list[Child]:
        """The page servers to start (the proxy comes after them, on the ports they got).

        Alone, the participant server takes ``port`` and the teachers' ``port + 1``.
        Behind the proxy each takes a free loopback port found now; one taken meanwhile
        (a kernel's random port, say) is replaced when the server starts
        (:meth:`start`).
        """
        install_kernelspec(Path(self.env["JUPYTER_DATA_DIR"]))
        proxied = self.instances > 1
        pages = [(f"participant-{k + 1}", PARTICIPANT_PAGE, self.pool_size)
                 for k in range(self.instances)] + [("teachers", TEACHER_PAGE,
                                                     TEACHER_LIMITS.pool_size)]
        if self.only is not None:
            if proxied:
                raise ValueError("one page per process set runs without the proxy")
            pages = [p for p in pages if p[0].startswith(self.only)]
            ports = [self.port]
        else:
            ports = free_ports(len(pages)) if proxied else [self.port, self.port + 1]
        host = "127.0.0.1" if proxied else self.listen
        return [self._server(name, page, port, pool, host)
                for (name, page, pool), port in zip(pages, ports, strict=True)]

    def _proxy(self) -> Child:
        """nginx on ``listen:port`` (participants) and ``port + 1`` (teachers), in front
        of the servers on the ports they listen on now."""
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        prefix = self.state_dir / "nginx"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        participants = [f"127.0.0.1:{c.port}" for c in self.children
                        if c.name.startswith("participant")]
        teachers = [f"127.0.0.1:{c.port}" for c in self.children if c.name == "teachers"]
        conf.write_text(nginx_config(participants, teachers, listen=self.listen,
                                     port=self.port, teacher_port=self.port + 1,
                                     prefix=prefix, cookie_secure=self.cookie_secure),
                        encoding="utf-8")
        return Child("proxy", [nginx, "-p", str(prefix), "-c", str(conf), "-e",
                               str(prefix / "error.log")], dict(self.env),
                     self.state_dir / "logs" / "proxy.log")

    def start(self, timeout: float = 300) -> None:
        """Start the page servers, wait until each listens (one that cannot take its
        port is started again on another free port), then the proxy."""
        self.children = self.plan()
        for child in self.children:
            child.start()
        deadline = time.monotonic() + timeout
        for k, child in enumerate(self.children):
            for _attempt in range(3):
                if wait_listening(child, deadline):
                    break
                if self.instances == 1:
                    raise RuntimeError(f"{child.name} could not listen on port {child.port} "
                                       f"(see {child.log})")
                replacement = self._server(child.name, Path(child.command[3]).name,
                                           free_ports(1)[0], _pool_of(child), "127.0.0.1")
                self.log(f"{child.name} could not take port {child.port}; "
                         f"trying {replacement.port}")
                replacement.start()
                self.children[k] = child = replacement
            else:
                raise RuntimeError(f"{child.name} did not start (see {child.log})")
            self.log(f"{child.name} listens on port {child.port} (pid {child.proc.pid})")
        if self.instances > 1:
            proxy = self._proxy()
            proxy.start()
            self.children.append(proxy)
            self.log(f"proxy listens on {self.listen}:{self.port} and {self.port + 1}")

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


def free_ports(n: int) -> list[int]:
    """n distinct loopback ports that are free now (the OS picks them)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_listening(child: Child, deadline: float) -> bool:
    """True once ``child`` accepts connections on its port; False if it exits first."""
    while time.monotonic() < deadline:
        if not child.alive():
            return False
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", child.port)) == 0:
                return True
        time.sleep(0.3)
    return False


def _pool_of(child: Child) -> int:
    return int(next(a for a in child.command if a.startswith("--pool_size=")).split("=")[1])


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
    """Jupyter's folders inside the data folder (nothing under the user's home).
    ``JUPYTER_PATH`` puts the data folder first: in a virtual environment Jupyter would
    otherwise prefer the environment's own ``python3`` kernelspec to ours."""
    jupyter = Path(data_dir) / "jupyter"
    return {"JUPYTER_CONFIG_DIR": str(jupyter / "config"),
            "JUPYTER_DATA_DIR": str(jupyter / "share"),
            "JUPYTER_PATH": str(jupyter / "share"),
            "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
            "IPYTHONDIR": str(jupyter / "ipython")}

