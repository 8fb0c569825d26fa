"""The service never gives one participant two enemy items: within a test, and across the
placement and weekly tests (issue 17), on SQLite and on PostgreSQL."""

import dataclasses
import datetime as dt
import json

import numpy as np
from sqlalchemy import select
from support.programme import simulated_answer

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import Response, TestRun

START = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)


def with_pairs(bank):
    """The bank with every A1–B2 item of the tests' skills the enemy of its neighbour in
    parameter order: half the bank is blocked once its partners are seen."""
    ids = [i for i in bank.item_ids if bank.items[i].skill != "literacy"]
    pairs = list(zip(ids[0::2], ids[1::2], strict=False))
    foes = {i: [] for i in bank.items}
    for a, b in pairs:
        foes[a].append(b)
        foes[b].append(a)
    items = {i: it.model_copy(update={"enemies": sorted(set(it.enemies) | set(foes[i]))})
             for i, it in bank.items.items()}
    return dataclasses.replace(bank, items=items), pairs


def run_programme(db_url, bank, weeks=3, people=3):
    engine = make_engine(db_url)
    migrate(engine)
    now = [START]
    svc = Service(engine, bank, load_config(), clock=lambda: now[0], seed=11)
    org = svc.create_organisation("Test")
    svc.create_teacher(org, "t", "lærer-passord-1")
    teacher = svc.login_teacher("t", "lærer-passord-1")
    cohort = svc.create_cohort(teacher, "Inntak", START.date())
    enrolled = svc.enrol(teacher, cohort, [Intake(f"E{i}", "ar") for i in range(people)])
    rng = np.random.default_rng(3)
    for week in range(weeks + 1):
        now[0] = START + dt.timedelta(weeks=week, hours=1)
        for e in enrolled:
            who = svc.login_participant(e.code)
            view = svc.start_or_resume(who)
            while view is not None:
                view = svc.answer(who, view.session_id, view.item_id,
                                  simulated_answer(bank, view, rng))
    with engine.connect() as conn:
        rows = conn.execute(select(TestRun.participant_id, TestRun.week, TestRun.state,
                                   Response.item_id)
                            .join(Response, Response.session_id == TestRun.id)).all()
    engine.dispose()
    return rows


def test_no_participant_meets_two_enemies_across_weekly_tests(db_url, nb_bank):
    bank, pairs = with_pairs(nb_bank)
    rows = run_programme(db_url, bank)
    given: dict[int, set[str]] = {}
    for person, _, _, item in rows:
        given.setdefault(person, set()).add(item)
    assert len(given) == 3 and all(len(g) > 20 for g in given.values())
    for person, items in given.items():
        assert not [(a, b) for a, b in pairs if a in items and b in items], person
    # the weekly tests were started with the enemies of everything seen before excluded
    first_week = {p: {i for q, w, _, i in rows if q == p and w == 0} for p in given}
    for person, week, state, _ in rows:
        if week == 1:
            excluded = set(json.loads(state)["excluded"])
            foes = {b for a, b in pairs if a in first_week[person]} | {
                a for a, b in pairs if b in first_week[person]}
            assert foes <= excluded
            assert first_week[person] <= excluded


def test_without_enemy_sets_the_same_pairs_do_meet(db_url, nb_bank):
    """The check above has teeth: the same programme without enemy sets gives pairs."""
    _, pairs = with_pairs(nb_bank)
    rows = run_programme(db_url, nb_bank)
    given: dict[int, set[str]] = {}
    for person, _, _, item in rows:
        given.setdefault(person, set()).add(item)
    assert any(a in items and b in items for items in given.values() for a, b in pairs)
