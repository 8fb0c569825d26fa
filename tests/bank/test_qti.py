"""QTI 3.0 export: every shipped item survives the round trip, and the exported package is
valid against the 1EdTech QTI 3.0 schemas (tests/fixtures/qti3-schemas)."""

import xml.etree.ElementTree as ET

import pytest
from support.qti import (
    BANK,
    empty_bank,
    item_schema,
    manifest_schema,
    schema_errors,
    tree_bytes,
)

from lang_assess.bank.loader import load_bank
from lang_assess.bank.qti import NS, export_qti, import_qti, item_to_qti, metadata, qti_to_item
from lang_assess.bank.schema import Item
from lang_assess.errors import BankError


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


@pytest.fixture(scope="module")
def exported(bank, tmp_path_factory):
    out = tmp_path_factory.mktemp("qti") / "package"
    export_qti(list(bank.items.values()), BANK, out)
    return out


def test_every_shipped_item_round_trips_without_loss(bank):
    for item in bank.items.values():
        xml = item_to_qti(item)
        root = ET.fromstring(xml)  # well-formed
        assert root.tag == f"{{{NS}}}qti-assessment-item"
        assert root.get("identifier") == item.id
        assert qti_to_item(xml, metadata(item)) == item, item.id


def test_the_exported_bank_is_valid_qti_3(bank, exported):
    """Acceptance 1: every item and the manifest validate against the 1EdTech XSDs."""
    files = sorted((exported / "items").glob("*.xml"))
    assert len(files) == len(bank.items) == len(list(bank.root.glob("*/nb-*.yaml")))
    errors = {f.name: schema_errors(item_schema(), f) for f in files}
    assert {k: v for k, v in errors.items() if v} == {}
    assert schema_errors(manifest_schema(), exported / "imsmanifest.xml") == []


def test_the_schemas_do_catch_what_the_issue_found(bank):
    """The validation is real: the old export's faults are errors to it."""
    item = next(it for it in bank.items.values() if it.stem_audio and it.image)
    xml = item_to_qti(item).encode()
    assert schema_errors(item_schema(), xml) == []
    for bad in (xml.replace(b'controls="true"', b'controls="controls"'),
                xml.replace(b'class="la-stem-audio"', b'class="la-stem-audio" data-role="x"'),
                xml.replace(b"<qti-item-body>", b'<qti-item-body><img src="a.svg" alt="a"/>')):
        assert schema_errors(item_schema(), bad), bad[:80]
    manifest = b"""<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
        identifier="m"><organizations/><resources/></manifest>"""
    assert any("metadata" in e for e in schema_errors(manifest_schema(), manifest))


def test_manifest_carries_the_metadata_in_lom(exported, bank):
    root = ET.parse(exported / "imsmanifest.xml").getroot()
    cp = "{http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1}"
    lom = "{http://ltsc.ieee.org/xsd/LOM}"
    resources = root.findall(f"{cp}resources/{cp}resource")
    assert len(resources) == len(bank.items)
    first = resources[0]
    item = bank.items[first.get("identifier")]
    assert first.find(f".//{lom}general/{lom}identifier/{lom}entry").text == item.id
    assert first.find(f".//{lom}taxon/{lom}id").text == item.level
    assert first.find(f".//{lom}keyword/{lom}string").text == item.topic
    assert f"FN:{item.author}" in first.find(f".//{lom}entity").text
    hrefs = {f.get("href") for f in first.findall(f"{cp}file")}
    assert {f"items/{rel}" for _, rel in item.media()} < hrefs


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


def test_rated_and_audio_option_items_round_trip_and_validate():
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
        xml = item_to_qti(item)
        assert schema_errors(item_schema(), xml.encode()) == [], item.id
        assert qti_to_item(xml, metadata(item)) == item
    root = ET.fromstring(item_to_qti(rated))
    score = root.find(f"{{{NS}}}qti-outcome-declaration")
    assert score.get("external-scored") == "human" and score.get("normal-maximum") == "2"
    assert root.find(f"{{{NS}}}qti-response-processing") is None
    # the words a sound speaks are its transcript card, not text on the page
    cards = root.iter(f"{{{NS}}}qti-card") if False else ET.fromstring(
        item_to_qti(audio)).iter(f"{{{NS}}}qti-card")
    assert [c.get("support") for c in cards] == ["transcript"] * 3


def test_package_export_then_import_into_an_empty_bank(bank, tmp_path):
    package = tmp_path / "qti"
    chosen = [it for it in bank.items.values() if it.level in ("preA1", "B2")][:40]
    manifest = export_qti(chosen, BANK, package)
    ET.parse(manifest)
    assert len(list((package / "items").glob("*.xml"))) == len(chosen)
    target = empty_bank(tmp_path / "bank")
    report = import_qti(package, target)
    assert report.problems == [] and report.imported == chosen
    again = load_bank(target, skip=["params"])
    assert {i.id: i for i in again.items.values()} == {i.id: i for i in chosen}
    refused = import_qti(package, target)
    assert refused.imported == [] and len(refused.problems) == len(chosen)
    assert all("is already in the bank" in p for p in refused.problems)


def test_export_import_export_is_byte_stable_for_the_shipped_bank(bank, exported, tmp_path):
    """Acceptance 4 (the bank's own items): the second export equals the first."""
    target = empty_bank(tmp_path / "bank")
    report = import_qti(exported, target)
    assert report.problems == [] and len(report.imported) == len(bank.items)
    again = load_bank(target, skip=["params"])
    export_qti(list(again.items.values()), target, tmp_path / "again")
    assert tree_bytes(tmp_path / "again") == tree_bytes(exported)


def test_zip_and_folder_exports_hold_the_same_files(bank, exported, tmp_path):
    import zipfile

    chosen = list(bank.items.values())
    zipped = export_qti(chosen, BANK, tmp_path / "bank.zip")
    with zipfile.ZipFile(zipped) as z:
        assert {n: z.read(n) for n in z.namelist()} == tree_bytes(exported)
    export_qti(chosen, BANK, tmp_path / "bank2.zip")
    assert (tmp_path / "bank2.zip").read_bytes() == zipped.read_bytes()


def test_broken_qti_is_reported_with_its_file(tmp_path):
    (tmp_path / "items").mkdir()
    target = empty_bank(tmp_path / "bank")
    (tmp_path / "items" / "notes.xml").write_text("<notes/>", encoding="utf-8")
    with pytest.raises(BankError, match="no QTI items found"):
        import_qti(tmp_path / "items", target)
    (tmp_path / "items" / "bad.xml").write_text(
        '<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" '
        'identifier="x"', encoding="utf-8")
    report = import_qti(tmp_path / "items", target)
    assert report.imported == []
    assert report.problems[0].startswith(f"{tmp_path / 'items'}/bad.xml: not well-formed XML")
    with pytest.raises(BankError, match="no such file or folder"):
        import_qti(tmp_path / "nowhere.zip", target)
