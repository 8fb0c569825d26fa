"""``lang-assess demo-data`` and ``lang-assess serve``: the programme's database and pages."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``demo-data`` and ``serve`` to the subcommands ``sub``."""
    dd = sub.add_parser("demo-data", help="fill the database with a simulated programme")
    dd.add_argument("--participants", type=int, default=60)
    dd.add_argument("--weeks", type=int, default=20)
    dd.add_argument("--seed", type=int, default=2026)
    dd.add_argument("--bank", help="item bank folder (default: the settings' LANG_ASSESS_BANK)")
    dd.add_argument("--if-empty", action="store_true",
                    help="leave a database that already has data as it is")
    dd.set_defaults(handler=_demo_data)

    srv = sub.add_parser("serve", help="serve the participant page and the teachers' page")
    srv.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8866")),
                     help="participants connect here, teachers on the next port")
    srv.add_argument("--pool-size", type=int,
                     help="preheated kernels per participant server (default: the memory "
                          "budget's, or 30: a class starts together)")
    srv.add_argument("--memory-budget", type=float,
                     default=os.environ.get("LANG_ASSESS_MEMORY_BUDGET_GB"), metavar="GB",
                     help="memory for all participant page servers together: sets their "
                          "pools, kernel caps and culling (docs/deployment.md); default "
                          "$LANG_ASSESS_MEMORY_BUDGET_GB, else the limits for ~12 GB")
    srv.add_argument("--pages", default="dashboards",
                     help="folder of the page notebooks (participant.ipynb, teacher.ipynb)")
    srv.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                     help="a reverse proxy whose X-Forwarded-For/-Proto are believed "
                          "(repeat for several; docs/ui/serving.md)")
    srv.add_argument("--instances", type=int, default=1,
                     help="participant page servers; more than one runs behind nginx")
    srv.add_argument("--db", help="database URL for every server (default: the settings')")
    srv.add_argument("--listen", default="127.0.0.1",
                     help="address to listen on (the proxy's, with --instances > 1)")
    srv.add_argument("--secure-cookies", action="store_true",
                     help="mark cookies Secure (behind TLS)")
    srv.add_argument("--only", choices=("participant", "teachers"),
                     help="serve one page on --port (one container per page)")
    srv.set_defaults(handler=_serve)


def _demo_data(args: argparse.Namespace) -> int:
    """Build the demo programme through the service, or show what was built."""
    import dataclasses
    import datetime as dt

    from sqlalchemy import func, select

    from lang_assess.bank.loader import load_bank
    from lang_assess.programme.demo import build_demo
    from lang_assess.programme.rules import load_config
    from lang_assess.programme.service import Service
    from lang_assess.programme.settings import Settings
    from lang_assess.programme.store.db import make_engine, migrate
    from lang_assess.programme.store.models import Participant

    settings = Settings.from_env()
    if args.bank:
        settings = dataclasses.replace(settings, bank_dir=Path(args.bank).resolve())
    url = settings.database_url
    engine = make_engine(url)
    migrate(engine)
    notes = settings.data_dir / "demo-logins.txt"
    with engine.connect() as conn:
        existing = conn.scalar(select(func.count()).select_from(Participant))
    if existing:
        if not args.if_empty:
            raise ValueError(f"{url} already has {existing} participants; point "
                             "LANG_ASSESS_DB elsewhere or remove the file")
        print(f"demo database {url}: {existing} participants already there")
        if notes.exists():
            print(notes.read_text(encoding="utf-8"), end="")
        return 0
    bank = load_bank(settings.bank_dir)
    config = load_config(settings.config_file)
    print(f"building the demo programme in {url} (every test is a real adaptive test)…",
          file=sys.stderr)
    result = build_demo(
        lambda clock: Service(engine, bank, config, clock=clock, seed=args.seed),
        today=dt.date.today(), n_participants=args.participants, weeks=args.weeks,
        seed=args.seed, progress=lambda msg: print(f"  {msg}", file=sys.stderr),
    )
    lines = [f"teacher: {user} {password}" for user, password in result.teachers]
    lines += [f"code: {code}   ({who}, new intake, placement test due)"
              for who, code in result.codes]
    text = "\n".join(lines) + "\n"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text("# demo only: real access codes are shown once and never stored\n"
                     + text, encoding="utf-8")
    print(f"{result.participants} participants in {len(result.cohorts)} cohorts, "
          f"{result.tests} tests with {result.answers} answers, {result.missed} missed weeks, "
          f"{result.moved_up} moves up")
    print(text, end="")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Run the page servers as one process set (:mod:`lang_assess.ui.supervisor`); print
    the URLs and the demo logins; SIGTERM or Ctrl-C stops all of them."""
    import dataclasses

    from lang_assess.programme.settings import Settings
    from lang_assess.programme.store.db import make_engine, migrate
    from lang_assess.ui.serve import PARTICIPANT_LIMITS, participant_limits
    from lang_assess.ui.supervisor import ProcessSet, jupyter_env

    if args.instances < 1:
        raise ValueError("--instances must be at least 1")
    settings = Settings.from_env()
    if args.db:
        settings = dataclasses.replace(settings, db_url=args.db)
    data = settings.data_dir
    migrate(make_engine(settings.database_url))
    env = {**os.environ, **jupyter_env(data), **settings.to_env()}
    limits = (PARTICIPANT_LIMITS if args.memory_budget is None
              else participant_limits(float(args.memory_budget) * 1024 / args.instances))
    servers = ProcessSet(pages=Path(args.pages).resolve(), state_dir=data / "serve", env=env,
                         port=args.port, instances=args.instances, pool_size=args.pool_size,
                         participant_limits=limits,
                         listen=args.listen, cookie_secure=args.secure_cookies,
                         only=args.only, trusted_proxies=tuple(args.trusted_proxy),
                         log=lambda msg: print(f"serve: {msg}", file=sys.stderr, flush=True))
    host = "127.0.0.1" if args.listen in ("0.0.0.0", "::") else args.listen
    print("participant test page:")
    print(f"http://{host}:{args.port}/")
    print("teachers' overview:")
    print(f"http://{host}:{args.port + 1}/", flush=True)
    logins = data / "demo-logins.txt"
    if logins.exists():
        for line in logins.read_text(encoding="utf-8").splitlines():
            if line.startswith(("teacher:", "code:")):
                print(line)
    print("(Ctrl-C or SIGTERM stops every server)", flush=True)
    return servers.run()
