"""Backup and restore of the database, with each database's own tools.

SQLite: the online backup API (a consistent copy while the pages keep writing; a
restore copies the backup's pages back the same way).  PostgreSQL: ``pg_dump
--format=custom`` and ``pg_restore --clean --if-exists --single-transaction`` (the
client tools of the server's major version or newer; found on PATH or under
``/usr/lib/postgresql/*/bin``).  docs/programme/operations.md says when and how.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from lang_assess.errors import LangAssessError

PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(LangAssessError):
    """A backup or restore could not be done (the message says why)."""


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def pg_tool(name: str, pg_bin: Path | None = None) -> Path:
    """The PostgreSQL client tool ``name`` (``pg_dump``, ``pg_restore``): in ``pg_bin``,
    on PATH, or the newest under /usr/lib/postgresql."""
    if pg_bin is not None:
        candidates = [Path(pg_bin) / name]
    else:
        found = shutil.which(name)
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                          key=lambda p: [int(x) for x in p.parent.parent.name.split(".")
                                         if x.isdigit()], reverse=True)
        candidates = [*versions, *([Path(found)] if found else [])]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise BackupError(f"{name} not found (install PostgreSQL's client tools or pass --pg-bin)")


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it."""
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise BackupError(f"{Path(cmd[0]).name} failed: {lines[-1] if lines else proc.returncode}")


def backup(database_url: str, out: Path, *, pg_bin: Path | None = None) -> Path:
    """Write a consistent backup of the database at ``database_url`` to ``out`` (an
    SQLite file, or a ``pg_dump`` custom-format archive); refuses to overwrite."""
    url, out = make_url(database_url), Path(out)
    if out.exists():
        raise BackupError(f"{out} exists; choose a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if url.get_backend_name() == "sqlite":
            source = sqlite3.connect(_sqlite_path(url))
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        elif url.get_backend_name() == "postgresql":
            uri, env = _libpq(url)
            _run([str(pg_tool("pg_dump", pg_bin)), "--format=custom", "--no-owner",
                  "--no-privileges", f"--file={partial}", f"--dbname={uri}"], env)
        else:
            raise BackupError(f"no backup for {url.get_backend_name()} databases")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def restore(database_url: str, src: Path, *, pg_bin: Path | None = None) -> None:
    """Replace the database at ``database_url`` with the backup ``src`` (made by
    :func:`backup` on the same kind of database).  Everything written since the backup
    is lost: stop the page servers first."""
    url, src = make_url(database_url), Path(src)
    if not src.is_file():
        raise BackupError(f"{src}: no such backup file")
    head = _head(src)
    if url.get_backend_name() == "sqlite":
        if not head.startswith(SQLITE_MAGIC):
            raise BackupError(f"{src} is not an SQLite backup")
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in source.execute("SELECT name FROM sqlite_master")}
            if "alembic_version" not in tables:
                raise BackupError(f"{src} is not a lang_assess database")
            path = _sqlite_path(url)
            path.parent.mkdir(parents=True, exist_ok=True)
            target = sqlite3.connect(path, timeout=60)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    elif url.get_backend_name() == "postgresql":
        if not head.startswith(PG_MAGIC):
            raise BackupError(f"{src} is not a pg_dump custom-format archive")
        uri, env = _libpq(url)
        _run([str(pg_tool("pg_restore", pg_bin)), "--clean", "--if-exists", "--no-owner",
              "--no-privileges", "--single-transaction", f"--dbname={uri}", str(src)], env)
    else:
        raise BackupError(f"no restore for {url.get_backend_name()} databases")


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(16)
