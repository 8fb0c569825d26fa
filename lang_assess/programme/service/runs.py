"""The participant's tests: start or resume, answer, finish — every answer committed
before the next item is chosen — and the priors each test starts from."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from lang_assess.bank.scoring import score_answer
from lang_assess.engine.cat.session import CATSession
from lang_assess.engine.irt.params import RATED_SKILLS, ItemParameters
from lang_assess.errors import SessionError
from lang_assess.programme.growth import GrowthPrior, Trend, growth_prior_from_tests, start_trend
from lang_assess.programme.rules import (
    PlacementPrior,
    decision_cut,
    decision_design_key,
    default_growth_prior,
    default_placement_prior,
    placement_prior_from_results,
    placement_start,
    progress_for_cut,
    weekly_trend,
)
from lang_assess.programme.service.access import (
    AccessDenied,
    AccessMixin,
    ParticipantContext,
    TeacherContext,
)
from lang_assess.programme.service.items import ItemView, item_view
from lang_assess.programme.store.models import (
    Cohort,
    Estimate,
    Participant,
    Response,
    TestRun,
)

PRETEST = "pretest"  # params_version of an unscored pretest answer


def _test_week(kind: str, week: int, finished_at: dt.datetime | None,
               intake_date: dt.date) -> int:
    """The programme week a finished test measured: its own week, or for a placement
    test taken late, the week it was finished in."""
    if kind != "placement" or finished_at is None:
        return week
    return max(week, (finished_at.date() - intake_date).days // 7)



def _mean_table(rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                shape: tuple[int, int]) -> np.ndarray:
    """(learners, weeks) table of ``values`` by (row, col) index; the mean where a learner
    has two tests dated to one week, NaN where none."""
    total, count = np.zeros(shape), np.zeros(shape)
    np.add.at(total, (rows, cols), values)
    np.add.at(count, (rows, cols), 1.0)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


class RunsMixin(AccessMixin):
    """Placement and weekly progress tests, from the participant's side."""

    def current_week(self, intake_date: dt.date) -> int:
        """Whole weeks since intake (0 in the first week)."""
        return max(0, (self.clock().date() - intake_date).days // 7)

    def start_or_resume(self, who: ParticipantContext) -> ItemView | None:
        """The item to show: the unfinished test's item on screen, or the first item of
        this week's test (placement first, then one progress test a week); None when the
        participant has no test due."""
        with self._db.begin() as db:
            p = db.get(Participant, who.participant_id)
            if p is None:
                raise AccessDenied("unknown participant")
            open_test = db.scalar(select(TestRun).where(
                TestRun.participant_id == p.id, TestRun.finished_at.is_(None)))
            if open_test is not None:
                cat = self._restore(open_test)
                if open_test.tasks:  # the adaptive part is over: the rated tasks
                    return self._task_view(db, open_test)
                return self._view(open_test, cat)
            kind, week = self._due(db, p)
            if kind is None:
                return None
            version = self.current_params_version()
            cat = self._new_cat(db, p, kind, week, self.params_for(version))
            self._register_params_version(db, version)
            row = TestRun(participant_id=p.id, kind=kind, week=week,
                              params_version=version,
                              state=cat.to_json(), n_answered=0, started_at=self.clock())
            db.add(row)
            db.flush()
            item = cat.next_item()
            row.state = cat.to_json()  # the chosen item is on screen from now on
            return self._view(row, cat) if item is not None else None

    def answer(self, who: ParticipantContext, session_id: int, item_id: str, answer: str,
               time_ms: int | None = None) -> ItemView | None:
        """Record the answer to the item on screen, then choose the next item (a
        speaking or writing task's: :meth:`submit_text`, or "" to skip it).

        The answer, the test state and (at the end) the result are committed in one
        transaction before the next item is returned; None when the test is over.
        """
        item = self.bank.items.get(item_id)
        if item is not None and item.skill in RATED_SKILLS:
            # a task after the adaptive part: the text of a written answer; "" is "I
            # cannot" (a spoken answer comes as a recording: submit_recording)
            if not answer.strip():
                return self.skip_task(who, session_id, item_id)
            if item.skill == "speaking":
                raise SessionError("a spoken answer is a recording (submit_recording)")
            return self.submit_text(who, session_id, item_id, answer)
        with self._db.begin() as db:
            row = db.get(TestRun, session_id)
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
                # speaking and writing tasks follow the adaptive part (issue 16)
                row.tasks = self._choose_tasks(db, row, cat) or None
                if row.tasks:
                    return self._task_view(db, row)
                self._finish(db, row, cat)
                return None
            return self._view(row, cat)

    def result(self, who: ParticipantContext, session_id: int) -> dict[str, Any]:
        """A finished test's result for its participant (the level only if allowed)."""
        with self._db() as db:
            row = db.get(TestRun, session_id)
            if row is None or row.participant_id != who.participant_id:
                raise AccessDenied("not your test")
            est = db.scalar(select(Estimate).where(Estimate.session_id == row.id))
            out: dict[str, Any] = {"finished": est is not None, "n_answered": row.n_answered}
            if est is not None and self.config.show_level_to_participant:
                out["level"] = est.level
            return out

    def _due(self, db: Session, p: Participant) -> tuple[str | None, int]:
        done = db.execute(select(TestRun.kind, TestRun.week).where(
            TestRun.participant_id == p.id)).all()
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
        enemies = self.bank.enemies
        if kind == "placement":
            start = placement_start(
                p.track, self._placement_prior(db, p.cohort.organisation_id, p.track),
                self.config, literate_l1=p.literate_l1, months_in_norway=p.months_in_norway)
            if start.routing and "placement_routed" in self._designs:
                design = self._designs["placement_routed"]
            return CATSession(params, design, seed=seed, prior_mean=start.mean,
                              prior_sd=start.sd, pretest=pretest, enemies=enemies)
        mean, sd = self._weekly_trend(db, p, week).prior()
        mean, sd = float(mean), float(sd)
        cuts = self.cuts
        level = None if p.course_level is None else cuts.labels.index(p.course_level)
        cut = decision_cut(cuts, level)
        if cut is not None:  # the week's decision: past the cut above the course level?
            key = decision_design_key(cut)
            if key not in self._designs:
                self._designs[key] = progress_for_cut(self.bank, cut, self.config)
            design = self._designs[key]
        since = week - self.config.exclude_weeks
        seen = db.execute(
            select(Response.item_id, TestRun.week)
            .join(TestRun, TestRun.id == Response.session_id)
            .where(TestRun.participant_id == p.id)).all()
        ever = {i for i, _ in seen}
        # the recent items, and the enemies of every item this person was ever given
        exclude = {i for i, w in seen if w >= since}
        exclude |= {b for a, b in enemies if a in ever} | {a for a, b in enemies if b in ever}
        return CATSession(params, design, seed=seed, prior_mean=mean, prior_sd=sd,
                          exclude=exclude, pretest=pretest, enemies=enemies)

    def _weekly_trend(self, db: Session, p: Participant, week: int) -> Trend:
        """The trend a progress test in ``week`` starts from: the last finished test's,
        carried to ``week``."""
        last = db.execute(
            select(TestRun.kind, TestRun.week, TestRun.finished_at,
                   Estimate.theta, Estimate.se, Estimate.growth, Estimate.growth_se,
                   Estimate.growth_cov)
            .join(Estimate, Estimate.session_id == TestRun.id)
            .where(TestRun.participant_id == p.id, TestRun.week < week)
            .order_by(TestRun.week.desc())).first()
        if last.growth is None:  # a result from before trends were kept
            prior = default_growth_prior(self.config)
            trend = start_trend(last.theta, last.se, prior.mean, prior.sd)
        else:
            trend = Trend(np.float64(last.theta), np.float64(last.growth),
                          np.float64(last.se**2), np.float64(last.growth_se**2),
                          np.float64(last.growth_cov))
        then = _test_week(last.kind, last.week, last.finished_at, p.intake_date)
        return weekly_trend(trend, week - then, self.config)

    def _placement_prior(self, db: Session, organisation_id: int, track: int
                         ) -> PlacementPrior:
        """Where a new participant of ``track`` stands on arrival: estimated from the
        organisation's finished placement tests of participants now in that track once
        there are ``placement_min_learners``; the config's default before."""
        rows = db.execute(
            select(Estimate.theta, Estimate.se)
            .join(TestRun, TestRun.id == Estimate.session_id)
            .join(Participant, Participant.id == TestRun.participant_id)
            .join(Cohort, Cohort.id == Participant.cohort_id)
            .where(Cohort.organisation_id == organisation_id, Participant.track == track,
                   TestRun.kind == "placement")).all()
        theta = np.array([r.theta for r in rows], dtype=float)
        se = np.array([r.se for r in rows], dtype=float)
        return placement_prior_from_results(theta, se,
                                            default_placement_prior(track, self.config),
                                            self.config.placement_min_learners)

    def placement_priors(self, actor: TeacherContext) -> dict[int, PlacementPrior]:
        """Track → the prior a new participant's placement test starts from now in the
        actor's organisation (logits; ``n`` = placement results behind it, 0 for the
        default)."""
        with self._db() as db:
            return {t: self._placement_prior(db, actor.organisation_id, t) for t in (1, 2, 3)}

    def _growth_prior(self, db: Session, organisation_id: int, track: int) -> GrowthPrior:
        """A new learner's growth prior: estimated from the organisation's learners now in
        ``track`` with at least ``growth_min_tests`` weekly tests (each one's growth from
        their own tests, :func:`own_growth`), once there are ``growth_min_learners`` of
        them; the config default before."""
        rows = db.execute(
            select(TestRun.participant_id, TestRun.kind, TestRun.week,
                   TestRun.finished_at, Participant.intake_date, Estimate.theta,
                   Estimate.se, Estimate.prior_mean, Estimate.prior_sd)
            .join(Estimate, Estimate.session_id == TestRun.id)
            .join(Participant, Participant.id == TestRun.participant_id)
            .join(Cohort, Cohort.id == Participant.cohort_id)
            .where(Cohort.organisation_id == organisation_id, Participant.track == track,
                   Estimate.prior_mean.is_not(None))).all()
        weekly = np.array([r.participant_id for r in rows if r.kind == "progress"], dtype=int)
        people, counts = np.unique(weekly, return_counts=True)
        enough = set(people[counts >= self.config.growth_min_tests].tolist())
        rows = [r for r in rows if r.participant_id in enough]
        pid = np.array([r.participant_id for r in rows], dtype=int)
        t = np.array([_test_week(r.kind, r.week, r.finished_at, r.intake_date) for r in rows],
                     dtype=int)
        learners, row_of = np.unique(pid, return_inverse=True)
        weeks, col_of = np.unique(t, return_inverse=True)
        wide = [_mean_table(row_of, col_of, np.array([getattr(r, v) for r in rows], dtype=float),
                            (learners.size, weeks.size))
                for v in ("theta", "se", "prior_mean", "prior_sd")]
        return growth_prior_from_tests(weeks.astype(float), *wide,
                                       default=default_growth_prior(self.config),
                                       min_learners=self.config.growth_min_learners)

    def growth_priors(self, actor: TeacherContext) -> dict[int, GrowthPrior]:
        """Track → the growth prior a new learner of the actor's organisation gets now
        (logits a week; ``n`` = learners it was estimated from, 0 for the default)."""
        with self._db() as db:
            return {t: self._growth_prior(db, actor.organisation_id, t) for t in (1, 2, 3)}

    def _restore(self, row: TestRun) -> CATSession:
        # a test keeps the parameters it started with, even after a new version is published
        return CATSession.from_json(row.state, self.params_for(row.params_version))

    def _view(self, row: TestRun, cat: CATSession) -> ItemView:
        item_id = cat.next_item()
        if item_id is None:
            raise SessionError("no item on screen")
        return item_view(self.bank.items[item_id], row.id, cat.n_answered + 1, row.kind)

    def _finish(self, db: Session, row: TestRun, cat: CATSession) -> None:
        """Write (or, when a teacher's rating arrives, rewrite) the test's result: the
        adaptive part and the rated tasks rated so far, the levels per skill, the trend."""
        theta, se, probs, skills, pending = self._with_ratings(db, row, cat)
        level = max(probs, key=probs.__getitem__)
        p = db.get(Participant, row.participant_id)
        if row.kind == "placement":
            prior = self._growth_prior(db, p.cohort.organisation_id, p.track)
            trend = start_trend(theta, se, prior.mean, prior.sd)
            if p.course_level is None:
                p.course_level = level  # the class the placement test puts them in
        else:
            # condition on the prior the test really started from
            trend = self._weekly_trend(db, p, row.week).with_prior(*cat.prior)
            trend = trend.update(theta, se)
        # the normal prior the result is equivalent to: what the growth chain undoes
        mean, sd = cat.equivalent_prior() if row.kind == "placement" else cat.prior
        branch = cat.branch
        est = db.scalar(select(Estimate).where(Estimate.session_id == row.id))
        if est is None:
            est = Estimate(session_id=row.id)
            db.add(est)
        est.theta, est.se, est.level, est.level_probabilities = theta, se, level, probs
        est.prior_mean, est.prior_sd = mean, sd
        est.growth, est.growth_se = float(trend.growth), float(trend.growth_se)
        est.growth_cov = float(trend.cov)
        est.literacy_step = cat.literacy_step()
        est.reader = None if branch in (None, "routing") else branch == "reader"
        est.skills, est.rated_pending = skills, pending
        if row.finished_at is None:
            row.finished_at = self.clock()
