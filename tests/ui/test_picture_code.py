"""The picture code (issue 14): the access code written with pictures, same secret."""

import datetime as dt
import re

import numpy as np
import pytest

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import AccessDenied, Intake, RateLimited, Service
from lang_assess.programme.service.access import CODE_ALPHABET
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.ui.participant_page import ParticipantTestApp
from lang_assess.ui.picture_code import (
    PICTURE_DIR,
    PICTURES,
    code_pictures,
    pictures_code,
    sheet_html,
)


def test_one_picture_per_code_symbol_and_none_has_writing():
    assert len(PICTURES) == len(set(PICTURES)) == len(CODE_ALPHABET) == 25
    for name in PICTURES:
        svg = (PICTURE_DIR / f"{name}.svg").read_text()
        assert "<text" not in svg, name  # nothing to read on a picture


def test_pictures_spell_the_same_code():
    rng = np.random.default_rng(0)
    for _ in range(200):
        code = "".join(rng.choice(list(CODE_ALPHABET), 8))
        names = code_pictures(f"{code[:4]}-{code[4:]}")
        assert len(names) == 8 and pictures_code(names) == code
    # the same number of codes as typed ones: 25 symbols, 8 places
    assert len(PICTURES) ** 8 == len(CODE_ALPHABET) ** 8 > 2**37
    with pytest.raises(ValueError, match="not a code symbol"):
        code_pictures("ABCD-EFGH")  # B is not in the alphabet


def test_sheet_shows_the_eight_pictures():
    html = sheet_html("ACDE-FGHJ")
    assert re.findall(r'alt="(\w+)"', html) == code_pictures("ACDE-FGHJ")


@pytest.fixture
def service(tmp_path, nb_bank):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    migrate(engine)
    svc = Service(engine, nb_bank, load_config(), seed=1)
    org = svc.create_organisation("o")
    svc.create_teacher(org, "teacher", "password1")
    teacher = svc.login_teacher("teacher", "password1")
    cohort = svc.create_cohort(teacher, "c", dt.date.today())
    people = svc.enrol(teacher, cohort, [Intake("p1", "ti", years_schooling=0,
                                                literate_l1=False), Intake("p2", "ar")])
    return svc, people


def test_tapping_the_pictures_logs_in_and_wrong_pictures_lock_out(service, nb_bank):
    svc, (p1, p2) = service
    app = ParticipantTestApp(svc, nb_bank.root)
    app.choose_language("ti")
    for name in code_pictures(p1.code):
        app.tap(name)
    assert app.who is not None and app.who.pseudonym == "p1"
    # wrong pictures count like wrong typed codes: the fifth locks the participant out
    app = ParticipantTestApp(svc, nb_bank.root)
    app.choose_language("ar")
    right = code_pictures(p2.code)
    wrong = right[:4] + [n for n in PICTURES if n not in right[4:]][:4]
    for k in range(5):
        for name in wrong:
            app.tap(name)
        expected = "login.rate_limited" if k == 4 else "login.wrong_code"
        assert f'data-key="{expected}"' in app.message.value
        assert app.tapped == []  # a fresh pad after each try
    for name in right:
        app.tap(name)
    assert app.who is None and 'data-key="login.rate_limited"' in app.message.value
    with pytest.raises(RateLimited):
        svc.login_participant(p2.code)  # the typed code is locked too: one counter
    with pytest.raises(AccessDenied):
        svc.login_participant("QQQQ-QQQQ")


def test_erase_takes_back_the_last_picture(service, nb_bank):
    svc, (p1, _) = service
    app = ParticipantTestApp(svc, nb_bank.root)
    app.choose_language("ti")
    names = code_pictures(p1.code)
    for name in names[:3]:
        app.tap(name)
    app.tap("sol" if names[3] != "sol" else "bil")
    app.untap()
    assert app.tapped == names[:3] and 'data-filled="3"' in app.slots.value
    for name in names[3:]:
        app.tap(name)
    assert app.who is not None
