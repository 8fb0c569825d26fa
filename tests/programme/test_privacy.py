"""The privacy notice, retention, export (right of access) and erasure (issue 19), on
SQLite and PostgreSQL."""

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import func, select, text
from support.programme import simulated_answer

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import AccessDenied, Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import (
    AuditLog,
    Estimate,
    Note,
    Participant,
    RatedAnswer,
    Response,
    TestRun,
    TrustedDevice,
)

START = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def world(db_url, nb_bank):
    engine = make_engine(db_url)
    migrate(engine)
    clock = Clock()
    svc = Service(engine, nb_bank, load_config(), clock=clock, seed=3)
    org = svc.set_up_organisation("Kristiansand kommune", "admin", "admin-passord-2026")
    svc.create_teacher(org, "kari", "kari-passord-2026")
    admin = svc.login_teacher("admin", "admin-passord-2026")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    cohort = svc.create_cohort(kari, "Inntak september", START.date())
    people = svc.enrol(kari, cohort, [Intake("KRS-001", "ar", "f", 1990, 2, True),
                                      Intake("KRS-002", "ti", "m", 1985, 12, True)])
    rng = np.random.default_rng(0)
    for person in people:  # a placement test each, a note, a track override
        who = svc.login_participant(person.code)
        view = svc.start_or_resume(who)
        while view is not None:
            view = svc.answer(who, view.session_id, view.item_id,
                              simulated_answer(nb_bank, view, rng), time_ms=2000)
        svc.add_note(kari, person.participant_id, f"Note about {person.pseudonym}")
        svc.override_track(kari, person.participant_id, 3, f"{person.pseudonym} has a degree")
    yield dataclasses.make_dataclass("W", ["svc", "engine", "clock", "admin", "kari",
                                           "people"])(svc, engine, clock, admin, kari, people)
    engine.dispose()


def dump(engine) -> str:
    with engine.connect() as conn:
        return " ".join(str(r) for table in ("participant", "note", "audit_log",
                                             "test_session", "response")
                        for r in conn.execute(text(f"select * from {table}")))


def counts(engine, pid):
    with engine.connect() as conn:
        runs = select(TestRun.id).where(TestRun.participant_id == pid)
        return {
            "participant": conn.scalar(select(func.count()).where(Participant.id == pid)),
            "tests": conn.scalar(select(func.count()).where(TestRun.participant_id == pid)),
            "responses": conn.scalar(select(func.count()).where(
                Response.session_id.in_(runs))),
            "estimates": conn.scalar(select(func.count()).where(
                Estimate.session_id.in_(runs))),
            "notes": conn.scalar(select(func.count()).where(Note.participant_id == pid)),
            # speaking and writing answers (issue 16), and those still holding the
            # person's own words or voice
            "tasks": conn.scalar(select(func.count()).where(
                RatedAnswer.session_id.in_(runs))),
            "words": conn.scalar(select(func.count()).where(
                RatedAnswer.session_id.in_(runs),
                RatedAnswer.text.is_not(None) | RatedAnswer.audio.is_not(None))),
        }


def test_the_privacy_notice_is_due_once(world):
    who = world.svc.login_participant(world.people[0].code)
    assert world.svc.privacy_notice_due(who)
    world.svc.privacy_notice_seen(who)
    assert not world.svc.privacy_notice_due(who)


def test_export_holds_everything_about_the_person_and_nothing_else(world):
    svc, person, other = world.svc, world.people[0], world.people[1]
    with pytest.raises(AccessDenied):
        svc.export_participant(world.kari, person.participant_id)  # admins only
    data = svc.export_participant(world.admin, person.participant_id)
    text_ = json.dumps(data)  # JSON-ready as it is
    assert data["participant"]["pseudonym"] == "KRS-001"
    assert data["participant"]["birth_year"] == 1990
    assert data["participant"]["track_override_reason"] == "KRS-001 has a degree"
    answered = counts(world.engine, person.participant_id)["responses"]
    assert sum(len(t["answers"]) for t in data["tests"]) == answered > 0
    assert data["tests"][0]["result"]["level"]
    assert [n["text"] for n in data["notes"]] == ["Note about KRS-001"]
    assert {"enrol", "override_track"} <= {a["action"] for a in data["audit"]}
    assert other.pseudonym not in text_ and person.code not in text_
    assert person.code.split("-")[1] not in text_
    assert svc.audit_log(world.admin)["action"].iloc[-1] == "export"


