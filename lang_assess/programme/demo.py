"""A simulated programme for the demo: intakes, participants and 20 weeks of real tests.

Every test is run by the real CAT through :class:`~lang_assess.programme.service.Service`; only the
answers are simulated, from the bank's IRT model at each participant's (growing) true
ability.  Nothing is written to the database except through the service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.programme.service import Intake, ItemView, ParticipantContext, Service

LANGUAGES = ("ar", "ti", "prs", "so", "uk")
#: Track → (mean start θ, SD, growth range in logits a week, chance of missing a week)
TRACK_PROFILE = {
    1: (-2.2, 0.5, (0.02, 0.06), 0.15),
    2: (-1.0, 0.6, (0.04, 0.09), 0.10),
    3: (0.0, 0.7, (0.06, 0.12), 0.06),
}
DEMO_TEACHERS = (("kari", "demo-kari-2026"), ("ola", "demo-ola-2026"))
DEMO_ADMIN = ("admin", "demo-admin-2026")


@dataclass
class DemoResult:
    """What the demo created: logins, access codes of the newest intake, counts."""

    teachers: list[tuple[str, str]]
    codes: list[tuple[str, str]]
    participants: int
    tests: int
    answers: int
    missed: int
    moved_up: int = 0
    cohorts: list[str] = field(default_factory=list)


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


DEMO_TEXT = "Hei! Jeg kan ikke komme på kurs i dag. Jeg er syk. Hilsen Amal"

def _intake(rng: np.random.Generator, k: int, track: int) -> Intake:
    years = {1: int(rng.integers(0, 3)), 2: int(rng.integers(4, 12)),
             3: int(rng.integers(13, 18))}[track]
    return Intake(
        pseudonym=f"KRS-{k:03d}", language=str(rng.choice(LANGUAGES)),
        gender=str(rng.choice(["f", "m"])), birth_year=int(rng.integers(1970, 2006)),
        years_schooling=years, literate_l1=track > 1 or bool(rng.random() < 0.3),
        higher_education=track == 3,
    )


def build_demo(
    make_service: Callable[[Callable[[], dt.datetime]], Service],
    *,
    today: dt.date,
    n_participants: int = 60,
    weeks: int = 20,
    intakes: int = 4,
    seed: int = 2026,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Fill an empty database with a simulated programme ending ``today``.

    ``intakes`` cohorts arrive two weeks apart, the first ``weeks`` weeks ago; each
    participant takes a placement test in their first week and a progress test most
    weeks after (tracks differ in start level, growth and missed weeks).  A last, small
    intake arrives today with nobody tested yet, so the demo has codes to try.
    """
    rng = np.random.default_rng(seed)
    start = today - dt.timedelta(weeks=weeks - 1)
    clock = _Clock(dt.datetime.combine(start, dt.time(8), tzinfo=dt.UTC))
    svc = make_service(clock)
    org = svc.create_organisation("Kristiansand kommune (demo)")
    for user, password in DEMO_TEACHERS:
        svc.create_teacher(org, user, password)
    svc.create_teacher(org, *DEMO_ADMIN, is_admin=True)
    teachers = [svc.login_teacher(u, p) for u, p in DEMO_TEACHERS]

    people: list[dict] = []
    per_intake = int(np.ceil(n_participants / intakes))
    cohorts = []
    for c in range(intakes):
        day = start + dt.timedelta(weeks=2 * c)
        teacher = teachers[c % len(teachers)]
        name = f"Inntak {day.isoformat()}"
        cid = svc.create_cohort(teacher, name, day)
        cohorts.append(name)
        count = min(per_intake, n_participants - len(people))
        tracks = rng.choice([1, 2, 3], size=count, p=[0.3, 0.45, 0.25])
        forms = [_intake(rng, len(people) + i + 1, int(t)) for i, t in enumerate(tracks)]
        for enrolled in svc.enrol(teacher, cid, forms):
            mean, sd, growth, miss = TRACK_PROFILE[enrolled.track]
            away = int(rng.integers(1, weeks + 2))  # some are away 2-3 weeks in a row
            people.append({
                "who": svc.login_participant(enrolled.code), "intake": day,
                "theta0": rng.normal(mean, sd), "growth": rng.uniform(*growth), "miss": miss,
                "away": set(range(away, away + int(rng.integers(2, 4))))
                if rng.random() < 0.2 else set(),
            })

    tests = answers = missed = moved = 0
    for week in range(weeks):
        monday = start + dt.timedelta(weeks=week)
        if progress is not None:
            progress(f"week {week + 1}/{weeks}")
        for person in people:
            since = (monday - person["intake"]).days // 7
            if since < 0:
                continue
            if since > 0 and (week in person["away"] or rng.random() < person["miss"]):
                missed += 1
                continue
            day = monday + dt.timedelta(days=int(rng.integers(0, 3)))
            clock.now = dt.datetime.combine(day, dt.time(int(rng.integers(9, 15))),
                                            tzinfo=dt.UTC)
            truth = person["theta0"] + person["growth"] * (week - (
                person["intake"] - start).days / 7)
            n = _take_test(svc, person["who"], truth, rng)
            tests += n > 0
            answers += n
        if week < weeks - 1:  # this week's flags wait for the teacher to look
            moved += _act_on_flags(svc, teachers, rng)

    clock.now = dt.datetime.combine(today, dt.time(8), tzinfo=dt.UTC)
    newest = svc.create_cohort(teachers[0], f"Inntak {today.isoformat()}", today)
    cohorts.append(f"Inntak {today.isoformat()}")
    fresh = svc.enrol(teachers[0], newest, [_intake(rng, 900 + i, 2) for i in range(5)])
    return DemoResult(
        teachers=[*DEMO_TEACHERS, DEMO_ADMIN], codes=[(e.pseudonym, e.code) for e in fresh],
        participants=len(people) + len(fresh), tests=tests, answers=answers, missed=missed,
        moved_up=moved, cohorts=cohorts,
    )


