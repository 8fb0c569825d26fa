"""The queries that return tables: cohorts, progress and flags, histories, skills,
notes, the audit trail and the calibration export.

pandas is imported inside each query (teachers' side): the participant's page, which uses
the same service, never loads it (docs/deployment.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from lang_assess.programme.growth import measurement
from lang_assess.programme.rules import participant_flags, reliable_growth
from lang_assess.programme.service.access import AccessDenied, AccessMixin, TeacherContext
from lang_assess.programme.service.base import _aware
from lang_assess.programme.store.models import (
    AuditLog,
    Cohort,
    Estimate,
    Note,
    Participant,
    Response,
    Teacher,
    TestRun,
)

if TYPE_CHECKING:
    import pandas as pd


def latest_skill_levels(skills: list[dict[str, Any] | None],
                        names: list[str]) -> dict[str, str | None]:
    """Skill → the level of the latest result (``skills`` oldest first) whose estimate of
    that skill had enough evidence; None when none had."""
    out: dict[str, str | None] = dict.fromkeys(names)
    for result in skills:
        for name, s in (result or {}).items():
            if name in out and s.get("enough"):
                out[name] = s.get("level")
    return out

class ReportsMixin(AccessMixin):
    """What teachers and admins read; every query checks the actor first."""

    def cohorts(self, actor: TeacherContext) -> pd.DataFrame:
        """The cohorts the actor may see: id, name, intake_date, track, teacher."""
        import pandas as pd

        with self._db() as db:
            q = select(Cohort.id, Cohort.name, Cohort.intake_date, Cohort.track,
                       Teacher.username.label("teacher")).join(Teacher)
            q = q.where(Cohort.organisation_id == actor.organisation_id)
            if not actor.is_admin:
                q = q.where(Cohort.teacher_id == actor.teacher_id)
            rows = db.execute(q.order_by(Cohort.intake_date, Cohort.id)).all()
        return pd.DataFrame(rows, columns=["id", "name", "intake_date", "track", "teacher"])

    def audit_log(self, actor: TeacherContext) -> pd.DataFrame:
        """The audit trail (admins only)."""
        import pandas as pd

        if not actor.is_admin:
            raise AccessDenied("only an admin reads the audit log")
        with self._db() as db:
            rows = db.execute(select(AuditLog.at, AuditLog.actor, AuditLog.action,
                                     AuditLog.entity, AuditLog.entity_id, AuditLog.reason,
                                     AuditLog.detail).order_by(AuditLog.id)).all()
        return pd.DataFrame(rows, columns=["at", "actor", "action", "entity", "entity_id",
                                           "reason", "detail"])

    def participant_history(self, actor: TeacherContext, participant_id: int) -> pd.DataFrame:
        """Every finished test of a participant with θ̂, SE, level, and change since the
        previous test and since intake (with whether the change is reliable).

        ``own_theta``/``own_se`` (logits): the week's own measurement, what the test's
        answers alone said without the prior it started from (the estimate carries the
        tracked trend, so a report of it alone would show the prior back as progress);
        NaN when the prior is not known or the test narrowed nothing."""
        import pandas as pd

        with self._db() as db:
            self._participant(db, actor, participant_id)
            rows = db.execute(
                select(TestRun.kind, TestRun.week, TestRun.n_answered,
                       TestRun.finished_at, Estimate.theta, Estimate.se, Estimate.level,
                       Estimate.level_probabilities, Estimate.prior_mean, Estimate.prior_sd)
                .join(Estimate, Estimate.session_id == TestRun.id)
                .where(TestRun.participant_id == participant_id)
                .order_by(TestRun.week, TestRun.id)).all()
        df = pd.DataFrame(rows, columns=["kind", "week", "items", "finished_at", "theta", "se",
                                         "level", "level_probabilities", "prior_mean",
                                         "prior_sd"])
        if df.empty:
            return df.assign(own_theta=pd.Series(dtype=float), own_se=pd.Series(dtype=float))
        # rows from before migration 0004 have no prior: NaN there, not the posterior
        mean, sd = (df[c].astype(float).to_numpy() for c in ("prior_mean", "prior_sd"))
        known = np.isfinite(mean) & np.isfinite(sd)
        y, r = measurement(df["theta"].to_numpy(float), df["se"].to_numpy(float),
                           np.where(known, mean, 0.0), np.where(known, sd, 1.0))
        usable = known & np.isfinite(r)
        df["own_theta"] = np.where(usable, y, np.nan)
        df["own_se"] = np.where(usable, np.sqrt(np.where(usable, r, 1.0)), np.nan)
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
        """One row per participant: track, latest θ̂/SE/level, flags and the numbers behind
        them, and a level per skill (reading, listening, speaking, writing: the latest
        test that gave the skill enough evidence; None before one did).

        ``p_above`` (= ``p_next_level``): P(θ above the cut over the course level) after
        the latest test; ``growth``/``growth_se``: the growth the tests' own answers show
        over the stalled window, logits a week (None before the window is full); see
        :class:`~lang_assess.programme.rules.Flags`.  ``days_since_test``: days since the
        latest test finished (None before the first), what the missed flag reads."""
        import pandas as pd

        cuts = self.cuts
        with self._db() as db:
            cohort = self._cohort(db, actor, cohort_id)
            people = db.scalars(select(Participant).where(Participant.cohort_id == cohort.id)
                                .order_by(Participant.pseudonym)).all()
            tests = db.execute(
                select(TestRun.participant_id, TestRun.week, TestRun.finished_at,
                       Estimate.theta, Estimate.se, Estimate.level, Estimate.skills,
                       Estimate.prior_mean, Estimate.prior_sd)
                .join(Estimate, Estimate.session_id == TestRun.id)
                .join(Participant, Participant.id == TestRun.participant_id)
                .where(Participant.cohort_id == cohort.id)
                .order_by(TestRun.week, TestRun.id)).all()
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
            # with the prior each test started from: the stalled rule reads the tests' own
            # answers, not the trend they were started from
            flags = participant_flags([(h.week, h.theta, h.se, h.prior_mean, h.prior_sd)
                                       for h in hist], cuts,
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
                # one number, two names: p_next_level is what exports had before issue 15
                "p_next_level": flags.p_above, "p_above": flags.p_above,
                "growth": flags.growth, "growth_se": flags.growth_se,
                "ready_to_move_up": flags.ready_to_move_up, "stalled": flags.stalled,
                "missed": flags.missed, "days_since_test": days,
                **latest_skill_levels([h.skills for h in hist],
                                      self.bank.config.skill_levels.skills),
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
        the data window (dates of the answers, inclusive).  For a year of national data
        use :meth:`calibration_answer_blocks` (this frame holds ~1 KB per answer)."""
        import pandas as pd

        q = self._calibration_query(actor, since, until, (
            TestRun.id, Participant.id, Response.item_id, Response.score,
            Response.params_version, TestRun.kind, TestRun.week, Response.answered_at,
            Participant.language, Participant.gender, Participant.track,
            Participant.birth_year))
        with self._db() as db:
            rows = db.execute(q).all()
        return pd.DataFrame(rows, columns=[
            "occasion", "participant", "item", "score", "params_version", "kind", "week",
            "answered_at", "language", "gender", "track", "birth_year"])

    def calibration_answer_blocks(
        self, actor: TeacherContext, *, since: dt.date | None = None,
        until: dt.date | None = None, block: int = 500_000,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The answers of :meth:`calibration_responses` as column blocks, streamed from
        the database (a server-side cursor on PostgreSQL), for calibration at scale:
        each block is ``(occasion, item, score)``, (n,) arrays of int64, str (object) and
        float, n ≤ ``block``, in test order.  Nothing else is fetched and no frame is
        built, so memory is one block plus what the caller keeps (e.g.
        ``Responses.from_blocks``).  Admins only; the window as there."""
        if block < 1:
            raise ValueError("block must be ≥ 1")
        q = self._calibration_query(actor, since, until,  # checks access now, not later
                                    (TestRun.id, Response.item_id, Response.score))
        return self._stream_blocks(q.execution_options(yield_per=block))

    def _stream_blocks(self, q: Any) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Run ``q`` (3 columns, ``yield_per`` set) and yield its partitions as arrays."""
        with self._db() as db:
            for part in db.execute(q).partitions():
                occasion, item, score = zip(*part, strict=True)
                yield (np.asarray(occasion, dtype=np.int64), np.asarray(item, dtype=object),
                       np.asarray(score, dtype=float))

    def _calibration_query(self, actor: TeacherContext, since: dt.date | None,
                           until: dt.date | None, columns: tuple[Any, ...]) -> Any:
        """The select of answers of finished tests in the actor's organisation, in test
        and position order; AccessDenied unless the actor is an admin."""
        if not actor.is_admin:
            raise AccessDenied("only an admin exports responses for calibration")
        q = (select(*columns)
             .join(TestRun, TestRun.id == Response.session_id)
             .join(Participant, Participant.id == TestRun.participant_id)
             .join(Cohort, Cohort.id == Participant.cohort_id)
             .where(Cohort.organisation_id == actor.organisation_id,
                    TestRun.finished_at.is_not(None))
             .order_by(TestRun.id, Response.position))
        if since is not None:
            q = q.where(Response.answered_at >= dt.datetime.combine(since, dt.time.min))
        if until is not None:
            q = q.where(Response.answered_at < dt.datetime.combine(
                until + dt.timedelta(days=1), dt.time.min))
        return q

    def participant_skills(self, actor: TeacherContext, participant_id: int) -> pd.DataFrame:
        """Share of items answered right per skill (never which items): skill, answered,
        right, share — over all the participant's tests."""
        import pandas as pd

        with self._db() as db:
            self._participant(db, actor, participant_id)
            rows = db.execute(select(Response.item_id, Response.score)
                              .join(TestRun, TestRun.id == Response.session_id)
                              .where(TestRun.participant_id == participant_id)).all()
        skills = [(self.bank.items[i].skill, s) for i, s in rows if i in self.bank.items]
        df = pd.DataFrame(skills, columns=["skill", "score"])
        if df.empty:
            return pd.DataFrame(columns=["skill", "answered", "right", "share"])
        out = df.groupby("skill")["score"].agg(answered="count", right="sum").reset_index()
        out["share"] = out["right"] / out["answered"]
        return out.sort_values("share").reset_index(drop=True)

    def notes(self, actor: TeacherContext, participant_id: int) -> pd.DataFrame:
        """A participant's notes, newest first: created_at, teacher, text."""
        import pandas as pd

        with self._db() as db:
            self._participant(db, actor, participant_id)
            rows = db.execute(select(Note.created_at, Teacher.username, Note.text)
                              .join(Teacher, Teacher.id == Note.teacher_id)
                              .where(Note.participant_id == participant_id)
                              .order_by(Note.created_at.desc(), Note.id.desc())).all()
        return pd.DataFrame(rows, columns=["created_at", "teacher", "text"])

    def participant_record(self, actor: TeacherContext, participant_id: int) -> dict[str, Any]:
        """What the participant page shows besides the tests: pseudonym, cohort id,
        language, track, suggested track, override reason, course level, intake date."""
        with self._db() as db:
            p = self._participant(db, actor, participant_id)
            return {"pseudonym": p.pseudonym, "cohort_id": p.cohort_id,
                    "language": p.language, "track": p.track,
                    "track_suggested": p.track_suggested,
                    "track_override_reason": p.track_override_reason,
                    "course_level": p.course_level, "intake_date": p.intake_date}

    def cohort_tests(self, actor: TeacherContext, cohort_id: int) -> pd.DataFrame:
        """Every finished test of a cohort: participant_id, pseudonym, kind, week, items,
        theta, se, level, finished_at (one row per test, in week order)."""
        import pandas as pd

        with self._db() as db:
            cohort = self._cohort(db, actor, cohort_id)
            rows = db.execute(
                select(Participant.id, Participant.pseudonym, TestRun.kind,
                       TestRun.week, TestRun.n_answered, Estimate.theta, Estimate.se,
                       Estimate.level, TestRun.finished_at)
                .join(TestRun, TestRun.participant_id == Participant.id)
                .join(Estimate, Estimate.session_id == TestRun.id)
                .where(Participant.cohort_id == cohort.id)
                .order_by(TestRun.week, Participant.id)).all()
        return pd.DataFrame(rows, columns=["participant_id", "pseudonym", "kind", "week",
                                           "items", "theta", "se", "level", "finished_at"])
