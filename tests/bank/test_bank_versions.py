"""Publishing a parameter version, the live tests picking it up, and rolling back."""

import datetime as dt
import shutil

import numpy as np
import pytest
import yaml
from support import REPO

from lang_assess.bank import versions
from lang_assess.bank.loader import load_bank
from lang_assess.bank.params_csv import read_params_csv
from lang_assess.cli import main
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.errors import BankError
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.programme.store.models import ParamVersion, Response, TestRun

PROVENANCE = {"data_window": "2026-09-01..2026-11-20", "model": "2pl", "backend": "mml",
              "linking": "fixed anchors", "approved_by": "psychometrician A"}


@pytest.fixture
def bank_dir(tmp_path):
    target = tmp_path / "nb"
    shutil.copytree(REPO / "item_bank" / "nb", target)
    return target


def recalibrated(bank, ids, shift=0.25):
    rows = bank.params.index_of(ids)
    dich = bank.params.n_steps[rows] == 1
    rows = rows[dich]
    return ItemParameters.dichotomous(bank.params.ids[rows], bank.params.a[rows] * 1.1,
                                      bank.params.b[rows] + shift)


def test_publish_writes_a_complete_version_with_provenance_and_makes_it_current(bank_dir):
    bank = load_bank(bank_dir)
    new = recalibrated(bank, bank.item_ids[:12])
    versions.publish(bank_dir, new, "v1", PROVENANCE, n_responses={new.ids[0]: 812},
                     today=dt.date(2026, 11, 22))
    assert versions.current_version(bank_dir) == "v1"
    v1 = load_bank(bank_dir)
    assert v1.config.params_version == "v1"
    changed = v1.params.index_of(new.ids)
    assert np.allclose(v1.params.b[changed], new.b, atol=1e-4)
    kept = np.setdiff1d(np.arange(v1.params.n_items), changed)
    assert np.allclose(v1.params.steps[kept], bank.params.steps[kept], atol=1e-3,
                       equal_nan=True)
    assert v1.provenance[new.ids[0]][1] == "mml 2pl calibration v1"
    assert v1.provenance[new.ids[0]][2] == 812
    assert v1.provenance[bank.item_ids[-1]] == bank.provenance[bank.item_ids[-1]]
    meta = versions.provenance(bank_dir, "v1")
    assert meta["previous"] == "v0" and meta["approved_by"] == "psychometrician A"
    assert meta["items_recalibrated"] == len(new.ids)
    assert [h["action"] for h in versions.history(bank_dir)] == ["publish"]
    # bank.yaml keeps its comments: only the version line changed
    before = (REPO / "item_bank" / "nb" / "bank.yaml").read_text().splitlines()
    after = (bank_dir / "bank.yaml").read_text().splitlines()
    assert [a for a, b in zip(before, after, strict=True) if a != b] == ["params_version: v0"]


@pytest.mark.parametrize("case", ["provenance", "unknown item", "exists", "bad name"])
def test_a_bad_publish_changes_nothing(bank_dir, case):
    bank = load_bank(bank_dir)
    new, version, meta = recalibrated(bank, bank.item_ids[:3]), "v1", dict(PROVENANCE)
    if case == "provenance":
        del meta["approved_by"], meta["linking"]
        expected = ["field 'linking' is required", "field 'approved_by' is required"]
    elif case == "unknown item":
        new = ItemParameters.dichotomous(["nb-XX-new-001"], [1.0], [0.0])
        expected = ["item 'nb-XX-new-001': has parameters but no item file"]
    elif case == "exists":
        version, expected = "v0", ["published versions are never overwritten"]
    else:
        version, expected = "v 1/..", ["use letters, digits"]
    files = sorted(p.name for p in (bank_dir / "params").iterdir())
    with pytest.raises(BankError) as err:
        versions.publish(bank_dir, new, version, meta)
    for text in expected:
        assert any(text in p for p in err.value.problems), (text, err.value.problems)
    assert sorted(p.name for p in (bank_dir / "params").iterdir()) == files
    assert versions.current_version(bank_dir) == "v0"


def test_rollback_restores_the_previous_version_and_says_who_and_why(bank_dir):
    bank = load_bank(bank_dir)
    with pytest.raises(BankError, match="nothing to roll back"):
        versions.rollback(bank_dir, by="A", reason="test")
    versions.publish(bank_dir, recalibrated(bank, bank.item_ids[:5]), "v1", PROVENANCE)
    versions.publish(bank_dir, recalibrated(bank, bank.item_ids[5:9]), "v2", PROVENANCE)
    assert versions.rollback(bank_dir, by="B", reason="drift in A1 listening") == "v1"
    assert versions.current_version(bank_dir) == "v1"
    assert versions.rollback(bank_dir, by="B", reason="back to expert values") == "v0"
    log = versions.history(bank_dir)
    assert [(h["action"], h["version"]) for h in log] == [
        ("publish", "v1"), ("publish", "v2"), ("rollback", "v1"), ("rollback", "v0")]
    assert log[2]["reason"] == "drift in A1 listening"
    assert (bank_dir / "params" / "v2.csv").exists()  # answers given under v2 still name it


