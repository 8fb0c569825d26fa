"""Storage and programme logic through the service, on SQLite and on PostgreSQL."""

import dataclasses
import datetime as dt
import itertools
import json

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from support.programme import simulated_answer

from lang_assess.errors import SessionError
from lang_assess.programme.growth import Trend, growth_prior_from_data, measurement, own_growth
from lang_assess.programme.rules import (
    ProgrammeConfig,
    default_growth_prior,
    load_config,
    suggest_track,
    weekly_trend,
)
from lang_assess.programme.service import AccessDenied, Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import (
    Base,
    Estimate,
    ParamVersion,
    Participant,
    Response,
    TestRun,
)

START = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += dt.timedelta(**kw)


@pytest.fixture
def world(db_url, nb_bank):
    engine = make_engine(db_url)
    migrate(engine)
    clock = Clock()
    svc = Service(engine, nb_bank, load_config(), clock=clock, seed=7)
    org = svc.create_organisation("Kristiansand kommune")
    svc.create_teacher(org, "kari", "kari-passord")
    svc.create_teacher(org, "ola", "ola-passord-1")
    svc.create_teacher(org, "admin", "admin-passord", is_admin=True)
    kari, ola = svc.login_teacher("kari", "kari-passord"), svc.login_teacher("ola", "ola-passord-1")
    admin = svc.login_teacher("admin", "admin-passord")
    c1 = svc.create_cohort(kari, "Inntak september", START.date())
    c2 = svc.create_cohort(ola, "Inntak august", START.date() - dt.timedelta(days=14))
    people = svc.enrol(kari, c1, [
        Intake("KRS-001", "ar", "f", 1990, 0, False),
        Intake("KRS-002", "ti", "m", 1995, 9, True),
        Intake("KRS-003", "uk", "f", 1985, 16, True, True),
    ])
    others = svc.enrol(ola, c2, [Intake("KRS-101", "so", "m", 1999, 4, None)])
    yield dataclasses.make_dataclass("World", ["svc", "engine", "clock", "kari", "ola",
                                               "admin", "c1", "c2", "people", "others"])(
        svc, engine, clock, kari, ola, admin, c1, c2, people, others)
    engine.dispose()


def take_test(svc, bank, who, rng, p_right=0.7, stop_after=None):
    view = svc.start_or_resume(who)
    n = 0
    while view is not None and (stop_after is None or n < stop_after):
        ans = simulated_answer(bank, view, rng, p_right)
        view = svc.answer(who, view.session_id, view.item_id, ans, time_ms=2500)
        n += 1
    return view, n


def test_migrations_create_exactly_the_model_schema(world):
    with world.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_codes_are_random_shown_once_and_stored_hashed(world):
    codes = [p.code for p in world.people + world.others]
    assert len(set(codes)) == len(codes)
    with world.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(text("select * from participant")))
    for code in codes:
        assert code.split("-")[1] not in dump  # the secret half never reaches the database
    assert [p.track for p in world.people] == [1, 2, 3]
    assert world.others[0].track == 1  # 4 years of schooling, literacy not known


def test_code_login_normalises(world):
    svc, code = world.svc, world.people[1].code
    assert svc.login_participant(code.lower().replace("-", " ")).pseudonym == "KRS-002"
    with pytest.raises(AccessDenied):
        svc.login_participant(code[:4] + "AAAAA")
    # the limits on wrong codes: tests/programme/test_access.py


def test_placement_stores_every_answer_and_a_result(world, nb_bank):
    who = world.svc.login_participant(world.people[1].code)
    view, n = take_test(world.svc, nb_bank, who, np.random.default_rng(1))
    n -= 4  # two speaking and two writing tasks follow the adaptive part (issue 16)
    assert view is None and 8 <= n <= 30
    with world.engine.connect() as conn:
        positions = conn.execute(select(Response.position).order_by(Response.position)).scalars()
        assert list(positions) == list(range(1, n + 1))
        est = conn.execute(select(Estimate)).one()
        version = conn.execute(select(ParamVersion)).one()
    assert (version.language, version.version, version.is_current) == ("nb", "v0", True)
    assert "expert rule v0" in version.source
    assert abs(sum(est.level_probabilities.values()) - 1) < 1e-9
    assert est.level == max(est.level_probabilities, key=est.level_probabilities.get)
    assert world.svc.start_or_resume(who) is None  # nothing more due this week


