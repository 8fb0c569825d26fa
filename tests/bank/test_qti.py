"""QTI 3.0 export and import: every shipped item survives the round trip."""

import shutil
import xml.etree.ElementTree as ET

import pytest
from support import REPO

from lang_assess.bank.loader import load_bank
from lang_assess.bank.qti import NS, export_qti, import_qti, item_to_qti, qti_to_item
from lang_assess.bank.schema import Item
from lang_assess.errors import BankError

BANK = REPO / "item_bank" / "nb"


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


def test_every_shipped_item_round_trips_without_loss(bank):
    for item in bank.items.values():
        xml = item_to_qti(item)
        root = ET.fromstring(xml)  # well-formed
        assert root.tag == f"{{{NS}}}qti-assessment-item"
        assert root.get("identifier") == item.id
        assert qti_to_item(xml) == item, item.id


def test_every_item_type_is_shipped_and_uses_the_right_interaction(bank):
    expected = {
        "mc_text": "qti-choice-interaction", "mc_picture": "qti-choice-interaction",
        "gap_choice": "qti-inline-choice-interaction", "true_false": "qti-choice-interaction",
        "ordering": "qti-order-interaction",
    }
    seen = {it.type for it in bank.items.values()}
    assert set(expected) <= seen
    for item in bank.items.values():
        if item.type in expected:
            root = ET.fromstring(item_to_qti(item))
            assert root.find(f".//{{{NS}}}{expected[item.type]}") is not None, item.id
            values = [v.text for v in root.iter(f"{{{NS}}}qti-value")]
            assert values == item.key


def test_rated_and_audio_option_items_round_trip():
    rated = Item.model_validate({
        "id": "nb-A2-gra-900", "skill": "grammar", "level": "A2", "type": "rated",
        "topic": "work", "stem": "Skriv tre setninger om jobben din.", "author": "t",
        "review": {"status": "draft"},
        "rubric": [{"score": 0, "descriptor": "Ingen forståelig tekst."},
                   {"score": 1, "descriptor": "Enkelte ord."},
                   {"score": 2, "descriptor": "Tre forståelige setninger."}],
    })
    audio = Item.model_validate({
        "id": "nb-preA1-lit-900", "skill": "literacy", "level": "preA1", "type": "mc_audio",
        "topic": "letters_sounds", "stem": "Hvilken lyd er «s»?", "author": "t",
        "review": {"status": "reviewed", "reviewer": "K. N.", "date": "2026-11-01"},
        "stem_audio": {"file": "media/audio/x-stem.ogg", "text": "Hvilken lyd er s?"},
        "options": [{"id": "A", "audio": {"file": "media/audio/x-a.ogg", "text": "s"}},
                    {"id": "B", "audio": {"file": "media/audio/x-b.ogg", "text": "f"}}],
        "key": ["A"],
    })
    gap_first = Item.model_validate({
        "id": "nb-A1-gra-900", "skill": "grammar", "level": "A1", "type": "gap_choice",
        "topic": "family", "stem": "___ heter Amal.", "author": "t",
        "review": {"status": "draft"},
        "stem_audio": {"file": "media/audio/y.ogg", "text": "Hva heter Amal?"},
        "options": [{"id": "A", "text": "Hun"}, {"id": "B", "text": "Hennes"}], "key": ["A"],
    })
    for item in (rated, audio, gap_first):
        assert qti_to_item(item_to_qti(item)) == item


def test_package_export_then_import_into_an_empty_bank(bank, tmp_path):
    package = tmp_path / "qti"
    chosen = [it for it in bank.items.values() if it.level in ("preA1", "B2")][:40]
    manifest = export_qti(chosen, BANK, package)
    ET.parse(manifest)
    assert len(list((package / "items").glob("*.xml"))) == len(chosen)
    target = tmp_path / "bank"
    target.mkdir()
    shutil.copyfile(BANK / "bank.yaml", target / "bank.yaml")
    imported = import_qti(package, target)
    assert imported == chosen
    again = load_bank(target, skip=["params"])
    assert list(again.items.values()) == sorted(chosen, key=lambda it: it.id) or \
        {i.id: i for i in again.items.values()} == {i.id: i for i in chosen}
    with pytest.raises(BankError, match="is already in the bank"):
        import_qti(package, target)


def test_broken_qti_is_rejected_whole(tmp_path):
    (tmp_path / "items").mkdir()
    (tmp_path / "items" / "bad.xml").write_text("<qti-assessment-item", encoding="utf-8")
    with pytest.raises(BankError, match="not well-formed XML"):
        import_qti(tmp_path, tmp_path / "bank")
