"""The migration chain up and down on both backends: 0005 (placement start, issue 13),
0006 (login limits, sessions, privacy; issue 19), then 0008 (speaking and writing,
issue 16), with data kept across."""

import datetime as dt

import numpy as np
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from support.programme import simulated_answer

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import downgrade, head_revision, make_engine, migrate
from lang_assess.programme.store.models import Base


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_0005_0006_0008_go_down_and_up_again_keeping_data(db_url, nb_bank):
    assert head_revision() == "0008"
    engine = make_engine(db_url)
    migrate(engine)
    svc = Service(engine, nb_bank, load_config(), seed=1)
    org = svc.set_up_organisation("Kristiansand", "admin", "admin-passord-2026")
    svc.create_teacher(org, "kari", "kari-passord-2026")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    cohort = svc.create_cohort(kari, "Inntak", dt.date(2026, 8, 17))
    person = svc.enrol(kari, cohort, [Intake("M-001", "ar", months_in_norway=14)])[0]
    who = svc.login_participant(person.code)
    view = svc.start_or_resume(who)
    rng = np.random.default_rng(3)
    for _ in range(3):  # rows that refer to the participant and the teacher's cohort
        view = svc.answer(who, view.session_id, view.item_id,
                          simulated_answer(nb_bank, view, rng, 0.7), time_ms=2000)

    downgrade(engine, "0006")
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"rated_answer", "rating", "cohort_rater"}
    assert "tasks" not in _columns(engine, "test_session")
    assert "teacher_session" in tables

    downgrade(engine, "0005")
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"login_attempt", "server_key", "trusted_device", "teacher_session"}
    cols = _columns(engine, "participant")
    assert {"failed_logins", "locked_until", "months_in_norway"} <= cols
    assert "privacy_seen_at" not in cols
    assert "disabled_at" not in _columns(engine, "teacher")

    downgrade(engine, "0004")
    assert "months_in_norway" not in _columns(engine, "participant")
    assert "reader" not in _columns(engine, "estimate")

    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0008"
        assert conn.execute(text("SELECT pseudonym FROM participant")).scalars().all() == [
            "M-001"]
        assert conn.execute(text("SELECT count(*) FROM response")).scalar() == 3
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    # the accounts survived both trips and work under the new schema
    assert svc.login_teacher("kari", "kari-passord-2026") is not None
    again = svc.start_or_resume(svc.login_participant(person.code))
    assert again is not None and again.session_id == view.session_id
    engine.dispose()
