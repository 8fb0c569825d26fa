"""The bank linter: the shipped bank passes; corrupted copies give each finding, named by
file, item and field (issue 17, acceptance 1)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import REPO
from support.qti import DEFAULTS, FOREIGN

from lang_assess.bank.lint import lint_bank
from lang_assess.bank.loader import load_bank
from lang_assess.bank.qti import import_qti

BANK = REPO / "item_bank" / "nb"
SCRIPT = Path(sys.executable).parent / "lang-assess"
LEVELS = ("preA1", "A1", "A2", "B1", "B2")
SKILL = {"rea": "reading", "lis": "listening", "voc": "vocabulary", "gra": "grammar",
         "lit": "literacy"}


@pytest.fixture(scope="module")
def shipped():
    return lint_bank(BANK)


@pytest.fixture
def copy(tmp_path):
    """The bank without its sounds (the linter does not open them)."""
    target = tmp_path / "nb"
    shutil.copytree(BANK, target, ignore=shutil.ignore_patterns("*.ogg"))
    return target


def path_of(root, item_id):
    return root / SKILL[item_id.split("-")[2]] / f"{item_id}.yaml"


def edit(root, item_id, change):
    path = path_of(root, item_id)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def found(report, check, item=None, field=None):
    """Findings of one check (on one item and field when given); each names its file:
    the item's own, or bank.yaml for a level's rate."""
    out = [f for f in report.findings if f.check == check
           and (item is None or f.item == item) and (field is None or f.field == field)]
    for f in out:
        expected = (f"nb/{SKILL[f.item.split('-')[2]]}/{f.item}.yaml" if f.item
                    else "nb/bank.yaml")
        assert f.file == expected, f
    return out


def items_of(root, level, types=("mc_text",), with_text=None):
    bank = load_bank(root, skip=("params", "media"))
    out = [it for it in bank.items.values() if it.level == level and it.type in types]
    if with_text is not None:
        out = [it for it in out if bool(it.passage or it.transcript) == with_text]
    return out


def key_of(it):
    return next(o for o in it.options if o.id == it.key[0])


# ---- the shipped bank -----------------------------------------------------------------
def test_the_shipped_bank_has_no_lint_errors(shipped):
    assert shipped.errors == [], "\n".join(map(str, shipped.errors))


@pytest.mark.parametrize("level", LEVELS)
def test_acceptance_thresholds_hold_at_every_level(shipped, level):
    s = shipped.levels[level]
    assert s["key_longest"] <= 1.3 * s["chance"], s
    assert s["key_shortest"] <= 1.3 * s["chance"], s
    if "copied_key" in s:
        assert s["copied_key"] <= s["copied_distractor"] + 0.05, s


def test_no_ordering_item_is_given_away_and_no_duplicate_is_unresolved(shipped):
    assert not found(shipped, "ordering-typography")
    assert not found(shipped, "duplicate")


def test_the_linter_finds_what_the_review_found_in_the_old_bank(tmp_path):
    """The bank as it was before the revision (git history) fails on the same counts the
    review reported: B1/B2 keys longest in 46 % / 43 % of text items, typography in the
    ordering items, the named enemy pairs."""
    old = tmp_path / "nb"
    files = subprocess.run(["git", "-C", str(REPO), "ls-tree", "-r", "--name-only",
                            "d546623", "item_bank/nb"], capture_output=True, text=True)
    if files.returncode != 0:
        pytest.skip("the history of the repository is not available")
    for name in files.stdout.split():
        if name.endswith((".yaml", ".csv")):
            target = old / Path(name).relative_to("item_bank/nb")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(subprocess.run(["git", "-C", str(REPO), "show", f"d546623:{name}"],
                                              capture_output=True, check=True).stdout)
    shutil.copy(BANK / "style.yaml", old / "style.yaml")
    report = lint_bank(old)
    assert round(report.levels["B1"]["key_longest"], 2) == 0.46
    assert round(report.levels["B2"]["key_longest"], 2) == 0.43
    assert {f.item for f in found(report, "ordering-typography")} >= {"nb-B2-gra-012",
                                                                      "nb-B2-gra-013"}
    pairs = {(f.item, f.message.split("'")[1]) for f in found(report, "duplicate")}
    for a, b in (("nb-B2-gra-001", "nb-B1-gra-008"), ("nb-A1-rea-005", "nb-A2-rea-001"),
                 ("nb-A2-rea-010", "nb-B1-rea-013"), ("nb-A1-lis-008", "nb-A2-lis-011")):
        assert (a, b) in pairs and (b, a) in pairs
    assert found(report, "audio-gap", "nb-A1-gra-014", "stem_audio.text")
    assert found(report, "style", "nb-A1-lis-018")  # «14:15» among «14.30»
    assert found(report, "style", "nb-A2-rea-006")  # «NAV» among «Nav»


# ---- one corruption, one finding --------------------------------------------------------
def test_keys_made_longest_fail_the_level_and_name_each_item(copy):
    made = []
    for it in items_of(copy, "B1"):
        def longer(d, key=it.key[0]):
            for o in d["options"]:
                if o["id"] == key:
                    o["text"] += " Dette gjelder hele tiden, uansett hva som skjer."
        edit(copy, it.id, longer)
        made.append(it)
    report = lint_bank(copy)
    level = found(report, "key-longest", field="B1.options")
    assert level and level[0].severity == "error" and level[0].file == "nb/bank.yaml"
    one = made[0]
    hit = found(report, "key-length", one.id, f"options[{one.key[0]}].text")
    assert hit and hit[0].file == f"nb/{one.skill}/{one.id}.yaml"
    assert hit[0].severity == "warning"


def test_keys_made_shortest_fail_the_level(copy):
    for it in items_of(copy, "A2", ("mc_text", "gap_choice")):
        edit(copy, it.id, lambda d: [o.update(text="Ja") for o in d["options"]
                                     if o["id"] == d["key"][0]])
    assert found(lint_bank(copy), "key-shortest", field="A2.options")


def test_keys_copied_from_the_text_fail_the_level_and_name_the_item(copy):
    targets = [it for it in items_of(copy, "B2", with_text=True)][:6]
    for it in targets:
        text = it.passage or it.transcript.text
        sentence = next(s for s in text.replace("\n", " ").split(". ") if len(s.split()) > 4)
        edit(copy, it.id, lambda d, s=sentence: [o.update(text=s) for o in d["options"]
                                                 if o["id"] == d["key"][0]])
    report = lint_bank(copy)
    assert found(report, "key-copied", field="B2.options")
    one = targets[0]
    assert found(report, "key-copied-item", one.id, f"options[{one.key[0]}].text")


def test_hedging_keys_and_absolute_distractors_fail_the_level(copy):
    for it in items_of(copy, "B2"):
        def cue(d):
            for o in d["options"]:
                if o["id"] == d["key"][0]:
                    o["text"] = o["text"].rstrip(".") + ", men kanskje hvis det passer."
                else:
                    o["text"] = "Det er alltid slik, og det gjelder alle."
        edit(copy, it.id, cue)
    report = lint_bank(copy)
    assert found(report, "hedge", field="B2.options")
    assert found(report, "absolute", field="B2.options")
    one = items_of(copy, "B2")[0]
    assert found(report, "hedge-item", one.id, f"options[{one.key[0]}].text")
    assert found(report, "hedge-item", one.id, "options")


def test_capitals_and_end_punctuation_give_an_ordering_item_away(copy):
    it = next(i for i in items_of(copy, "A2", ("ordering",)) if i.skill == "grammar")
    first, last = it.key[0], it.key[-1]

    def cue(d):
        for o in d["options"]:
            if o["id"] == first:
                o["text"] = o["text"][0].upper() + o["text"][1:]
            if o["id"] == last:
                o["text"] += "."
    edit(copy, it.id, cue)
    report = lint_bank(copy)
    for part in (first, last):
        hit = found(report, "ordering-typography", it.id, f"options[{part}].text")
        assert hit and hit[0].severity == "error", report.findings
    edit(copy, it.id, lambda d: [o.update(text=o["text"] + ",") for o in d["options"]
                                 if o["id"] == first])
    assert found(lint_bank(copy), "ordering-comma", it.id, f"options[{first}].text")


def test_stem_audio_that_fills_the_gap_or_speaks_the_key(copy):
    it = next(i for i in items_of(copy, "A1", ("gap_choice",)) if i.stem.startswith("___"))
    key = key_of(it).text
    edit(copy, it.id, lambda d: d["stem_audio"].update(text=d["stem"].replace("___", key)))
    report = lint_bank(copy)
    assert found(report, "audio-gap", it.id, "stem_audio.text")
    assert found(report, "audio-key", it.id, "stem_audio.text")


def test_an_alt_text_that_names_the_answer(copy):
    it = next(i for i in items_of(copy, "preA1", ("mc_picture",)) if i.skill == "vocabulary")
    word = it.stem.split("«")[1].split("»")[0]
    edit(copy, it.id, lambda d: [o["image"].update(alt=f"Et bilde av {word}")
                                 for o in d["options"] if o["id"] == d["key"][0]])
    hit = found(lint_bank(copy), "alt-text", it.id, f"options[{it.key[0]}].image.alt")
    assert hit and hit[0].severity == "error"


def test_a_picture_that_carries_words(copy):
    it = items_of(copy, "preA1", ("mc_picture",))[0]
    option = key_of(it)
    svg = copy / option.image.file
    svg.write_text(svg.read_text().replace("<g ", "<title>svaret</title><g ", 1))
    assert found(lint_bank(copy), "picture-text", it.id, f"options[{option.id}].image.file")


def test_a_near_duplicate_is_found_on_both_items_until_they_are_enemies(copy):
    source = path_of(copy, "nb-B1-rea-004")
    twin = path_of(copy, "nb-B1-rea-090")
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["id"] = "nb-B1-rea-090"
    data["passage"] = data["passage"].replace("Tøyen", "Grorud")
    twin.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    report = lint_bank(copy)
    for a, b in (("nb-B1-rea-004", "nb-B1-rea-090"), ("nb-B1-rea-090", "nb-B1-rea-004")):
        hit = found(report, "duplicate", a, "enemies")
        assert hit and b in hit[0].message, report.findings
    edit(copy, "nb-B1-rea-004", lambda d: d.update(enemies=["nb-B1-rea-090"]))
    edit(copy, "nb-B1-rea-090", lambda d: d.update(enemies=["nb-B1-rea-004"]))
    assert not found(lint_bank(copy), "duplicate")


def test_house_style_names_the_field(copy):
    edit(copy, "nb-A2-rea-002", lambda d: d.update(stem="Når må du ringe NAV før 14:15?"))
    report = lint_bank(copy)
    hits = found(report, "style", "nb-A2-rea-002", "stem")
    assert any("«NAV»" in f.message and "«Nav»" in f.message for f in hits)
    assert any("«14:15»" in f.message and "«14.15»" in f.message for f in hits)


def test_times_are_written_with_a_full_stop_and_spoken_in_words(copy):
    """«14.15» on screen (Språkrådet), but speech synthesis reads the full stop aloud: a
    time in digits in a text made into speech is named, in either form."""
    edit(copy, "nb-A1-rea-003", lambda d: d["stem_audio"].update(
        text="Du er på Holmen skole klokka 07.30. Når går neste buss?"))
    edit(copy, "nb-A2-lis-008", lambda d: d["transcript"].update(
        text=d["transcript"]["text"] + " Neste tog går 16:05."))
    report = lint_bank(copy)
    assert found(report, "style", "nb-A1-rea-003", "stem_audio.text")
    assert found(report, "style", "nb-A2-lis-008", "transcript.text")
    assert not found(report, "style", "nb-A1-rea-003", "stem")  # «07.30» shown: right
    assert not found(report, "style", "nb-A2-lis-008", "options[A].text")


def test_imported_items_of_every_qti_type_are_linted(copy):
    """Items of the QTI types (typed answers, pairs, several keys, markup) go through every
    check; their markup's words meet the house style."""
    report = import_qti(FOREIGN, copy, defaults=DEFAULTS)
    assert report.problems == []
    by_type = {it.type: it.id for it in report.imported}
    lint = lint_bank(copy)
    assert found(lint, "style", by_type["mc_text"], "body")  # «08:15» in the stimulus
    assert not [f for f in lint.errors if f.item in set(by_type.values())
                and f.check != "style"]


