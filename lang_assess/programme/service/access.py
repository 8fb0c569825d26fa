"""Who is asking: contexts, access codes and passwords (scrypt), logins and lock-outs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lang_assess.errors import LangAssessError
from lang_assess.programme.service.base import ServiceBase, _aware
from lang_assess.programme.store.models import Cohort, Organisation, Participant, Teacher

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: easy to read aloud and to type on a phone.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LOOKUP_LEN = 4
SECRET_LEN = 4


class AccessDenied(LangAssessError, PermissionError):
    """The caller may not see or change this."""


class RateLimited(LangAssessError):
    """Too many wrong codes: wait ``minutes`` before trying again."""

    def __init__(self, minutes: int) -> None:
        self.minutes = minutes
        super().__init__(f"too many wrong codes; try again in {minutes} minutes")


@dataclass(frozen=True)
class TeacherContext:
    """A logged-in teacher (or admin)."""

    teacher_id: int
    organisation_id: int
    username: str
    is_admin: bool


@dataclass(frozen=True)
class ParticipantContext:
    """A participant logged in with their access code."""

    participant_id: int
    pseudonym: str



def _hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _check_secret(secret: str, stored: str) -> bool:
    try:
        _, salt, _ = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(_hash_secret(secret, bytes.fromhex(salt)), stored)


def normalise_code(text: str) -> str:
    """An access code as typed (any case, spaces or dashes) → its canonical 8 letters."""
    return "".join(ch for ch in text.upper() if ch.isalnum())



class AccessMixin(ServiceBase):
    """Organisations, teacher accounts, the two logins, and the checks every call makes
    before it reads or writes (a teacher reaches only their own cohorts)."""

    def create_organisation(self, name: str) -> int:
        """A new organisation; returns its id."""
        with self._db.begin() as db:
            org = Organisation(name=name)
            db.add(org)
            db.flush()
            return org.id

    def create_teacher(self, organisation_id: int, username: str, password: str,
                       *, is_admin: bool = False) -> int:
        """A teacher account (password stored as a scrypt hash); returns its id."""
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        with self._db.begin() as db:
            t = Teacher(organisation_id=organisation_id, username=username,
                        password_hash=_hash_secret(password), is_admin=is_admin)
            db.add(t)
            db.flush()
            return t.id

    def login_teacher(self, username: str, password: str) -> TeacherContext:
        """Check a teacher's password; raises :class:`AccessDenied` if wrong."""
        with self._db() as db:
            t = db.scalar(select(Teacher).where(Teacher.username == username))
            if t is None or not _check_secret(password, t.password_hash):
                raise AccessDenied("wrong user name or password")
            return TeacherContext(t.id, t.organisation_id, t.username, t.is_admin)

    def login_participant(self, code: str) -> ParticipantContext:
        """Log in with an access code.  Wrong codes count; after ``max_failed_logins``
        in a row the participant waits ``lockout_minutes`` (:class:`RateLimited`)."""
        canonical = normalise_code(code)
        lookup, secret = canonical[:LOOKUP_LEN], canonical[LOOKUP_LEN:]
        now = self.clock()
        with self._db.begin() as db:
            p = db.scalar(select(Participant).where(Participant.code_lookup == lookup))
            if p is None:
                raise AccessDenied("unknown code")
            locked = p.locked_until
            if locked is not None and _aware(locked) > now:
                minutes = int(np.ceil((_aware(locked) - now).total_seconds() / 60))
                raise RateLimited(minutes)
            if len(canonical) != LOOKUP_LEN + SECRET_LEN or not _check_secret(secret,
                                                                              p.code_hash):
                p.failed_logins += 1
                if p.failed_logins >= self.config.max_failed_logins:
                    p.locked_until = now + dt.timedelta(minutes=self.config.lockout_minutes)
                    p.failed_logins = 0
                    db.commit()
                    raise RateLimited(self.config.lockout_minutes)
                db.commit()
                raise AccessDenied("wrong code")
            p.failed_logins = 0
            p.locked_until = None
            return ParticipantContext(p.id, p.pseudonym)

    def _new_lookup(self, db: Session) -> str:
        for _ in range(100):
            lookup = "".join(secrets.choice(CODE_ALPHABET) for _ in range(LOOKUP_LEN))
            if db.scalar(select(func.count()).where(Participant.code_lookup == lookup)) == 0:
                return lookup
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
