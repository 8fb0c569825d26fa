"""The teachers' dashboard driven in the kernel (tests/ui/test_teacher_browser.py drives it
in Chromium)."""

import datetime as dt
import re

import ipywidgets as widgets
import pytest
from ipywidgets import HTML

from lang_assess.programme.demo import build_demo
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.ui.teacher_page import TeacherDashboard, parse_link

pytestmark = pytest.mark.db

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def service(tmp_path_factory, nb_bank):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('dash') / 'd.sqlite'}")
    migrate(engine)
    build_demo(lambda clock: Service(engine, nb_bank, load_config(), clock=clock, seed=3),
               today=TODAY, n_participants=16, weeks=6, intakes=4, seed=8)
    return Service(engine, nb_bank, load_config(),
                   clock=lambda: dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC))


def test_wrong_password_then_only_own_cohorts(service):
    dash = TeacherDashboard(service, "en")
    dash.user.value, dash.password.value = "kari", "nope"
    dash.login()
    assert dash.teacher is None and "Wrong user name" in dash.root.children[-1].value
    dash.user.value, dash.password.value = "kari", "demo-kari-2026"
    dash.login()
    kari = service.login_teacher("kari", "demo-kari-2026")
    own = set(service.cohorts(kari)["id"])
    assert {v for _, v in dash.picker.options} == own
    ola = service.login_teacher("ola", "demo-ola-2026")
    theirs = set(service.cohorts(ola)["id"]) - own
    assert theirs
    other = next(iter(theirs))
    dash.show_cohort(other)  # tampering with the widget's value
    shown = " ".join(getattr(w, "value", "") for w in dash.body.children
                     if isinstance(getattr(w, "value", None), str))
    assert "You do not have access" in shown
    for name in service.cohort_progress(ola, other)["pseudonym"]:
        assert name not in shown


def test_links_name_a_cohort_or_a_participant_and_the_service_decides(service):
    kari = service.login_teacher("kari", "demo-kari-2026")
    ola = service.login_teacher("ola", "demo-ola-2026")
    own = int(service.cohorts(kari)["id"].iloc[-1])
    theirs = int(service.cohorts(ola)["id"].iloc[0])
    their_person = int(service.cohort_progress(ola, theirs)["participant_id"].iloc[0])
    my_person = service.cohort_progress(kari, own)
    assert parse_link("?cohort=12&participant=x") == {"cohort": 12}
    assert parse_link("participant=7") == {"participant": 7}
    for query, denied in ((f"cohort={own}", False), (f"cohort={theirs}", True),
                          (f"participant={their_person}", True),
                          (f"participant={int(my_person['participant_id'].iloc[0])}", False)):
        dash = TeacherDashboard(service, "en", query=query)
        dash.user.value, dash.password.value = "kari", "demo-kari-2026"
        dash.login()
        html = " ".join(w.value for w in dash.body.children if isinstance(w, HTML))
        assert ("la-denied" in html) is denied, query
    assert my_person["pseudonym"].iloc[0] in html  # the last link opened kari's person


def test_an_admin_sees_every_cohort_and_filters_by_teacher(service):
    dash = TeacherDashboard(service, "en")
    dash.user.value, dash.password.value = "admin", "demo-admin-2026"
    dash.login()
    admin = service.login_teacher("admin", "demo-admin-2026")
    everything = service.cohorts(admin)
    assert {v for _, v in dash.picker.options} == set(everything["id"])
    dash.teacher_filter.value = "ola"
    theirs = everything.loc[everything["teacher"] == "ola", "id"]
    assert {v for _, v in dash.picker.options} == set(theirs)
    ola = service.login_teacher("ola", "demo-ola-2026")
    # the overview follows the picker to ola's first cohort
    names = list(service.cohort_progress(ola, int(theirs.iloc[0]))["pseudonym"])
    assert list(dash.table["pseudonym"]) == names
    on_screen = " ".join(w.value for w in dash.body.children if isinstance(w, HTML))
    assert all(n in on_screen for n in names)
    kari = TeacherDashboard(service, "en")
    kari.user.value, kari.password.value = "kari", "demo-kari-2026"
    kari.login()
    assert not hasattr(kari, "teacher_filter")


def test_counts_table_and_people_behind_a_count(service):
    dash = TeacherDashboard(service, "nb")
    dash.user.value, dash.password.value = "kari", "demo-kari-2026"
    dash.login()
    cid = dash.picker.value
    kari = service.login_teacher("kari", "demo-kari-2026")
    progress = service.cohort_progress(kari, cid)
    buttons = dash.body.children[0].children
    assert buttons[1].description == f"Står stille: {int(progress['stalled'].sum())}"
    buttons[1].click()
    listed = dash.people.value
    for name in progress.loc[progress["stalled"], "pseudonym"]:
        assert name in listed
    table_html = dash.body.children[2].value
    for name in progress["pseudonym"]:
        assert name in table_html
    assert "code" not in table_html.lower()


def logged_in(service, user="kari", password="demo-kari-2026"):
    dash = TeacherDashboard(service, "en")
    dash.user.value, dash.password.value = user, password
    dash.login()
    return dash