def test_a_restarted_server_resumes_at_the_same_item(world, nb_bank):
    who = world.svc.login_participant(world.people[0].code)
    view, _ = take_test(world.svc, nb_bank, who, np.random.default_rng(2), stop_after=4)
    restarted = Service(make_engine(str(world.engine.url.render_as_string(False))), nb_bank,
                        load_config(), clock=world.clock)
    again = restarted.start_or_resume(restarted.login_participant(world.people[0].code))
    assert (again.item_id, again.position, again.session_id) == (
        view.item_id, view.position, view.session_id)
    with pytest.raises(SessionError, match="is not on screen"):
        restarted.answer(who, view.session_id, "nb-A1-rea-001", "A")
    with world.engine.connect() as conn:
        assert conn.execute(select(Response.position)).scalars().all() == [1, 2, 3, 4]


def test_a_participant_reaches_only_their_own_test(world, nb_bank):
    a = world.svc.login_participant(world.people[0].code)
    b = world.svc.login_participant(world.people[1].code)
    view = world.svc.start_or_resume(a)
    with pytest.raises(AccessDenied):
        world.svc.answer(b, view.session_id, view.item_id, "A")
    with pytest.raises(AccessDenied):
        world.svc.result(b, view.session_id)


def test_the_item_view_carries_no_key_or_parameter(world):
    view = world.svc.start_or_resume(world.svc.login_participant(world.people[2].code))
    fields = {f.name for f in dataclasses.fields(view)}
    assert not fields & {"key", "a", "b", "c", "params"}
    assert "key" not in repr(view)


def test_a_teacher_sees_only_their_own_cohorts(world):
    svc = world.svc
    assert svc.cohorts(world.kari)["id"].tolist() == [world.c1]
    assert sorted(svc.cohorts(world.admin)["id"]) == sorted([world.c1, world.c2])
    with pytest.raises(AccessDenied):
        svc.cohort_progress(world.ola, world.c1)
    with pytest.raises(AccessDenied):
        svc.participant_history(world.ola, world.people[0].participant_id)
    with pytest.raises(AccessDenied):
        svc.enrol(world.ola, world.c1, [Intake("X", "ar")])
    assert len(svc.cohort_progress(world.admin, world.c1)) == 3


def test_track_override_needs_a_reason_and_is_audited(world):
    pid = world.people[1].participant_id
    with pytest.raises(ValueError, match="needs a reason"):
        world.svc.override_track(world.kari, pid, 3, " ")
    world.svc.override_track(world.kari, pid, 3, "Master's degree; documents came late")
    row = world.svc.cohort_progress(world.kari, world.c1).set_index("pseudonym").loc["KRS-002"]
    assert row["track"] == 3 and bool(row["track_overridden"])
    log = world.svc.audit_log(world.admin)
    last = log.iloc[-1]
    assert (last["action"], last["actor"], last["reason"]) == (
        "override_track", "kari", "Master's degree; documents came late")
    assert last["detail"] == {"from": 2, "to": 3, "suggested": 2}
    with pytest.raises(AccessDenied):
        world.svc.audit_log(world.kari)


