"""Who is asking: contexts, access codes and passwords, logins with their limits, teacher
sessions, and the checks every call makes.

A participant logs in with an access code, a teacher with a password; both go through
:mod:`~lang_assess.programme.service.limits` (limits per client, no lock-out of a person)
and take the same time whether the code's lookup half or the user name exists or not.
A teacher's login opens a session (:class:`~lang_assess.programme.store.models.TeacherSession`)
whose token travels in the :class:`TeacherContext`; :func:`checked` makes every service
call check it (and a participant's context against their current code).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lang_assess.errors import LangAssessError
from lang_assess.programme.service.base import ServiceBase, _aware
from lang_assess.programme.service.limits import (
    ClientInfo,
    attempt_keys,
    client_wait,
    is_trusted,
    pause_wait,
    purge_attempts,
    record_attempt,
    server_key,
    trust_device,
)
from lang_assess.programme.service.passwords import (
    PasswordRejected,
    check_secret,
    dummy_hash,
    hash_secret,
    password_problems,
)
from lang_assess.programme.store.models import (
    Cohort,
    Organisation,
    Participant,
    Teacher,
    TeacherSession,
)

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: easy to read aloud and to type on a phone.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LOOKUP_LEN = 4
SECRET_LEN = 5  # 25⁵ ≈ 9.8 million (23.2 bits): docs/privacy.md has the arithmetic
SESSION_TOUCH = dt.timedelta(seconds=60)  # a session's last call is written at most this often


class AccessDenied(LangAssessError, PermissionError):
    """The caller may not see or change this."""


class RateLimited(LangAssessError):
    """Too many wrong tries from this client: wait ``minutes`` before trying again."""

    def __init__(self, minutes: int) -> None:
        self.minutes = minutes
        super().__init__(f"too many wrong tries; try again in {minutes} minutes")


@dataclass(frozen=True)
class TeacherContext:
    """A logged-in teacher (or admin); ``session`` is the login's token, checked on
    every call."""

    teacher_id: int
    organisation_id: int
    username: str
    is_admin: bool
    session: str = field(default="", repr=False)
    must_change_password: bool = False


@dataclass(frozen=True)
class ParticipantContext:
    """A participant logged in with their access code (``lookup``: its first half,
    checked on every call, so a reissued code ends the old one's pages at once)."""

    participant_id: int
    pseudonym: str
    lookup: str = field(default="", repr=False)


def normalise_code(text: str) -> str:
    """An access code as typed (any case, spaces or dashes) → its canonical letters."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def new_code() -> tuple[str, str]:
    """A random (lookup, secret) pair; the lookup still has to be checked for being free."""
    return ("".join(secrets.choice(CODE_ALPHABET) for _ in range(LOOKUP_LEN)),
            "".join(secrets.choice(CODE_ALPHABET) for _ in range(SECRET_LEN)))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccessMixin(ServiceBase):
    """Organisations, teacher accounts, the two logins, sessions, and the checks every
    call makes before it reads or writes (a teacher reaches only their own cohorts)."""

    def create_organisation(self, name: str) -> int:
        """A new organisation; returns its id."""
        with self._db.begin() as db:
            org = Organisation(name=name)
            db.add(org)
            db.flush()
            return org.id

    def create_teacher(self, organisation_id: int, username: str, password: str,
                       *, is_admin: bool = False, must_change_password: bool = False) -> int:
        """A teacher account (password stored as a scrypt hash); returns its id.  The
        password must meet :func:`~lang_assess.programme.service.passwords.password_problems`
        (:class:`PasswordRejected` otherwise)."""
        username = username.strip()
        if not username:
            raise ValueError("a teacher needs a user name")
        problems = password_problems(password, username)
        if problems:
            raise PasswordRejected(problems)
        with self._db.begin() as db:
            if db.scalar(select(func.count()).where(Teacher.username == username)):
                raise ValueError(f"the user name {username!r} is taken")
            t = Teacher(organisation_id=organisation_id, username=username,
                        password_hash=hash_secret(password), is_admin=is_admin,
                        must_change_password=must_change_password)
            db.add(t)
            db.flush()
            return t.id

    def set_up_organisation(self, name: str, username: str, password: str) -> int:
        """A new organisation with its first admin account, in one transaction (nothing
        is made if the name or user name is taken or the password is refused); returns
        the organisation's id."""
        username = username.strip()
        problems = password_problems(password, username)
        if problems:
            raise PasswordRejected(problems)
        with self._db.begin() as db:
            if db.scalar(select(func.count()).where(Organisation.name == name.strip())):
                raise ValueError(f"the organisation {name.strip()!r} exists already")
            if db.scalar(select(func.count()).where(Teacher.username == username)):
                raise ValueError(f"the user name {username!r} is taken")
            org = Organisation(name=name.strip())
            db.add(org)
            db.flush()
            db.add(Teacher(organisation_id=org.id, username=username,
                           password_hash=hash_secret(password), is_admin=True))
            return org.id

    def _login_key(self, db: Session) -> bytes:
        key = getattr(self, "_login_key_cache", None)
        if key is None:
            key = self._login_key_cache = server_key(db)
        return key

    def login_teacher(self, username: str, password: str,
                      client: ClientInfo | None = None) -> TeacherContext:
        """Check a teacher's password and open a session; raises :class:`AccessDenied`
        (the same for an unknown user, a wrong password and a disabled account, in the
        same time) or :class:`RateLimited` (this client tried too often)."""
        client = client or ClientInfo()
        now = self.wall_clock()
        ok, wait, t, token = False, None, None, ""
        with self._db.begin() as db:
            keys = attempt_keys(self._login_key(db), "teacher", username.strip().lower(),
                                client)
            purge_attempts(db, now, self.config)
            t = db.scalar(select(Teacher).where(Teacher.username == username.strip()))
            trusted = is_trusted(db, "teacher", t.id if t else -1, keys.device)
            wait = client_wait(db, keys, now, self.config, trusted=trusted)
            if wait is None:
                right = check_secret(password, t.password_hash if t else dummy_hash())
                right = right and t is not None and t.disabled_at is None
                if not trusted:
                    wait = pause_wait(db, keys, now, self.config)
                ok = right and wait is None
                record_attempt(db, keys, now, ok)
                if ok and t is not None:
                    trust_device(db, "teacher", t.id, keys.device, now)
                    token = secrets.token_urlsafe(32)
                    db.add(TeacherSession(teacher_id=t.id, token_hash=_token_hash(token),
                                          created_at=now, last_seen_at=now))
        if wait is not None:
            raise RateLimited(wait)
        if not ok or t is None:
            raise AccessDenied("wrong user name or password")
        return TeacherContext(t.id, t.organisation_id, t.username, t.is_admin, token,
                              t.must_change_password)

    def logout_teacher(self, actor: TeacherContext) -> None:
        """End the session (later calls with this context are refused)."""
        with self._db.begin() as db:
            db.execute(update(TeacherSession).where(
                TeacherSession.token_hash == _token_hash(actor.session),
                TeacherSession.ended_at.is_(None)).values(ended_at=self.wall_clock()))

    def verify_teacher(self, actor: TeacherContext, *, password_change: bool = False) -> None:
        """Raise :class:`AccessDenied` unless ``actor``'s session is open: not logged
        out, used within ``session_idle_minutes``, younger than ``session_max_hours``,
        its account enabled — and, unless ``password_change``, no new password owed."""
        now = self.wall_clock()
        with self._db() as db:
            row = db.execute(select(TeacherSession, Teacher).join(Teacher).where(
                TeacherSession.token_hash == _token_hash(actor.session))).first()
            if row is None:
                raise AccessDenied("not logged in")
            session, teacher = row
            idle = dt.timedelta(minutes=self.config.session_idle_minutes)
            age = dt.timedelta(hours=self.config.session_max_hours)
            if (session.ended_at is not None or teacher.id != actor.teacher_id
                    or teacher.disabled_at is not None
                    or now - _aware(session.last_seen_at) > idle
                    or now - _aware(session.created_at) > age):
                raise AccessDenied("the session has ended; log in again")
            if teacher.must_change_password and not password_change:
                raise AccessDenied("choose a new password first")
        if now - _aware(session.last_seen_at) > SESSION_TOUCH:
            with self._db.begin() as db:
                db.execute(update(TeacherSession).where(TeacherSession.id == session.id)
                           .values(last_seen_at=now))

    def login_participant(self, code: str, client: ClientInfo | None = None
                          ) -> ParticipantContext:
        """Log in with an access code; raises :class:`AccessDenied` for a wrong code
        (the same answer, in the same time, whether its lookup half exists or not) and
        :class:`RateLimited` when this client has tried too often or the code is paused
        for devices it was never used on."""
        client = client or ClientInfo()
        canonical = normalise_code(code)
        lookup, secret = canonical[:LOOKUP_LEN], canonical[LOOKUP_LEN:]
        now = self.wall_clock()
        ok, wait, p = False, None, None
        with self._db.begin() as db:
            keys = attempt_keys(self._login_key(db), "participant", lookup, client)
            purge_attempts(db, now, self.config)
            p = db.scalar(select(Participant).where(Participant.code_lookup == lookup))
            trusted = is_trusted(db, "participant", p.id if p else -1, keys.device)
            wait = client_wait(db, keys, now, self.config, trusted=trusted)
            if wait is None:
                right = check_secret(secret, p.code_hash if p else dummy_hash())
                right = right and p is not None and len(lookup) == LOOKUP_LEN
                if not trusted:
                    wait = pause_wait(db, keys, now, self.config)
                ok = right and wait is None
                record_attempt(db, keys, now, ok)
                if ok and p is not None:
                    trust_device(db, "participant", p.id, keys.device, now)
        if wait is not None:
            raise RateLimited(wait)
        if not ok or p is None:
            raise AccessDenied("wrong code")
        return ParticipantContext(p.id, p.pseudonym, p.code_lookup)

    def verify_participant(self, who: ParticipantContext) -> None:
        """Raise :class:`AccessDenied` unless the participant still exists with the code
        they logged in with (a reissued code, erasure or anonymisation end it)."""
        with self._db() as db:
            lookup = db.scalar(select(Participant.code_lookup).where(
                Participant.id == who.participant_id))
        if lookup is None or lookup != who.lookup:
            raise AccessDenied("not logged in")

    def _new_code(self, db: Session) -> tuple[str, str]:
        """A fresh (lookup, secret): the lookup used by nobody."""
        for _ in range(100):
            lookup, secret = new_code()
            if db.scalar(select(func.count()).where(Participant.code_lookup == lookup)) == 0:
                return lookup, secret
        raise RuntimeError("could not find a free access code")

    def _cohort(self, db: Session, actor: TeacherContext, cohort_id: int) -> Cohort:
        c = db.get(Cohort, cohort_id)
        if c is None or c.organisation_id != actor.organisation_id or (
            not actor.is_admin and c.teacher_id != actor.teacher_id
        ):
            raise AccessDenied("not your cohort")
        return c

    def _participant(self, db: Session, actor: TeacherContext, participant_id: int) -> Participant:
        p = db.get(Participant, participant_id)
        if p is None:
            raise AccessDenied("not your participant")
        self._cohort(db, actor, p.cohort_id)
        return p


F = TypeVar("F", bound=Callable[..., Any])
# calls that work on an ended session or an owed password change
_ANY_SESSION = frozenset({"logout_teacher"})
_PASSWORD_CHANGE = frozenset({"change_own_password"})


def _guard(method: F) -> F:
    """``method`` with its TeacherContext / ParticipantContext arguments checked first."""
    params = inspect.signature(method).parameters
    teachers = [n for n, p in params.items() if p.annotation in ("TeacherContext",
                                                                  TeacherContext)]
    participants = [n for n, p in params.items() if p.annotation in ("ParticipantContext",
                                                                      ParticipantContext)]
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self: AccessMixin, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        for name in teachers:
            actor = bound.arguments[name]
            if not isinstance(actor, TeacherContext):
                raise AccessDenied("not logged in")
            self.verify_teacher(actor, password_change=method.__name__ in _PASSWORD_CHANGE)
        for name in participants:
            who = bound.arguments[name]
            if not isinstance(who, ParticipantContext):
                raise AccessDenied("not logged in")
            self.verify_participant(who)
        return method(self, *args, **kwargs)

    wrapper.__checked__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


C = TypeVar("C", bound=type)


def checked(cls: C) -> C:
    """Make every public method of ``cls`` that takes a TeacherContext or a
    ParticipantContext check it before running (:meth:`AccessMixin.verify_teacher`,
    :meth:`AccessMixin.verify_participant`), so a context whose session has ended, or a
    participant whose code was reissued, reaches nothing — including methods added
    later."""
    for name in dir(cls):
        if name.startswith("_") or name in _ANY_SESSION | {"verify_teacher",
                                                           "verify_participant"}:
            continue
        method = getattr(cls, name)
        if not inspect.isfunction(method) or getattr(method, "__checked__", False):
            continue
        annotations = {p.annotation for p in inspect.signature(method).parameters.values()}
        if annotations & {"TeacherContext", "ParticipantContext", TeacherContext,
                          ParticipantContext}:
            setattr(cls, name, _guard(method))
    return cls
