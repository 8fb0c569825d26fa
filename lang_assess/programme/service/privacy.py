"""Data protection: the privacy notice, leaving the programme, retention, and a person's
rights of access (export) and erasure.  docs/privacy.md is the record of processing.

Erasure and retention scrub what the audit trail said about the person (reasons and
details) and keep only that the action happened, by whom and when.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lang_assess.programme.service.access import (
    AccessDenied,
    AccessMixin,
    ParticipantContext,
    TeacherContext,
)
from lang_assess.programme.service.base import _aware
from lang_assess.programme.service.limits import forget_devices
from lang_assess.programme.store.models import (
    AuditLog,
    Cohort,
    Estimate,
    Note,
    Organisation,
    Participant,
    RatedAnswer,
    Rating,
    Response,
    Teacher,
    TeacherSession,
    TestRun,
    TrustedDevice,
)

EXPORT_FORMAT = "lang_assess participant export 1"
DEVICE_DAYS = 180  # the device cookie's lifetime (lang_assess/ui/guard.py)


@dataclass(frozen=True)
class RetentionReport:
    """What one retention run did: participants anonymised or deleted, and old teacher
    sessions forgotten."""

    anonymised: int
    deleted: int
    sessions_forgotten: int
    devices_forgotten: int = 0


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


class PrivacyMixin(AccessMixin):
    """The notice, leaving, retention, export and erasure."""

    def privacy_notice_due(self, who: ParticipantContext) -> bool:
        """True until the participant has seen the privacy notice (first login)."""
        with self._db() as db:
            return db.scalar(select(Participant.privacy_seen_at).where(
                Participant.id == who.participant_id)) is None

    def organisation_name(self, who: ParticipantContext) -> str:
        """The organisation responsible for the participant's data (the notice names it)."""
        with self._db() as db:
            return db.scalar(select(Organisation.name).join(
                Cohort, Cohort.organisation_id == Organisation.id).join(
                Participant, Participant.cohort_id == Cohort.id).where(
                Participant.id == who.participant_id)) or ""

    def privacy_notice_seen(self, who: ParticipantContext) -> None:
        """Record that the participant saw and acknowledged the privacy notice."""
        with self._db.begin() as db:
            db.execute(update(Participant).where(
                Participant.id == who.participant_id, Participant.privacy_seen_at.is_(None))
                .values(privacy_seen_at=self.clock()))

    def mark_left(self, actor: TeacherContext, participant_id: int,
                  left_on: dt.date | None) -> None:
        """The day a participant left the programme (None: back in it); retention
        counts ``retention_days`` from it.  Audited."""
        with self._db.begin() as db:
            p = self._participant(db, actor, participant_id)
            p.left_on = left_on
            self._audit(db, actor, "mark_left", "participant", p.id, None,
                        {"left_on": _iso(left_on)})

    def export_participant(self, actor: TeacherContext, participant_id: int) -> dict[str, Any]:
        """Everything stored about one participant (right of access, GDPR art. 15), as
        plain JSON-ready data: the record, tests and results, answers, notes and the audit
        entries about them.  Admins only; audited."""
        if not actor.is_admin:
            raise AccessDenied("only an admin exports a person's data")
        with self._db.begin() as db:
            p = self._participant(db, actor, participant_id)
            cohort = db.get(Cohort, p.cohort_id)
            teacher = db.get(Teacher, cohort.teacher_id) if cohort else None
            record = {c: _iso(getattr(p, c)) for c in (
                "pseudonym", "language", "gender", "birth_year", "years_schooling",
                "literate_l1", "higher_education", "track", "track_suggested",
                "track_override_reason", "intake_date", "course_level", "left_on",
                "privacy_seen_at", "anonymised_at")}
            record["cohort"] = cohort.name if cohort else None
            record["teacher"] = teacher.username if teacher else None
            tests = []
            for run, est in db.execute(
                    select(TestRun, Estimate).outerjoin(Estimate, Estimate.session_id == TestRun.id)
                    .where(TestRun.participant_id == p.id).order_by(TestRun.id)).all():
                answers = db.execute(select(Response).where(Response.session_id == run.id)
                                     .order_by(Response.position)).scalars().all()
                tests.append({
                    "kind": run.kind, "week": run.week, "started_at": _iso(run.started_at),
                    "finished_at": _iso(run.finished_at), "items": run.n_answered,
                    "params_version": run.params_version,
                    "result": None if est is None else {
                        "theta": est.theta, "se": est.se, "level": est.level,
                        "level_probabilities": est.level_probabilities},
                    "answers": [{"position": r.position, "item": r.item_id,
                                 "answer": r.answer, "right": bool(r.score),
                                 "score": r.score, "time_ms": r.time_ms,
                                 "answered_at": _iso(r.answered_at)} for r in answers],
                    "tasks": self._export_tasks(db, run.id)})
            notes = [{"created_at": _iso(at), "teacher": who, "text": text}
                     for at, who, text in db.execute(
                         select(Note.created_at, Teacher.username, Note.text)
                         .join(Teacher, Teacher.id == Note.teacher_id)
                         .where(Note.participant_id == p.id).order_by(Note.id)).all()]
            audit = [{"at": _iso(a.at), "actor": a.actor, "action": a.action,
                      "reason": a.reason, "detail": a.detail}
                     for a in db.scalars(select(AuditLog).where(
                         AuditLog.entity == "participant", AuditLog.entity_id == p.id)
                         .order_by(AuditLog.id))]
            self._audit(db, actor, "export", "participant", p.id, None, {})
        return {"format": EXPORT_FORMAT, "exported_at": _iso(self.clock()),
                "exported_by": actor.username, "participant": record, "tests": tests,
                "notes": notes, "audit": audit}

    @staticmethod
    def _export_tasks(db: Session, session_id: int) -> list[dict[str, Any]]:
        """A test's speaking and writing answers (issue 16) with their ratings; a
        recording as base64 (the person's own voice is theirs to take)."""
        out = []
        for a in db.scalars(select(RatedAnswer).where(RatedAnswer.session_id == session_id)
                            .order_by(RatedAnswer.position)):
            ratings = db.scalars(select(Rating.score).where(Rating.answer_id == a.id)
                                 .order_by(Rating.round)).all()
            out.append({"position": a.position, "item": a.item_id, "skill": a.skill,
                        "skipped": a.skipped, "text": a.text, "seconds": a.seconds,
                        "audio_format": a.audio_format,
                        "audio_base64": (base64.b64encode(a.audio).decode()
                                         if a.audio is not None else None),
                        "score": a.score, "ratings": list(ratings),
                        "answered_at": _iso(a.answered_at)})
        return out

    def erase_participant(self, actor: TeacherContext, participant_id: int,
                          reason: str = "") -> None:
        """Delete a participant and everything about them (right to erasure, art. 17):
        answers, tests, results, notes, trusted devices; the audit entries about them
        lose their reasons and details.  Admins only; the erasure itself is audited with
        no trace of what was erased (not even the pseudonym)."""
        if not actor.is_admin:
            raise AccessDenied("only an admin erases a person's data")
        with self._db.begin() as db:
            p = self._participant(db, actor, participant_id)
            self._delete_participant(db, p)
            self._audit(db, actor, "erase", "participant", participant_id,
                        reason.strip() or None, {})

    def run_retention(self) -> RetentionReport:
        """Anonymise (or delete, per ``retention_action``) every participant who left
        the programme at least ``retention_days`` ago, forget teacher sessions that
        ended over 30 days ago and devices unused for 180 days.  Meant to run daily
        (``lang-assess retention run``); each participant it touches is audited as done
        by ``retention``."""
        now = self.clock()
        cutoff = now.date() - dt.timedelta(days=self.config.retention_days)
        anonymised = deleted = 0
        with self._db.begin() as db:
            due = db.scalars(select(Participant).where(
                Participant.left_on.is_not(None), Participant.left_on <= cutoff,
                Participant.anonymised_at.is_(None))).all()
            for p in due:
                pid = p.id
                if self.config.retention_action == "delete":
                    self._delete_participant(db, p)
                    deleted += 1
                else:
                    self._anonymise(db, p, now)
                    anonymised += 1
                db.add(AuditLog(at=now, actor="retention", action=f"retention_"
                                f"{self.config.retention_action}", entity="participant",
                                entity_id=pid, reason=None,
                                detail={"retention_days": self.config.retention_days}))
            wall = self.wall_clock()
            old = wall - dt.timedelta(days=30)
            sessions = db.execute(delete(TeacherSession).where(
                (TeacherSession.ended_at < old) | (TeacherSession.last_seen_at < old))).rowcount
            # a device unused for as long as its cookie lives is trusted no more
            unused = wall - dt.timedelta(days=DEVICE_DAYS)
            devices = db.execute(delete(TrustedDevice).where(
                TrustedDevice.last_seen_at < unused)).rowcount
        return RetentionReport(anonymised, deleted, int(sessions or 0), int(devices or 0))

    # ---- the two ways of forgetting ---------------------------------------------------
    def _scrub_audit(self, db: Session, participant_id: int) -> None:
        db.execute(update(AuditLog).where(AuditLog.entity == "participant",
                                          AuditLog.entity_id == participant_id)
                   .values(reason=None, detail={}))

    def _delete_participant(self, db: Session, p: Participant) -> None:
        runs = select(TestRun.id).where(TestRun.participant_id == p.id)
        answers = select(RatedAnswer.id).where(RatedAnswer.session_id.in_(runs))
        db.execute(delete(Rating).where(Rating.answer_id.in_(answers)))
        db.execute(delete(RatedAnswer).where(RatedAnswer.session_id.in_(runs)))
        db.execute(delete(Response).where(Response.session_id.in_(runs)))
        db.execute(delete(Estimate).where(Estimate.session_id.in_(runs)))
        db.execute(delete(TestRun).where(TestRun.participant_id == p.id))
        db.execute(delete(Note).where(Note.participant_id == p.id))
        forget_devices(db, "participant", p.id)
        self._scrub_audit(db, p.id)
        db.delete(p)
        db.flush()

    def _anonymise(self, db: Session, p: Participant, now: dt.datetime) -> None:
        """Keep the answers and results (item calibration, the programme's statistics)
        with the track and first language; drop everything that points at the person:
        a recording is the person's voice and a written answer may name them, so both
        go (the scores and ratings stay), and so do the raters' comments."""
        db.execute(delete(Note).where(Note.participant_id == p.id))
        runs = select(TestRun.id).where(TestRun.participant_id == p.id)
        answers = select(RatedAnswer.id).where(RatedAnswer.session_id.in_(runs))
        db.execute(update(Rating).where(Rating.answer_id.in_(answers)).values(comment=None))
        db.execute(update(RatedAnswer).where(RatedAnswer.session_id.in_(runs)).values(
            audio=None, text=None, media_deleted_at=now))
        forget_devices(db, "participant", p.id)
        self._scrub_audit(db, p.id)
        p.pseudonym = f"anon-{secrets.token_hex(6)}"
        # lower case never matches a typed code (codes are upper-cased before the lookup)
        p.code_lookup, p.code_hash = f"x{p.id:x}"[:8], ""
        p.gender = p.birth_year = p.years_schooling = p.literate_l1 = None
        p.higher_education = False
        p.track_override_reason = None
        p.anonymised_at = now
        if p.left_on is not None:  # keep the year only
            p.left_on = dt.date(p.left_on.year, 1, 1)

    def participant_status(self, actor: TeacherContext, participant_id: int) -> dict[str, Any]:
        """Privacy facts of one participant: left_on, privacy_seen_at, anonymised_at,
        and the day retention will act (None while they are in the programme)."""
        with self._db() as db:
            p = self._participant(db, actor, participant_id)
            due = (p.left_on + dt.timedelta(days=self.config.retention_days)
                   if p.left_on is not None and p.anonymised_at is None else None)
            return {"left_on": p.left_on, "privacy_seen_at": p.privacy_seen_at and
                    _aware(p.privacy_seen_at), "anonymised_at": p.anonymised_at,
                    "retention_due": due}
