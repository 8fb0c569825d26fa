"""Pretest items in live tests: given unscored, stored for calibration, never first."""

import datetime as dt
import re
import shutil

import numpy as np
import pytest
from support import REPO
from support.programme import simulated_answer

from lang_assess.bank.loader import load_bank
from lang_assess.errors import BankError
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import PRETEST, Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import Estimate, Response, TestRun

NEW = ["nb-A2-voc-901", "nb-A2-voc-902", "nb-A2-voc-903"]


@pytest.fixture
def bank_dir(tmp_path):
    """The nb bank with three new vocabulary items marked pretest (no parameters) and
    one pretest item per placement test."""
    root = tmp_path / "nb"
    shutil.copytree(REPO / "item_bank" / "nb", root)
    source = (root / "vocabulary" / "nb-A2-voc-002.yaml").read_text()
    for new in NEW:
        text = source.replace("nb-A2-voc-002", new) + "status: pretest\n"
        (root / "vocabulary" / f"{new}.yaml").write_text(text)
    config = (root / "bank.yaml").read_text()
    config = re.sub(r"(  placement:\n)", r"\1    pretest_items: 1\n", config, count=1)
    (root / "bank.yaml").write_text(config)
    return root


def test_the_bank_knows_its_pretest_items(bank_dir):
    bank = load_bank(bank_dir)
    assert bank.pretest_ids == tuple(NEW)
    assert all(i in bank.items for i in NEW) and not set(NEW) & set(bank.item_ids)
    assert bank.design("placement").pretest_items == 1
    # an operational item without parameters is still an error
    text = (bank_dir / "vocabulary" / "nb-A2-voc-901.yaml").read_text()
    (bank_dir / "vocabulary" / "nb-A2-voc-901.yaml").write_text(
        text.replace("status: pretest", "status: operational"))
    with pytest.raises(BankError, match=r"nb-A2-voc-901.*has no parameters"):
        load_bank(bank_dir)


@pytest.mark.db
def test_placement_tests_carry_one_unscored_pretest_item(bank_dir, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    bank = load_bank(bank_dir)
    svc = Service(engine, bank, load_config(), seed=4)
    org = svc.create_organisation("Org")
    svc.create_teacher(org, "t", "lærer-passord-1")
    teacher = svc.login_teacher("t", "lærer-passord-1")
    cohort = svc.create_cohort(teacher, "C", dt.date.today())
    people = svc.enrol(teacher, cohort, [Intake(f"P-{k}", "ar") for k in range(6)])
    rng = np.random.default_rng(3)
    for enrolled in people:
        who = svc.login_participant(enrolled.code)
        view = svc.start_or_resume(who)
        while view is not None:
            view = svc.answer(who, view.session_id, view.item_id,
                              simulated_answer(bank, view, rng))
    with svc._db() as db:
        for test in db.query(TestRun):
            rows = db.query(Response).filter(Response.session_id == test.id).order_by(
                Response.position).all()
            pretest = [r for r in rows if r.params_version == PRETEST]
            assert len(pretest) == 1 and pretest[0].item_id in NEW
            assert pretest[0].position > 1
            assert all(r.params_version == "v0" for r in rows if r not in pretest)
            assert db.query(Estimate).filter(Estimate.session_id == test.id).count() == 1
    svc.create_teacher(org, "psy", "psykometri-passord-2", is_admin=True)
    export = svc.calibration_responses(svc.login_teacher("psy", "psykometri-passord-2"))
    assert set(export.loc[export["params_version"] == PRETEST, "item"]) <= set(NEW)
    assert (export["params_version"] == PRETEST).sum() == len(people)
    engine.dispose()
