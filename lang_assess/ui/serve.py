"""Serving the pages: one guarded Voila server per audience, nothing but the page exposed.

Each page runs in its own server (:mod:`lang_assess.ui.guard`: Voila in single-notebook
mode, sources stripped, tracebacks off, the pages' CSP-clean template) with its limits
written out here, one :class:`ServerLimits` per audience, so a deployment with several
page servers behind a proxy sets every number explicitly.  docs/ui/serving.md has what
each number costs (memory per kernel, measured) and how to size them.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# the page notebooks, in the folder `lang-assess serve --pages` names (default dashboards/)
PARTICIPANT_PAGE = "participant.ipynb"
TEACHER_PAGE = "teacher.ipynb"
# the pages' Voila template (lang_assess/ui/share/voila/templates/strict): no inline script
TEMPLATE = "strict"


@dataclass(frozen=True)
class ServerLimits:
    """What one page server allows.

    ``pool_size`` preheated kernels wait for page loads (each has imported the app and
    loaded the bank); at most ``max_kernels`` page kernels are in use,
    ``max_kernels_per_client`` for one address (a class behind one school router shares
    an address) and ``max_unconnected_per_client`` of those before their page connects
    (bare page loads cannot empty the pool); beyond them a page load gets the busy page.
    A page kernel is culled after ``cull_idle_seconds`` without a message (connected or
    not), after ``unconnected_seconds`` if its page never connected; pool kernels older
    than ``pool_max_age_seconds`` are replaced.  Culling runs every
    ``cull_interval_seconds``.
    A kernel taken from the pool is replaced ``refill_delay_seconds`` later: starting a
    kernel takes seconds of CPU, which the page loads of that moment need more.
    """

    pool_size: int
    max_kernels: int
    max_kernels_per_client: int
    cull_idle_seconds: int
    max_unconnected_per_client: int = 10
    unconnected_seconds: int = 120
    pool_max_age_seconds: int = 3600
    cull_interval_seconds: int = 30
    refill_delay_seconds: float = 5.0


#: Browser extensions a page does not load (Voila loads every installed one otherwise:
#: plotly's alone is 4.8 MB, which a participant's phone does not need).
PAGE_EXTENSIONS_OFF = {
    PARTICIPANT_PAGE: ("jupyterlab-plotly", "jupyterlab_pygments"),
    TEACHER_PAGE: ("jupyterlab_pygments",),
}

#: One participant page kernel after a whole placement test, and one page server with
#: its proxy share, in MB of resident memory (benchmarks/bench_deployment.py,
#: docs/benchmarks.md): what :func:`participant_limits` divides a budget by.
PARTICIPANT_KERNEL_MB = 135
PAGE_SERVER_MB = 190


def participant_limits(memory_budget_mb: float, *,
                       kernel_mb: float = PARTICIPANT_KERNEL_MB,
                       server_mb: float = PAGE_SERVER_MB) -> ServerLimits:
    """The limits of one participant page server that fit in ``memory_budget_mb`` (MB).

    After the server's own ``server_mb`` the budget holds ``n`` kernels of ``kernel_mb``:
    a third of them preheated (at most 30, a class starting together), the rest in use
    (``max_kernels``), two thirds of those for one address.  Fewer kernels are culled
    sooner: ``cull_idle_seconds`` is 900 at 60 kernels in use or more and shrinks in
    proportion, never below 300 (a participant reading a passage or recording an answer
    is idle that long; one culled later reloads and resumes, docs/deployment.md).
    Raises ``ValueError`` when the budget holds fewer than 3 kernels.
    """
    n = int((memory_budget_mb - server_mb) // kernel_mb)
    if n < 3:
        raise ValueError(f"a memory budget of {memory_budget_mb:.0f} MB holds {max(n, 0)} "
                         f"participant kernels of {kernel_mb:.0f} MB after the server's "
                         f"{server_mb:.0f} MB; at least 3 are needed")
    pool = min(30, n // 3)
    in_use = n - pool
    return ServerLimits(pool_size=pool, max_kernels=in_use,
                        max_kernels_per_client=max(1, min(40, 2 * in_use // 3)),
                        max_unconnected_per_client=max(1, min(10, in_use // 6)),
                        cull_idle_seconds=int(min(900, max(300, 900 * in_use / 60))))


#: Without a budget: what ~12 GB buys, a pool of 30 (a class starting together from one
#: school address), 60 pages in use (room for reloads and a second class), 40 per address.
DEFAULT_BUDGET_MB = 12_340
PARTICIPANT_LIMITS = participant_limits(DEFAULT_BUDGET_MB)
#: Teachers: a staff room, a few tabs each; idle kernels go with the session (30 min).
TEACHER_LIMITS = ServerLimits(pool_size=2, max_kernels=20, max_kernels_per_client=10,
                              cull_idle_seconds=1800)


def voila_command(notebook: Path, port: int, limits: ServerLimits = PARTICIPANT_LIMITS, *,
                  pool_size: int | None = None, ip: str = "127.0.0.1",
                  trusted_proxies: Sequence[str] = (), secure_cookies: str = "auto",
                  connection_dir: Path | None = None) -> list[str]:
    """The command line of the page server for ``notebook`` on ``ip``:``port`` (loopback
    by default; a private address when a proxy on another machine forwards to it).

    ``pool_size`` overrides ``limits.pool_size`` (tests run with one).  The server takes
    exactly ``port`` or fails (Voila would otherwise move to a nearby port the proxy does
    not know).  ``connection_dir``: where its kernels' connection files go (so that a
    supervisor can find a dead server's kernels); default the system's temporary folder.
    ``trusted_proxies``: addresses of reverse proxies whose X-Forwarded-For and
    X-Forwarded-Proto are believed; ``secure_cookies``: "auto" (Secure when the request
    came over TLS) or "always".
    """
    if pool_size is not None:
        limits = dataclasses.replace(limits, pool_size=pool_size)
    proxies = ",".join(f'"{p}"' for p in trusted_proxies)
    off = PAGE_EXTENSIONS_OFF.get(Path(notebook).name, ())
    deny = [f"--VoilaConfiguration.extension_denylist={name}" for name in off]
    where = [f"--Voila.connection_dir_root={connection_dir}"] if connection_dir else []
    return [
        sys.executable, "-m", "lang_assess.ui.guard", str(notebook),
        f"--port={port}", "--Voila.port_retries=0", "--no-browser", f"--Voila.ip={ip}",
        *where,
        "--show_tracebacks=False", "--strip_sources=True", f"--template={TEMPLATE}",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        "--preheat_kernel=True", f"--pool_size={limits.pool_size}",
        # a busy machine can take more than nbclient's 4 s to send a cell's outputs; the
        # page would then render without its widget, for good (seen at load 70)
        "--VoilaExecutor.iopub_timeout=120",
        f"--MappingKernelManager.cull_idle_timeout={limits.cull_idle_seconds}",
        f"--MappingKernelManager.cull_interval={limits.cull_interval_seconds}",
        "--MappingKernelManager.cull_connected=True",
        "--VoilaConfiguration.file_allowlist=[]",
        f"--GuardedVoila.max_kernels={limits.max_kernels}",
        f"--GuardedVoila.max_kernels_per_client={limits.max_kernels_per_client}",
        f"--GuardedVoila.max_unconnected_per_client={limits.max_unconnected_per_client}",
        f"--GuardedVoila.unconnected_seconds={limits.unconnected_seconds}",
        f"--GuardedVoila.pool_max_age={limits.pool_max_age_seconds}",
        f"--VoilaKernelManager.fill_delay={limits.refill_delay_seconds}",
        f"--GuardedVoila.trusted_proxies=[{proxies}]",
        f"--GuardedVoila.secure_cookies={secure_cookies}",
        *deny,
    ]
