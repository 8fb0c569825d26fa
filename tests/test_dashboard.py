"""The teacher overview widget, driven in the kernel (browser tests come with issue 6)."""

import datetime as dt

import pytest

from lang_assess.demo import build_demo
from lang_assess.programme import load_config
from lang_assess.service import Service
from lang_assess.store.db import make_engine, migrate
from lang_assess.ui.dashboard import TeacherDashboard

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
    with pytest.raises(Exception, match="not your cohort"):
        dash.show_cohort(next(iter(theirs)))  # tampering with the widget's value


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
