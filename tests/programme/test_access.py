"""Logins that strangers cannot turn against a person, and sessions that end (issue 19),
on SQLite and PostgreSQL.  The served pages are attacked in tests/ui/test_security_browser.py."""

import dataclasses
import datetime as dt
import inspect
import statistics
import time

import pytest
from sqlalchemy import select, text

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import (
    AccessDenied,
    ClientInfo,
    Intake,
    ParticipantContext,
    PasswordRejected,
    RateLimited,
    Service,
    TeacherContext,
)
from lang_assess.programme.service.access import CODE_ALPHABET
from lang_assess.programme.service.passwords import password_problems
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import AuditLog, LoginAttempt

START = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += dt.timedelta(**kw)


@pytest.fixture
def world(db_url, nb_bank):
    engine = make_engine(db_url)
    migrate(engine)
    clock = Clock()
    svc = Service(engine, nb_bank, load_config(), clock=clock, wall_clock=clock, seed=7)
    org = svc.set_up_organisation("Kristiansand kommune", "admin", "admin-passord-2026")
    admin = svc.login_teacher("admin", "admin-passord-2026")
    svc.create_teacher(org, "kari", "kari-passord-2026")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    cohort = svc.create_cohort(kari, "Inntak september", START.date())
    people = svc.enrol(kari, cohort, [Intake(f"KRS-{i:03d}", "ar") for i in range(3)])
    yield dataclasses.make_dataclass("World", ["svc", "engine", "clock", "admin", "kari",
                                               "cohort", "people"])(
        svc, engine, clock, admin, kari, cohort, people)
    engine.dispose()


def wrong(code: str) -> str:
    """The same lookup half with a wrong secret half."""
    secret = code.split("-")[1]
    return code.split("-")[0] + "-" + "".join("A" if c != "A" else "C" for c in secret)


def stranger(n: int, page: str = "") -> ClientInfo:
    return ClientInfo(address=f"203.0.113.{n}", device=f"stranger-{n}", page=page)


# ---- participants: a stranger's wrong codes limit the stranger -------------------------

def test_a_strangers_wrong_codes_do_not_lock_the_participant_out(world):
    svc, code = world.svc, world.people[0].code
    config = svc.config
    outcomes = []
    for page in range(4):  # four page loads, five tries each
        for _ in range(config.page_max_failures):
            try:
                svc.login_participant(wrong(code), stranger(1, f"kernel-{page}"))
                outcomes.append("in")
            except RateLimited:
                outcomes.append("wait")
            except AccessDenied:
                outcomes.append("wrong")
    # five wrong tries at this code from this address, then that address waits a day
    assert outcomes[:config.pair_max_failures] == ["wrong"] * config.pair_max_failures
    assert set(outcomes[config.pair_max_failures:]) == {"wait"}
    with pytest.raises(RateLimited) as err:
        svc.login_participant(code, stranger(1, "kernel-9"))  # even the right code
    assert err.value.minutes == config.pair_window_minutes
    # the participant, on their own phone at home, gets in at once
    home = ClientInfo(address="198.51.100.7", device="own-phone", page="kernel-p")
    assert svc.login_participant(code, home).pseudonym == "KRS-000"


