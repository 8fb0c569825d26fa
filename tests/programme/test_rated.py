"""Speaking and writing tasks through the service (issue 16), on SQLite and PostgreSQL:
answers stored once, recordings checked, ratings (double, blind, a third on a split),
the result and the levels per skill following the ratings, who may hear a recording,
and the retention rule."""

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from support.programme import simulated_answer

from lang_assess.errors import SessionError
from lang_assess.programme.recordings import RecordingRejected
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import AccessDenied, Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import AuditLog, Estimate, RatedAnswer, Rating

START = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)
BANK_AUDIO = Path(__file__).parents[2] / "item_bank" / "nb" / "media" / "audio"


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


@pytest.fixture
def world(db_url, nb_bank):
    engine = make_engine(db_url)
    migrate(engine)
    clock = Clock()
    config = dataclasses.replace(load_config(), double_rate_share=1.0)  # every answer twice
    svc = Service(engine, nb_bank, config, clock=clock, seed=11)
    org = svc.create_organisation("Kristiansand kommune")
    ids = {u: svc.create_teacher(org, u, f"{u}-passord-2026", is_admin=u == "admin")
           for u in ("kari", "ola", "per", "admin")}
    t = {u: svc.login_teacher(u, f"{u}-passord-2026") for u in ids}
    cohort = svc.create_cohort(t["kari"], "Inntak september", START.date())
    svc.create_cohort(t["ola"], "Inntak august", START.date())
    person = svc.enrol(t["kari"], cohort, [Intake("KRS-001", "ti", "m", 1995, 9, True)])[0]
    who = svc.login_participant(person.code)
    ns = dataclasses.make_dataclass("W", ["svc", "engine", "clock", "t", "ids", "cohort",
                                          "who", "person"])
    yield ns(svc, engine, clock, t, ids, cohort, who, person)
    engine.dispose()


def to_the_tasks(w, nb_bank):
    """Answer the adaptive part; returns the first task's view."""
    rng = np.random.default_rng(2)
    view = w.svc.start_or_resume(w.who)
    while view.type != "rated":
        view = w.svc.answer(w.who, view.session_id, view.item_id,
                            simulated_answer(nb_bank, view, rng, 0.7))
    return view


def recording() -> bytes:
    return (BANK_AUDIO / "nb-A1-spe-001-stem.ogg").read_bytes()  # Opus in Ogg, ~3 s


def answer_tasks(w, nb_bank, view):
    """A recording for each speaking task, a text for each writing task."""
    seen = []
    while view is not None:
        seen.append((view.item_id, view.skill))
        if view.skill == "speaking":
            view = w.svc.submit_recording(w.who, view.session_id, view.item_id, recording())
        else:
            view = w.svc.submit_text(w.who, view.session_id, view.item_id,
                                     "Hei Kari! Jeg er syk i dag og kommer ikke på kurs.")
    return seen


def test_a_test_ends_with_two_speaking_and_two_writing_tasks_each_stored_once(world, nb_bank):
    w = world
    view = to_the_tasks(w, nb_bank)
    assert view.options == () and view.stem
    # a reload shows the same task; the adaptive part is over
    assert w.svc.start_or_resume(w.who).item_id == view.item_id
    with w.engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(Estimate)) == 0  # not finished yet
    first = view
    with pytest.raises(RecordingRejected):
        w.svc.submit_recording(w.who, view.session_id, view.item_id, b"RIFF....WAVEfmt ")
    with pytest.raises(RecordingRejected):  # cut off mid-upload: refused whole
        w.svc.submit_recording(w.who, view.session_id, view.item_id, recording()[:3000])
    seen = answer_tasks(w, nb_bank, view)
    assert sorted(s for _, s in seen) == ["speaking", "speaking", "writing", "writing"]
    level = nb_bank.items[seen[0][0]].level
    assert all(nb_bank.items[i].level == level for i, _ in seen)  # at the level reached
    # sent again after a reload: stored once; something else for the same task: refused
    w.svc.submit_recording(w.who, first.session_id, first.item_id, recording())
    with pytest.raises(SessionError):
        w.svc.submit_text(w.who, first.session_id, first.item_id, "noe annet")
    with w.engine.connect() as c:
        rows = c.execute(select(RatedAnswer.item_id, RatedAnswer.audio_format,
                                RatedAnswer.seconds, RatedAnswer.audio_bytes,
                                RatedAnswer.text)).all()
        est = c.execute(select(Estimate)).one()
    assert len(rows) == 4 and len({r.item_id for r in rows}) == 4
    spoken = [r for r in rows if r.audio_format]
    assert [r.audio_format for r in spoken] == ["ogg", "ogg"]
    assert all(1.0 < r.seconds < 10 and r.audio_bytes == len(recording()) for r in spoken)
    assert est.rated_pending == 4
    assert set(est.skills) == {"reading", "listening", "speaking", "writing"}
    assert est.skills["speaking"]["n"] == 0 and est.skills["speaking"]["level"] is None
    assert w.svc.start_or_resume(w.who) is None


