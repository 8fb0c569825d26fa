"""Acceptance 5: the exported items play in a real QTI 3 player — Citolab's web components
(npm @citolab/qti-components, served from node_modules) in Debian's headless Chromium.

Every exported item (the shipped bank and the foreign-shaped items imported from the
fixtures) loads, shows its prompt, options and media, and the player's own response
processing scores the key as right (the item's maximum) and a distractor as wrong, each
the same as the bank's scoring."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support import REPO, needs
from support.browser import CHROMIUM, chromium
from support.qti import BANK, DEFAULTS, FOREIGN, empty_bank

from lang_assess.bank.interaction_rules import parse_fragment
from lang_assess.bank.loader import load_bank
from lang_assess.bank.qti import export_qti, import_qti
from lang_assess.bank.qti.interactions import Ids
from lang_assess.bank.schema import Item
from lang_assess.bank.scoring import score_answer

pytestmark = pytest.mark.browser
COMPONENTS = REPO / "node_modules" / "@citolab" / "qti-components"
PLAYER = REPO / "tests" / "support" / "qti_player" / "player.html"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    needs("Chromium", os.path.exists(CHROMIUM))
    needs("@citolab/qti-components (npm)", (COMPONENTS / "cdn" / "index.js").exists())
    root = tmp_path_factory.mktemp("player")
    (root / "qti-components").mkdir()
    shutil.copyfile(COMPONENTS / "cdn" / "index.js", root / "qti-components" / "index.js")
    shutil.copyfile(COMPONENTS / "dist" / "item.css", root / "qti-components" / "item.css")
    shutil.copyfile(PLAYER, root / "player.html")
    shipped = load_bank(BANK)
    export_qti(list(shipped.items.values()), BANK, root / "shipped")
    foreign_bank = empty_bank(tmp_path_factory.mktemp("foreign"))
    report = import_qti(FOREIGN, foreign_bank, defaults=DEFAULTS)
    assert report.problems == []
    export_qti(report.imported, foreign_bank, root / "foreign")
    items = [("shipped", it) for it in shipped.items.values()]
    items += [("foreign", it) for it in report.imported]
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet,
                                                                     directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", items
    server.shutdown()


def _cases(item: Item) -> tuple[list, list[str]]:
    """(QTI response values for the key and a distractor, the same as bank answers)."""
    ids = Ids(dict(item.qti.options), dict(item.qti.gaps)) if item.qti else Ids()
    t = item.type
    if t == "text_entry":
        return [item.key[0], "zzz"], [item.key[0], "zzz"]
    if t in ("match", "associate", "gap_match"):
        right = [ids.value(item, k) for k in item.key]
        a, b = item.key[0].split()
        others = ([o.id for o in item.targets] if t == "match" else
                  [str(n) for n in range(1, (item.text or "").count("___") + 1)]
                  if t == "gap_match" else [o.id for o in item.options if o.id != a])
        wrong_b = next(x for x in others if x != b)
        wrong = f"{a} {wrong_b}"
        return [right, [ids.value(item, wrong)]], [",".join(item.key), wrong]
    if t in ("multiple_response", "hottext"):
        other = next(o.id for o in item.options if o.id not in item.key)
        return ([[ids.option(k) for k in item.key], [ids.option(other)]],
                [",".join(item.key), other])
    if t == "ordering":
        shown = [o.id for o in item.options]
        return ([[ids.option(k) for k in item.key], [ids.option(k) for k in shown]],
                ["".join(item.key), "".join(shown)])
    other = next(o.id for o in item.options if o.id != item.key[0])
    return [ids.option(item.key[0]), ids.option(other)], [item.key[0], other]


def _plain(fragment: str | None) -> str:
    import xml.etree.ElementTree as ET

    if not fragment:
        return ""
    return " ".join(ET.tostring(parse_fragment(fragment), encoding="unicode",
                                method="text").split())


def test_every_exported_item_renders_and_scores_in_the_qti_player(site):
    url, items = site
    failures, played, types = [], 0, set()
    with chromium() as browser:
        page = browser.new_page()
        page.goto(url + "player.html")
        page.wait_for_function("window.ready === true")
        for folder, item in items:
            qti_values, answers = _cases(item) if item.type != "rated" else ([], [])
            got = page.evaluate("([h, c]) => play(h, c)",
                                [f"{url}{folder}/items/{item.id}.xml", qti_values])
            played += 1
            types.add(item.type)
            problems = []
            prompt = " ".join((got["prompt"] or "").split())
            if item.stem and item.type not in ("gap_choice", "text_entry") and \
                    prompt != _plain(item.stem):
                problems.append(f"prompt {got['prompt']!r}")
            shown = {i: " ".join(t.split()) for i, t in got["choices"]}
            for o in (*item.options, *item.targets):
                qid = (item.qti.options.get(o.id, o.id) if item.qti else o.id)
                if o.text and shown.get(qid) != _plain(o.text):
                    problems.append(f"option {qid}: {shown.get(qid)!r}")
            want_media = {rel for _, rel in item.media()}
            media = {m[1].split(f"/{folder}/items/", 1)[-1]: m for m in got["media"]}
            if not want_media <= set(media):
                problems.append(f"media {sorted(want_media - set(media))} not rendered")
            problems += [f"media {m} did not load" for m in got["media"]
                         if m[2] != 200 or m[3] is False]
            if not got["interactions"] or not all(i[1] for i in got["interactions"]):
                problems.append(f"interaction not rendered: {got['interactions']}")
            if answers:
                expected = [score_answer(item, a) for a in answers]
                if expected[0] != item.max_score or expected[1] >= item.max_score:
                    problems.append(f"test cases do not separate key and distractor {expected}")
                if got["scores"] != expected:
                    problems.append(f"player scored {got['scores']}, the bank {expected}")
            if problems:
                failures.append((folder, item.id, item.type, problems))
    assert failures == []
    shipped = sum(1 for folder, _ in items if folder == "shipped")
    assert shipped == len(list(BANK.glob("*/nb-*.yaml")))  # every item of the bank on disk
    assert played == len(items) == shipped + 11  # and the 11 foreign-shaped ones
    assert types >= {"mc_text", "mc_picture", "gap_choice", "true_false", "ordering",
                     "multiple_response", "text_entry", "match", "associate", "gap_match",
                     "hottext", "rated"}
