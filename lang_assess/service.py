"""The service: the only door to the database for widgets, dashboards, notebooks and CLI.

It enrols participants, runs their placement and weekly progress tests (every answer is
committed before the next item is chosen and shown), assigns CEFR levels and tracks, and
gives teachers their cohorts' progress and flags.  Every call names who is asking (a
:class:`TeacherContext` or a :class:`ParticipantContext`) and is checked: a participant
reaches only their own test, a teacher only their own cohorts (an admin: the
organisation's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lang_assess.bank.loader import Bank, load_bank, read_provenance
from lang_assess.bank.schema import Item
from lang_assess.bank.versions import current_cuts, current_version, provenance
from lang_assess.cat.session import CATSession
from lang_assess.errors import LangAssessError, SessionError
from lang_assess.growth import (
    GrowthPrior,
    Trend,
    growth_prior_from_data,
    measurement,
    own_growth,
    start_trend,
)
from lang_assess.irt.params import ItemParameters
from lang_assess.levels import CutScores
from lang_assess.programme import (
    ProgrammeConfig,
    default_growth_prior,
    participant_flags,
    prob_above_next_cut,
    reliable_growth,
    suggest_track,
    weekly_trend,
)
from lang_assess.store.db import session_factory
from lang_assess.store.models import (
    AuditLog,
    Cohort,
    Estimate,
    Note,
    Organisation,
    ParamVersion,
    Participant,
    Response,
    Teacher,
    TestSession,
    utcnow,
)

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


def _test_week(kind: str, week: int, finished_at: dt.datetime | None,
               intake_date: dt.date) -> int:
    """The programme week a finished test measured: its own week, or for a placement
    test taken late, the week it was finished in."""
    if kind != "placement" or finished_at is None:
        return week
    return max(week, (finished_at.date() - intake_date).days // 7)


@dataclass(frozen=True)
class Intake:
    """What enrolment asks: a pseudonym and the intake questions of the track rule."""

    pseudonym: str
    language: str
    gender: str | None = None
    birth_year: int | None = None
    years_schooling: int | None = None
    literate_l1: bool | None = None
    higher_education: bool = False


@dataclass(frozen=True)
class Enrolled:
    """A new participant and the access code, shown once and never stored in clear."""

    participant_id: int
    pseudonym: str
    code: str
    track: int


@dataclass(frozen=True)
class OptionView:
    """One answer option as shown: no key, no parameter."""

    id: str
    text: str | None
    image: str | None
    alt: str | None
    audio: str | None


@dataclass(frozen=True)
class ItemView:
    """What a participant sees of the item on screen; never the key or parameters."""

    session_id: int
    position: int
    kind: str
    item_id: str
    type: str
    skill: str
    stem: str
    passage: str | None
    image: str | None
    image_alt: str | None
    stem_audio: str | None
    transcript_audio: str | None
    options: tuple[OptionView, ...]


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


PRETEST = "pretest"  # params_version of an unscored pretest answer
NOTE_MAX = 2000


def normalise_code(text: str) -> str:
    """An access code as typed (any case, spaces or dashes) → its canonical 8 letters."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def item_view(item: Item, session_id: int, position: int, kind: str) -> ItemView:
    """The participant's view of an item (key and parameters stay in the service)."""
    return ItemView(
        session_id=session_id, position=position, kind=kind, item_id=item.id, type=item.type,
        skill=item.skill, stem=item.stem, passage=item.passage,
        image=item.image.file if item.image else None,
        image_alt=item.image.alt if item.image else None,
        stem_audio=item.stem_audio.file if item.stem_audio else None,
        transcript_audio=item.transcript.file if item.transcript else None,
        options=tuple(OptionView(o.id, o.text, o.image.file if o.image else None,
                                 o.image.alt if o.image else None,
                                 o.audio.file if o.audio else None) for o in item.options),
    )


