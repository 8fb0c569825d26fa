"""What stays in a page kernel's widgets (issue 19): every live widget's state is what a
second client attached to the kernel could read, so codes and passwords must not be in
it after use, and nothing of a teacher's cohort after logout."""

import datetime as dt
import json
import re

import pytest
from ipywidgets.widgets.widget import Widget, _instances

from lang_assess.programme.rules import load_config
from lang_assess.programme.service import AccessDenied, ClientInfo, Intake, Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.ui.participant_page import ParticipantTestApp
from lang_assess.ui.teacher_page import TeacherDashboard

pytestmark = pytest.mark.db


@pytest.fixture(autouse=True)
def one_page_per_kernel():
    """A page kernel holds one page's widgets: close what earlier tests in this process
    left (test_dashboard's pages, say), so the state read is this test's page alone."""
    Widget.close_all()
    yield
    Widget.close_all()


def live_state() -> str:
    """Every live widget's state, as the kernel would send it to a client asking."""
    return json.dumps([w.get_state() for w in list(_instances.values())], default=str)


@pytest.fixture
def world(tmp_path, nb_bank):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite'}")
    migrate(engine)
    svc = Service(engine, nb_bank, load_config(), seed=2)
    org = svc.set_up_organisation("Vennesla kommune", "admin", "admin-passord-2026")
    svc.create_teacher(org, "kari", "kari-passord-2026")
    kari = svc.login_teacher("kari", "kari-passord-2026")
    cohort = svc.create_cohort(kari, "Inntak", dt.date.today())
    people = svc.enrol(kari, cohort, [Intake("W-001", "ar"), Intake("W-002", "so")])
    yield svc, cohort, people
    engine.dispose()


def test_the_code_is_not_kept_after_login_and_the_notice_comes_first(world, nb_bank):
    svc, _, people = world
    app = ParticipantTestApp(svc, nb_bank.root, client=lambda: ClientInfo("192.0.2.1"))
    app.choose_language("so")
    app.code_box.value = people[0].code.lower()  # Enter: the login runs
    assert app.who is not None and app.who.pseudonym == "W-001"
    state = live_state()
    parts = (people[0].code, people[0].code.split("-")[1], people[0].code.lower().split("-")[1])
    assert [p for p in parts if p in state] == []
    notice = " ".join(getattr(w, "value", "") for w in app.root.children
                      if isinstance(getattr(w, "value", None), str))
    assert "la-privacy" in notice and "Vennesla kommune" in notice  # in Somali, naming the org
    assert "12 bilood" in notice  # retention_days 365 → 12 months
    app.accept_privacy()
    assert not svc.privacy_notice_due(app.who)
    again = ParticipantTestApp(svc, nb_bank.root, client=lambda: ClientInfo("192.0.2.1"))
    again.choose_language("nb")
    again.code_box.value = people[0].code
    shown = " ".join(getattr(w, "value", "") for w in again.root.children
                     if isinstance(getattr(w, "value", None), str))
    assert "la-privacy" not in shown  # once only


def test_a_wrong_code_is_not_kept_either(world, nb_bank):
    svc, _, people = world
    app = ParticipantTestApp(svc, nb_bank.root)
    app.choose_language("nb")
    wrong = people[1].code.split("-")[0] + "-QQQQQ"
    app.code_box.value = wrong
    assert app.who is None and ("QQQQQ" in live_state()) is False


def test_the_teacher_password_and_codes_go_and_logout_empties_the_page(world):
    svc, cohort, people = world
    dash = TeacherDashboard(svc, "en")
    dash.user.value, dash.password.value = "kari", "kari-passord-2026"
    dash.login()
    assert dash.teacher is not None
    assert ("kari-passord-2026" in live_state()) is False
    assert all(p.pseudonym in live_state() for p in people)  # the cohort table
    dash.show_enrolment(cohort)
    dash.f_pseudonym.value = "W-003"
    dash._add_pending()
    dash._enrol(cohort)
    code = re.search(r"la-new-code'>([A-Z0-9]{4}-[A-Z0-9]{5})<", live_state()).group(1)
    hide = dash.body.children[-1]
    hide.click()  # "Done – hide": the sheet goes from the kernel, not only the screen
    assert (code in live_state()) is False
    assert svc.login_participant(code).pseudonym == "W-003"
    session = dash.teacher
    dash.root.children[1].children[0].children[-1].click()  # the toolbar's "Log out"
    assert dash.teacher is None
    state = live_state()
    secrets = ("W-001", "W-002", "W-003", "la-cohort-table", "kari-passord-2026")
    assert [s for s in secrets if s in state] == []
    with pytest.raises(AccessDenied):
        svc.cohorts(session)


def test_an_ended_session_sends_the_page_back_to_the_login(world):
    svc, _, _ = world
    dash = TeacherDashboard(svc, "en")
    dash.user.value, dash.password.value = "kari", "kari-passord-2026"
    dash.login()
    svc.logout_teacher(dash.teacher)  # e.g. disabled by an admin, or timed out
    dash._run(lambda: dash.show_cohort(dash.picker.value))
    assert dash.teacher is None
    assert "Your session has ended" in live_state()
    assert ("W-001" in live_state()) is False


def test_one_time_passwords_are_shown_once_and_then_gone(world):
    from lang_assess.ui.admin_panel import show_admin

    svc, _, _ = world
    dash = TeacherDashboard(svc, "en")
    dash.user.value, dash.password.value = "admin", "admin-passord-2026"
    dash.login()
    show_admin(dash)
    username, _, add = dash.body.children[-3].children  # user name, admin?, "Add teacher"
    username.value = "per"
    add.click()
    secret = re.search(r"<code class='la-one-time'>([a-z0-9-]+)</code>", live_state()).group(1)
    per = svc.login_teacher("per", secret, ClientInfo("192.0.2.7"))
    assert per.must_change_password
    box = dash.admin_result.children[0]
    box.children[1].click()  # hide
    assert (secret in live_state()) is False
