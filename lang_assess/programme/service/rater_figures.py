"""What teachers and admins read of the rated tasks (issue 16): agreement between
raters and their severity, the levels per skill of a participant, and the retention rule
that deletes old recordings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import select

from lang_assess.engine.irt.params import RATED_SKILLS
from lang_assess.engine.raters import agreement, rater_severity
from lang_assess.programme.service.access import AccessDenied, AccessMixin, TeacherContext
from lang_assess.programme.store.models import Estimate, RatedAnswer, Rating, Teacher, TestRun


class RaterFiguresMixin(AccessMixin):
    """Agreement and severity for admins, levels per skill, the retention rule."""

    def rater_agreement(self, actor: TeacherContext) -> dict[str, Any]:
        """Agreement of double-rated answers in the organisation: per rater (exact,
        adjacent, quadratic-weighted kappa against the other rater) and overall, and each
        rater's severity (many-facet Rasch, logits, + severe) once it can be estimated.
        Admins only."""
        if not actor.is_admin:
            raise AccessDenied("agreement figures are for admins")
        with self._db() as db:
            rows = db.execute(
                select(Rating.answer_id, Rating.round, Rating.score, Teacher.username)
                .join(Teacher, Teacher.id == Rating.teacher_id)
                .where(Teacher.organisation_id == actor.organisation_id, Rating.round <= 2)
                .order_by(Rating.answer_id, Rating.round)).all()
        by_answer: dict[int, list[tuple[str, int]]] = {}
        for r in rows:
            by_answer.setdefault(r.answer_id, []).append((r.username, r.score))
        pairs = [v for v in by_answer.values() if len(v) == 2]
        k = 1 + max((it.max_score for it in self.bank.items.values()
                     if it.skill in RATED_SKILLS), default=1)
        raters = sorted({u for v in pairs for u, _ in v})
        out: dict[str, Any] = {"overall": agreement(
            np.array([v[0][1] for v in pairs], dtype=int),
            np.array([v[1][1] for v in pairs], dtype=int), k), "raters": {}}
        for u in raters:
            own = [(a if ua == u else b, b if ua == u else a)
                   for (ua, a), (ub, b) in pairs if u in (ua, ub)]
            out["raters"][u] = {"agreement": agreement(np.array([o for o, _ in own], dtype=int),
                                                       np.array([t for _, t in own], dtype=int),
                                                       k)}
        if len(raters) >= 2 and pairs:
            answer = np.repeat(np.arange(len(pairs)), 2)
            rater = np.array([raters.index(u) for v in pairs for u, _ in v])
            score = np.array([s for v in pairs for _, s in v])
            sev = rater_severity(answer, rater, score, len(raters), k)
            for j, u in enumerate(raters):
                out["raters"][u]["severity"] = float(sev.severity[j])
                out["raters"][u]["severity_se"] = float(sev.se[j])
        return out

    def purge_recordings(self) -> int:
        """Delete recordings older than ``recording_retention_days`` (their scores and
        ratings stay); returns how many were deleted."""
        cutoff = self.clock() - dt.timedelta(days=self.config.recording_retention_days)
        with self._db.begin() as db:
            old = db.scalars(select(RatedAnswer).where(
                RatedAnswer.answered_at < cutoff, RatedAnswer.audio_bytes.is_not(None),
                RatedAnswer.media_deleted_at.is_(None))).all()
            for a in old:
                a.audio = None
                a.media_deleted_at = self.clock()
            return len(old)

    def skill_levels(self, actor: TeacherContext, participant_id: int) -> dict[str, Any]:
        """The latest finished test's levels per skill of a participant (the teacher's
        own cohorts only): {skill: {theta, se, n, enough, level}}, and ``pending``."""
        with self._db() as db:
            self._participant(db, actor, participant_id)
            est = db.execute(
                select(Estimate.skills, Estimate.rated_pending)
                .join(TestRun, TestRun.id == Estimate.session_id)
                .where(TestRun.participant_id == participant_id)
                .order_by(TestRun.finished_at.desc())).first()
            if est is None:
                return {}
            return {"skills": est.skills or {}, "pending": est.rated_pending}