def test_weekly_tests_use_last_weeks_result_and_skip_recent_items(world, nb_bank):
    svc, who = world.svc, world.svc.login_participant(world.people[1].code)
    rng = np.random.default_rng(3)
    take_test(svc, nb_bank, who, rng)
    seen_by_week = {}
    for week in range(1, 7):
        world.clock.advance(days=7)
        view = svc.start_or_resume(who)
        assert view.kind == "progress"
        _, n = take_test(svc, nb_bank, who, rng)
        assert 5 <= n <= 14
        assert svc.start_or_resume(who) is None  # one progress test a week
        with world.engine.connect() as conn:
            seen_by_week[week] = set(conn.execute(
                select(Response.item_id).join(TestRun).where(TestRun.week == week)
            ).scalars())
    with world.engine.connect() as conn:
        seen_by_week[0] = set(conn.execute(select(Response.item_id).join(TestRun)
                                           .where(TestRun.week == 0)).scalars())
    for week in range(1, 7):
        for earlier in range(max(0, week - 4), week):
            assert not seen_by_week[week] & seen_by_week[earlier], (week, earlier)
    history = svc.participant_history(world.kari, world.people[1].participant_id)
    assert history["week"].tolist() == list(range(7))
    assert {"change", "change_se", "change_reliable", "change_since_intake"} <= set(history)
    # the week's own measurement: the answers without the prior the test started from
    with world.engine.connect() as conn:
        priors = conn.execute(select(Estimate.prior_mean, Estimate.prior_sd).join(
            TestRun, TestRun.id == Estimate.session_id).where(
            TestRun.participant_id == world.people[1].participant_id)
            .order_by(TestRun.week)).all()
    y, r = measurement(history["theta"], history["se"], *np.array(priors, dtype=float).T)
    assert np.isfinite(r).all()
    assert history["own_theta"].to_numpy() == pytest.approx(y)
    assert history["own_se"].to_numpy() == pytest.approx(np.sqrt(r))
    assert not np.allclose(history["own_theta"], history["theta"])  # the prior is undone
    # the flags' numbers: P above the next cut and the growth of the own measurements
    # over the stalled window (weeks 0-6: all of them), passed on by cohort_progress
    row = svc.cohort_progress(world.kari, world.c1).set_index("participant_id").loc[
        world.people[1].participant_id]
    slope, var = own_growth(history["week"].to_numpy(float)[None], y[None], r[None])
    assert row["growth"] == pytest.approx(slope[0])
    assert row["growth_se"] == pytest.approx(np.sqrt(var[0]))
    assert row["p_above"] == row["p_next_level"]
    assert 0 <= row["p_above"] <= 1


def test_a_weekly_test_decides_the_cut_above_the_course_level(world, nb_bank):
    """Issue 15: the weekly test serves the week's decision — items at the cut above the
    course level, a stop when its side is known — and follows a move up."""
    svc, who = world.svc, world.svc.login_participant(world.people[1].code)
    pid = world.people[1].participant_id
    rng = np.random.default_rng(5)
    take_test(svc, nb_bank, who, rng)
    cuts = nb_bank.cuts

    def weekly_design():
        world.clock.advance(days=7)
        view = svc.start_or_resume(who)
        with world.engine.connect() as conn:
            state = json.loads(conn.execute(select(TestRun.state).where(
                TestRun.id == view.session_id)).scalar_one())
            level = conn.execute(select(Participant.course_level).where(
                Participant.id == pid)).scalar_one()
        take_test(svc, nb_bank, who, rng)
        return state["design"], level

    design, level = weekly_design()
    cut = cuts.cuts[cuts.labels.index(level)]
    (rule,) = design["stop"]["rules"]
    assert rule == {"type": "CutDecided", "cut": cut,
                    "probability": svc.config.ready_probability}
    assert design["selector"]["criterion"]["then"] == {"type": "InformationAtCut", "cut": cut}
    svc.move_up(world.kari, pid, "ready")
    design, moved = weekly_design()
    assert cuts.labels.index(moved) == cuts.labels.index(level) + 1
    assert design["stop"]["rules"][0]["cut"] == cuts.cuts[cuts.labels.index(moved)]