def test_ratings_double_blind_third_on_a_split_and_the_result_follows(world, nb_bank):
    w = world
    answer_tasks(w, nb_bank, to_the_tasks(w, nb_bank))
    kari, ola, per, admin = (w.t[u] for u in ("kari", "ola", "per", "admin"))
    queue = w.svc.rating_queue(kari)
    assert len(queue) == 4 and all(q.round == 1 for q in queue)
    assert w.svc.rating_queue(ola) == []  # not her cohort
    with pytest.raises(AccessDenied):
        w.svc.rate(ola, queue[0].answer_id, 2)
    speak = [q for q in queue if q.skill == "speaking"]
    write = [q for q in queue if q.skill == "writing"]
    assert all(q.has_audio and q.text is None for q in speak)
    assert all(q.text and not q.has_audio for q in write)
    assert [r.score for r in queue[0].rubric] == [0, 1, 2, 3]
    assert all(r.descriptor and r.descriptor_en for r in queue[0].rubric)
    with w.engine.connect() as c:
        before = c.execute(select(Estimate.theta, Estimate.skills)).one()
    for q in queue:
        w.svc.rate(kari, q.answer_id, 3, "tydelig")
    with pytest.raises(SessionError):
        w.svc.rate(kari, queue[0].answer_id, 3)  # one rating per teacher
    with pytest.raises(ValueError):
        w.svc.rate(kari, queue[0].answer_id, 7)
    with w.engine.connect() as c:
        after = c.execute(select(Estimate.theta, Estimate.skills,
                                 Estimate.rated_pending)).one()
    assert after.theta > before.theta  # top scores raise the estimate at once
    assert after.skills["speaking"]["n"] == 2
    assert after.skills["speaking"]["theta"] > before.skills["speaking"]["theta"] + 0.3
    assert after.rated_pending == 4  # each still owes its second rating
    # the second rater: allowed by an admin, blind to the first
    w.svc.add_cohort_rater(admin, w.cohort, w.ids["ola"])
    second = w.svc.rating_queue(ola)
    assert {q.answer_id for q in second} == {q.answer_id for q in queue}
    assert all(q.round == 2 for q in second)
    assert "3" not in repr([(q.round, q.text) for q in second])  # no sign of kari's score
    scores = {q.answer_id: s for q, s in zip(second, [3, 2, 1, 0], strict=True)}
    for a, s in scores.items():
        w.svc.rate(ola, a, s)
    # 3 vs 1 and 3 vs 0 are splits of more than one step: a third rating
    third = w.svc.rating_queue(per) + w.svc.rating_queue(admin)
    assert sorted({q.answer_id for q in third}) == sorted(
        a for a, s in scores.items() if s <= 1)
    for q in w.svc.rating_queue(admin):
        w.svc.rate(admin, q.answer_id, 2)
    with w.engine.connect() as c:
        final = {r.id: r.score for r in c.execute(select(RatedAnswer.id, RatedAnswer.score))}
        est = c.execute(select(Estimate.rated_pending, Estimate.skills)).one()
        audits = c.scalar(select(func.count()).select_from(AuditLog)
                          .where(AuditLog.action == "rate"))
        ratings = c.scalar(select(func.count()).select_from(Rating))
    # resolved: two agreeing ratings' mean; after a split the third and the nearer one
    # (3, 3) → 3; (3, 2) → 2.5; (3, 1) then 2 → 2 and 3 (the tie goes to the first);
    # (3, 0) then 2 → 2 and 3
    assert sorted(final.values()) == [2.5, 2.5, 2.5, 3.0]
    assert est.rated_pending == 0 and est.skills["writing"]["n"] == 2
    assert audits == ratings == 10
    figures = w.svc.rater_agreement(admin)
    assert figures["overall"].n == 4
    assert figures["overall"].exact == 0.25 and figures["overall"].adjacent == 0.5
    assert set(figures["raters"]) == {"kari", "ola"}
    assert "severity" in figures["raters"]["kari"]
    with pytest.raises(AccessDenied):
        w.svc.rater_agreement(kari)


def test_only_the_teachers_and_admins_hear_a_recording_and_retention_keeps_scores(world,
                                                                                  nb_bank):
    w = world
    answer_tasks(w, nb_bank, to_the_tasks(w, nb_bank))
    spoken = [q for q in w.svc.rating_queue(w.t["kari"]) if q.skill == "speaking"]
    data, mime = w.svc.recording(w.t["kari"], spoken[0].answer_id)
    assert data == recording() and mime == "audio/ogg"
    assert w.svc.recording(w.t["admin"], spoken[0].answer_id)[0] == data
    for other in ("ola", "per"):
        with pytest.raises(AccessDenied):
            w.svc.recording(w.t[other], spoken[0].answer_id)
    w.svc.rate(w.t["kari"], spoken[0].answer_id, 2)
    w.clock.now = START + dt.timedelta(days=179)
    assert w.svc.purge_recordings() == 0
    w.clock.now = START + dt.timedelta(days=181)
    assert w.svc.purge_recordings() == 2
    with pytest.raises(LookupError):
        w.svc.recording(w.t["kari"], spoken[0].answer_id)
    with w.engine.connect() as c:
        rows = c.execute(select(RatedAnswer.audio, RatedAnswer.audio_bytes, RatedAnswer.id)
                         .where(RatedAnswer.skill == "speaking")).all()
        kept = c.scalar(select(Rating.score).where(Rating.answer_id == spoken[0].answer_id))
    assert all(r.audio is None and r.audio_bytes for r in rows)
    assert kept == 2
    queue = {q.answer_id: q for q in w.svc.rating_queue(w.t["admin"])}
    assert not queue[spoken[1].answer_id].has_audio
