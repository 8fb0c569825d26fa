"""Engine and session set-up, and migrations.

One setting chooses the database (:class:`~lang_assess.programme.settings.Settings`:
``LANG_ASSESS_DB``, a SQLAlchemy URL).  Without it the embedded default is one SQLite file
in the data folder, created on first use, in WAL mode.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (e.g. :attr:`Settings.database_url
    <lang_assess.programme.settings.Settings.database_url>`), ready for concurrent use.

    SQLite: the folder is created, WAL journal, foreign keys on, ``synchronous=FULL`` (a
    committed answer survives a crash), and every transaction starts ``BEGIN IMMEDIATE``
    so that concurrent writers wait for each other instead of failing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_setup(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to date (Alembic ``upgrade head``), or up to
    ``revision``."""
    _alembic(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database schema back down to ``revision`` (Alembic ``downgrade``)."""
    _alembic(engine, "downgrade", revision)


def _alembic(engine: Engine, verb: str, revision: str) -> None:
    """Run an Alembic command in one transaction.

    SQLite changes a column by copying the table, dropping it and renaming the copy; with
    foreign keys on, dropping a table that other rows refer to fails (deferring the check
    does not help: SQLite counts the violations at the drop).  So foreign keys are off for
    the migration (they can only be switched outside a transaction) and checked whole
    before it commits.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                getattr(command, verb)(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration {verb} {revision} would leave rows "
                                           f"that refer to nothing: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def head_revision() -> str:
    """The newest migration's revision id, read from the migration files (no Alembic
    import: a page kernel only needs to know whether its database is current)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revisions |= set(re.findall(r"^revision = ['\"]([^'\"]+)['\"]", text, re.M))
        parents |= set(re.findall(r"^down_revision = ['\"]([^'\"]+)['\"]", text, re.M))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def ensure_current(engine: Engine) -> None:
    """Migrate only when the database is not at the newest revision (Alembic, ~12 MB and a
    second, is imported only then)."""
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        current = None
    if current != head_revision():
        migrate(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
