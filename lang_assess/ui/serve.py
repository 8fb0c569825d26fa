"""Serving the pages with Voila: one server per audience, nothing but the page exposed.

The participant page runs in its own Voila server in single-notebook mode, so there is no
file browser, no other notebook and no code: sources stripped, tracebacks off.  Idle
kernels are culled and a pool of preheated kernels lets a class start together.
"""

from __future__ import annotations

import sys
from pathlib import Path

# the page notebooks, in the folder `lang-assess serve --pages` names (default dashboards/)
PARTICIPANT_PAGE = "participant.ipynb"
TEACHER_PAGE = "teacher.ipynb"


def voila_command(notebook: Path, port: int, *, pool_size: int = 30,
                  cull_idle_seconds: int = 900, ip: str = "127.0.0.1",
                  connection_dir: Path | None = None) -> list[str]:
    """The Voila command line for one page on ``ip``:``port`` (loopback by default; a
    private address when a proxy on another machine forwards to it).

    ``pool_size`` preheated kernels (default 30: a class starts together) absorb the
    import and bank loading before participants arrive.  The server takes exactly
    ``port`` or fails (Voila would otherwise move to a nearby port the proxy does not
    know).  ``connection_dir``: where its kernels' connection files go (so that a
    supervisor can find a dead server's kernels); default the system's temporary folder.
    """
    where = [f"--Voila.connection_dir_root={connection_dir}"] if connection_dir else []
    return [
        sys.executable, "-m", "voila", str(notebook),
        f"--port={port}", "--Voila.port_retries=0", "--no-browser", f"--Voila.ip={ip}",
        *where,
        "--show_tracebacks=False", "--strip_sources=True",
        "--preheat_kernel=True", f"--pool_size={pool_size}",
        # a busy machine can take more than nbclient's 4 s to send a cell's outputs; the
        # page would then render without its widget, for good (seen at load 70)
        "--VoilaExecutor.iopub_timeout=120",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_seconds}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
        "--VoilaConfiguration.file_allowlist=[]",
    ]
