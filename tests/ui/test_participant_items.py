"""The participant page renders and answers every item type an import brings (issue 18):
a bank of the foreign-shaped items (tests/fixtures/qti3-foreign) with v0 parameters, a
real service on SQLite, and the page's own widgets clicked and filled in."""

import pytest
import sqlalchemy as sa
from support.programme import NOW, new_programme
from support.qti import DEFAULTS, FOREIGN, empty_bank

from lang_assess.bank.expert import RULE, expert_parameters
from lang_assess.bank.loader import load_bank
from lang_assess.bank.params_csv import write_bank_params_csv
from lang_assess.bank.qti import import_qti
from lang_assess.bank.scoring import score_answer
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Service
from lang_assess.programme.service.items import ItemView
from lang_assess.programme.store.db import make_engine
from lang_assess.programme.store.models import Response
from lang_assess.ui.participant_page import ParticipantTestApp

pytestmark = pytest.mark.db


@pytest.fixture
def foreign(tmp_path):
    root = empty_bank(tmp_path / "bank")
    report = import_qti(FOREIGN, root, defaults=DEFAULTS)
    for it in report.imported:
        if it.type == "rated":  # scored by a teacher: not given in the adaptive test
            (root / it.skill / f"{it.id}.yaml").unlink()
    bank = load_bank(root, skip=["params"])
    items = list(bank.items.values())
    params = expert_parameters(items, bank.cuts)
    (root / "params").mkdir()
    write_bank_params_csv(root / "params" / "v0.csv", params,
                          model=["gpcm" if it.max_score > 1 else "2pl" for it in items],
                          source=[RULE] * len(items), n=[0] * len(items))
    bank = load_bank(root)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    person = new_programme(url, bank, 1)[0]
    svc = Service(make_engine(url), bank, load_config(), clock=lambda: NOW, seed=3)
    return bank, svc, person, url


def _right(app, item):
    """Give the keyed answer through the widgets, as a participant would."""
    if item.type == "text_entry":
        app.typed.value = item.key[0].lower()  # the mapping is not case-sensitive
    elif item.type in ("match", "associate", "gap_match"):
        wanted = {}
        for pair in item.key:
            a, b = pair.split()
            if item.type == "gap_match":
                wanted[b] = a
            else:
                wanted[a] = b
        for box in app.pairs:
            box.value = wanted.get(box.row, "")
    else:
        buttons = {o.id: b for (_, b), o in zip(app.option_buttons, app.view.options,
                                                strict=True)}
        for k in item.key:
            buttons[k].click()


def test_every_new_type_renders_and_scores_through_the_page(foreign):
    bank, svc, person, url = foreign
    who = svc.login_participant(person.code)
    app = ParticipantTestApp(svc, bank.root)
    app.who = who
    app.view = svc.start_or_resume(who)
    seen, html_of = [], {}
    wrong_done = False
    while app.view is not None:
        app.show_item()
        view: ItemView = app.view
        item = bank.items[view.item_id]
        assert not {"key", "mapping", "feedback", "qti"} & set(ItemView.__dataclass_fields__)
        page = "".join(getattr(w, "value", "") for w in _walk(app.root)
                       if isinstance(getattr(w, "value", None), str))
        html_of[item.qti.identifier] = page
        seen.append(item.type)
        if not wrong_done and item.type == "multiple_response":
            buttons = dict(zip([o.id for o in view.options],
                               [b for _, b in app.option_buttons], strict=True))
            buttons["B"].click()
            buttons["D"].click()
            wrong_done = True
            expected = 0
        else:
            _right(app, item)
            expected = item.max_score
        app.next_button.click()
        assert app.message.value == "" or "la-message" in app.message.value
        with make_engine(url).connect() as db:
            last = db.execute(sa.select(Response.item_id, Response.answer, Response.score)
                              .order_by(Response.id.desc())).first()
        assert last.item_id == item.id
        assert last.score == expected == score_answer(item, last.answer), (item.type, last)
    assert set(seen) >= {"multiple_response", "text_entry", "match", "associate",
                         "gap_match", "hottext", "ordering", "gap_choice", "mc_text"}
    # imported content on the page: the picture inline, MathML, the slots of hottext
    assert '<img src="data:image/png;base64,' in html_of["choice-single"]
    figure = html_of["media_figure"]
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"><mfrac>' in figure
    assert '<source src="data:audio/ogg;base64,' in figure and "<figcaption>" in figure
    assert "Bus 12 leaves at 08:15" in figure  # the stimulus the item refers to
    assert html_of["hottext"].count('class="la-slot"') == 3
    assert 'Every morning she <span class="la-gap">……</span> to work' in \
        html_of["inline_choice"]
    assert "Oslo" not in html_of["textEntry1"]  # no key on the page


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_the_shown_order_is_shuffled_the_same_way_on_every_reload(foreign):
    from lang_assess.programme.service.items import item_view

    bank = foreign[0]
    item = next(it for it in bank.items.values() if it.qti and it.qti.identifier ==
                "choice-single")
    orders = {tuple(o.id for o in item_view(item, s, 1, "placement").options)
              for s in range(30)}
    assert len(orders) > 1  # shuffled
    assert all(order[-1] == "D" for order in orders)  # "None of these" is fixed
    again = item_view(item, 7, 1, "placement")
    assert again.options == item_view(item, 7, 1, "placement").options