def score_answer(item: Item, answer: str) -> int:
    """Score of an answer: the chosen option id, or the option ids in order for ordering."""
    if item.type == "ordering":
        return int(normalise_code(answer) == "".join(item.key))
    if item.type == "rated":
        raise SessionError(f"item '{item.id}' is scored by a teacher, not in the test")
    return int(answer.strip().upper() == item.key[0])


class Service:
    """Programme operations on one database and one item bank.

    ``clock`` returns the current time (UTC); tests and the demo pass their own.
    """

    def __init__(
        self,
        engine: Engine,
        bank: Bank,
        config: ProgrammeConfig,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        seed: int | None = None,
    ) -> None:
        self.engine = engine
        self.bank = bank
        self.config = config
        self.clock = clock
        self._sessions = session_factory(engine)
        self._seeds = np.random.default_rng(seed)
        self._designs = {k: bank.design(k) for k in ("placement", "progress")}
        self._params: dict[str, ItemParameters] = {bank.config.params_version: bank.params}
        self._cuts: tuple[int, CutScores] = (-1, bank.cuts)

    # ---- set-up and login ---------------------------------------------------------
    def create_organisation(self, name: str) -> int:
        """A new organisation; returns its id."""
        with self._sessions.begin() as db:
            org = Organisation(name=name)
            db.add(org)
            db.flush()
            return org.id

    def create_teacher(self, organisation_id: int, username: str, password: str,
                       *, is_admin: bool = False) -> int:
        """A teacher account (password stored as a scrypt hash); returns its id."""
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        with self._sessions.begin() as db:
            t = Teacher(organisation_id=organisation_id, username=username,
                        password_hash=_hash_secret(password), is_admin=is_admin)
            db.add(t)
            db.flush()
            return t.id

    def login_teacher(self, username: str, password: str) -> TeacherContext:
        """Check a teacher's password; raises :class:`AccessDenied` if wrong."""
        with self._sessions() as db:
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
        with self._sessions.begin() as db:
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

    # ---- cohorts and enrolment -----------------------------------------------------
    def create_cohort(self, actor: TeacherContext, name: str, intake_date: dt.date,
                      *, teacher_id: int | None = None, track: int | None = None) -> int:
        """A new intake cohort taught by ``teacher_id`` (default: the actor)."""
        teacher_id = teacher_id or actor.teacher_id
        if teacher_id != actor.teacher_id and not actor.is_admin:
            raise AccessDenied("only an admin creates cohorts for other teachers")
        with self._sessions.begin() as db:
            c = Cohort(organisation_id=actor.organisation_id, teacher_id=teacher_id, name=name,
                       intake_date=intake_date, track=track)
            db.add(c)
            db.flush()
            self._audit(db, actor, "create", "cohort", c.id, None, {"name": name})
            return c.id

    def cohorts(self, actor: TeacherContext) -> pd.DataFrame:
        """The cohorts the actor may see: id, name, intake_date, track, teacher."""
        with self._sessions() as db:
            q = select(Cohort.id, Cohort.name, Cohort.intake_date, Cohort.track,
                       Teacher.username.label("teacher")).join(Teacher)
            q = q.where(Cohort.organisation_id == actor.organisation_id)
            if not actor.is_admin:
                q = q.where(Cohort.teacher_id == actor.teacher_id)
            rows = db.execute(q.order_by(Cohort.intake_date, Cohort.id)).all()
        return pd.DataFrame(rows, columns=["id", "name", "intake_date", "track", "teacher"])

    def enrol(self, actor: TeacherContext, cohort_id: int,
              intakes: Sequence[Intake]) -> list[Enrolled]:
        """Enrol participants into a cohort; each gets a random access code, returned
        here once and stored only as a hash.  All or nothing."""
        with self._sessions.begin() as db:
            cohort = self._cohort(db, actor, cohort_id)
            out = []
            for intake in intakes:
                if not intake.pseudonym.strip():
                    raise ValueError("every participant needs a pseudonymous id")
                lookup = self._new_lookup(db)
                secret = "".join(secrets.choice(CODE_ALPHABET) for _ in range(SECRET_LEN))
                track = suggest_track(intake.years_schooling, intake.literate_l1,
                                      intake.higher_education, self.config)
                p = Participant(
                    cohort_id=cohort.id, pseudonym=intake.pseudonym.strip(),
                    code_lookup=lookup, code_hash=_hash_secret(secret),
                    language=intake.language, gender=intake.gender,
                    birth_year=intake.birth_year, years_schooling=intake.years_schooling,
                    literate_l1=intake.literate_l1, higher_education=intake.higher_education,
                    track=track, track_suggested=track, intake_date=cohort.intake_date,
                )
                db.add(p)
                try:
                    db.flush()
                except IntegrityError:
                    raise ValueError(f"pseudonym {intake.pseudonym!r} is already used") from None
                self._audit(db, actor, "enrol", "participant", p.id, None,
                            {"cohort": cohort.id, "track": track})
                out.append(Enrolled(p.id, p.pseudonym, f"{lookup}-{secret}", track))
            return out

    def override_track(self, actor: TeacherContext, participant_id: int, track: int,
                       reason: str) -> None:
        """Put a participant in another track, with a reason; audited."""
        if track not in (1, 2, 3):
            raise ValueError("track must be 1, 2 or 3")
        if not reason.strip():
            raise ValueError("a track override needs a reason")
        with self._sessions.begin() as db:
            p = self._participant(db, actor, participant_id)
            old = p.track
            p.track, p.track_override_reason = track, reason.strip()
            self._audit(db, actor, "override_track", "participant", p.id, reason.strip(),
                        {"from": old, "to": track, "suggested": p.track_suggested})

    def move_up(self, actor: TeacherContext, participant_id: int, reason: str = "") -> str:
        """Move a participant to the next course level (after the flag, or the teacher's
        judgement); audited.  Returns the new level."""
        labels = self.cuts.labels
        with self._sessions.begin() as db:
            p = self._participant(db, actor, participant_id)
            if p.course_level is None:
                raise SessionError("the participant has no course level yet (no placement)")
            k = labels.index(p.course_level)
            if k + 1 >= len(labels):
                raise ValueError(f"{p.course_level} is the highest level")
            old, p.course_level = p.course_level, labels[k + 1]
            self._audit(db, actor, "move_up", "participant", p.id, reason.strip() or None,
                        {"from": old, "to": p.course_level})
            return p.course_level

    def audit_log(self, actor: TeacherContext) -> pd.DataFrame:
        """The audit trail (admins only)."""
        if not actor.is_admin:
            raise AccessDenied("only an admin reads the audit log")
        with self._sessions() as db:
            rows = db.execute(select(AuditLog.at, AuditLog.actor, AuditLog.action,
                                     AuditLog.entity, AuditLog.entity_id, AuditLog.reason,
                                     AuditLog.detail).order_by(AuditLog.id)).all()
        return pd.DataFrame(rows, columns=["at", "actor", "action", "entity", "entity_id",
                                           "reason", "detail"])

    # ---- the participant's test ---------------------------------------------------
    def current_week(self, intake_date: dt.date) -> int:
        """Whole weeks since intake (0 in the first week)."""
        return max(0, (self.clock().date() - intake_date).days // 7)

    def start_or_resume(self, who: ParticipantContext) -> ItemView | None:
        """The item to show: the unfinished test's item on screen, or the first item of
        this week's test (placement first, then one progress test a week); None when the
        participant has no test due."""
        with self._sessions.begin() as db:
            p = db.get(Participant, who.participant_id)
            if p is None:
                raise AccessDenied("unknown participant")
            open_test = db.scalar(select(TestSession).where(
                TestSession.participant_id == p.id, TestSession.finished_at.is_(None)))
            if open_test is not None:
                cat = self._restore(open_test)
                return self._view(open_test, cat)
            kind, week = self._due(db, p)
            if kind is None:
                return None
            version = self.current_params_version()
            cat = self._new_cat(db, p, kind, week, self.params_for(version))
            self._register_params_version(db, version)
            row = TestSession(participant_id=p.id, kind=kind, week=week,
                              params_version=version,
                              state=cat.to_json(), n_answered=0, started_at=self.clock())
            db.add(row)
            db.flush()
            item = cat.next_item()
            row.state = cat.to_json()  # the chosen item is on screen from now on
            return self._view(row, cat) if item is not None else None

    def answer(self, who: ParticipantContext, session_id: int, item_id: str, answer: str,
               time_ms: int | None = None) -> ItemView | None:
        """Record the answer to the item on screen, then choose the next item.

        The answer, the test state and (at the end) the result are committed in one
        transaction before the next item is returned; None when the test is over.
        """
        with self._sessions.begin() as db:
            row = db.get(TestSession, session_id)
            if row is None or row.participant_id != who.participant_id:
                raise AccessDenied("not your test")
            if row.finished_at is not None:
                raise SessionError("this test is finished")
            cat = self._restore(row)
            on_screen = cat.next_item()
            if on_screen != item_id:
                raise SessionError(f"item '{item_id}' is not on screen (it is {on_screen!r})")
            item = self.bank.items[item_id]
            score = score_answer(item, answer)
            # a pretest answer is kept for calibration but has no parameters behind it
            version = PRETEST if cat.is_pretest(item_id) else row.params_version
            cat.answer(item_id, score)
            row.n_answered = cat.n_answered
            db.add(Response(session_id=row.id, position=cat.n_answered, item_id=item_id,
                            params_version=version, answer=answer[:80],
                            score=score, time_ms=time_ms, answered_at=self.clock()))
            nxt = cat.next_item()
            row.state = cat.to_json()
            if nxt is None:
                self._finish(db, row, cat)
                return None
            return self._view(row, cat)

    def result(self, who: ParticipantContext, session_id: int) -> dict[str, Any]:
        """A finished test's result for its participant (the level only if allowed)."""
        with self._sessions() as db:
            row = db.get(TestSession, session_id)
            if row is None or row.participant_id != who.participant_id:
                raise AccessDenied("not your test")
            est = db.scalar(select(Estimate).where(Estimate.session_id == row.id))
            out: dict[str, Any] = {"finished": est is not None, "n_answered": row.n_answered}
            if est is not None and self.config.show_level_to_participant:
                out["level"] = est.level
            return out

    # ---- teachers' views ----------------------------------------------------------
    def participant_history(self, actor: TeacherContext, participant_id: int) -> pd.DataFrame:
        """Every finished test of a participant with θ̂, SE, level, and change since the
        previous test and since intake (with whether the change is reliable)."""
        with self._sessions() as db:
            self._participant(db, actor, participant_id)
            rows = db.execute(
                select(TestSession.kind, TestSession.week, TestSession.n_answered,
                       TestSession.finished_at, Estimate.theta, Estimate.se, Estimate.level,
                       Estimate.level_probabilities)
                .join(Estimate, Estimate.session_id == TestSession.id)
                .where(TestSession.participant_id == participant_id)
                .order_by(TestSession.week, TestSession.id)).all()
        df = pd.DataFrame(rows, columns=["kind", "week", "items", "finished_at", "theta", "se",
                                         "level", "level_probabilities"])
        if df.empty:
            return df
        prev_t, prev_s = df["theta"].shift(), df["se"].shift()
        df["change"] = df["theta"] - prev_t
        df["change_se"] = np.sqrt(df["se"] ** 2 + prev_s**2)
        df["change_reliable"] = [
            bool(np.isfinite(pt)) and reliable_growth(pt, ps, t, s, self.config)
            for pt, ps, t, s in zip(prev_t, prev_s, df["theta"], df["se"], strict=True)
        ]
        df["change_since_intake"] = df["theta"] - df["theta"].iloc[0]
        df["change_since_intake_se"] = np.sqrt(df["se"] ** 2 + df["se"].iloc[0] ** 2)
        return df

    def cohort_progress(self, actor: TeacherContext, cohort_id: int) -> pd.DataFrame:
        """One row per participant: track, latest θ̂/SE/level, P(next level), flags."""
        cuts = self.cuts
        with self._sessions() as db:
            cohort = self._cohort(db, actor, cohort_id)
            people = db.scalars(select(Participant).where(Participant.cohort_id == cohort.id)
                                .order_by(Participant.pseudonym)).all()
            tests = db.execute(
                select(TestSession.participant_id, TestSession.week, TestSession.finished_at,
                       Estimate.theta, Estimate.se, Estimate.level)
                .join(Estimate, Estimate.session_id == TestSession.id)
                .join(Participant, Participant.id == TestSession.participant_id)
                .where(Participant.cohort_id == cohort.id)
                .order_by(TestSession.week, TestSession.id)).all()
        by_person: dict[int, list[Any]] = {}
        for t in tests:
            by_person.setdefault(t.participant_id, []).append(t)
        today = self.clock()
        rows = []
        for p in people:
            hist = by_person.get(p.id, [])
            week = self.current_week(p.intake_date)
            last = hist[-1] if hist else None
            days = None if last is None else (today - _aware(last.finished_at)).days
            level = None if p.course_level is None else cuts.labels.index(p.course_level)
            flags = participant_flags([(h.week, h.theta, h.se) for h in hist], cuts,
                                      self.config, course_level=level, current_week=week,
                                      days_since_last_test=days)
            rows.append({
                "participant_id": p.id, "pseudonym": p.pseudonym, "track": p.track,
                "track_overridden": p.track != p.track_suggested, "language": p.language,
                "gender": p.gender, "birth_year": p.birth_year,
                "week": week, "tests": len(hist),
                "theta": None if last is None else last.theta,
                "se": None if last is None else last.se,
                "level": None if last is None else last.level,
                "course_level": p.course_level,
                "p_next_level": None if last is None or level is None else prob_above_next_cut(
                    last.theta, last.se, cuts, level),
                "ready_to_move_up": flags.ready_to_move_up, "stalled": flags.stalled,
                "missed": flags.missed,
            })
        return pd.DataFrame(rows)

    def calibration_responses(self, actor: TeacherContext, *, since: dt.date | None = None,
                              until: dt.date | None = None) -> pd.DataFrame:
        """Every scored answer of finished tests in the organisation, for recalibration
        (admins only: psychometricians).  One row per answer: ``occasion`` (the test — θ
        moves week to week, so each test is its own calibration case), ``participant``
        (internal id, no pseudonym), ``item``, ``score``, ``params_version``, ``kind``,
        ``week``, ``answered_at`` and the grouping variables for fairness checks:
        ``language`` (L1), ``gender``, ``track``, ``birth_year``.  ``since``/``until``:
        the data window (dates of the answers, inclusive)."""
        if not actor.is_admin:
            raise AccessDenied("only an admin exports responses for calibration")
        q = (select(TestSession.id, Participant.id, Response.item_id, Response.score,
                    Response.params_version, TestSession.kind, TestSession.week,
                    Response.answered_at, Participant.language, Participant.gender,
                    Participant.track, Participant.birth_year)
             .join(TestSession, TestSession.id == Response.session_id)
             .join(Participant, Participant.id == TestSession.participant_id)
             .join(Cohort, Cohort.id == Participant.cohort_id)
             .where(Cohort.organisation_id == actor.organisation_id,
                    TestSession.finished_at.is_not(None))
             .order_by(TestSession.id, Response.position))
        if since is not None:
            q = q.where(Response.answered_at >= dt.datetime.combine(since, dt.time.min))
        if until is not None:
            q = q.where(Response.answered_at < dt.datetime.combine(
                until + dt.timedelta(days=1), dt.time.min))
        with self._sessions() as db:
            rows = db.execute(q).all()
        return pd.DataFrame(rows, columns=[
            "occasion", "participant", "item", "score", "params_version", "kind", "week",
            "answered_at", "language", "gender", "track", "birth_year"])

    def participant_skills(self, actor: TeacherContext, participant_id: int) -> pd.DataFrame:
        """Share of items answered right per skill (never which items): skill, answered,
        right, share — over all the participant's tests."""
        with self._sessions() as db:
            self._participant(db, actor, participant_id)
            rows = db.execute(select(Response.item_id, Response.score)
                              .join(TestSession, TestSession.id == Response.session_id)
                              .where(TestSession.participant_id == participant_id)).all()
        skills = [(self.bank.items[i].skill, s) for i, s in rows if i in self.bank.items]
        df = pd.DataFrame(skills, columns=["skill", "score"])
        if df.empty:
            return pd.DataFrame(columns=["skill", "answered", "right", "share"])
        out = df.groupby("skill")["score"].agg(answered="count", right="sum").reset_index()
        out["share"] = out["right"] / out["answered"]
        return out.sort_values("share").reset_index(drop=True)

    def add_note(self, actor: TeacherContext, participant_id: int, text: str) -> None:
        """Keep a teacher's note on a participant (at most 2,000 characters)."""
        text = text.strip()
        if not text:
            raise ValueError("an empty note is not kept")
        if len(text) > NOTE_MAX:
            raise ValueError(f"a note has at most {NOTE_MAX} characters")
        with self._sessions.begin() as db:
            self._participant(db, actor, participant_id)
            db.add(Note(participant_id=participant_id, teacher_id=actor.teacher_id,
                        text=text, created_at=self.clock()))

    def notes(self, actor: TeacherContext, participant_id: int) -> pd.DataFrame:
        """A participant's notes, newest first: created_at, teacher, text."""
        with self._sessions() as db:
            self._participant(db, actor, participant_id)
            rows = db.execute(select(Note.created_at, Teacher.username, Note.text)
                              .join(Teacher, Teacher.id == Note.teacher_id)
                              .where(Note.participant_id == participant_id)
                              .order_by(Note.created_at.desc(), Note.id.desc())).all()
        return pd.DataFrame(rows, columns=["created_at", "teacher", "text"])

    def participant_record(self, actor: TeacherContext, participant_id: int) -> dict[str, Any]:
        """What the participant page shows besides the tests: pseudonym, cohort id,
        language, track, suggested track, override reason, course level, intake date."""
        with self._sessions() as db:
            p = self._participant(db, actor, participant_id)
            return {"pseudonym": p.pseudonym, "cohort_id": p.cohort_id,
                    "language": p.language, "track": p.track,
                    "track_suggested": p.track_suggested,
                    "track_override_reason": p.track_override_reason,
                    "course_level": p.course_level, "intake_date": p.intake_date}

    def cohort_tests(self, actor: TeacherContext, cohort_id: int) -> pd.DataFrame:
        """Every finished test of a cohort: participant_id, pseudonym, kind, week, items,
        theta, se, level, finished_at (one row per test, in week order)."""
        with self._sessions() as db:
            cohort = self._cohort(db, actor, cohort_id)
            rows = db.execute(
                select(Participant.id, Participant.pseudonym, TestSession.kind,
                       TestSession.week, TestSession.n_answered, Estimate.theta, Estimate.se,
                       Estimate.level, TestSession.finished_at)
                .join(TestSession, TestSession.participant_id == Participant.id)
                .join(Estimate, Estimate.session_id == TestSession.id)
                .where(Participant.cohort_id == cohort.id)
                .order_by(TestSession.week, Participant.id)).all()
        return pd.DataFrame(rows, columns=["participant_id", "pseudonym", "kind", "week",
                                           "items", "theta", "se", "level", "finished_at"])

    # ---- internals ----------------------------------------------------------------
    def _due(self, db: Session, p: Participant) -> tuple[str | None, int]:
        done = db.execute(select(TestSession.kind, TestSession.week).where(
            TestSession.participant_id == p.id)).all()
        if not any(k == "placement" for k, _ in done):
            return "placement", 0
        week = self.current_week(p.intake_date)
        if week == 0 or any(k == "progress" and w == week for k, w in done):
            return None, week
        return "progress", week

    def _new_cat(self, db: Session, p: Participant, kind: str, week: int,
                 params: ItemParameters) -> CATSession:
        design = self._designs[kind]
        seed = int(self._seeds.integers(2**31))
        known = set(params.ids.tolist())
        pretest = [i for i in self.bank.pretest_ids if i not in known]
        if kind == "placement":
            return CATSession(params, design, seed=seed, pretest=pretest)
        mean, sd = self._weekly_trend(db, p, week).prior()
        mean, sd = float(mean), float(sd)
        since = week - self.config.exclude_weeks
        seen = db.scalars(
            select(Response.item_id).join(TestSession, TestSession.id == Response.session_id)
            .where(TestSession.participant_id == p.id, TestSession.week >= since)).all()
        return CATSession(params, design, seed=seed, prior_mean=mean, prior_sd=sd,
                          exclude=set(seen), pretest=pretest)

    def _weekly_trend(self, db: Session, p: Participant, week: int) -> Trend:
        """The trend a progress test in ``week`` starts from: the last finished test's,
        carried to ``week``."""
        last = db.execute(
            select(TestSession.kind, TestSession.week, TestSession.finished_at,
                   Estimate.theta, Estimate.se, Estimate.growth, Estimate.growth_se,
                   Estimate.growth_cov)
            .join(Estimate, Estimate.session_id == TestSession.id)
            .where(TestSession.participant_id == p.id, TestSession.week < week)
            .order_by(TestSession.week.desc())).first()
        if last.growth is None:  # a result from before trends were kept
            prior = default_growth_prior(self.config)
            trend = start_trend(last.theta, last.se, prior.mean, prior.sd)
        else:
            trend = Trend(np.float64(last.theta), np.float64(last.growth),
                          np.float64(last.se**2), np.float64(last.growth_se**2),
                          np.float64(last.growth_cov))
        then = _test_week(last.kind, last.week, last.finished_at, p.intake_date)
        return weekly_trend(trend, week - then, self.config)

    def _growth_prior(self, db: Session, organisation_id: int, track: int) -> GrowthPrior:
        """A new learner's growth prior: estimated from the organisation's learners now in
        ``track`` with at least ``growth_min_tests`` weekly tests (each one's growth from
        their own tests, :func:`own_growth`), once there are ``growth_min_learners`` of
        them; the config default before."""
        rows = db.execute(
            select(TestSession.participant_id, TestSession.kind, TestSession.week,
                   TestSession.finished_at, Participant.intake_date, Estimate.theta,
                   Estimate.se, Estimate.prior_mean, Estimate.prior_sd)
            .join(Estimate, Estimate.session_id == TestSession.id)
            .join(Participant, Participant.id == TestSession.participant_id)
            .join(Cohort, Cohort.id == Participant.cohort_id)
            .where(Cohort.organisation_id == organisation_id, Participant.track == track,
                   Estimate.prior_mean.is_not(None))).all()
        tests = pd.DataFrame(rows, columns=["participant_id", "kind", "week", "finished_at",
                                            "intake_date", "theta", "se", "prior_mean",
                                            "prior_sd"])
        n_weekly = tests[tests["kind"] == "progress"].groupby("participant_id").size()
        enough = n_weekly.index[n_weekly >= self.config.growth_min_tests]
        tests = tests[tests["participant_id"].isin(enough)].copy()
        tests["t"] = [_test_week(*r) for r in tests[["kind", "week", "finished_at",
                                                     "intake_date"]].itertuples(index=False)]
        tests["y"], tests["r"] = measurement(tests["theta"].to_numpy(), tests["se"].to_numpy(),
                                             tests["prior_mean"].to_numpy(),
                                             tests["prior_sd"].to_numpy())
        y = tests.pivot_table(index="participant_id", columns="t", values="y")
        r = tests.pivot_table(index="participant_id", columns="t", values="r")
        slope, var = own_growth(y.columns.to_numpy(float), y.to_numpy(), r.to_numpy())
        return growth_prior_from_data(slope, var, default=default_growth_prior(self.config),
                                      min_learners=self.config.growth_min_learners)

    def growth_priors(self, actor: TeacherContext) -> dict[int, GrowthPrior]:
        """Track → the growth prior a new learner of the actor's organisation gets now
        (logits a week; ``n`` = learners it was estimated from, 0 for the default)."""
        with self._sessions() as db:
            return {t: self._growth_prior(db, actor.organisation_id, t) for t in (1, 2, 3)}

    def _restore(self, row: TestSession) -> CATSession:
        # a test keeps the parameters it started with, even after a new version is published
        return CATSession.from_json(row.state, self.params_for(row.params_version))

    def _view(self, row: TestSession, cat: CATSession) -> ItemView:
        item_id = cat.next_item()
        if item_id is None:
            raise SessionError("no item on screen")
        return item_view(self.bank.items[item_id], row.id, cat.n_answered + 1, row.kind)

    def _finish(self, db: Session, row: TestSession, cat: CATSession) -> None:
        cuts = self.cuts
        probs = cat.level_probabilities(cuts)
        level = max(probs, key=probs.__getitem__)
        p = db.get(Participant, row.participant_id)
        if row.kind == "placement":
            prior = self._growth_prior(db, p.cohort.organisation_id, p.track)
            trend = start_trend(cat.theta, cat.se, prior.mean, prior.sd)
            if p.course_level is None:
                p.course_level = level  # the class the placement test puts them in
        else:
            # condition on the prior the test really started from
            trend = self._weekly_trend(db, p, row.week).with_prior(*cat.prior)
            trend = trend.update(cat.theta, cat.se)
        mean, sd = cat.prior
        db.add(Estimate(session_id=row.id, theta=cat.theta, se=cat.se, level=level,
                        level_probabilities=probs, prior_mean=mean, prior_sd=sd,
                        growth=float(trend.growth), growth_se=float(trend.growth_se),
                        growth_cov=float(trend.cov)))
        row.finished_at = self.clock()

    @property
    def cuts(self) -> CutScores:
        """The bank's current CEFR cut scores: re-read when ``bank.yaml`` changes, so a
        standard-setting round's new cuts apply to the next result without a restart."""
        stamp = (self.bank.root / "bank.yaml").stat().st_mtime_ns
        if self._cuts[0] != stamp:
            self._cuts = (stamp, current_cuts(self.bank.root))
        return self._cuts[1]

    def current_params_version(self) -> str:
        """The bank's current parameter version, read from ``bank.yaml`` each time: a
        version published while the service runs is used by the next test that starts."""
        return current_version(self.bank.root)

    def params_for(self, version: str) -> ItemParameters:
        """The item parameters of ``version`` (validated against the bank's items once,
        then kept)."""
        params = self._params.get(version)
        if params is None:
            params = load_bank(self.bank.root, version=version).params
            self._params[version] = params
        return params

    def _register_params_version(self, db: Session, version: str) -> None:
        """Record a parameter version the first time a test uses it, and mark it
        current."""
        language = self.bank.config.language
        rows = db.scalars(select(ParamVersion).where(ParamVersion.language == language)).all()
        if not any(r.version == version for r in rows):
            meta = provenance(self.bank.root, version)
            if meta:
                source = ", ".join(f"{k}: {meta[k]}" for k in
                                   ("model", "backend", "linking", "data_window",
                                    "approved_by") if k in meta)
            else:
                source = "; ".join(sorted({src for _, src, _ in read_provenance(
                    self.bank.root / "params" / f"{version}.csv").values()}))
            rows = [*rows, ParamVersion(language=language, version=version,
                                        source=source or "unknown")]
            db.add(rows[-1])
        for r in rows:
            if r.is_current != (r.version == version):
                r.is_current = r.version == version

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

    def _audit(self, db: Session, actor: TeacherContext, action: str, entity: str,
               entity_id: int | None, reason: str | None, detail: dict[str, Any]) -> None:
        db.add(AuditLog(at=self.clock(), actor=actor.username, action=action, entity=entity,
                        entity_id=entity_id, reason=reason, detail=detail))


def _aware(t: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)

