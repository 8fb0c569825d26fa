"""Cohorts, enrolment, tracks, moving up, teachers' notes: what teachers change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from lang_assess.errors import SessionError
from lang_assess.programme.rules import suggest_track
from lang_assess.programme.service.access import AccessDenied, AccessMixin, TeacherContext
from lang_assess.programme.service.passwords import hash_secret
from lang_assess.programme.store.models import Cohort, Note, Participant

NOTE_MAX = 2000


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
    months_in_norway: int | None = None  # lived in Norway before enrolling (whole months)


@dataclass(frozen=True)
class Enrolled:
    """A new participant and the access code, shown once and never stored in clear."""

    participant_id: int
    pseudonym: str
    code: str
    track: int



class EnrolmentMixin(AccessMixin):
    """Changes teachers make to cohorts and participants; each one audited."""

    def create_cohort(self, actor: TeacherContext, name: str, intake_date: dt.date,
                      *, teacher_id: int | None = None, track: int | None = None) -> int:
        """A new intake cohort taught by ``teacher_id`` (default: the actor)."""
        teacher_id = teacher_id or actor.teacher_id
        if teacher_id != actor.teacher_id and not actor.is_admin:
            raise AccessDenied("only an admin creates cohorts for other teachers")
        with self._db.begin() as db:
            c = Cohort(organisation_id=actor.organisation_id, teacher_id=teacher_id, name=name,
                       intake_date=intake_date, track=track)
            db.add(c)
            db.flush()
            self._audit(db, actor, "create", "cohort", c.id, None, {"name": name})
            return c.id

    def enrol(self, actor: TeacherContext, cohort_id: int,
              intakes: Sequence[Intake]) -> list[Enrolled]:
        """Enrol participants into a cohort; each gets a random access code, returned
        here once and stored only as a hash.  All or nothing."""
        with self._db.begin() as db:
            cohort = self._cohort(db, actor, cohort_id)
            out = []
            for intake in intakes:
                if not intake.pseudonym.strip():
                    raise ValueError("every participant needs a pseudonymous id")
                months = intake.months_in_norway
                if months is not None and (isinstance(months, bool) or not isinstance(
                        months, int) or not 0 <= months <= 600):
                    raise ValueError(f"{intake.pseudonym!r}: months in Norway must be a whole "
                                     f"number from 0 to 600, got {months!r}")
                lookup, secret = self._new_code(db)
                track = suggest_track(intake.years_schooling, intake.literate_l1,
                                      intake.higher_education, self.config)
                p = Participant(
                    cohort_id=cohort.id, pseudonym=intake.pseudonym.strip(),
                    code_lookup=lookup, code_hash=hash_secret(secret),
                    language=intake.language, gender=intake.gender,
                    birth_year=intake.birth_year, years_schooling=intake.years_schooling,
                    literate_l1=intake.literate_l1, higher_education=intake.higher_education,
                    months_in_norway=intake.months_in_norway,
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
        with self._db.begin() as db:
            p = self._participant(db, actor, participant_id)
            old = p.track
            p.track, p.track_override_reason = track, reason.strip()
            self._audit(db, actor, "override_track", "participant", p.id, reason.strip(),
                        {"from": old, "to": track, "suggested": p.track_suggested})

    def move_up(self, actor: TeacherContext, participant_id: int, reason: str = "") -> str:
        """Move a participant to the next course level (after the flag, or the teacher's
        judgement); audited.  Returns the new level."""
        labels = self.cuts.labels
        with self._db.begin() as db:
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

    def add_note(self, actor: TeacherContext, participant_id: int, text: str) -> None:
        """Keep a teacher's note on a participant (at most 2,000 characters)."""
        text = text.strip()
        if not text:
            raise ValueError("an empty note is not kept")
        if len(text) > NOTE_MAX:
            raise ValueError(f"a note has at most {NOTE_MAX} characters")
        with self._db.begin() as db:
            self._participant(db, actor, participant_id)
            db.add(Note(participant_id=participant_id, teacher_id=actor.teacher_id,
                        text=text, created_at=self.clock()))
