"""Throwaway PostgreSQL server for database tests.

``with PostgresServer() as pg:`` runs ``initdb`` in a fresh temporary directory, starts a
server on a free loopback port with trust authentication and durability switched off, and
yields SQLAlchemy URLs (``pg.url``, ``pg.create_database(name)``). On exit the server is
stopped (immediate mode) and the directory is deleted. PostgreSQL refuses to run as root, so
when this process is root the server commands run as the ``postgres`` OS user via
``runuser`` (or ``su``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

SUPERUSER = "lang_assess"
OS_USER = "postgres"
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def find_pg_bin() -> Path | None:
    """Return the directory holding initdb/pg_ctl/postgres, newest version first, else PATH."""

    def version(path: Path) -> tuple[int, ...]:
        parts = path.parent.name.split(".")
        return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (0,)

    tools = ("initdb", "pg_ctl", "postgres")
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for directory in candidates:
        if all((directory / tool).is_file() for tool in tools):
            return directory
    initdb = shutil.which("initdb")
    if initdb and all(shutil.which(tool) for tool in tools):
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A temporary PostgreSQL cluster on 127.0.0.1; use as a context manager."""

    def __init__(self, dbname: str = "lang_assess_test", bin_dir: Path | None = None) -> None:
        self.dbname = dbname
        self.bin_dir = bin_dir or find_pg_bin()
        self.port = 0
        self.tmp_dir: Path | None = None
        self.url = ""
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        assert self.tmp_dir is not None
        return self.tmp_dir / "data"

    @property
    def log_file(self) -> Path:
        assert self.tmp_dir is not None
        return self.tmp_dir / "server.log"

    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL of database ``dbname`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server log ('' if there is none)."""
        if self.tmp_dir is None:
            return ""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _run(self, *args: str, as_server_user: bool = True) -> None:
        """Run a PostgreSQL binary, as the ``postgres`` OS user when we are root."""
        assert self.bin_dir is not None and self.tmp_dir is not None
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if as_server_user and self._as_root:
            if shutil.which("runuser"):
                cmd = ["runuser", "-u", OS_USER, "--", *cmd]
            else:
                cmd = ["su", OS_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        try:
            proc = subprocess.run(
                cmd, cwd=self.tmp_dir, env=env, capture_output=True, text=True, timeout=120
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise self._error(f"{args[0]} failed: {exc}") from exc
        if proc.returncode != 0:
            raise self._error(f"{args[0]} exited {proc.returncode}: {proc.stdout}{proc.stderr}")

    def _error(self, message: str) -> RuntimeError:
        return RuntimeError(f"{message.rstrip()}\n--- server log tail ---\n{self.log_tail()}")

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its SQLAlchemy URL."""
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"invalid database name: {name!r}")
        args = ["--host=127.0.0.1", f"--port={self.port}", f"--username={SUPERUSER}", name]
        self._run("createdb", *args, as_server_user=False)
        return self.url_for(name)

    def __enter__(self) -> PostgresServer:
        if self.bin_dir is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl, postgres) not found")
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="lang_assess_pg_"))
        try:
            if self._as_root:
                pw = pwd.getpwnam(OS_USER)
                os.chown(self.tmp_dir, pw.pw_uid, pw.pw_gid)
            data = f"--pgdata={self.data_dir}"
            initdb_opts = ["--auth=trust", f"--username={SUPERUSER}", "--encoding=UTF8"]
            self._run("initdb", data, *initdb_opts, "--locale=C", "--no-sync")
            # Appending/truncating keeps the files' owner (postgres) even when we are root.
            with open(self.data_dir / "pg_hba.conf", "w") as hba:
                hba.write("local all all trust\nhost all all 127.0.0.1/32 trust\n")
            self.port = _free_port()
            with open(self.data_dir / "postgresql.conf", "a") as conf:
                conf.write(
                    f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.tmp_dir}'\nmax_connections = 100\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                )
            self._run("pg_ctl", "start", "--wait", "--timeout=60", data, f"--log={self.log_file}")
            self.url = self.create_database(self.dbname)
        except BaseException:
            with contextlib.suppress(Exception):  # keep the original error
                self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the server (if running) and delete the temporary directory."""
        if self.tmp_dir is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                data = f"--pgdata={self.data_dir}"
                self._run("pg_ctl", "stop", "--wait", "--mode=immediate", data)
        finally:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.tmp_dir = None