@pytest.mark.db
def test_the_next_test_uses_a_published_version_running_tests_keep_theirs(bank_dir, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    svc = Service(engine, load_bank(bank_dir), load_config(), seed=1)
    org = svc.create_organisation("Org")
    svc.create_teacher(org, "t", "lærer-passord-1")
    teacher = svc.login_teacher("t", "lærer-passord-1")
    cohort = svc.create_cohort(teacher, "C", dt.date.today())
    people = svc.enrol(teacher, cohort, [Intake(f"P-{k}", "ar", years_schooling=9)
                                         for k in range(3)])
    who = [svc.login_participant(e.code) for e in people]

    def answer_some(person, n):
        view = svc.start_or_resume(person)
        for _ in range(n):
            view = svc.answer(person, view.session_id, view.item_id, "A")
        return view

    running = answer_some(who[0], 3)  # started on v0
    bank = load_bank(bank_dir)
    # a version that changes every right/wrong item: a test restored with it would differ
    assert main(["bank", "publish", str(bank_dir), "--params", str(_params_file(
        tmp_path, recalibrated(bank, bank.item_ids, shift=0.5))), "--version", "v1",
        "--data-window", "2026-09..2026-11", "--model", "2pl", "--backend", "mml",
        "--linking", "fixed anchors", "--approved-by", "A"]) == 0
    fresh = answer_some(who[1], 2)
    answer_some(who[0], 2)  # the running test goes on
    with svc._db() as db:
        kept = db.get(TestRun, running.session_id)
        new = db.get(TestRun, fresh.session_id)
        assert (kept.params_version, new.params_version) == ("v0", "v1")
        by_session = {r.session_id: r.params_version for r in db.query(Response)}
        assert by_session[kept.id] == "v0" and by_session[new.id] == "v1"
        current = {v.version: v.is_current for v in db.query(ParamVersion)}
        assert current == {"v0": False, "v1": True}
    assert main(["bank", "rollback", str(bank_dir), "--by", "A", "--reason", "misfit"]) == 0
    third = answer_some(who[2], 1)
    with svc._db() as db:
        assert db.get(TestRun, third.session_id).params_version == "v0"
        assert {v.version: v.is_current for v in db.query(ParamVersion)} == {
            "v0": True, "v1": False}
    engine.dispose()


def _params_file(tmp_path, params):
    from lang_assess.bank.params_csv import write_params_csv

    path = tmp_path / "calibrated.csv"
    write_params_csv(path, params)
    assert read_params_csv(path).n_items == params.n_items
    return path


def test_versions_command_lists_the_log(bank_dir, capsys):
    bank = load_bank(bank_dir)
    versions.publish(bank_dir, recalibrated(bank, bank.item_ids[:2]), "v1", PROVENANCE)
    assert main(["bank", "versions", str(bank_dir)]) == 0
    out = capsys.readouterr().out
    assert "current: v1" in out and "publish  v1 (was v0) by psychometrician A" in out
    log = yaml.safe_load((bank_dir / "params" / "published.yaml").read_text())
    assert log[0]["version"] == "v1"


@pytest.mark.db
def test_new_cut_scores_become_a_version_and_the_service_uses_them(bank_dir, tmp_path):
    from lang_assess.engine.levels import CutScores

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    svc = Service(engine, load_bank(bank_dir), load_config())
    assert svc.cuts.cuts == (-2.0, -1.0, 0.0, 1.0, 2.0)
    new = CutScores((-1.8, -0.9, 0.1, 1.05, 2.2))
    meta = {"method": "bookmark", "rp": 0.67, "panel_size": 12, "se": [0.1] * 5}
    versions.set_cuts(bank_dir, new, "c1", "Bookmark round, Kristiansand panel", meta)
    assert load_bank(bank_dir).cuts == new
    assert svc.cuts == new  # picked up without a restart
    raw = yaml.safe_load((bank_dir / "bank.yaml").read_text())
    assert raw["cuts"]["version"] == "c1" and raw["cuts"]["provenance"]["panel_size"] == 12
    assert raw["cuts_history"][0]["values"] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert raw["params_version"] == "v0" and "designs" in raw
    assert "# Norwegian (bokmål) item bank" in (bank_dir / "bank.yaml").read_text()
    with pytest.raises(BankError, match="exists"):
        versions.set_cuts(bank_dir, new, "c0", "again", meta)
    engine.dispose()
