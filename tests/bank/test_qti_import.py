"""QTI 3.0 import of items as other tools write them (tests/fixtures/qti3-foreign: written
for these tests in the shapes of 1EdTech's examples, Citolab's and TAO's exports), field
by field; partial packages; zip, folder and loose files; QTI 2.1 through the upgrade."""

import shutil
import zipfile

import pytest
from support.qti import (
    DEFAULTS,
    FOREIGN,
    QTI21,
    UNSUPPORTED,
    empty_bank,
    item_schema,
    manifest_schema,
    schema_errors,
    tree_bytes,
)

from lang_assess.bank.loader import load_bank
from lang_assess.bank.qti import export_qti, import_qti
from lang_assess.bank.schema import Feedback, Mapping, Option, RubricLevel
from lang_assess.bank.scoring import score_answer
from lang_assess.errors import BankError


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    bank = empty_bank(tmp_path_factory.mktemp("bank"))
    report = import_qti(FOREIGN, bank, defaults=DEFAULTS)
    assert report.problems == []
    return bank, {it.qti.identifier: it for it in report.imported}


def opts(*texts, start="A"):
    return [Option(id=chr(ord(start) + i), text=t) for i, t in enumerate(texts)]


def test_every_item_of_the_package_is_imported(imported):
    _, items = imported
    assert sorted(items) == sorted([
        "choice-single", "ITM-choice_multiple", "inline_choice", "textEntry1", "order",
        "match", "associate", "gapMatch", "hottext", "essay", "media_figure"])
    assert {it.type for it in items.values()} == {
        "mc_text", "multiple_response", "gap_choice", "text_entry", "ordering", "match",
        "associate", "gap_match", "hottext", "rated"}


def test_choice_with_ChoiceA_ids_nested_in_divs_with_feedback(imported):
    bank, items = imported
    it = items["choice-single"]
    # metadata from the manifest's LOM, the rest from the defaults
    assert (it.id, it.skill, it.level, it.topic, it.author) == (
        "nb-A2-rea-003", "reading", "A2", "transport", "Kari Nordmann")  # ids in file order
    assert it.type == "mc_text" and it.key == ["B"]
    assert it.options == opts("A bus", "A bicycle", "A car", "None of these")
    assert it.qti.options == {"A": "ChoiceA", "B": "ChoiceB", "C": "ChoiceC", "D": "ChoiceD"}
    assert it.stem == "What do you see in the <strong>picture</strong>?"
    assert it.shuffle is True and it.fixed == ["D"]
    assert it.qti.attributes == {"interaction": {"class": "qti-orientation-vertical"}}
    assert it.body == (
        '<p>Look at the picture.</p><p><img src="media/qti/choice-single/bike.png" '
        'alt="A blue bicycle" width="40" height="30"/></p><div class="qti-layout-row">'
        '<div class="qti-layout-col12">___</div></div>')
    assert (bank / "media/qti/choice-single/bike.png").read_bytes() == \
        (FOREIGN / "images/bike.png").read_bytes()
    assert it.feedback == [Feedback(on="A", content="A bus is bigger and has no pedals."),
                           Feedback(on="B", content="Yes: two wheels and pedals.")]
    assert (score_answer(it, "B"), score_answer(it, "A")) == (1, 0)


def test_multiple_response_with_long_ids_and_a_mapping(imported):
    it = imported[1]["ITM-choice_multiple"]
    assert it.type == "multiple_response" and it.max_choices is None
    assert it.options == opts("apple", "bread", "banana", "cheese")
    assert it.qti.options == {"A": "choice_935689104", "B": "choice_208362918",
                              "C": "choice_1771251063", "D": "choice_51529137"}
    assert it.key == ["A", "C"]
    assert it.mapping == Mapping(entries={"A": 1, "C": 1, "B": -1, "D": -1}, upper=2)
    assert it.max_score == 2
    scores = {a: score_answer(it, a) for a in ("A,C", "C,A", "A", "A,B", "A,B,C", "B,D", "")}
    assert scores == {"A,C": 2, "C,A": 2, "A": 1, "A,B": 0, "A,B,C": 1, "B,D": 0, "": 0}