def test_a_passage_outside_the_level_range(copy):
    it = items_of(copy, "B2", with_text=True)[0]
    field = "passage" if it.passage else "transcript.text"

    def shorten(d):
        if d.get("passage"):
            d["passage"] = "En kort tekst."
        else:
            d["transcript"]["text"] = "En kort tekst."
    edit(copy, it.id, shorten)
    hit = found(lint_bank(copy), "words", it.id, field)
    assert hit and "3 words" in hit[0].message


def test_thresholds_and_severities_come_from_bank_yaml(copy):
    edit(copy, "nb-A2-rea-002", lambda d: d.update(stem="Hva sier NAV?"))
    config = yaml.safe_load((copy / "bank.yaml").read_text(encoding="utf-8"))
    config["lint"]["severity"] = {"style": "warning"}
    config["lint"]["key_length_max_ratio"] = 0.1  # every level fails
    (copy / "bank.yaml").write_text(yaml.safe_dump(config, allow_unicode=True),
                                    encoding="utf-8")
    report = lint_bank(copy)
    assert all(f.severity == "warning" for f in found(report, "style"))
    assert found(report, "style")
    assert found(report, "key-longest", field="B2.options")


def test_cli_exit_status_and_json(copy):
    ok = subprocess.run([str(SCRIPT), "bank", "lint", str(BANK), "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout[-2000:]
    assert json.loads(ok.stdout)["errors"] == 0
    edit(copy, "nb-A2-rea-002", lambda d: d.update(stem="Hva sier NAV?"))
    bad = subprocess.run([str(SCRIPT), "bank", "lint", str(copy), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    out = json.loads(bad.stdout)
    expected = {"check": "style", "severity": "error", "file": "nb/reading/nb-A2-rea-002.yaml",
                "item": "nb-A2-rea-002", "field": "stem"}
    assert any(expected.items() <= f.items() for f in out["findings"]), out["findings"]
    assert out["errors"] == 1
    text = subprocess.run([str(SCRIPT), "bank", "lint", str(copy)], capture_output=True,
                          text=True, timeout=120)
    assert "error: nb/reading/nb-A2-rea-002.yaml: item 'nb-A2-rea-002': field 'stem'" in \
        text.stdout
    assert "1 error(s)" in text.stdout
