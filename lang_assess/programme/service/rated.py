"""Speaking and writing tasks (issue 16): given after the adaptive part of a test,
answered with a recording or a text, rated by teachers, and fed into the result.

- the tasks are chosen when the adaptive part ends, at the level it reached;
- an answer is stored whole, in one transaction, before the next task is shown; sending
  it again (a reload, a resumed upload) stores nothing twice; a recording is checked on
  the server (:mod:`lang_assess.programme.recordings`);
- a share of the answers is rated twice, the second teacher blind to the first; two
  ratings more than one step apart ask for a third; every rating is audited;
- each rating enters the result through the task's GPCM parameters when it arrives (the
  ratings of one answer share a weight of one); the levels per skill follow
  (:mod:`lang_assess.engine.skills`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lang_assess.engine.cat.session import CATSession
from lang_assess.engine.skills import skill_estimates, weighted_log_likelihood
from lang_assess.errors import SessionError
from lang_assess.programme.recordings import check
from lang_assess.programme.service.access import (
    AccessDenied,
    AccessMixin,
    ParticipantContext,
    TeacherContext,
)
from lang_assess.programme.service.items import ItemView, item_view
from lang_assess.programme.store.models import (
    Cohort,
    CohortRater,
    Participant,
    RatedAnswer,
    Rating,
    Response,
    TestRun,
)

AUDIO_TYPES = {"webm": "audio/webm", "ogg": "audio/ogg"}


@dataclass(frozen=True)
class RubricView:
    """One score of a task's rubric as a rater reads it."""

    score: int
    descriptor: str
    descriptor_en: str | None


@dataclass(frozen=True)
class ToRate:
    """An answer in a rater's queue: the task, the answer, the rubric; never another
    teacher's rating (the second rating is blind)."""

    answer_id: int
    pseudonym: str
    item_id: str
    skill: str
    level: str
    stem: str
    image: str | None
    stem_audio: str | None
    text: str | None
    has_audio: bool
    seconds: float | None
    round: int
    rubric: tuple[RubricView, ...]


def _used_ratings(scores: list[int]) -> list[int]:
    """The ratings of one answer that count: all of them, or after a third rating (two
    that were more than one step apart) the third and the nearer of the first two."""
    if len(scores) < 3:
        return scores
    first, second, third = scores[:3]
    return [third, first if abs(first - third) <= abs(second - third) else second]


