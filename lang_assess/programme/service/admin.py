"""What an organisation's admin does: teacher accounts (add, disable, reset a password)
and new access codes; a teacher's own password.  Every change is audited, no password
or code in the audit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lang_assess.programme.service.access import (
    AccessDenied,
    AccessMixin,
    TeacherContext,
)
from lang_assess.programme.service.limits import forget_devices
from lang_assess.programme.service.passwords import (
    PasswordRejected,
    check_secret,
    hash_secret,
    password_problems,
    temporary_password,
)
from lang_assess.programme.store.models import Teacher, TeacherSession

if TYPE_CHECKING:
    import pandas as pd


def _admin(actor: TeacherContext) -> None:
    if not actor.is_admin:
        raise AccessDenied("only an admin manages accounts")


class AdminMixin(AccessMixin):
    """Teacher accounts and access codes (participants' codes: teachers of the cohort
    and admins; accounts: admins of the organisation)."""

    def teachers(self, actor: TeacherContext) -> pd.DataFrame:
        """The organisation's accounts: id, username, is_admin, disabled,
        must_change_password (admins only)."""
        import pandas as pd  # teachers' side only: the participant's page never loads it

        _admin(actor)
        with self._db() as db:
            rows = db.execute(select(Teacher.id, Teacher.username, Teacher.is_admin,
                                     Teacher.disabled_at.is_not(None),
                                     Teacher.must_change_password)
                              .where(Teacher.organisation_id == actor.organisation_id)
                              .order_by(Teacher.username)).all()
        return pd.DataFrame(rows, columns=["id", "username", "is_admin", "disabled",
                                           "must_change_password"])

    def add_teacher(self, actor: TeacherContext, username: str, *,
                    is_admin: bool = False) -> str:
        """A new account in the actor's organisation; returns a one-time password (shown
        once) that the teacher replaces at the first login.  Audited."""
        _admin(actor)
        password = temporary_password()
        teacher_id = self.create_teacher(actor.organisation_id, username, password,
                                         is_admin=is_admin, must_change_password=True)
        with self._db.begin() as db:
            self._audit(db, actor, "add_teacher", "teacher", teacher_id, None,
                        {"username": username.strip(), "is_admin": is_admin})
        return password

    def _account(self, db: Session, actor: TeacherContext, teacher_id: int) -> Teacher:
        t = db.get(Teacher, teacher_id)
        if t is None or t.organisation_id != actor.organisation_id:
            raise AccessDenied("not an account of your organisation")
        return t

    def set_teacher_disabled(self, actor: TeacherContext, teacher_id: int, disabled: bool,
                             reason: str = "") -> None:
        """Disable an account (its sessions end at once; it logs in no more) or enable
        it again.  An admin cannot disable their own account.  Audited."""
        _admin(actor)
        if disabled and teacher_id == actor.teacher_id:
            raise ValueError("an admin cannot disable their own account")
        now = self.wall_clock()
        with self._db.begin() as db:
            t = self._account(db, actor, teacher_id)
            t.disabled_at = now if disabled else None
            if disabled:
                self._end_sessions(db, teacher_id)
            self._audit(db, actor, "disable_teacher" if disabled else "enable_teacher",
                        "teacher", teacher_id, reason.strip() or None,
                        {"username": t.username})

    def reset_password(self, actor: TeacherContext, teacher_id: int) -> str:
        """A new one-time password for an account (shown once; the teacher chooses their
        own at the next login); its sessions and trusted devices end.  Audited."""
        _admin(actor)
        password = temporary_password()
        with self._db.begin() as db:
            t = self._account(db, actor, teacher_id)
            t.password_hash = hash_secret(password)
            t.must_change_password = True
            self._end_sessions(db, teacher_id)
            forget_devices(db, "teacher", teacher_id)
            self._audit(db, actor, "reset_password", "teacher", teacher_id, None,
                        {"username": t.username})
        return password

    def change_own_password(self, actor: TeacherContext, old: str, new: str) -> None:
        """A teacher replaces their own password (``old`` checked; ``new`` must meet the
        rules, :class:`PasswordRejected`).  Audited without either password."""
        problems = password_problems(new, actor.username)
        if old == new:
            problems.append("same_as_old")
        with self._db.begin() as db:
            t = db.get(Teacher, actor.teacher_id)
            if t is None or not check_secret(old, t.password_hash):
                raise AccessDenied("the old password is wrong")
            if problems:
                raise PasswordRejected(problems)
            t.password_hash = hash_secret(new)
            t.must_change_password = False
            self._audit(db, actor, "change_password", "teacher", t.id, None, {})

    def reissue_code(self, actor: TeacherContext, participant_id: int,
                     reason: str = "") -> str:
        """A new access code for a participant (returned once, stored as a hash); the
        old code, and any page logged in with it, stops working at once.  Audited."""
        with self._db.begin() as db:
            p = self._participant(db, actor, participant_id)
            if p.anonymised_at is not None:
                raise ValueError("this participant was anonymised")
            lookup, secret = self._new_code(db)
            p.code_lookup, p.code_hash = lookup, hash_secret(secret)
            forget_devices(db, "participant", p.id)
            self._audit(db, actor, "reissue_code", "participant", p.id,
                        reason.strip() or None, {})
        return f"{lookup}-{secret}"

    def _end_sessions(self, db: Session, teacher_id: int) -> None:
        db.execute(update(TeacherSession).where(
            TeacherSession.teacher_id == teacher_id, TeacherSession.ended_at.is_(None))
            .values(ended_at=self.wall_clock()))


__all__ = ["AdminMixin", "PasswordRejected"]
