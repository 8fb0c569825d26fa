"""The picture code (issue 14): the access code written with pictures, same secret."""

import datetime as dt
import re

import numpy as np
import pytest

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import (
    AccessDenied,
    ClientInfo,
    Intake,
    RateLimited,
    Service,
)
from lang_assess.programme.service.access import CODE_ALPHABET, LOOKUP_LEN, SECRET_LEN
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.ui.participant_login import CODE_LENGTH
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
        code = "".join(rng.choice(list(CODE_ALPHABET), LOOKUP_LEN + SECRET_LEN))
        names = code_pictures(f"{code[:4]}-{code[4:]}")
        assert len(names) == CODE_LENGTH == 9 and pictures_code(names) == code
    # the same number of codes as typed ones: 25 symbols, 9 places (5 of them secret)
    assert len(PICTURES) ** SECRET_LEN == len(CODE_ALPHABET) ** SECRET_LEN > 2**23
    with pytest.raises(ValueError, match="not a code symbol"):
        code_pictures("ABCD-EFGHJ")  # B is not in the alphabet


def test_sheet_shows_the_nine_pictures():
    html = sheet_html("ACDE-FGHJK")
    assert re.findall(r'alt="(\w+)"', html) == code_pictures("ACDE-FGHJK")
    assert len(code_pictures("ACDE-FGHJK")) == 9


@pytest.fixture
def service(tmp_path, nb_bank):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    migrate(engine)
    svc = Service(engine, nb_bank, load_config(), seed=1)
    org = svc.create_organisation("o")
    svc.create_teacher(org, "teacher", "lærer-passord-1")
    teacher = svc.login_teacher("teacher", "lærer-passord-1")
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
    # wrong pictures count like wrong typed codes, against the same client: after five
    # from one page (issue 19's page limit) the page is refused, right code or not
    here = ClientInfo("192.0.2.5", page="kernel-1")
    app = ParticipantTestApp(svc, nb_bank.root, client=lambda: here)
    app.choose_language("ar")
    right = code_pictures(p2.code)
    wrong = right[:4] + [n for n in PICTURES if n not in right[4:]][:5]
    limit = svc.config.page_max_failures
    for k in range(limit + 1):
        for name in wrong:
            app.tap(name)
        said = re.search(r'data-key="([\w.]+)"', app.message.value).group(1)
        # refused: a wait in minutes, or (longer than an hour) "ask your teacher"
        assert said in (("login.rate_limited", "login.paused") if k == limit
                        else ("login.wrong_code",))
        assert app.tapped == []  # a fresh pad after each try
    for name in right:
        app.tap(name)
    assert app.who is None and f'data-key="{said}"' in app.message.value
    with pytest.raises(RateLimited):
        svc.login_participant(p2.code, here)  # typed on this page: the same limit
    with pytest.raises(RateLimited):
        svc.login_participant("QQQQ-QQQQQ", here)
    with pytest.raises(AccessDenied):  # another page elsewhere is still answered
        svc.login_participant("QQQQ-QQQQQ", ClientInfo("198.51.100.9", page="kernel-2"))


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