class RatedMixin(AccessMixin):
    """Tasks a teacher rates: giving them, storing answers, the rating queue, agreement."""

    # ---- the participant's side -------------------------------------------------
    def _choose_tasks(self, db: Session, row: TestRun, cat: CATSession) -> list[str]:
        """The rated tasks of a test whose adaptive part just ended: per skill, as many as
        bank.yaml's ``rated_tasks`` says, at the level reached (the nearest level with
        tasks), none seen in the last ``exclude_weeks``."""
        wanted = self.bank.config.designs[row.kind].rated_tasks  # type: ignore[index]
        if not wanted:
            return []
        probs = cat.level_probabilities(self.cuts)
        labels = list(probs)
        level = labels.index(max(probs, key=probs.__getitem__))
        since = row.week - self.config.exclude_weeks
        seen = set(db.scalars(
            select(RatedAnswer.item_id).join(TestRun, TestRun.id == RatedAnswer.session_id)
            .where(TestRun.participant_id == row.participant_id, TestRun.week >= since)))
        known = set(self.params_for(row.params_version).ids.tolist())
        chosen: list[str] = []
        for skill, n in wanted.items():
            pool = [i for i in self.bank.items.values() if i.skill == skill
                    and i.id in known and i.id not in seen and i.level in labels]
            if not pool:
                continue
            distance = np.array([abs(labels.index(i.level) - level) for i in pool])
            near = [i.id for i, d in zip(pool, distance, strict=True) if d == distance.min()]
            picks = self._seeds.permutation(len(near))[:n]
            chosen += [near[k] for k in sorted(picks)]
        return chosen

    def _task_view(self, db: Session, row: TestRun) -> ItemView | None:
        """The first task of ``row`` not yet answered; None when all are."""
        done = set(db.scalars(select(RatedAnswer.item_id)
                              .where(RatedAnswer.session_id == row.id)))
        for k, item_id in enumerate(row.tasks or []):
            if item_id not in done:
                return item_view(self.bank.items[item_id], row.id, row.n_answered + k + 1,
                                 row.kind)
        return None

    def submit_text(self, who: ParticipantContext, session_id: int, item_id: str,
                    text: str) -> ItemView | None:
        """Store a written answer to the task on screen; the next task (None: test over)."""
        text = text.strip()
        if not text:
            raise SessionError("the answer is empty")
        if len(text) > self.config.text_max_chars:
            raise SessionError(f"the answer has {len(text)} characters (at most "
                               f"{self.config.text_max_chars})")
        return self._store(who, session_id, item_id, "writing",
                           {"text": text}, hashlib.sha256(text.encode()).hexdigest())

    def submit_recording(self, who: ParticipantContext, session_id: int, item_id: str,
                         data: bytes) -> ItemView | None:
        """Store a recorded answer (checked: Opus in WebM or Ogg, within the size and
        length limits; otherwise :class:`RecordingRejected` and nothing stored)."""
        info = check(data, max_bytes=self.config.recording_max_bytes,
                     max_seconds=self.config.recording_max_seconds)
        digest = hashlib.sha256(data).hexdigest()
        return self._store(who, session_id, item_id, "speaking",
                           {"audio": data, "audio_format": info.format, "audio_sha256": digest,
                            "audio_bytes": len(data), "seconds": info.seconds}, digest)

    def skip_task(self, who: ParticipantContext, session_id: int,
                  item_id: str) -> ItemView | None:
        """"I cannot do this one": the task scores 0 with no rating needed."""
        item = self.bank.items.get(item_id)
        skill = item.skill if item is not None else ""
        return self._store(who, session_id, item_id, skill, {"skipped": True, "score": 0.0,
                                                              "raters_needed": 0}, "skipped")

    def _store(self, who: ParticipantContext, session_id: int, item_id: str, skill: str,
               fields: dict[str, Any], digest: str) -> ItemView | None:
        try:
            with self._db.begin() as db:
                row = self._open_task_run(db, who, session_id)
                old = db.scalar(select(RatedAnswer).where(RatedAnswer.session_id == row.id,
                                                          RatedAnswer.item_id == item_id))
                if old is not None:
                    return self._resent(db, row, old, digest)
                on_screen = self._task_view(db, row)
                if on_screen is None or on_screen.item_id != item_id:
                    raise SessionError(f"task '{item_id}' is not on screen")
                if self.bank.items[item_id].skill != skill:
                    raise SessionError(f"task '{item_id}' is not a {skill} task")
                fields.setdefault("raters_needed",
                                  2 if self._seeds.random() < self.config.double_rate_share
                                  else 1)
                db.add(RatedAnswer(session_id=row.id, position=on_screen.position,
                                   item_id=item_id, skill=skill, answered_at=self.clock(),
                                   **fields))
                db.flush()
                nxt = self._task_view(db, row)
                if nxt is None:
                    self._finish(db, row, self._restore(row))
                return nxt
        except IntegrityError:  # the same answer committed by a parallel request: stored once
            with self._db() as db:
                return self._task_view(db, self._open_task_run(db, who, session_id))

    def _resent(self, db: Session, row: TestRun, old: RatedAnswer,
                digest: str) -> ItemView | None:
        """An answer sent again (a reload after it was stored): nothing stored twice."""
        same = ("skipped" if old.skipped else old.audio_sha256
                or hashlib.sha256((old.text or "").encode()).hexdigest())
        if same != digest:
            raise SessionError(f"task '{old.item_id}' is already answered")
        return self._task_view(db, row)

    def _open_task_run(self, db: Session, who: ParticipantContext, session_id: int) -> TestRun:
        row = db.get(TestRun, session_id)
        if row is None or row.participant_id != who.participant_id:
            raise AccessDenied("not your test")
        if not row.tasks:
            raise SessionError("this test has no tasks")
        return row

    # ---- the teachers' side -----------------------------------------------------
    def _may_rate(self, db: Session, actor: TeacherContext, cohort: Cohort) -> bool:
        if cohort.organisation_id != actor.organisation_id:
            return False
        if actor.is_admin or cohort.teacher_id == actor.teacher_id:
            return True
        return db.scalar(select(func.count()).where(
            CohortRater.cohort_id == cohort.id, CohortRater.teacher_id == actor.teacher_id)) > 0

    def _answer(self, db: Session, actor: TeacherContext, answer_id: int) -> RatedAnswer:
        a = db.get(RatedAnswer, answer_id)
        if a is None:
            raise AccessDenied("not an answer you may rate")
        p = db.get(Participant, db.get(TestRun, a.session_id).participant_id)
        if not self._may_rate(db, actor, p.cohort):
            raise AccessDenied("not an answer you may rate")
        return a

    def add_cohort_rater(self, actor: TeacherContext, cohort_id: int, teacher_id: int) -> None:
        """An admin lets another teacher of the organisation rate a cohort's answers (the
        second rater); that teacher sees the answers, nothing else of the cohort."""
        if not actor.is_admin:
            raise AccessDenied("only an admin assigns raters")
        with self._db.begin() as db:
            self._cohort(db, actor, cohort_id)
            db.add(CohortRater(cohort_id=cohort_id, teacher_id=teacher_id))
            self._audit(db, actor, "add_rater", "cohort", cohort_id, None,
                        {"teacher_id": teacher_id})

    def rating_queue(self, actor: TeacherContext) -> list[ToRate]:
        """Answers the actor may rate and still owes a rating, oldest first."""
        with self._db() as db:
            counts = (select(Rating.answer_id, func.count().label("n"))
                      .group_by(Rating.answer_id).subquery())
            mine = select(Rating.answer_id).where(Rating.teacher_id == actor.teacher_id)
            rows = db.execute(
                select(RatedAnswer, Participant, func.coalesce(counts.c.n, 0))
                .join(TestRun, TestRun.id == RatedAnswer.session_id)
                .join(Participant, Participant.id == TestRun.participant_id)
                .outerjoin(counts, counts.c.answer_id == RatedAnswer.id)
                .where(func.coalesce(counts.c.n, 0) < RatedAnswer.raters_needed,
                       RatedAnswer.id.not_in(mine))
                .order_by(RatedAnswer.answered_at, RatedAnswer.id)).all()
            out = []
            for a, p, n in rows:
                if not self._may_rate(db, actor, p.cohort):
                    continue
                item = self.bank.items[a.item_id]
                out.append(ToRate(
                    answer_id=a.id, pseudonym=p.pseudonym, item_id=a.item_id, skill=a.skill,
                    level=item.level, stem=item.stem,
                    image=item.image.file if item.image else None,
                    stem_audio=item.stem_audio.file if item.stem_audio else None,
                    text=a.text, has_audio=a.audio_bytes is not None
                    and a.media_deleted_at is None, seconds=a.seconds, round=int(n) + 1,
                    rubric=tuple(RubricView(r.score, r.descriptor, r.descriptor_en)
                                 for r in sorted(item.rubric or [], key=lambda r: r.score))))
            return out

    def recording(self, actor: TeacherContext, answer_id: int) -> tuple[bytes, str]:
        """(bytes, MIME type) of a recorded answer, for its participant's teachers, the
        cohort's raters and admins only; :class:`LookupError` once it was deleted."""
        with self._db() as db:
            a = self._answer(db, actor, answer_id)
            if a.audio is None:
                raise LookupError("the recording was deleted (retention period) or never made")
            return bytes(a.audio), AUDIO_TYPES[a.audio_format or "webm"]

    def rate(self, actor: TeacherContext, answer_id: int, score: int,
             comment: str | None = None) -> None:
        """The actor's rating of an answer (0..k of the task's rubric); audited.  A split
        of more than one step between the first two ratings asks for a third; the
        participant's result and levels per skill are recomputed at once."""
        with self._db.begin() as db:
            a = self._answer(db, actor, answer_id)
            k = self.bank.items[a.item_id].max_score
            if not 0 <= score <= k:
                raise ValueError(f"a score of this task is 0..{k}, not {score}")
            ratings = db.scalars(select(Rating).where(Rating.answer_id == a.id)
                                 .order_by(Rating.round)).all()
            if any(r.teacher_id == actor.teacher_id for r in ratings):
                raise SessionError("you have rated this answer already")
            if len(ratings) >= a.raters_needed:
                raise SessionError("this answer needs no more ratings")
            db.add(Rating(answer_id=a.id, teacher_id=actor.teacher_id, round=len(ratings) + 1,
                          score=score, comment=comment, created_at=self.clock()))
            scores = [r.score for r in ratings] + [score]
            if len(scores) == 2 and abs(scores[0] - scores[1]) > 1:
                a.raters_needed = 3
            if len(scores) >= a.raters_needed:
                a.score = float(np.mean(_used_ratings(scores)))
            self._audit(db, actor, "rate", "rated_answer", a.id, comment,
                        {"score": score, "round": len(scores)})
            db.flush()
            row = db.get(TestRun, a.session_id)
            if row.finished_at is not None:
                self._finish(db, row, self._restore(row))

    # ---- into the result --------------------------------------------------------
    def _rated_evidence(self, db: Session, row: TestRun) -> tuple[list[str], list[int],
                                                                   list[float], int]:
        """(item ids, scores, weights) of the test's rated answers so far, and how many
        answers still wait for a rating."""
        answers = db.scalars(select(RatedAnswer).where(RatedAnswer.session_id == row.id)).all()
        ids, scores, weights, pending = [], [], [], 0
        for a in answers:
            got = db.scalars(select(Rating.score).where(Rating.answer_id == a.id)
                             .order_by(Rating.round)).all()
            used = [0] if a.skipped else _used_ratings(list(got))
            pending += int(not a.skipped and a.score is None)
            ids += [a.item_id] * len(used)
            scores += used
            weights += [1.0 / len(used)] * len(used) if used else []
        return ids, scores, weights, pending

    def _with_ratings(self, db: Session, row: TestRun, cat: CATSession
                      ) -> tuple[float, float, dict[str, float], dict[str, Any], int]:
        """(θ, SE, level probabilities, levels per skill, answers waiting) of a test with
        its rated answers added to the adaptive part through their GPCM parameters."""
        params = self.params_for(row.params_version)
        grid, log_prior, log_lik = cat.grid_terms()
        ids, scores, weights, pending = self._rated_evidence(db, row)
        known = set(params.ids.tolist())
        ids_scores = [(i, s, w) for i, s, w in zip(ids, scores, weights, strict=True)
                      if i in known]
        rated_idx = params.index_of([i for i, _, _ in ids_scores]) if ids_scores else []
        rated = weighted_log_likelihood(
            grid, params, np.array([rated_idx], dtype=int).reshape(1, -1),
            np.array([[s for _, s, _ in ids_scores]], dtype=int).reshape(1, -1),
            np.array([[w for _, _, w in ids_scores]], dtype=float).reshape(1, -1))[0]
        log_post = log_prior + log_lik + rated
        w = np.exp(log_post - log_post.max())
        w /= w.sum()
        theta = float(w @ grid)
        se = float(np.sqrt(max(w @ grid**2 - theta**2, 0.0)))
        probs = self.cuts.posterior_probabilities(w[None, :], grid)[0]
        level_probs = {lab: float(p) for lab, p in zip(self.cuts.labels, probs, strict=True)}
        # the levels per skill read every scored answer one by one
        answered = db.execute(select(Response.item_id, Response.score).where(
            Response.session_id == row.id)).all()
        answered = [(i, s) for i, s in answered if i in known]
        all_ids = [i for i, _ in answered] + [i for i, _, _ in ids_scores]
        all_scores = [int(s) for _, s in answered] + [s for _, s, _ in ids_scores]
        all_w = [1.0] * len(answered) + [w_ for _, _, w_ in ids_scores]
        cfg = self.bank.config.skill_levels
        est = skill_estimates(
            grid, log_prior, params,
            np.array([params.index_of(all_ids) if all_ids else []], dtype=int).reshape(1, -1),
            np.array([all_scores], dtype=int).reshape(1, -1),
            np.array([all_w], dtype=float).reshape(1, -1),
            cfg.skills, spread=cfg.spread, enough_sd=cfg.enough_sd, cuts=self.cuts)
        skills = {}
        for s, e in est.items():
            p = e.level_probabilities[0]
            skills[s] = {"theta": float(e.theta[0]), "se": float(e.se[0]), "n": int(e.n[0]),
                         "enough": bool(e.enough[0]),
                         "level": self.cuts.labels[int(np.argmax(p))] if e.enough[0] else None}
        return theta, se, level_probs, skills, pending
