"""`lang-assess admin init`, `backup`, `restore` and `retention run` as an operator runs
them, on SQLite and on a real PostgreSQL server (issue 19)."""

import datetime as dt
import os
import pty
import select as select_fd
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from support import REPO
from support.pg_server import find_pg_bin

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import AccessDenied, ClientInfo, Intake, Service
from lang_assess.programme.store.db import make_engine

SCRIPT = Path(sys.executable).parent / "lang-assess"
PASSWORD = "fjord-og-fjell-2026"


def env_for(db_url, data):
    env = {**os.environ, "LANG_ASSESS_DB": db_url, "LANG_ASSESS_DATA": str(data),
           "LANG_ASSESS_BANK": str(REPO / "item_bank" / "nb")}
    bin_dir = find_pg_bin()
    if bin_dir is not None:  # pg_dump of the server's version first
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env


def run(env, *args, stdin=""):
    return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=600)


def snapshot(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {t: sorted(str(r) for r in conn.execute(text(f"select * from {t}")))
               for t in ("organisation", "teacher", "cohort", "participant", "test_session",
                         "response", "estimate", "audit_log")}
    engine.dispose()
    return out


def test_admin_init_backup_restore_and_retention(db_url, tmp_path, nb_bank):
    env = env_for(db_url, tmp_path)
    made = run(env, "admin", "init", "--organisation", "Kristiansand kommune", "--user",
               "anne", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in made.stdout + made.stderr
    again = run(env, "admin", "init", "--organisation", "Kristiansand kommune", "--user",
                "berit", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.returncode == 2 and "exists already" in again.stderr
    weak = run(env, "admin", "init", "--organisation", "Arendal", "--user", "carl",
               "--password-stdin", stdin="passord\n")
    assert weak.returncode == 2 and "at least 12 characters" in weak.stderr
    assert "passord" not in weak.stdout

    engine = make_engine(db_url)
    svc = Service(engine, nb_bank, load_config(), seed=1)
    anne = svc.login_teacher("anne", PASSWORD)
    assert anne.is_admin
    with pytest.raises(AccessDenied):
        svc.login_teacher("carl", "passord", ClientInfo("192.0.2.9"))  # nothing was made
    cohort = svc.create_cohort(anne, "Inntak", dt.date.today() - dt.timedelta(days=800))
    people = svc.enrol(anne, cohort, [Intake("KRS-001", "ar"), Intake("KRS-002", "so")])
    who = svc.login_participant(people[0].code)
    view = svc.start_or_resume(who)
    svc.answer(who, view.session_id, view.item_id, "A")
    engine.dispose()
    before = snapshot(db_url)

    backup = tmp_path / "backups" / "lang_assess.backup"
    made = run(env, "backup", str(backup))
    assert made.returncode == 0, made.stderr
    assert backup.stat().st_size > 0
    assert run(env, "backup", str(backup)).returncode == 2  # never overwrites

    engine = make_engine(db_url)  # after the backup: a participant erased, a cohort added
    svc = Service(engine, nb_bank, load_config(), seed=2)
    anne = svc.login_teacher("anne", PASSWORD)
    svc.erase_participant(anne, people[1].participant_id, "test")
    svc.create_cohort(anne, "Etter backup", dt.date.today())
    engine.dispose()
    assert snapshot(db_url) != before

    refused = run(env, "restore", str(backup))
    assert refused.returncode == 2 and "--yes" in refused.stderr
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"not a backup at all")
    bad = run(env, "restore", str(garbage), "--yes")
    assert bad.returncode == 2 and "not" in bad.stderr
    restored = run(env, "restore", str(backup), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert snapshot(db_url) == before

    # retention: KRS-001 left the programme two years ago
    engine = make_engine(db_url)
    svc = Service(engine, nb_bank, load_config(), seed=3)
    anne = svc.login_teacher("anne", PASSWORD)
    svc.mark_left(anne, people[0].participant_id, dt.date.today() - dt.timedelta(days=730))
    engine.dispose()
    ran = run(env, "retention", "run")
    assert ran.returncode == 0, ran.stderr
    assert "1 anonymised" in ran.stdout
    after = snapshot(db_url)
    assert not any("KRS-001" in row for row in after["participant"])
    assert any("KRS-002" in row for row in after["participant"])
    assert len(after["response"]) == len(before["response"]) == 1  # kept, anonymous


def test_admin_init_asks_for_the_password_and_never_shows_it(tmp_path):
    """Through a terminal: getpass asks twice with echo off; nothing prints it."""
    env = env_for(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the pseudo-terminal
        os.execve(str(SCRIPT), [str(SCRIPT), "admin", "init", "--organisation", "Vennesla",
                                "--user", "dina"], env)
    seen, answered = b"", 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select_fd.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if seen.count(b"assword") > answered and seen.rstrip().endswith(b":"):
            os.write(fd, PASSWORD.encode() + b"\n")
            answered += 1
    _, status = os.waitpid(pid, 0)
    output = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert answered == 2 and "ready" in output
    assert PASSWORD not in output  # no echo, no print
