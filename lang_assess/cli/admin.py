"""``lang-assess admin init``, ``backup``, ``restore`` and ``retention run``: what an
organisation's operator does on the server (docs/programme/operations.md)."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``admin``, ``backup``, ``restore`` and ``retention`` to the subcommands ``sub``."""
    admin = sub.add_parser("admin", help="set up an organisation and its first admin")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    init = admin_sub.add_parser("init", help="a new organisation and its first admin account "
                                "(the password is asked for, never shown)")
    init.add_argument("--organisation", required=True, help="e.g. 'Kristiansand kommune'")
    init.add_argument("--user", required=True, help="the admin's user name")
    init.add_argument("--password-stdin", action="store_true",
                      help="read the password from the first line of standard input "
                           "(for automation) instead of asking twice")
    init.set_defaults(handler=_admin_init)

    bk = sub.add_parser("backup", help="a consistent copy of the database (SQLite online "
                        "backup; PostgreSQL pg_dump)")
    bk.add_argument("out", help="the backup file to write (must not exist)")
    bk.add_argument("--pg-bin", type=Path, help="folder of pg_dump / pg_restore")
    bk.set_defaults(handler=_backup)

    rs = sub.add_parser("restore", help="replace the database with a backup (stop the page "
                        "servers first)")
    rs.add_argument("src", help="a file written by `lang-assess backup`")
    rs.add_argument("--yes", action="store_true",
                    help="confirm: everything written since the backup is lost")
    rs.add_argument("--pg-bin", type=Path, help="folder of pg_dump / pg_restore")
    rs.set_defaults(handler=_restore)

    rt = sub.add_parser("retention", help="apply the retention rule of programme.yaml")
    rt_sub = rt.add_subparsers(dest="retention_command", required=True)
    run = rt_sub.add_parser("run", help="anonymise (or delete) participants who left the "
                            "programme retention_days ago; run it daily")
    run.set_defaults(handler=_retention_run)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"Password for {args.user}: ")
    if getpass.getpass("The same password again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _admin_init(args: argparse.Namespace) -> int:
    """Create the organisation and its admin in one transaction (the password is kept
    only as a hash and never printed)."""
    from lang_assess.programme.service import open_service

    service = open_service()
    password = _read_password(args)
    service.set_up_organisation(args.organisation, args.user, password)
    print(f"organisation {args.organisation!r} and its admin {args.user!r} are ready; "
          "log in on the teachers' page")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from lang_assess.programme.settings import Settings
    from lang_assess.programme.store.backup import backup

    out = backup(Settings.from_env().database_url, Path(args.out), pg_bin=args.pg_bin)
    print(f"backup written: {out} ({out.stat().st_size:,} bytes)")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from lang_assess.programme.settings import Settings
    from lang_assess.programme.store.backup import restore
    from lang_assess.programme.store.db import make_engine, migrate

    if not args.yes:
        raise ValueError("restore replaces the database and loses everything written since "
                         "the backup; stop the page servers and add --yes")
    url = Settings.from_env().database_url
    restore(url, Path(args.src), pg_bin=args.pg_bin)
    engine = make_engine(url)
    migrate(engine)  # an older backup is brought up to this version's schema
    engine.dispose()
    print(f"restored {args.src}")
    return 0


def _retention_run(args: argparse.Namespace) -> int:
    from lang_assess.programme.service import open_service

    service = open_service()
    report = service.run_retention()
    print(f"retention ({service.config.retention_action} after "
          f"{service.config.retention_days} days): {report.anonymised} anonymised, "
          f"{report.deleted} deleted; {report.sessions_forgotten} old teacher sessions and "
          f"{report.devices_forgotten} unused devices forgotten")
    return 0
