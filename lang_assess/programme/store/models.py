"""The database tables (SQLAlchemy 2), the same on SQLite and PostgreSQL.

No name is stored anywhere: a participant is a pseudonym chosen by the programme, with
intake data for the track rule.  Access codes and passwords are stored only as hashes;
login attempts keep keyed hashes of what was typed and of the client, never the text
(docs/privacy.md has the record of processing).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """Now, in UTC (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class Organisation(Base):
    """A municipality or adult education centre running an introduction programme."""

    __tablename__ = "organisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Teacher(Base):
    """A teacher (or an admin, who sees every cohort of the organisation)."""

    __tablename__ = "teacher"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # a disabled account logs in no more and its sessions end at once
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    # set when an admin resets the password: the teacher chooses their own first
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)


class Cohort(Base):
    """One intake: participants who arrived together, with their teacher and track."""

    __tablename__ = "cohort"
    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teacher.id"))
    name: Mapped[str] = mapped_column(String(120))
    intake_date: Mapped[dt.date] = mapped_column(Date)
    track: Mapped[int | None] = mapped_column(Integer, nullable=True)
    participants: Mapped[list[Participant]] = relationship(back_populates="cohort")


class Participant(Base):
    """A participant, pseudonymous: no name is asked for or stored."""

    __tablename__ = "participant"
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)
    code_lookup: Mapped[str] = mapped_column(String(8), unique=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8))  # first language (L1), ISO code
    gender: Mapped[str | None] = mapped_column(String(16), nullable=True)
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    years_schooling: Mapped[int | None] = mapped_column(Integer, nullable=True)
    literate_l1: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    higher_education: Mapped[bool] = mapped_column(Boolean, default=False)
    # whole months lived in Norway before enrolling (None: not asked); migration 0005
    months_in_norway: Mapped[int | None] = mapped_column(Integer, nullable=True)
    track: Mapped[int] = mapped_column(Integer)
    track_suggested: Mapped[int] = mapped_column(Integer)
    track_override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    intake_date: Mapped[dt.date] = mapped_column(Date)
    # the level of the class the participant is in: set by the placement test, raised
    # when the teacher moves them up; "ready to move up" looks at the cut above it
    course_level: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # when the privacy notice was shown and acknowledged (first login)
    privacy_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                                nullable=True)
    # the day the participant left the programme: retention counts from here
    left_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # set when retention anonymised the row (pseudonym and intake data gone)
    anonymised_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    cohort: Mapped[Cohort] = relationship(back_populates="participants")