def test_enrolment_gives_codes_once_that_open_the_test(service):
    import re

    dash = logged_in(service)
    cid = dash.picker.value
    dash.show_enrolment(cid)
    for name, years, literate in (("NEW-001", 0, False), ("NEW-002", 12, True)):
        dash.f_pseudonym.value, dash.f_years.value = name, years
        dash.f_literate.value = literate
        dash._add_pending()
    dash._enrol(cid)
    sheet = dash.body.children[0].value
    codes = re.findall(r"la-new-code'>([A-Z0-9]{4}-[A-Z0-9]{5})<", sheet)
    assert len(codes) == 2 and "Track 1" in sheet and "Track 2" in sheet
    who = service.login_participant(codes[0])
    assert who.pseudonym == "NEW-001"
    assert service.start_or_resume(who) is not None  # the code opens the placement test
    dash.show_cohort(cid)
    page = "".join(getattr(w, "value", "") for w in dash.body.children)
    assert not any(code in page for code in codes)  # never shown again


def test_csv_and_excel_downloads_match_the_table(service):
    import base64
    import io
    import re

    import pandas as pd

    dash = logged_in(service)
    links = dash.body.children[3].value
    csv = base64.b64decode(re.search(r"data:text/csv;base64,([^']+)", links).group(1))
    xlsx = base64.b64decode(re.search(r"spreadsheetml.sheet;base64,([^']+)", links).group(1))
    rows = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", dash.body.children[2].value, re.S)]
    header, cells = rows[0], rows[1:]
    for table in (pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig", keep_default_na=False),
                  pd.read_excel(io.BytesIO(xlsx), keep_default_na=False)):
        assert table.columns.tolist() == header
        exported = [["—" if v in ("", None) else str(v) for v in r]
                    for r in table.astype(object).itertuples(index=False)]
        assert exported == cells


def shown(dash, cls: str) -> str:
    """The HTML of the part of the page whose markup has class ``cls`` (by class, not by
    position: issue 16 added a part before the skills table)."""
    found = [c.value for c in dash.body.children
             if isinstance(c, widgets.HTML) and re.search(rf"class=[\"'][^\"']*\b{cls}\b", c.value)]
    assert len(found) == 1, cls
    return found[0]


def test_participant_page_history_skills_and_track_override(service, nb_bank):
    from sqlalchemy import select

    from lang_assess.programme.store.models import Response, TestRun

    dash = logged_in(service)
    cid = dash.picker.value
    kari = service.login_teacher("kari", "demo-kari-2026")
    pid = int(service.cohort_progress(kari, cid)["participant_id"].iloc[0])
    dash.show_participant(cid, pid)
    with service.engine.connect() as conn:
        rows = conn.execute(select(Response.item_id, Response.score).join(TestRun)
                            .where(TestRun.participant_id == pid)).all()
    by_skill = {}
    for item_id, score in rows:
        got = by_skill.setdefault(nb_bank.items[item_id].skill, [0, 0])
        got[0] += 1
        got[1] += score
    skills_html = shown(dash, "la-skills")
    for skill, (answered, right) in by_skill.items():
        assert f"<td>{skill}</td>" in skills_html
        assert f"{right / answered:.0%}" in skills_html
    assert "nb-" not in skills_html  # skills, never items
    history = service.participant_history(kari, pid)
    assert shown(dash, "la-history").count("</tr>") == len(history) + 1  # + header
    track, why, save = next(c for c in dash.body.children if isinstance(c, widgets.HBox)
                            and isinstance(c.children[0], widgets.Dropdown)).children
    track.value, why.value = 3, "Documents from university arrived"
    save.click()
    assert "Documents from university arrived" in dash.body.children[0].value
    assert service.participant_record(kari, pid)["track"] == 3


def test_growth_tables_mark_small_groups(service):
    dash = logged_in(service)
    growth = dash.body.children[6].value
    assert "la-growth-track" in growth and "la-growth-gender" in growth
    assert "few participants" in growth  # four-person cohorts: every group is small


def test_language_switch(service):
    dash = TeacherDashboard(service, "nb")
    assert "Lærer" in dash.root.children[1].value
    dash.language_switch.value = "en"
    assert "Teacher" in dash.root.children[1].value and dash.user.description == "User name"


def test_track_filter_and_printable_report(service):
    import base64
    import re

    dash = logged_in(service)
    cid = dash.picker.value
    kari = service.login_teacher("kari", "demo-kari-2026")
    progress = service.cohort_progress(kari, cid)
    track = int(progress["track"].mode().iloc[0])
    dash.track_filter.value = track
    table = dash.body.children[2].value
    for row in progress.itertuples():
        assert (row.pseudonym in table) == (row.track == track)
    pid = int(progress["participant_id"].iloc[0])
    dash.show_participant(cid, pid)
    link = dash.body.children[0].value
    page = base64.b64decode(re.search(r"base64,([^']+)'", link).group(1)).decode()
    history = service.participant_history(kari, pid)
    assert page.count("<tr>") == len(history) + len(service.participant_skills(kari, pid))
    assert progress.loc[progress.participant_id == pid, "pseudonym"].item() in page
    assert not re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", page)  # no access code
    assert "nb-" not in page  # no item ids