def test_inline_choice_in_a_blockquote(imported):
    it = imported[1]["inline_choice"]
    assert it.type == "gap_choice" and it.stem == "" and it.key == ["B"]
    assert it.options == opts("go", "goes", "going")
    assert it.qti.options == {"A": "L1", "B": "L2", "C": "L3"}
    assert it.body == ("<p>Choose the right word.</p><blockquote><p>Every morning she ___ "
                       "to work by bus.</p></blockquote>")


def test_text_entry_with_mapped_answers(imported):
    it = imported[1]["textEntry1"]
    assert (it.type, it.level, it.author, it.key) == ("text_entry", "B1", "Ola Nordmann",
                                                      ["Oslo"])
    assert it.mapping == Mapping(entries={"Oslo": 1, "Christiania": 1}, lower=None,
                                 case_sensitive=False)
    assert it.body == "<p>The capital of Norway is ___.</p>"
    assert it.qti.attributes == {"interaction": {"expected-length": "10"}}
    assert [score_answer(it, a) for a in ("Oslo", " oslo ", "christiania", "Bergen")] == \
        [1, 1, 1, 0]


def test_order_match_associate(imported):
    _, items = imported
    order = items["order"]
    assert order.type == "ordering" and order.key == ["C", "A", "B"] and order.shuffle
    assert order.options == opts("I eat breakfast.", "I take the bus.", "I wake up.")
    assert (score_answer(order, "CAB"), score_answer(order, "ABC")) == (1, 0)
    match = items["match"]
    assert match.options == opts("medicine", "pencils", "a room")
    assert match.targets == opts("pharmacy", "school shop", "hotel", start="D")
    assert match.key == ["A D", "B E", "C F"] and match.max_choices == 3
    assert match.qti.options == {"A": "M", "B": "P", "C": "R", "D": "Ph", "E": "Sc", "F": "Ho"}
    assert match.qti.attributes == {k: {"match-max": "3"} for k in "DEF"}
    assert match.max_score == 3
    assert [score_answer(match, a) for a in ("A D,B E,C F", "A D,B F", "A E")] == [3, 1, 0]
    assoc = imported[1]["associate"]
    assert assoc.key == ["A C", "B D"] and assoc.options == opts("hot", "big", "cold", "small")
    assert [score_answer(assoc, a) for a in ("C A,B D", "A C", "A B,C D")] == [1, 0, 0]


def test_gap_match_and_hottext(imported):
    gm = imported[1]["gapMatch"]
    assert gm.options == opts("Monday", "July", "Friday") and gm.key == ["A 1", "C 2"]
    assert gm.text == ("<blockquote><p>The week starts on ___ and the work week ends on "
                       "___.</p></blockquote>")
    assert gm.qti.options == {"A": "W1", "B": "W2", "C": "W3"} and gm.qti.gaps == {}
    assert [score_answer(gm, a) for a in ("A 1,C 2", "C 2,A 1", "B 1,C 2")] == [1, 1, 0]
    hot = imported[1]["hottext"]
    assert hot.text == "<p>Yesterday I ___ to the shop and ___ some ___.</p>"
    assert hot.options == opts("went", "buyed", "milk") and hot.key == ["B"]
    assert hot.max_choices == 1
    assert [score_answer(hot, a) for a in ("B", "A", "A,B")] == [1, 0, 0]


def test_extended_text_is_a_task_scored_by_a_person(imported):
    it = imported[1]["essay"]
    assert it.type == "rated" and it.stem == "Write three sentences about your work."
    assert it.rubric == [RubricLevel(score=0, descriptor="no text that can be understood"),
                         RubricLevel(score=1, descriptor="some words or one sentence"),
                         RubricLevel(score=2, descriptor="three sentences that can be understood")]
    assert it.qti.attributes == {"interaction": {"expected-lines": "5"}}