def test_cohort_progress_flags_missed_tests(world, nb_bank):
    world.clock.advance(days=10)
    table = world.svc.cohort_progress(world.kari, world.c1)
    assert table["missed"].all()  # nobody tested for ten days into the programme
    assert {"ready_to_move_up", "stalled", "p_next_level", "level", "p_above", "growth",
            "growth_se"} <= set(table)
    assert table["growth"].isna().all()  # one test each: too few weeks to judge growth


def test_track_rule_reads_its_thresholds_from_config(tmp_path):
    cfg = tmp_path / "programme.yaml"
    cfg.write_text("tracks: {track1_max_years: 3, track3_min_years: 12}\n")
    conf = ProgrammeConfig.from_file(cfg)
    assert suggest_track(5, None, False, conf) == 2
    assert suggest_track(12, True, False, conf) == 3
    cfg.write_text("tracks: {nonsense: 1}\n")
    with pytest.raises(ValueError, match="unknown setting"):
        ProgrammeConfig.from_file(cfg)


def test_no_name_is_asked_for():
    assert not {"name", "first_name", "last_name", "full_name"} & set(
        Participant.__table__.columns.keys())
    assert not {"name"} & {f.name for f in dataclasses.fields(Intake)}


def test_placement_sets_the_course_level_and_move_up_is_audited(world, nb_bank):
    who = world.svc.login_participant(world.people[2].code)
    take_test(world.svc, nb_bank, who, np.random.default_rng(5), p_right=0.5)
    pid = world.people[2].participant_id
    row = world.svc.cohort_progress(world.kari, world.c1).set_index("participant_id").loc[pid]
    history = world.svc.participant_history(world.kari, pid)
    assert row["course_level"] == history["level"].iloc[0]
    labels = nb_bank.cuts.labels
    new = world.svc.move_up(world.kari, pid, "ready: two strong weeks")
    assert labels.index(new) == labels.index(row["course_level"]) + 1
    last = world.svc.audit_log(world.admin).iloc[-1]
    assert last["action"] == "move_up" and last["detail"]["to"] == new
    with pytest.raises(AccessDenied):
        world.svc.move_up(world.ola, pid)


@pytest.mark.db
def test_calibration_export_is_for_admins_and_matches_the_answers(tmp_path, nb_bank):
    import datetime as dt

    from sqlalchemy import func, select

    from lang_assess.programme.demo import build_demo
    from lang_assess.programme.rules import load_config
    from lang_assess.programme.store.db import make_engine, migrate
    from lang_assess.programme.store.models import Response, TestRun

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    build_demo(lambda clock: Service(engine, nb_bank, load_config(), clock=clock, seed=2),
               today=dt.date(2026, 11, 22), n_participants=8, weeks=3, intakes=2, seed=4)
    svc = Service(engine, nb_bank, load_config())
    with pytest.raises(AccessDenied):
        svc.calibration_responses(svc.login_teacher("kari", "demo-kari-2026"))
    admin = svc.login_teacher("admin", "demo-admin-2026")
    data = svc.calibration_responses(admin)
    with svc._db() as db:
        expected = db.scalar(select(func.count()).select_from(Response).join(
            TestRun, TestRun.id == Response.session_id).where(
            TestRun.finished_at.is_not(None)))
    assert len(data) == expected > 0
    assert not data.duplicated(["occasion", "item"]).any()  # one answer per item and test
    assert set(data["score"]) <= {0, 1, 2, 3} and data["language"].notna().all()
    assert "pseudonym" not in data.columns
    late = svc.calibration_responses(admin, since=dt.date(2026, 11, 16))
    assert 0 < len(late) < len(data)
    engine.dispose()


