"""Enemy sets, retired ids and reviewers' notes in the bank format (issue 17)."""

import shutil

import pytest
import yaml
from support import REPO
from support.qti import empty_bank

from lang_assess.bank.loader import load_bank
from lang_assess.bank.qti import export_qti, import_qti
from lang_assess.bank.report import bank_report, format_bank_report
from lang_assess.errors import BankError

BANK = REPO / "item_bank" / "nb"
# the items issue 17 names: each is retired (and listed) or kept and revised
NAMED_RETIRED = ("nb-B2-gra-001", "nb-A2-rea-001", "nb-B2-gra-002", "nb-B1-gra-011",
                 "nb-A2-gra-004", "nb-B2-gra-012", "nb-B2-gra-013", "nb-A1-rea-017",
                 "nb-A1-rea-009", "nb-B2-lis-002", "nb-A1-gra-014", "nb-A1-gra-015",
                 "nb-A1-gra-016", "nb-preA1-lit-030", "nb-preA1-lis-006", "nb-A1-lis-004")
NAMED_ENEMIES = (("nb-A2-rea-010", "nb-B1-rea-013"), ("nb-A1-lis-008", "nb-A2-lis-011"))


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "nb"
    shutil.copytree(BANK, target, ignore=shutil.ignore_patterns("*.ogg"))
    return target


def edit(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_of(root):
    with pytest.raises(BankError) as err:
        load_bank(root, skip=("media",))
    return err.value.problems


def test_every_named_item_is_retired_with_a_reason_or_kept_as_an_enemy(bank):
    for old in NAMED_RETIRED:
        assert old not in bank.items
        entry = bank.retired[old]
        assert entry.reason and entry.date
        for new in entry.replaced_by:
            it = bank.items[new]
            assert it.review.status == "reviewed" and it.review.reviewer and it.review.date
            assert any(old in c for c in it.review.changes)
    for a, b in NAMED_ENEMIES:
        assert (a, b) in bank.enemies
        assert b in bank.items[a].enemies and a in bank.items[b].enemies


def test_new_ids_continue_below_the_other_authors_range(bank):
    numbers = [int(i[-3:]) for r in bank.retired.values() for i in r.replaced_by]
    assert numbers and max(numbers) < 101


def test_enemies_must_exist_and_be_symmetric(copy):
    a, b = copy / "reading" / "nb-A2-rea-010.yaml", copy / "reading" / "nb-B1-rea-013.yaml"
    edit(b, lambda d: d.pop("enemies"))
    edit(copy / "reading" / "nb-A2-rea-002.yaml", lambda d: d.update(enemies=["nb-A2-rea-999"]))
    msgs = problems_of(copy)
    assert ("nb/reading/nb-A2-rea-010.yaml: item 'nb-A2-rea-010': field 'enemies' names "
            "'nb-B1-rea-013', but 'nb-B1-rea-013' does not name 'nb-A2-rea-010' back (enemies "
            "are symmetric)") in msgs
    assert ("nb/reading/nb-A2-rea-002.yaml: item 'nb-A2-rea-002': field 'enemies' names "
            "'nb-A2-rea-999', which is not in the bank") in msgs
    edit(a, lambda d: d.update(enemies=["nb-A2-rea-010"]))
    assert any("nb-A2-rea-010" in m and "names the item itself" in m for m in problems_of(copy))


def test_a_retired_id_is_never_reused(copy):
    source = copy / "reading" / "nb-A2-rea-002.yaml"
    reused = copy / "reading" / "nb-A2-rea-001.yaml"
    reused.write_text(source.read_text(encoding="utf-8").replace("nb-A2-rea-002",
                                                                   "nb-A2-rea-001"),
                      encoding="utf-8")
    msgs = problems_of(copy)
    assert ("nb/reading/nb-A2-rea-001.yaml: item 'nb-A2-rea-001': field 'id' was retired "
            "(nb/retired.yaml); ids are never reused") in msgs


def test_retired_entries_are_checked(copy):
    path = copy / "retired.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries[0]["replaced_by"] = ["nb-B2-gra-099"]
    entries[1].pop("reason")
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    msgs = problems_of(copy)
    assert any(m.startswith(f"nb/retired.yaml: item '{entries[0]['id']}': field "
                            "'replaced_by' names 'nb-B2-gra-099'") for m in msgs), msgs
    assert any(m.startswith(f"nb/retired.yaml: entry 2 (item '{entries[1]['id']}'): field "
                            "'reason' is missing") for m in msgs), msgs


def test_a_review_names_who_and_when(copy):
    path = copy / "reading" / "nb-A2-rea-002.yaml"
    edit(path, lambda d: d.update(review={"status": "reviewed", "changes": ["x"]}))
    msgs = problems_of(copy)
    assert any("nb-A2-rea-002" in m and "names its 'reviewer' and 'date'" in m for m in msgs)


def test_the_report_counts_items_by_review_status(bank):
    report = bank_report(bank)
    by_review = report["by_review"]
    assert sum(by_review.values()) == len(bank.items)
    assert by_review["reviewed"] == sum(it.review.status == "reviewed"
                                        for it in bank.items.values())
    assert report["review_changes"] == sum(bool(it.review.changes)
                                           for it in bank.items.values())
    assert report["n_retired"] == len(bank.retired)
    text = format_bank_report(report)
    assert f"reviewed {by_review['reviewed']}" in text and "retired" in text


def test_enemies_and_review_changes_survive_qti(bank, tmp_path):
    """Through a QTI package (metadata in the manifest) into an empty bank: the pair is
    still a pair there, with the reviewers' notes."""
    a, b = NAMED_ENEMIES[0]
    assert bank.items[a].enemies == [b] and bank.items[a].review.changes
    export_qti([bank.items[a], bank.items[b]], BANK, tmp_path / "package")
    target = empty_bank(tmp_path / "nb")
    report = import_qti(tmp_path / "package", target)
    assert report.problems == []
    assert {it.id: it for it in report.imported} == {a: bank.items[a], b: bank.items[b]}
    assert load_bank(target, skip=("params",)).enemies == [(a, b)]