def test_figure_video_audio_source_mathml_stimulus_and_feedback(imported):
    bank, items = imported
    it = items["media_figure"]
    assert it.stem.startswith('The bus comes every <math xmlns="http://www.w3.org/1998/Math/'
                              'MathML"><mfrac><mn>1</mn><mn>2</mn></mfrac></math> hour.')
    assert it.body == (
        '<div class="la-stimulus"><p>Bus 12 leaves at 08:15 and at 08:45.</p><audio '
        'controls="true"><source src="media/qti/media_figure/greeting.ogg" type="audio/ogg"/>'
        '</audio></div><figure><img src="media/qti/media_figure/bus.png" alt="A red bus"/>'
        '<figcaption>Bus 12</figcaption></figure><video controls="true" width="320"><source '
        'src="media/qti/media_figure/greeting.ogg" type="video/ogg"/></video>___')
    assert sorted(rel for _, rel in it.media()) == [
        "media/qti/media_figure/bus.png", "media/qti/media_figure/greeting.ogg",
        "media/qti/media_figure/greeting.ogg"]
    assert (bank / "media/qti/media_figure/greeting.ogg").is_file()
    assert it.feedback == [Feedback(on="correct", title="Right",
                                    content="Right: every half hour."),
                           Feedback(on="incorrect", content="Look at the timetable again.")]
    assert it.qti.feedback_outcome == "FEEDBACKBASIC"


def test_imported_bank_validates_and_gets_expert_parameters(imported):
    from lang_assess.bank.expert import expert_parameters

    bank, items = imported
    loaded = load_bank(bank, skip=["params"])
    assert set(loaded.items) == {it.id for it in items.values()}
    params = expert_parameters(list(loaded.items.values()), loaded.cuts)
    steps = dict(zip(params.ids.tolist(), params.n_steps.tolist(), strict=True))
    assert steps == {it.id: it.max_score for it in loaded.items.values()}
    assert steps[items["match"].id] == 3 and steps[items["essay"].id] == 2


def test_foreign_items_export_valid_and_byte_stable(imported, tmp_path):
    """Acceptance 4 for items that came from outside; the export is valid QTI 3.0."""
    bank, items = imported
    loaded = load_bank(bank, skip=["params"])
    first = tmp_path / "first"
    export_qti(list(loaded.items.values()), bank, first)
    for f in sorted((first / "items").glob("*.xml")):
        assert schema_errors(item_schema(), f) == [], f.name
    assert schema_errors(manifest_schema(), first / "imsmanifest.xml") == []
    # the original identifiers are written back
    text = (first / "items" / f"{items['choice-single'].id}.xml").read_text()
    assert 'identifier="choice-single"' in text and 'identifier="ChoiceB"' in text
    again = empty_bank(tmp_path / "again-bank")
    report = import_qti(first, again)
    assert report.problems == [] and len(report.imported) == len(items)
    assert {it.id: it for it in report.imported} == dict(loaded.items)
    second = tmp_path / "second"
    export_qti(list(load_bank(again, skip=["params"]).items.values()), again, second)
    assert tree_bytes(second) == tree_bytes(first)


def _package(folder, names, manifest=True):
    """A package of foreign and unsupported item files (flat), with or without manifest."""
    folder.mkdir(parents=True)
    for src in names:
        shutil.copyfile(src, folder / src.name)
    if manifest:
        res = "".join(
            f'<resource identifier="R{i}" type="imsqti_item_xmlv3p0" href="{src.name}">'
            f'<file href="{src.name}"/></resource>' for i, src in enumerate(names))
        (folder / "imsmanifest.xml").write_text(
            '<manifest xmlns="http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1" '
            'identifier="p"><metadata><schema>QTI Package</schema><schemaversion>3.0.0'
            f'</schemaversion></metadata><organizations/><resources>{res}</resources>'
            '</manifest>', encoding="utf-8")
    return folder


SIMPLE = ["choice-multiple", "order", "match", "associate", "gap-match", "hottext",
          "extended-text"]