def test_calibration_answer_blocks_stream_the_export_on_both_databases(db_url, nb_bank):
    """The answers for calibration at scale come as column blocks from a streamed query
    (server-side cursor on PostgreSQL), the same answers as the frame export."""
    import datetime as dt

    from lang_assess.programme.demo import build_demo

    engine = make_engine(db_url)
    migrate(engine)
    build_demo(lambda clock: Service(engine, nb_bank, load_config(), clock=clock, seed=2),
               today=dt.date(2026, 11, 22), n_participants=6, weeks=2, intakes=1, seed=4)
    svc = Service(engine, nb_bank, load_config())
    with pytest.raises(AccessDenied):  # at the call, before any block is fetched
        svc.calibration_answer_blocks(svc.login_teacher("kari", "demo-kari-2026"))
    admin = svc.login_teacher("admin", "demo-admin-2026")
    frame = svc.calibration_responses(admin)
    blocks = list(svc.calibration_answer_blocks(admin, block=7))
    assert len(blocks) > 1 and all(len(b[0]) <= 7 for b in blocks)
    occasion, item, score = (np.concatenate([b[k] for b in blocks]) for k in range(3))
    assert occasion.dtype == np.int64 and score.dtype == float
    assert occasion.tolist() == frame["occasion"].tolist()
    assert item.tolist() == frame["item"].tolist()
    assert score.tolist() == frame["score"].astype(float).tolist()
    late = svc.calibration_answer_blocks(admin, since=dt.date(2026, 11, 16))
    assert sum(len(b[0]) for b in late) == len(svc.calibration_responses(
        admin, since=dt.date(2026, 11, 16)))
    engine.dispose()


def test_notes_are_kept_per_participant_and_only_for_their_teachers(world):
    svc = world.svc
    kari_person = svc.login_participant(world.people[0].code).participant_id
    ola_person = svc.login_participant(world.others[0].code).participant_id
    svc.add_note(world.kari, kari_person, "  Trenger mer lesetrening.  ")
    world.clock.now += dt.timedelta(days=1)
    svc.add_note(world.kari, kari_person, "Flytter til B-gruppen neste uke.")
    notes = svc.notes(world.kari, kari_person)
    assert list(notes["text"]) == ["Flytter til B-gruppen neste uke.",
                                   "Trenger mer lesetrening."]
    assert set(notes["teacher"]) == {"kari"}
    assert list(svc.notes(world.admin, kari_person)["text"]) == list(notes["text"])
    with pytest.raises(AccessDenied):
        svc.add_note(world.kari, ola_person, "not my participant")
    with pytest.raises(AccessDenied):
        svc.notes(world.ola, kari_person)
    with pytest.raises(ValueError, match="empty"):
        svc.add_note(world.kari, kari_person, "   ")
    with pytest.raises(ValueError, match="at most"):
        svc.add_note(world.kari, kari_person, "x" * 2001)
    assert svc.notes(world.ola, ola_person).empty


def test_each_weekly_test_starts_from_the_learners_tracked_trend(world, nb_bank):
    svc, who = world.svc, world.svc.login_participant(world.people[1].code)
    cfg = svc.config
    rng = np.random.default_rng(8)
    take_test(svc, nb_bank, who, rng)
    for gap in (1, 2, 1):  # a missed week in the middle
        world.clock.advance(days=7 * gap)
        take_test(svc, nb_bank, who, rng, p_right=0.8)
    rows = trend_rows(world, world.people[1].participant_id)
    assert [r.week for r in rows] == [0, 1, 3, 4]
    first = rows[0]
    assert (first.growth, first.growth_se, first.growth_cov) == pytest.approx(
        (cfg.expected_growth, cfg.growth_between_sd, 0.0))
    # the placement started from Track 2's prior mixed with the design's wide one; it
    # keeps the normal prior its result is equivalent to: for this participant, far
    # above Track 2's mean, the wide part did the work
    track2 = svc.placement_priors(world.kari)[2]
    assert first.theta > track2.mean + 2 * track2.sd and first.prior_sd > 2 * track2.sd
    for before, now in itertools.pairwise(rows):
        trend = Trend(before.theta, before.growth, before.se**2, before.growth_se**2,
                      before.growth_cov)
        expected = weekly_trend(trend, now.week - before.week, cfg)
        prior = json.loads(now.state)["prior"]
        assert prior == pytest.approx([float(expected.level), float(expected.se)])
        assert [now.prior_mean, now.prior_sd] == pytest.approx(prior)
        after = expected.update(now.theta, now.se)
        assert (now.growth, now.growth_se, now.growth_cov) == pytest.approx(
            (float(after.growth), float(after.growth_se), float(after.cov)))


