"""The page kernels' launcher: a kernel dies with the page server that started it.

Voila starts one kernel per page view.  If its server is killed (SIGKILL, a crash, the
OOM killer) the kernels would live on as orphans holding ~100 MB each; launched through
this module they get SIGTERM the moment their parent dies (Linux ``PR_SET_PDEATHSIG``,
kept across the rest of the start-up) and then run ipykernel as usual.  ``lang-assess
serve`` installs it as the page servers' ``python3`` kernel (:func:`install_kernelspec`).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def install_kernelspec(data_dir: Path, python: str = sys.executable) -> Path:
    """Write a ``python3`` kernelspec into the Jupyter data folder ``data_dir`` (the one a
    page server is started with) that launches kernels through this module."""
    spec_dir = Path(data_dir) / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    # no input history: a page kernel runs one notebook; the history is a SQLite file and
    # a writer thread per kernel
    spec = {"argv": [python, "-m", "lang_assess.ui.kernel", "-f", "{connection_file}",
                     "--HistoryManager.enabled=False"],
            "display_name": "Python 3 (dies with its page server)", "language": "python",
            "metadata": {"debugger": False}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return spec_dir


def main() -> None:
    """Set the parent-death signal, then start ipykernel with the given arguments."""
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the server died before the signal was armed
        sys.exit(0)
    # a page kernel is never debugged (the spec says so, Voila has no debugger); without
    # this ipykernel imports debugpy anyway: ~8 MB and 130 modules in every kernel
    sys.modules["debugpy"] = None
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