def test_erasure_leaves_no_trace_of_the_person(world):
    svc, person, other = world.svc, world.people[0], world.people[1]
    pid = person.participant_id
    who = svc.login_participant(person.code)
    with pytest.raises(AccessDenied):
        svc.erase_participant(world.kari, pid)  # admins only
    before_other = counts(world.engine, other.participant_id)
    svc.erase_participant(world.admin, pid, "asked to be forgotten")
    assert before_other["tasks"] > 0  # the placement's speaking and writing tasks
    assert counts(world.engine, pid) == dict.fromkeys(
        ("participant", "tests", "responses", "estimates", "notes", "tasks", "words"), 0)
    everything = dump(world.engine)
    for trace in ("KRS-001", "Note about KRS-001", "KRS-001 has a degree",
                  person.code.split("-")[0]):
        assert trace not in everything, trace
    assert counts(world.engine, other.participant_id) == before_other  # nobody else
    assert "KRS-002 has a degree" in everything
    with world.engine.connect() as conn:
        erase = conn.execute(select(AuditLog).where(AuditLog.action == "erase")).one()
        devices = conn.scalar(select(func.count()).select_from(TrustedDevice).where(
            TrustedDevice.subject_id == pid, TrustedDevice.kind == "participant"))
    assert (erase.actor, erase.entity_id, erase.detail) == ("admin", pid, {})
    assert devices == 0
    with pytest.raises(AccessDenied):
        svc.start_or_resume(who)
    with pytest.raises(AccessDenied):
        svc.login_participant(person.code)


@pytest.mark.parametrize("action", ["anonymise", "delete"])
def test_retention_acts_a_set_time_after_leaving(world, nb_bank, action):
    config = dataclasses.replace(load_config(), retention_action=action)
    svc = Service(world.engine, nb_bank, config, clock=world.clock, seed=4)
    person, stays = world.people[0], world.people[1]
    pid = person.participant_id
    kari = svc.login_teacher("kari", "kari-passord-2026")
    svc.mark_left(kari, pid, START.date())
    before = counts(world.engine, pid)
    world.clock.now = START + dt.timedelta(days=config.retention_days - 1)
    assert svc.run_retention().anonymised + svc.run_retention().deleted == 0  # not yet
    assert svc.participant_status(kari, pid)["retention_due"] == (
        START.date() + dt.timedelta(days=config.retention_days))
    world.clock.now = START + dt.timedelta(days=config.retention_days)
    report = svc.run_retention()
    assert (report.anonymised, report.deleted) == ((1, 0) if action == "anonymise" else (0, 1))
    everything = dump(world.engine)
    for trace in ("KRS-001", "Note about KRS-001", "KRS-001 has a degree"):
        assert trace not in everything, trace
    after = counts(world.engine, pid)
    if action == "anonymise":  # answers and results stay for calibration
        kept = ("tests", "responses", "estimates", "tasks")
        assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
        assert before["words"] > 0 and after["words"] == 0  # texts and voices go
        assert after["notes"] == 0
        with world.engine.connect() as conn:
            row = conn.execute(select(Participant.__table__).where(
                Participant.id == pid)).one()
        assert row.pseudonym.startswith("anon-") and row.birth_year is None
        assert row.gender is None and row.track_override_reason is None
        assert row.language == "ar" and row.anonymised_at is not None
    else:
        assert after == dict.fromkeys(after, 0)
    with pytest.raises(AccessDenied):
        svc.login_participant(person.code)
    assert counts(world.engine, stays.participant_id)["participant"] == 1
    assert svc.run_retention().anonymised == 0  # once only
    audit = svc.audit_log(svc.login_teacher("admin", "admin-passord-2026"))
    assert (audit["actor"] == "retention").sum() == 1