def _act_on_flags(svc: Service, teachers: list, rng: np.random.Generator) -> int:
    """At the end of a week teachers move most flagged participants up (not all: a
    teacher may wait for a course start)."""
    moved = 0
    for teacher in teachers:
        for cid in svc.cohorts(teacher)["id"]:
            table = svc.cohort_progress(teacher, int(cid))
            for pid in table.loc[table["ready_to_move_up"], "participant_id"]:
                if rng.random() < 0.8:
                    svc.move_up(teacher, int(pid), "ready to move up (demo)")
                    moved += 1
    return moved


def _take_test(svc: Service, who: ParticipantContext, truth: float,
               rng: np.random.Generator) -> int:
    """Answer a whole test as someone of ability ``truth`` would; returns the count."""
    view: ItemView | None = svc.start_or_resume(who)
    n = 0
    while view is not None:
        item = svc.bank.items[view.item_id]
        if item.type == "rated":  # a task for the teachers: a short text, or "I cannot"
            text = DEMO_TEXT if item.skill == "writing" and rng.random() < 0.8 else ""
            view = svc.answer(who, view.session_id, view.item_id, text)
            continue
        if view.item_id in svc.bank.pretest_ids:  # no parameters yet: a coin flip
            right = rng.random() < 0.5
        else:
            i = svc.bank.params.index_of([view.item_id])
            right = rng.random() < paired_probabilities(np.array([truth]), svc.bank.params,
                                                        i)[0, 1]
        if item.type == "ordering":
            answer = "".join(item.key) if right else "".join(o.id for o in item.options)
        else:
            wrong = [o.id for o in item.options if o.id != item.key[0]]
            answer = item.key[0] if right else str(rng.choice(wrong))
        view = svc.answer(who, view.session_id, view.item_id, answer,
                          time_ms=int(rng.lognormal(9.6, 0.5)))
        n += 1
    return n