class ParamVersion(Base):
    """A published set of item parameters of a bank (files hold the numbers)."""

    __tablename__ = "param_version"
    __table_args__ = (UniqueConstraint("language", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)


class TestRun(Base):
    """One test: a placement test on arrival or a weekly progress test."""

    __tablename__ = "test_session"
    __test__ = False  # not a pytest test class, despite the name
    __table_args__ = (UniqueConstraint("participant_id", "kind", "week"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "placement" | "progress"
    week: Mapped[int] = mapped_column(Integer)  # weeks since intake; placement: 0
    params_version: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(Text)  # CATSession.to_json(), saved with each answer
    n_answered: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # issue 16: the speaking and writing tasks given after the adaptive part (item ids,
    # in order), chosen when that part ended; None before (and for tests without tasks)
    tasks: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class Response(Base):
    """One answer, stored before the next item is shown; never two for one position."""

    __tablename__ = "response"
    __table_args__ = (UniqueConstraint("session_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("test_session.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the test
    item_id: Mapped[str] = mapped_column(String(40))
    params_version: Mapped[str] = mapped_column(String(40))
    answer: Mapped[str] = mapped_column(String(80))  # what was chosen, e.g. "B" or "CABD"
    score: Mapped[int] = mapped_column(Integer)
    time_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Estimate(Base):
    """The result of a finished test: θ̂, SE, CEFR level and the probability of each."""

    __tablename__ = "estimate"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("test_session.id"), unique=True)
    theta: Mapped[float] = mapped_column(Float)
    se: Mapped[float] = mapped_column(Float)
    level: Mapped[str] = mapped_column(String(8))
    level_probabilities: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the prior the test started from (logits), and the learner's trend after it
    # (lang_assess/programme/growth.py): growth in logits a week, its SD, the level-growth
    # covariance; empty on rows from before migration 0004
    prior_mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    prior_sd: Mapped[float | None] = mapped_column(Float, nullable=True)
    growth: Mapped[float | None] = mapped_column(Float, nullable=True)
    growth_se: Mapped[float | None] = mapped_column(Float, nullable=True)
    growth_cov: Mapped[float | None] = mapped_column(Float, nullable=True)
    # a placement test that began with the routing stage: the literacy step reached
    # (LASLLIAM-style, bank.yaml) and whether the routing found a reader; migration 0005
    literacy_step: Mapped[str | None] = mapped_column(String(8), nullable=True)
    reader: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # issue 16: a level per skill: {skill: {theta, se, n, enough, level}}; recomputed
    # with the result whenever a teacher's rating arrives
    skills: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    rated_pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # to rate


class RatedAnswer(Base):
    """A spoken or written answer to a task that teachers rate (issue 16).  Stored whole,
    in one transaction with the test's progress: never half a recording."""

    __tablename__ = "rated_answer"
    __table_args__ = (UniqueConstraint("session_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("test_session.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # place in the test, after the items
    item_id: Mapped[str] = mapped_column(String(40))
    skill: Mapped[str] = mapped_column(String(16))  # speaking | writing
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # a written answer
    # the recording (Opus in WebM or Ogg); None once the retention period deleted it
    audio: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    audio_format: Mapped[str | None] = mapped_column(String(8), nullable=True)
    audio_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    audio_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)  # "I cannot": scored 0
    raters_needed: Mapped[int] = mapped_column(Integer, default=1)  # 1, 2, or 3 after a split
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # resolved; None: owed
    answered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    media_deleted_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True)


class Rating(Base):
    """One teacher's score of one answer (round 1, 2: the blind second rating, 3: the
    rating that settles a split of more than one step)."""

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("answer_id", "teacher_id"),
                      UniqueConstraint("answer_id", "round"))
    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("rated_answer.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teacher.id"))
    round: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CohortRater(Base):
    """A teacher who rates a cohort's speaking and writing besides its own teacher (the
    second, blind rater); may hear its recordings and read its texts, nothing else."""

    __tablename__ = "cohort_rater"
    __table_args__ = (UniqueConstraint("cohort_id", "teacher_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teacher.id"))


class Note(Base):
    """A teacher's note on a participant (free text; the page asks for no names or
    health details)."""

    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teacher.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditLog(Base):
    """Who changed what, and why."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginAttempt(Base):
    """One login try (participant code or teacher password), kept a day for the limits.

    ``subject`` (the code's lookup half or the user name), ``client`` (the address),
    ``device`` (the browser's cookie) and ``page`` (the page's kernel) are keyed hashes
    (:class:`ServerKey`), so nothing typed and no address is stored."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "participant" | "teacher"
    subject: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    device: Mapped[str] = mapped_column(String(64))
    page: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)


class TrustedDevice(Base):
    """A browser (keyed hash of its device cookie) that has logged in as someone: it
    gets in even while strangers' failures pause that person's code or user name."""

    __tablename__ = "trusted_device"
    __table_args__ = (UniqueConstraint("kind", "subject_id", "device"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "participant" | "teacher"
    subject_id: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TeacherSession(Base):
    """A teacher's login: checked on every service call, ended by logout, idleness, its
    age or the account being disabled.  Only a hash of the token is kept."""

    __tablename__ = "teacher_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teacher.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)


class ServerKey(Base):
    """Random keys the servers share through the database (the key of the keyed hashes
    in :class:`LoginAttempt` and :class:`TrustedDevice`)."""

    __tablename__ = "server_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    value: Mapped[str] = mapped_column(String(128))