def test_only_many_addresses_pause_a_code_and_never_on_the_participants_own_device(world):
    svc, code, config = world.svc, world.people[1].code, world.svc.config
    own_phone = ClientInfo(address="198.51.100.7", device="own-phone")
    svc.login_participant(code, own_phone)  # has logged in from this phone before
    per_address = config.pair_max_failures
    addresses = -(-config.pause_failures // per_address)  # enough to pass the threshold
    assert addresses >= config.pause_clients
    for n in range(addresses):
        for _ in range(per_address):
            with pytest.raises(AccessDenied):
                svc.login_participant(wrong(code), stranger(n))
    # paused for new devices, whether the code is right or wrong, known or not …
    school_pc = ClientInfo(address="192.0.2.50", device="school-pc")
    with pytest.raises(RateLimited):
        svc.login_participant(code, school_pc)
    # … but not on the participant's own phone
    assert svc.login_participant(code, own_phone).pseudonym == "KRS-001"
    world.clock.advance(minutes=config.pause_window_minutes + 1)
    assert svc.login_participant(code, school_pc).pseudonym == "KRS-001"


def test_unknown_and_known_lookups_answer_alike_also_when_paused(world):
    svc, config = world.svc, world.svc.config
    known = world.people[2].code.split("-")[0]
    taken = {p.code.split("-")[0] for p in world.people}
    unknown = next(a * 4 for a in CODE_ALPHABET if a * 4 not in taken)

    def answers(lookup, base):
        out = []
        for n in range(-(-config.pause_failures // config.pair_max_failures) + 1):
            for _ in range(config.pair_max_failures):
                try:
                    svc.login_participant(f"{lookup}-AAAAA", stranger(base + n))
                    out.append("in")
                except RateLimited as exc:
                    out.append(("wait", exc.minutes, str(exc)))
                except AccessDenied as exc:
                    out.append(("wrong", str(exc)))
        return out

    assert answers(known, 0) == answers(unknown, 100)


def test_unknown_and_known_lookups_take_the_same_time(world):
    svc = world.svc
    known = world.people[0].code.split("-")[0]
    taken = {p.code.split("-")[0] for p in world.people}
    unknown = next(a * 4 for a in reversed(CODE_ALPHABET) if a * 4 not in taken)
    times = {"known": [], "unknown": []}
    for n in range(16):
        for label, lookup in (("known", known), ("unknown", unknown)):
            start = time.perf_counter()
            with pytest.raises(AccessDenied):
                svc.login_participant(f"{lookup}-AAAAA", stranger(n % 200 + 1 + (
                    label == "unknown") * 100))
            times[label].append(time.perf_counter() - start)
    known_t, unknown_t = (statistics.median(times[k]) for k in ("known", "unknown"))
    # both pay one scrypt (tens of milliseconds); the difference is a few queries
    assert min(known_t, unknown_t) > 0.01
    assert abs(known_t - unknown_t) < 0.25 * known_t, (known_t, unknown_t)


def test_the_guessing_rate_of_one_address_is_capped(world):
    svc, config = world.svc, world.svc.config
    taken = {p.code.split("-")[0] for p in world.people}
    lookups = [a + b + c + d for a in CODE_ALPHABET[:3] for b in CODE_ALPHABET[:3]
               for c in CODE_ALPHABET[:3] for d in CODE_ALPHABET[:4]]
    lookups = [lk for lk in lookups if lk not in taken]
    answered = waited = 0
    for i, lookup in enumerate(lookups[:100]):  # a fresh page every five guesses
        try:
            svc.login_participant(f"{lookup}-AAAAA", stranger(1, f"kernel-{i // 5}"))
        except RateLimited:
            waited += 1
        except AccessDenied:
            answered += 1
        world.clock.advance(seconds=1)
    assert answered == config.client_max_failures and waited == 100 - answered
    with world.engine.connect() as conn:  # what is kept: keyed hashes only
        rows = conn.execute(select(LoginAttempt)).all()
    assert rows and not any(lookups[0] in str(r) or "203.0.113" in str(r) for r in rows)
    world.clock.advance(minutes=config.client_window_minutes)
    with pytest.raises(AccessDenied):  # an hour later the address may try again
        svc.login_participant(f"{lookups[99]}-AAAAA", stranger(1, "kernel-new"))


def test_one_page_gets_five_tries(world):
    svc, code = world.svc, world.people[0].code
    page = ClientInfo(address="198.51.100.7", page="kernel-1")
    for _ in range(svc.config.page_max_failures):
        with pytest.raises(AccessDenied):
            svc.login_participant("MMMM-AAAAA", page)
    with pytest.raises(RateLimited):
        svc.login_participant(code, page)
    assert svc.login_participant(code, dataclasses.replace(page, page="kernel-2"))


# ---- teachers ------------------------------------------------------------------------------

def test_teacher_password_guessing_is_limited_and_does_not_lock_the_teacher_out(world):
    svc = world.svc
    refused = []
    for _ in range(60):
        try:
            svc.login_teacher("kari", "not-her-password", stranger(5))
        except RateLimited:
            refused.append("wait")
        except AccessDenied:
            refused.append("wrong")
    assert refused.count("wrong") == svc.config.pair_max_failures
    with pytest.raises(RateLimited):  # the 61st try, with the right password, is refused
        svc.login_teacher("kari", "kari-passord-2026", stranger(5))
    staff_room = ClientInfo(address="192.0.2.10", device="staff-pc")
    assert svc.login_teacher("kari", "kari-passord-2026", staff_room).username == "kari"


def test_unknown_and_known_teachers_answer_alike(world):
    svc = world.svc
    times = {"kari": [], "nobody": []}
    messages = set()
    for n in range(12):
        for user in times:
            start = time.perf_counter()
            with pytest.raises(AccessDenied) as err:
                svc.login_teacher(user, "wrong-password-1", stranger(n + 1 + 50 * (
                    user == "nobody")))
            times[user].append(time.perf_counter() - start)
            messages.add(str(err.value))
    assert messages == {"wrong user name or password"}
    a, b = statistics.median(times["kari"]), statistics.median(times["nobody"])
    assert abs(a - b) < 0.25 * a, (a, b)


def test_password_rules():
    assert password_problems("kort") == ["too_short", "too_few_characters"]
    assert "common" in password_problems("Passord12345!")
    assert "has_user_name" in password_problems("kari2026kari", "kari")
    assert password_problems("demo-kari-2026", "kari") == []
    assert password_problems("en lang setning om fjorden") == []


def test_sessions_end_on_logout_idleness_age_and_disabling(world):
    svc, clock, config = world.svc, world.clock, world.svc.config
    kari = svc.login_teacher("kari", "kari-passord-2026")
    svc.cohorts(kari)
    svc.logout_teacher(kari)
    with pytest.raises(AccessDenied):
        svc.cohorts(kari)
    kari = svc.login_teacher("kari", "kari-passord-2026")
    clock.advance(minutes=config.session_idle_minutes - 1)
    svc.cohorts(kari)  # used: the idle time starts again
    clock.advance(minutes=config.session_idle_minutes - 1)
    svc.cohorts(kari)
    clock.advance(minutes=config.session_idle_minutes + 1)
    with pytest.raises(AccessDenied):
        svc.cohorts(kari)
    kari = svc.login_teacher("kari", "kari-passord-2026")
    for _ in range(config.session_max_hours * 2 + 1):  # busy all day: the age still counts
        clock.advance(minutes=29)
        try:
            svc.cohorts(kari)
        except AccessDenied:
            break
    assert clock.now - START > dt.timedelta(hours=config.session_max_hours - 1)
    with pytest.raises(AccessDenied):
        svc.cohorts(kari)
    admin = svc.login_teacher("admin", "admin-passord-2026")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    kari_id = kari.teacher_id
    svc.set_teacher_disabled(admin, kari_id, True, "left the school")
    with pytest.raises(AccessDenied):
        svc.cohorts(kari)
    with pytest.raises(AccessDenied):
        svc.login_teacher("kari", "kari-passord-2026", ClientInfo("192.0.2.1"))
    svc.set_teacher_disabled(admin, kari_id, False)
    assert svc.login_teacher("kari", "kari-passord-2026", ClientInfo("192.0.2.1"))


def test_every_service_call_with_a_context_checks_it(world):
    """A context alone (a kernel's memory, a forged object) reaches nothing: every public
    method that takes one refuses a context whose session ended, before doing anything."""
    svc = world.svc
    ended = svc.login_teacher("kari", "kari-passord-2026")
    svc.logout_teacher(ended)
    forged = TeacherContext(world.admin.teacher_id, 1, "admin", True, session="guess")
    old = svc.login_participant(world.people[0].code)
    svc.reissue_code(world.kari, world.people[0].participant_id)
    checked = []
    for name, method in inspect.getmembers(Service, inspect.isfunction):
        params = inspect.signature(method).parameters
        kinds = {p.annotation for p in params.values()}
        if name.startswith("_") or not kinds & {"TeacherContext", "ParticipantContext"}:
            continue
        if name == "logout_teacher":
            continue
        checked.append(name)
        for context in ((ended, forged) if "TeacherContext" in kinds else (old,)):
            args = [context if p.annotation in ("TeacherContext", "ParticipantContext")
                    else None for n, p in params.items() if n != "self"
                    and p.default is inspect.Parameter.empty
                    and p.kind is not inspect.Parameter.KEYWORD_ONLY]
            with pytest.raises(AccessDenied):
                getattr(svc, name)(*args)
    assert {"cohorts", "enrol", "answer", "start_or_resume", "export_participant",
            "erase_participant", "reissue_code", "teachers"} <= set(checked)
    assert len(checked) >= 25


def test_a_participant_context_dies_with_its_code(world):
    svc = world.svc
    who = svc.login_participant(world.people[1].code)
    assert svc.start_or_resume(who) is not None
    new = svc.reissue_code(world.kari, world.people[1].participant_id, "lost the paper")
    with pytest.raises(AccessDenied):
        svc.start_or_resume(who)  # a page logged in with the old code is out at once
    with pytest.raises(AccessDenied):
        svc.login_participant(world.people[1].code, ClientInfo("192.0.2.2"))
    again = svc.login_participant(new, ClientInfo("192.0.2.3"))
    assert again.participant_id == world.people[1].participant_id
    assert svc.start_or_resume(again) is not None  # the same test goes on
    with world.engine.connect() as conn:
        entry = conn.execute(select(AuditLog).where(AuditLog.action == "reissue_code")).one()
        dump = " ".join(str(r) for r in conn.execute(text("select * from audit_log")))
    assert (entry.actor, entry.reason) == ("kari", "lost the paper")
    assert new not in dump and new.split("-")[1] not in dump
    assert isinstance(again, ParticipantContext)


# ---- admins ------------------------------------------------------------------------------

def test_admin_manages_accounts(world):
    svc, admin = world.svc, world.admin
    with pytest.raises(AccessDenied):
        svc.add_teacher(world.kari, "per")
    temporary = svc.add_teacher(admin, "per")
    per = svc.login_teacher("per", temporary)
    assert per.must_change_password
    with pytest.raises(AccessDenied, match="new password"):
        svc.cohorts(per)  # nothing else until the teacher has chosen a password
    with pytest.raises(PasswordRejected):
        svc.change_own_password(per, temporary, "per12345")
    svc.change_own_password(per, temporary, "min egen lange setning")
    assert svc.cohorts(per).empty
    with pytest.raises(AccessDenied):
        svc.login_teacher("per", temporary, ClientInfo("192.0.2.4"))
    reset = svc.reset_password(admin, per.teacher_id)
    with pytest.raises(AccessDenied):
        svc.cohorts(per)  # a reset ends the sessions
    assert svc.login_teacher("per", reset, ClientInfo("192.0.2.5")).must_change_password
    table = svc.teachers(admin)
    assert list(table["username"]) == ["admin", "kari", "per"]
    assert table.set_index("username").loc["per", "must_change_password"]
    with pytest.raises(ValueError):
        svc.set_teacher_disabled(admin, admin.teacher_id, True)
    actions = list(svc.audit_log(admin)["action"])
    assert {"add_teacher", "reset_password", "change_password"} <= set(actions)
    with world.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("select * from audit_log")))
    assert temporary not in dump and reset not in dump