def test_ten_items_three_unsupported_imports_seven_and_names_three(tmp_path):
    """Acceptance 2."""
    names = [FOREIGN / "items" / f"{n}.xml" for n in SIMPLE] + sorted(UNSUPPORTED.glob("*.xml"))
    package = _package(tmp_path / "pkg", names)
    bank = empty_bank(tmp_path / "bank")
    report = import_qti(package, bank, defaults=DEFAULTS)
    assert len(report.imported) == 7 and report.refused == 3 and report.partial
    assert sorted(report.problems) == [
        f"{package}/custom-processing.xml: item 'custom_rp': custom response processing "
        "(construct: qti-response-processing; the bank scores with match_correct or "
        "map_response)",
        f"{package}/hotspot.xml: item 'hotspot1': qti-hotspot-interaction (not an "
        "interaction the bank has)",
        f"{package}/slider.xml: item 'slider1': qti-slider-interaction (not an interaction "
        "the bank has)",
    ]
    assert len(list(bank.glob("reading/*.yaml"))) == 7


def test_zip_folder_and_loose_files_give_the_same_bank(tmp_path):
    """Acceptance 3."""
    names = [FOREIGN / "items" / f"{n}.xml" for n in SIMPLE]
    folder = _package(tmp_path / "folder", names)
    loose = _package(tmp_path / "loose", names, manifest=False)
    zipped = tmp_path / "package.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f"qti/{f.name}")  # zips often hold one folder
    banks = []
    for source in (folder, zipped, loose):
        bank = empty_bank(tmp_path / f"bank-{source.name}")
        report = import_qti(source, bank, defaults=DEFAULTS)
        assert report.problems == [] and len(report.imported) == 7, source
        banks.append(tree_bytes(bank))
    assert banks[0] == banks[1] == banks[2]
    # the shipped bank's own export: zip and folder give the same bank too
    src = load_bank(FOREIGN.parent.parent.parent / "item_bank" / "nb")
    chosen = [it for it in src.items.values() if it.level == "B2"]
    export_qti(chosen, src.root, tmp_path / "own")
    export_qti(chosen, src.root, tmp_path / "own.zip")
    own = []
    for source in (tmp_path / "own", tmp_path / "own.zip"):
        bank = empty_bank(tmp_path / f"own-bank-{source.suffix or 'dir'}")
        assert import_qti(source, bank).problems == []
        own.append(tree_bytes(bank))
    assert own[0] == own[1]


def test_missing_metadata_is_named_and_nothing_is_written(tmp_path):
    bank = empty_bank(tmp_path / "bank")
    report = import_qti(FOREIGN / "items" / "order.xml", bank, defaults={"skill": "grammar"})
    assert report.imported == []
    assert report.problems == [
        f"{FOREIGN / 'items'}/order.xml: item 'order': field 'level' is missing: the "
        "package's metadata does not give it; pass --level (also missing: topic, author)"]
    assert sorted(p.name for p in bank.iterdir()) == ["bank.yaml"]


def test_items_the_bank_rules_reject_are_named_by_field(tmp_path):
    bank = empty_bank(tmp_path / "bank")
    report = import_qti(FOREIGN / "items" / "order.xml", bank,
                        defaults={**DEFAULTS, "skill": "listening"})
    assert report.imported == [] and len(report.problems) == 1
    assert "item 'order'" in report.problems[0]
    assert "field 'transcript' (the audio a listening item plays) is missing" in \
        report.problems[0]


def test_qti21_package_is_upgraded_then_imported(tmp_path):
    bank = empty_bank(tmp_path / "bank")
    report = import_qti(QTI21, bank, defaults={**DEFAULTS, "skill": "grammar"})
    assert report.problems == [] and len(report.imported) == 1
    it = report.imported[0]
    assert (it.type, it.key, it.qti.identifier) == ("mc_text", ["B"], "i15986548271234")
    assert it.options == opts("Sunday", "Tuesday", "Friday")
    assert it.qti.options == {"A": "choice_1", "B": "choice_2", "C": "choice_3"}
    assert it.body == '<div class="grid-row"><div class="col-12">___</div></div>'
    assert report.notes == [
        f"{QTI21}/items/i1.xml: item 'i15986548271234' ({it.id}): attribute "
        "orientation='vertical' of qti-choice-interaction is not QTI 3.0; left out"]
    export_qti(report.imported, bank, tmp_path / "out")
    assert schema_errors(item_schema(), tmp_path / "out" / "items" / f"{it.id}.xml") == []