def test_a_late_placement_is_dated_by_the_week_it_was_taken(world, nb_bank):
    svc, who = world.svc, world.svc.login_participant(world.people[2].code)
    world.clock.advance(days=15)  # placement in programme week 2
    take_test(svc, nb_bank, who, np.random.default_rng(1))
    view = svc.start_or_resume(who)  # the week-2 progress test is due at once
    assert view.kind == "progress"
    placed, progress = trend_rows(world, world.people[2].participant_id)[0], json.loads(
        world.engine.connect().execute(select(TestRun.state).where(
            TestRun.id == view.session_id)).scalar_one())
    trend = Trend(placed.theta, placed.growth, placed.se**2, placed.growth_se**2,
                  placed.growth_cov)
    # one week on (the least a new test moves), not the two since intake
    expected = weekly_trend(trend, 1, svc.config)
    assert progress["prior"] == pytest.approx([float(expected.level), float(expected.se)])


def trend_rows(world, participant_id):
    with world.engine.connect() as conn:
        return conn.execute(
            select(TestRun.kind, TestRun.week, TestRun.state, Estimate.theta,
                   Estimate.se, Estimate.prior_mean, Estimate.prior_sd, Estimate.growth,
                   Estimate.growth_se, Estimate.growth_cov)
            .join(Estimate, Estimate.session_id == TestRun.id)
            .where(TestRun.participant_id == participant_id)
            .order_by(TestRun.week)).all()


def test_a_tracks_growth_prior_comes_from_its_learners_once_there_are_enough(world, nb_bank):
    cfg = dataclasses.replace(load_config(), growth_min_learners=2, growth_min_tests=2)
    svc = Service(world.engine, nb_bank, cfg, clock=world.clock, seed=9)
    rng = np.random.default_rng(4)
    track2 = svc.enrol(world.kari, world.c1, [Intake(f"KRS-2{i}", "ar", None, None, 9, True)
                                              for i in range(3)])
    for person in track2:
        take_test(svc, nb_bank, svc.login_participant(person.code), rng)
    assert svc.growth_priors(world.admin)[2].n == 0  # no weekly tests yet: the default
    for week in range(2):
        world.clock.advance(days=7)
        for person in track2[: 3 - week]:  # the last one misses week 2: too few tests
            take_test(svc, nb_bank, svc.login_participant(person.code), rng,
                      p_right=0.6 + 0.1 * week)
    priors = svc.growth_priors(world.admin)
    assert priors[1].n == priors[3].n == 0
    assert priors[1].mean == cfg.expected_growth
    # the same estimate from the raw rows: each learner's own growth from every test
    own = []
    for person in track2[:2]:
        rows = trend_rows(world, person.participant_id)
        y, r = measurement(*np.array([[x.theta, x.se, x.prior_mean, x.prior_sd]
                                      for x in rows]).T)
        slope, var = own_growth(np.array([x.week for x in rows], float), y[None], r[None])
        own.append((slope[0], var[0]))
    expected = growth_prior_from_data(*np.array(own).T, default=default_growth_prior(cfg),
                                      min_learners=2)
    assert priors[2].n == 2
    assert (priors[2].mean, priors[2].sd) == pytest.approx((expected.mean, expected.sd))
    newcomer = svc.enrol(world.kari, world.c1, [Intake("KRS-299", "ar", None, None, 9, True)])
    take_test(svc, nb_bank, svc.login_participant(newcomer[0].code), rng)
    placed = trend_rows(world, newcomer[0].participant_id)[0]
    assert (placed.growth, placed.growth_se) == pytest.approx((priors[2].mean, priors[2].sd))
