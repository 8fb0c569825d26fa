"""How a placement test starts: the prior from intake (a default per track, then the
organisation's own results), the routing stage for those who may not read, and what a
routed test stores.  Through the service, on SQLite and on PostgreSQL."""

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import select
from support.programme import simulated_answer

from lang_assess.programme.rules import (
    PlacementPrior,
    default_placement_prior,
    load_config,
    placement_prior_from_results,
    placement_start,
)
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import Estimate, Participant, TestRun

NOW = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def programme(db_url, nb_bank):
    engine = make_engine(db_url)
    migrate(engine)
    config = dataclasses.replace(load_config(), placement_min_learners=3)
    svc = Service(engine, nb_bank, config, clock=lambda: NOW, seed=11)
    org = svc.create_organisation("Arendal")
    svc.create_teacher(org, "t", "teacher-pass")
    teacher = svc.login_teacher("t", "teacher-pass")
    cohort = svc.create_cohort(teacher, "Inntak", NOW.date())
    yield svc, engine, teacher, cohort
    engine.dispose()


def run_to_end(svc, bank, who, rng, p_right):
    view = svc.start_or_resume(who)
    first = view
    while view is not None:
        view = svc.answer(who, view.session_id, view.item_id,
                          simulated_answer(bank, view, rng, p_right))
    return first


def state_of(engine, pseudonym):
    with engine.connect() as conn:
        return conn.execute(select(TestRun.state).join(Participant).where(
            Participant.pseudonym == pseudonym)).scalar_one()


def test_not_literate_starts_with_pictures_and_its_tracks_prior(programme, nb_bank):
    svc, engine, teacher, cohort = programme
    people = svc.enrol(teacher, cohort, [Intake("A-1", "ar", literate_l1=False),
                                         Intake("A-3", "uk", years_schooling=16,
                                                higher_education=True)])
    assert [p.track for p in people] == [1, 3]
    first = svc.start_or_resume(svc.login_participant(people[0].code))
    item = nb_bank.items[first.item_id]
    assert item.type in ("mc_picture", "mc_audio") and item.stem_audio is not None
    state = json.loads(state_of(engine, "A-1"))
    assert state["prior"] == [-2.6, 0.5]
    assert state["design"]["selector"]["routing"]["type"] == "Routing"
    other = json.loads((svc.start_or_resume(svc.login_participant(people[1].code)),
                        state_of(engine, "A-3"))[1])
    assert other["prior"] == [0.2, 0.9] and other["design"]["selector"]["routing"] is None


def test_a_routed_placement_stores_its_literacy_step(programme, nb_bank):
    svc, engine, teacher, cohort = programme
    people = svc.enrol(teacher, cohort, [Intake("L-1", "ti", literate_l1=False),
                                         Intake("L-2", "ti", literate_l1=False)])
    rng = np.random.default_rng(3)
    run_to_end(svc, nb_bank, svc.login_participant(people[0].code), rng, 0.2)  # guesses
    run_to_end(svc, nb_bank, svc.login_participant(people[1].code), rng, 0.97)
    with engine.connect() as conn:
        rows = conn.execute(select(Participant.pseudonym, Estimate.literacy_step,
                                   Estimate.reader, Estimate.level, Estimate.prior_sd)
                            .join(TestRun, TestRun.participant_id == Participant.id)
                            .join(Estimate, Estimate.session_id == TestRun.id)
                            .order_by(Participant.pseudonym)).all()
    weak, strong = rows
    assert weak.reader is False and weak.literacy_step in ("1", "2", "3")
    assert weak.level == "preA1"
    assert strong.reader is True and strong.literacy_step == "4"
    # the normal prior each result is equivalent to: for the strong reader far from
    # Track 1 the wide part of the prior did the work
    assert strong.prior_sd > weak.prior_sd


def test_long_in_norway_starts_from_the_wide_prior(programme):
    svc, engine, teacher, cohort = programme
    people = svc.enrol(teacher, cohort, [Intake("N-1", "so", years_schooling=9,
                                                literate_l1=True, months_in_norway=30)])
    svc.start_or_resume(svc.login_participant(people[0].code))
    assert json.loads(state_of(engine, "N-1"))["prior"] == [0.0, 2.0]
    with engine.connect() as conn:
        assert conn.execute(select(Participant.months_in_norway)).scalar_one() == 30
    for bad in (-1, 2.5, True, 601):
        with pytest.raises(ValueError, match="months in Norway"):
            svc.enrol(teacher, cohort, [Intake("N-bad", "so", months_in_norway=bad)])


def test_the_organisations_own_results_replace_the_default(programme, nb_bank):
    svc, engine, teacher, cohort = programme
    people = svc.enrol(teacher, cohort, [Intake(f"T3-{k}", "uk", years_schooling=16)
                                         for k in range(4)])
    assert svc.placement_priors(teacher)[3] == default_placement_prior(3, svc.config)
    rng = np.random.default_rng(5)
    for p in people[:3]:  # three results: placement_min_learners in this fixture
        run_to_end(svc, nb_bank, svc.login_participant(p.code), rng, 0.3)
    with engine.connect() as conn:
        est = conn.execute(select(Estimate.theta, Estimate.se)).all()
    own = svc.placement_priors(teacher)[3]
    assert own.n == 3
    theta = np.array([e.theta for e in est])
    assert own.mean == pytest.approx(theta.mean())
    assert own.sd == pytest.approx(np.sqrt(theta.var(ddof=1) + np.mean([e.se**2 for e in est])))
    svc.start_or_resume(svc.login_participant(people[3].code))
    assert json.loads(state_of(engine, "T3-3"))["prior"] == pytest.approx([own.mean, own.sd])
    assert svc.placement_priors(teacher)[1].n == 0  # Track 1 still on the default


def test_placement_rules():
    config = load_config()
    default = default_placement_prior(1, config)
    assert default == PlacementPrior(-2.6, 0.5)
    assert placement_start(1, default, config).routing
    assert placement_start(2, default_placement_prior(2, config), config,
                           literate_l1=False).routing
    start = placement_start(3, default_placement_prior(3, config), config, literate_l1=True,
                            months_in_norway=11)
    assert (start.mean, start.sd, start.routing) == (0.2, 0.9, False)
    assert placement_start(3, default, config, months_in_norway=12).mean is None
    few = placement_prior_from_results([0.1, 0.2], [0.3, 0.3], default, 30)
    assert few is default
    rng = np.random.default_rng(1)
    truth = rng.normal(0.5, 0.8, 4000)
    x = truth + rng.normal(0, 0.4, 4000)  # what the answers say
    eap = 0.8 * x + 0.2 * 0.5  # EAP under the right prior N(0.5, 0.8²): weight .64/.8
    psd = np.full(4000, np.sqrt(1 / (1 / 0.8**2 + 1 / 0.4**2)))
    est = placement_prior_from_results(eap, psd, default, 30)
    assert est.n == 4000 and est.mean == pytest.approx(0.5, abs=0.04)
    assert est.sd == pytest.approx(0.8, abs=0.04)
    with pytest.raises(ValueError, match="track must be 1, 2 or 3"):
        default_placement_prior(4, config)