def test_media_outside_the_package_or_on_the_web_is_named(tmp_path):
    text = (FOREIGN / "items" / "choice-single.xml").read_text()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.xml").write_text(text.replace("../images/bike.png",
                                                         "https://example.org/bike.png"))
    (tmp_path / "pkg" / "b.xml").write_text(text.replace("choice-single", "other"))
    report = import_qti(tmp_path / "pkg", empty_bank(tmp_path / "bank"), defaults=DEFAULTS)
    assert report.imported == []
    assert sorted(report.problems) == [
        f"{tmp_path / 'pkg'}/a.xml: item 'choice-single': <img> uses media from the web "
        "(src='https://example.org/bike.png'); the bank keeps its media files",
        f"{tmp_path / 'pkg'}/b.xml: item 'other': <img src='../images/bike.png'> points to "
        "a file that is not in the package"]


def test_a_package_that_does_not_exist_or_is_no_zip(tmp_path):
    bank = empty_bank(tmp_path / "bank")
    with pytest.raises(BankError, match="no such file or folder"):
        import_qti(tmp_path / "missing", bank)
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(BankError, match="not a zip file"):
        import_qti(tmp_path / "x.zip", bank)


def test_templates_are_refused_and_stylesheets_noted(tmp_path):
    text = (FOREIGN / "items" / "order.xml").read_text()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "styled.xml").write_text(text.replace(
        "  <qti-item-body>", '  <qti-stylesheet href="tao-user-styles.css" type="text/css"/>\n'
        "  <qti-item-body>"))
    (tmp_path / "pkg" / "template.xml").write_text(text.replace("identifier=\"order\"",
                                                                "identifier=\"cloned\"").replace(
        "  <qti-item-body>", '  <qti-template-declaration identifier="N" cardinality="single"'
        ' base-type="integer"/>\n  <qti-item-body>'))
    report = import_qti(tmp_path / "pkg", empty_bank(tmp_path / "bank"), defaults=DEFAULTS)
    assert [it.qti.identifier for it in report.imported] == ["order"]
    assert report.problems == [
        f"{tmp_path / 'pkg'}/template.xml: item 'cloned': qti-template-declaration (items "
        "that vary by template: the bank holds fixed items)"]
    assert report.notes == [
        f"{tmp_path / 'pkg'}/styled.xml: item 'order' (nb-A2-rea-001): qti-stylesheet "
        "tao-user-styles.css left out: the bank's pages use their own styles"]


def test_importing_the_same_items_again_finds_them_instead_of_adding_copies(tmp_path):
    bank = empty_bank(tmp_path / "bank")
    first = import_qti(FOREIGN, bank, defaults=DEFAULTS)
    again = import_qti(FOREIGN, bank, defaults=DEFAULTS)
    assert again.imported == [] and len(again.problems) == 11
    assert all("is already in the bank" in p for p in again.problems)
    replaced = import_qti(FOREIGN, bank, defaults=DEFAULTS, overwrite=True)
    assert [it.id for it in replaced.imported] == [it.id for it in first.imported]
    assert len(list(bank.glob("*/*.yaml"))) == 11


def test_styles_and_data_attributes_of_content_are_left_out_with_a_note(tmp_path):
    text = (FOREIGN / "items" / "inline-choice.xml").read_text()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.xml").write_text(text.replace(
        "<p>Choose the right word.</p>",
        '<p style="color: red" data-qti-suppress-tts="all" onclick="x()">Choose the right '
        "word.</p>"))
    report = import_qti(tmp_path / "pkg", empty_bank(tmp_path / "bank"), defaults=DEFAULTS)
    assert report.problems == [] and len(report.imported) == 1
    assert report.imported[0].body.startswith("<p>Choose the right word.</p>")
    assert [n.split(": ", 2)[-1] for n in report.notes] == [
        "attribute style='color: red' of <p> left out",
        "attribute data-qti-suppress-tts='all' of <p> left out",
        "attribute onclick='x()' of <p> left out"]
