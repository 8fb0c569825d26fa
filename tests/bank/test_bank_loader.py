"""The shipped Norwegian bank validates; corrupted copies give exact, named errors."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from support import REPO

from lang_assess.bank import read_params_csv
from lang_assess.bank.loader import bank_fingerprint, load_bank, load_bank_cached
from lang_assess.errors import BankError

BANK = REPO / "item_bank" / "nb"
SCRIPT = Path(sys.executable).parent / "lang-assess"
CORE_SKILLS = ("reading", "listening", "vocabulary", "grammar")


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "nb"
    shutil.copytree(BANK, target)
    return target


def first_item(root, skill, level="A2"):
    return sorted((root / skill).glob(f"nb-{level}-*.yaml"))[0]


def edit(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return data["id"]


def problems_of(root):
    with pytest.raises(BankError) as err:
        load_bank(root)
    return err.value.problems


def test_shipped_bank_validates(bank):
    assert len(bank.items) >= 320
    assert bank.params.n_items == len(bank.items)
    assert bank.config.params_version == "v0"


def test_counts_per_level_and_skill_meet_the_targets(bank):
    by_level = {}
    for it in bank.items.values():
        by_level.setdefault(it.level, {}).setdefault(it.skill, 0)
        by_level[it.level][it.skill] += 1
    totals = {lv: sum(v.values()) for lv, v in by_level.items()}
    assert totals["preA1"] >= 40 and totals["A1"] >= 80 and totals["A2"] >= 80
    assert totals["B1"] >= 70 and totals["B2"] >= 50
    for lv in ("A1", "A2", "B1", "B2"):
        assert all(by_level[lv].get(sk, 0) > 0 for sk in CORE_SKILLS), lv
    literacy_like = [it for it in bank.items.values() if it.level == "preA1"]
    assert sum(it.skill == "literacy" for it in literacy_like) >= 20
    assert all(it.stem_audio for it in literacy_like)


def test_missing_key(copy):
    item = first_item(copy, "reading")
    item_id = edit(item, lambda d: d.pop("key"))
    assert f"nb/reading/{item.name}: item '{item_id}': field 'key' must name exactly one " \
           "option" in "\n".join(problems_of(copy))


def test_unknown_skill(copy):
    item = first_item(copy, "grammar")
    item_id = edit(item, lambda d: d.update(skill="singing"))
    msgs = problems_of(copy)
    assert any(m.startswith(f"nb/grammar/{item.name}: item '{item_id}': field 'skill' is "
                            "'singing'") for m in msgs), msgs


def test_duplicate_id(copy):
    item = first_item(copy, "vocabulary")
    twin = item.with_name(item.stem[:-3] + "999.yaml")
    shutil.copyfile(item, twin)
    msgs = problems_of(copy)
    assert any(f"item '{item.stem}': field 'id' is duplicated (also in nb/vocabulary/"
               f"{item.name})" in m for m in msgs), msgs


def test_broken_media_path(copy):
    item = first_item(copy, "listening")
    item_id = edit(item, lambda d: d["transcript"].update(file="media/audio/nope.ogg"))
    assert f"nb/listening/{item.name}: item '{item_id}': field 'transcript' points to a " \
           "missing file 'media/audio/nope.ogg'" in problems_of(copy)


def test_bad_yaml(copy):
    item = first_item(copy, "reading", "B1")
    item.write_text("id: [unclosed\nskill: reading\n", encoding="utf-8")
    msgs = problems_of(copy)
    assert any(m.startswith(f"nb/reading/{item.name}: bad YAML at line") for m in msgs), msgs


def test_level_out_of_range(copy):
    item = first_item(copy, "grammar", "B2")
    item_id = edit(item, lambda d: d.update(level="C3"))
    msgs = problems_of(copy)
    assert any(m.startswith(f"nb/grammar/{item.name}: item '{item_id}': field 'level' is "
                            "'C3'") for m in msgs), msgs


def test_all_problems_in_one_run_and_no_traceback_for_the_user(copy):
    edit(first_item(copy, "reading"), lambda d: d.pop("key"))
    edit(first_item(copy, "grammar"), lambda d: d.update(level="C3"))
    first_item(copy, "reading", "B1").write_text("id: [\n", encoding="utf-8")
    msgs = problems_of(copy)
    assert len(msgs) >= 3
    out = subprocess.run([str(SCRIPT), "bank", "validate", str(copy)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert len(out.stdout.strip().splitlines()) == len(msgs)
    assert f"{len(msgs)} problem(s)" in out.stderr


def test_parameters_must_cover_every_item(copy):
    params = copy / "params" / "v0.csv"
    lines = params.read_text(encoding="utf-8").splitlines()
    dropped = lines[5].split(",")[0]
    params.write_text("\n".join(lines[:5] + lines[6:]) + "\n", encoding="utf-8")
    assert any(f"item '{dropped}': has no parameters in nb/params/v0.csv" in m
               for m in problems_of(copy))


def test_report_json(bank):
    out = subprocess.run([str(SCRIPT), "bank", "report", str(BANK), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n_items"] == len(bank.items)
    assert set(report["by_level"]) <= {"preA1", "A1", "A2", "B1", "B2", "C1"}
    assert sum(report["by_level"].values()) == report["n_items"]
    assert sum(report["by_skill"].values()) == report["n_items"]
    for lv, row in report["by_level_skill"].items():
        assert sum(row.values()) == report["by_level"][lv]
    text = subprocess.run([str(SCRIPT), "bank", "report", str(BANK)], capture_output=True,
                          text=True, timeout=120).stdout
    assert "Items by level and skill" in text and "Where the bank is thin" in text


def test_export_params_feeds_simulate(tmp_path, bank):
    target = tmp_path / "params.csv"
    out = subprocess.run([str(SCRIPT), "bank", "export-params", str(BANK), "--out",
                          str(target)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    exported = read_params_csv(target)
    right_wrong = bank.params.n_steps == 1  # rated tasks (GPCM) have no place in the format
    assert not right_wrong.all()  # the bank has speaking and writing tasks (issue 16)
    assert exported.ids.tolist() == bank.params.ids[right_wrong].tolist()
    assert exported.skill.tolist() == bank.params.skill[right_wrong].tolist()
    sim = subprocess.run([str(SCRIPT), "simulate", "--bank", str(target), "--n", "100",
                          "--cuts", "-2,-1,0,1,2", "--json"], capture_output=True, text=True,
                         timeout=300)
    assert sim.returncode == 0, sim.stderr
    assert json.loads(sim.stdout)["n"] == 100


def test_the_cached_bank_is_the_bank_and_follows_changes(tmp_path):
    root = tmp_path / "nb"
    shutil.copytree(BANK, root)
    cache = tmp_path / "cache"
    fresh = load_bank(root)
    first = load_bank_cached(root, cache)
    assert len(list(cache.glob("bank-*.pickle"))) == 1
    again = load_bank_cached(root, cache)  # from the pickle
    for bank in (first, again):
        assert bank.items == fresh.items and bank.config == fresh.config
        assert np.array_equal(bank.params.b, fresh.params.b)
    before = bank_fingerprint(root)
    item = next(root.glob("reading/nb-A1-rea-001.yaml"))
    item.write_text(item.read_text().replace("Når er matbutikken stengt?",
                                             "Når er butikken stengt?", 1))
    assert bank_fingerprint(root) != before
    changed = load_bank_cached(root, cache)
    assert changed.items["nb-A1-rea-001"].stem == "Når er butikken stengt?"
    for pickle_file in cache.glob("bank-*.pickle"):  # a broken cache is rebuilt
        pickle_file.write_bytes(b"not a pickle")
    assert load_bank_cached(root, cache).items == changed.items
