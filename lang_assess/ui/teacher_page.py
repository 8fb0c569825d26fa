"""The teachers' dashboard: cohort overview, participant page, enrolment, exports.

A teacher logs in with a password; the page then offers only the cohorts the service
lets that teacher see (an admin sees all, with a teacher filter).  Numbers come from
:mod:`lang_assess.ui.cohort_views`; access codes and answer keys are never shown here.
A link may name a cohort or a participant (``?cohort=12``, ``?participant=345``); the
service decides whether the logged-in teacher may see it, never the link.

The login opens a session the service checks on every call; logging out, a closed
session or an ended one empties the page (every widget closed, so a second client
attached to this kernel would find nothing).  The password field is emptied as soon as
it is read, one-time passwords and new codes disappear with their "hide" button.
Admins also get the administration view (:mod:`lang_assess.ui.admin_panel`).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import ipywidgets as widgets
import pandas as pd

from lang_assess.programme.service import (
    AccessDenied,
    ClientInfo,
    Intake,
    Service,
    TeacherContext,
)
from lang_assess.ui.admin_panel import participant_actions, show_admin
from lang_assess.ui.cohort_views import (
    FIGURE_LABELS,
    STATUS_ACTION,
    STATUS_ON_TRACK,
    STATUS_READY,
    ability_scale,
    age_group,
    export_csv,
    export_excel,
    flag_counts,
    growth_by_group,
    level_distribution_by_week,
    level_distribution_figure,
    participant_report_html,
    skill_levels_html,
    table_html,
    track_median,
    trajectory_figure,
    with_status,
)
from lang_assess.ui.flag_reasons import POINTS_PER_LOGIT, Z95, reasons_column
from lang_assess.ui.messages import LANGUAGES, catalogue
from lang_assess.ui.picture_code import sheet_html
from lang_assess.ui.rating_views import RatingPanel
from lang_assess.ui.teacher_login import SessionScreens

COLUMNS = ["pseudonym", "track", "course_level", "level", "reading", "listening", "speaking",
           "writing", "tests", "week", "status", "why"]


class TeacherDashboard(SessionScreens):
    """Login, then the overview of one cohort at a time; ``root`` is the widget."""

    def __init__(self, service: Service, language: str = "nb", query: str = "",
                 client: Callable[[], ClientInfo] = ClientInfo) -> None:
        self.service = service
        self.language = language
        self.query = query  # the page's query string: a link to a cohort or participant
        self.client = client  # who loaded this page (lang_assess.ui.page_client)
        self.teacher: TeacherContext | None = None
        self.root = widgets.VBox()
        self.root.add_class("la-dashboard")
        self.show_login()

    def t(self, key: str) -> str:
        """A dashboard label in the chosen UI language (bokmål or English)."""
        return catalogue(self.language, "teacher").text(f"teacher.{key}")

    def show_admin(self) -> None:
        """The administration view (admins): :func:`lang_assess.ui.admin_panel.show_admin`."""
        show_admin(self)

    def show_home(self) -> None:
        """The overview: filters, then the first cohort (or the one a link names)."""
        if self.teacher is None:
            return
        self._clear()
        self.cohort_table = self.service.cohorts(self.teacher)
        self.picker = widgets.Dropdown(options=self._cohort_options(""),
                                       description=self.t("cohort"))
        self.picker.observe(lambda _c: self._run(lambda: self.show_cohort(self.picker.value)),
                            names="value")
        self.track_filter = widgets.Dropdown(
            options=[(self.t("all"), 0), ("1", 1), ("2", 2), ("3", 3)],
            description=self.t("track"))
        self.track_filter.observe(
            lambda _c: self._run(lambda: self.show_cohort(self.picker.value)), names="value")
        filters: list[widgets.Widget] = [self.picker, self.track_filter]
        if self.teacher.is_admin:  # an admin sees every cohort: narrow by teacher
            self.teacher_filter = widgets.Dropdown(
                options=[(self.t("all"), ""), *((u, u) for u in
                                                sorted(set(self.cohort_table["teacher"])))],
                description=self.t("teacher"))
            self.teacher_filter.add_class("la-teacher-filter")
            self.teacher_filter.observe(lambda c: self._run(lambda: self._filter_teacher(
                c["new"])), names="value")
            filters.insert(0, self.teacher_filter)
            recorder = widgets.Button(description=self.t("recordings"))
            recorder.add_class("la-open-recorder")
            recorder.on_click(lambda _b: self.show_recorder())
            filters.append(recorder)
        self.body = widgets.VBox()
        rate = widgets.Button(description=self.t("rate"))
        rate.add_class("la-open-rating")
        rate.on_click(lambda _b: self.show_rating())
        self.root.children = (widgets.HTML(f"<h1>{html.escape(self.teacher.username)}</h1>"),
                              self._toolbar(), widgets.HBox([*filters, rate]), self.body)
        link, self.query = parse_link(self.query), ""  # a link is followed once
        if "participant" in link:
            self.show_participant(None, link["participant"])
        elif "cohort" in link:
            self.show_cohort(link["cohort"])
        elif self.picker.options:
            self.show_cohort(self.picker.value)

    def show_recorder(self) -> None:
        """The recording tool (admins): recorded instructions replace synthetic ones."""
        from lang_assess.programme.settings import Settings
        from lang_assess.ui.recording_tool import RecordingTool

        if self.teacher is None or not self.teacher.is_admin:
            return self._denied()
        tool = RecordingTool(Settings.from_env().data_dir / "recordings", self.t)
        self.body.children = (tool.root,)

    def _cohort_options(self, teacher: str) -> list[tuple[str, int]]:
        rows = self.cohort_table
        if teacher:
            rows = rows[rows["teacher"] == teacher]
        return [(f"{r.name} ({r.teacher})", int(r.id)) for r in rows.itertuples()]

    def _filter_teacher(self, teacher: str) -> None:
        before = self.picker.value
        self.picker.options = self._cohort_options(teacher)  # a new value redraws itself
        if not self.picker.options:
            self._set_body(widgets.HTML(f"<p>{self.t('nobody')}</p>"),)
        elif self.picker.value == before:
            self.show_cohort(self.picker.value)

    def _set_body(self, *children: widgets.Widget) -> None:
        """Show ``children`` below the filters; the view they replace is closed."""
        old = self.body.children
        self.body.children = children
        keep = set(map(id, children))

        def close(w: widgets.Widget) -> None:
            if id(w) in keep:
                return
            for child in getattr(w, "children", ()):
                close(child)
            w.close()

        for w in old:
            close(w)

    def _denied(self) -> None:
        """What a link to someone else's cohort or participant shows: no data at all
        (and when the refusal was the session ending: the login)."""
        if self.teacher is None or not self._session_open():
            self.teacher = None
            self.show_login(self.t("session_ended"))
            return
        self._set_body(widgets.HTML(
            f"<p class='la-denied'>{html.escape(self.t('denied'))}</p>"),)

    def show_cohort(self, cohort_id: int) -> None:
        """Counts behind buttons, the cohort table and the level distribution by week."""
        if self.teacher is None:
            return
        try:
            progress = with_status(self.service.cohort_progress(self.teacher, cohort_id))
            tests = self.service.cohort_tests(self.teacher, cohort_id)
        except AccessDenied:
            self._denied()
            return
        track = getattr(self, "track_filter", None)
        if track is not None and track.value and len(progress):
            progress = progress[progress["track"] == track.value].reset_index(drop=True)
            tests = tests[tests["participant_id"].isin(progress["participant_id"])]
        self.table = progress
        counts = flag_counts(progress) if len(progress) else dict.fromkeys(
            ("ready_to_move_up", "stalled", "missed"), 0)
        self.people = widgets.HTML()
        buttons = []
        for key, label in (("ready_to_move_up", "ready"), ("stalled", "stalled"),
                           ("missed", "missed")):
            b = widgets.Button(description=f"{self.t(label)}: {counts[key]}")
            b.add_class(f"la-count-{key}")
            self._on(b, lambda k=key: self._people_with(k))
            buttons.append(b)
        chart = plot_widget(level_distribution_figure(
            level_distribution_by_week(tests, self.service.cuts.labels),
            self._figure_labels()) if len(tests) else None)
        person = widgets.Dropdown(
            options=[(n, int(i)) for n, i in zip(progress.get("pseudonym", []),
                                                 progress.get("participant_id", []),
                                                 strict=True)],
            description=self.t("person"))
        open_person = widgets.Button(description=self.t("open"))
        open_person.add_class("la-open-person")
        self._on(open_person, lambda: self.show_participant(cohort_id, person.value))
        growth = widgets.HTML(self._growth_html(tests, progress))
        enrol = widgets.Button(description=self.t("enrol"))
        enrol.add_class("la-enrol")
        self._on(enrol, lambda: self.show_enrolment(cohort_id))
        self._set_body(widgets.HBox(buttons), self.people,
                              widgets.HTML(table_html(self.shown_table(progress))),
                              widgets.HTML(self._downloads(progress)),
                              widgets.HTML(f"<h2>{self.t('levels')}</h2>"), chart, growth,
                              widgets.HBox([person, open_person]), enrol)

    def _figure_labels(self) -> dict[str, str]:
        return {key: self.t(f"fig_{key}") for key in FIGURE_LABELS}

    def _growth_html(self, tests: pd.DataFrame, progress: pd.DataFrame) -> str:
        """Median growth a week by track, gender and age group, small groups marked."""
        if tests.empty or progress.empty:
            return ""
        import datetime as dt

        people = progress.copy()
        people["age_group"] = [age_group(y, dt.date.today()) for y in people["birth_year"]]
        parts = [f"<h2>{self.t('growth')}</h2>"]
        for by, label in (("track", "by_track"), ("gender", "by_gender"),
                          ("age_group", "by_age")):
            table = growth_by_group(tests, people, by)
            rows = "".join(
                f"<tr><td>{html.escape(str(r[by]))}</td><td>{r['median']:+.3f}</td>"
                f"<td>{int(r['n'])}{' — ' + self.t('small') if r['small'] else ''}</td></tr>"
                for _, r in table.iterrows())
            parts.append(f"<h3>{self.t(label)}</h3><table class='la-growth-{by}'>{rows}</table>")
        return "".join(parts)

    def show_participant(self, cohort_id: int | None, participant_id: int) -> None:
        """History, skills (not items), track with override, trajectory vs track median.

        ``cohort_id`` None: the participant's own cohort (a link names only the person).
        """
        if self.teacher is None:
            return
        try:
            record = self.service.participant_record(self.teacher, participant_id)
            cohort_id = record["cohort_id"]
            history = self.service.participant_history(self.teacher, participant_id)
            skills = self.service.participant_skills(self.teacher, participant_id)
            levels = self.service.skill_levels(self.teacher, participant_id)
            tests = self.service.cohort_tests(self.teacher, cohort_id)
            progress = self.service.cohort_progress(self.teacher, cohort_id)
        except AccessDenied:
            self._denied()
            return
        chart = plot_widget(trajectory_figure(
            tests, participant_id, self.service.cuts, track_median(tests, progress),
            record["track"], self._figure_labels()) if len(history) else None)
        reasons = self._why_html(progress, participant_id)
        reason = record["track_override_reason"]
        info = (f"<h2>{html.escape(record['pseudonym'])}</h2><p>{self.t('track')} "
                f"{record['track']} ({record['track_suggested']})"
                + (f" — {html.escape(reason)}" if reason else "") + f" · "
                f"{html.escape(str(record['course_level']))}</p>")
        track = widgets.Dropdown(options=[1, 2, 3], value=record["track"],
                                 description=self.t("override"))
        why = widgets.Text(description=self.t("reason"))
        save = widgets.Button(description="OK")

        def override() -> None:
            if self.teacher is not None and why.value.strip():
                self.service.override_track(self.teacher, participant_id, track.value,
                                            why.value)
                self.show_participant(cohort_id, participant_id)

        self._on(save, override)
        notes = self.service.notes(self.teacher, participant_id)
        note = widgets.Textarea(placeholder=self.t("note_hint"),
                                layout=widgets.Layout(width="40em", height="5em"))
        note.add_class("la-note-text")
        keep = widgets.Button(description=self.t("note_save"))
        keep.add_class("la-note-save")

        def add_note() -> None:
            if self.teacher is not None and note.value.strip():
                self.service.add_note(self.teacher, participant_id, note.value)
                self.show_participant(cohort_id, participant_id)

        self._on(keep, add_note)
        notes_html = "".join(
            f"<li><small>{r.created_at:%Y-%m-%d} · {html.escape(r.teacher)}</small><br>"
            f"{html.escape(r.text)}</li>" for r in notes.itertuples())
        back = widgets.Button(description="←")
        self._on(back, lambda: self.show_cohort(cohort_id))
        report = base64.b64encode(participant_report_html(
            record, history, skills, self.t, levels).encode("utf-8")).decode()
        name = html.escape(record["pseudonym"])
        link = (f"<p><a class='la-report' style='color:#0b57d0;text-decoration:underline' "
                f"download='{name}.html' "
                f"href='data:text/html;charset=utf-8;base64,{report}'>{self.t('report')}</a></p>")
        self._set_body(
            widgets.HTML(info + reasons + link), chart,
            widgets.HTML(f"<h3>{self.t('history')}</h3>"
                         + (self.history_table(history).to_html(
                             index=False, classes="la-history") if len(history) else "")),
            widgets.HTML(skill_levels_html(levels, self.t)),
            widgets.HTML(f"<h3>{self.t('skills')}</h3>"
                         + skills.to_html(index=False, classes="la-skills",
                                          float_format="{:.0%}".format)),
            widgets.HBox([track, why, save]),
            widgets.HTML(f"<h3>{self.t('notes')}</h3><ul class='la-notes'>{notes_html}</ul>"),
            note, keep, back, participant_actions(self, participant_id, record))

    def _why_html(self, progress: pd.DataFrame, participant_id: int) -> str:
        """The participant's status and the numbers behind it (as the overview's "Why")."""
        row = progress[progress["participant_id"] == participant_id]
        if row.empty:
            return ""
        shown = self.shown_table(with_status(row))
        status, why = shown[self.t("col_status")].iloc[0], shown[self.t("col_why")].iloc[0]
        return (f"<div class='la-why'><h3>{html.escape(self.t('why_title'))}</h3>"
                f"<p><strong>{html.escape(status)}</strong>: {html.escape(why)}</p></div>")

    def show_rating(self) -> None:
        """The speaking and writing answers waiting for this teacher's rating (issue 16)."""
        if self.teacher is not None:
            self.body.children = (RatingPanel(self.service, self.teacher, self.t,
                                              self.language).root,)

    def shown_table(self, progress: pd.DataFrame) -> pd.DataFrame:
        """The cohort table as on screen and in the exports: the columns a teacher reads,
        headers and status labels in the UI language."""
        if progress.empty:
            return pd.DataFrame(columns=[self.t(f"col_{c}") for c in COLUMNS])
        # the reasons are words in the UI language: built here, never stored
        shown = progress.assign(why=reasons_column(
            progress, self.service.cuts.labels, self.service.config, self.t))[COLUMNS].copy()
        shown["status"] = shown["status"].map({
            STATUS_READY: self.t("status_ready"), STATUS_ACTION: self.t("status_action"),
            STATUS_ON_TRACK: self.t("status_on_track")})
        return shown.rename(columns={c: self.t(f"col_{c}") for c in COLUMNS})

    def history_table(self, history: pd.DataFrame) -> pd.DataFrame:
        """A participant's tests as the page shows them: kind, week, items, level, ability
        and change on the 0–100 scale, beside the ability what the week's answers alone
        said (± 95 %; "—" where unknown), whether the change is reliable."""
        score = ability_scale(history["theta"])
        own = ability_scale(history["own_theta"])
        change = pd.Series(score).diff()
        return pd.DataFrame({
            self.t("h_kind"): [self.t(f"kind_{k}") for k in history["kind"]],
            self.t("h_week"): history["week"].to_numpy(),
            self.t("h_items"): history["items"].to_numpy(),
            self.t("h_level"): history["level"].to_numpy(),
            self.t("h_score"): [f"{v:.0f}" for v in score],
            self.t("h_own"): ["—" if pd.isna(s) else f"{v:.0f} ± {Z95 * s * POINTS_PER_LOGIT:.0f}"
                              for v, s in zip(own, history["own_se"], strict=True)],
            self.t("h_change"): ["—" if pd.isna(c) else f"{c:+.0f}" for c in change],
            self.t("h_reliable"): [self.t("yes") if r else self.t("no")
                                   for r in history["change_reliable"]],
        })

    def _downloads(self, progress: pd.DataFrame) -> str:
        """CSV and Excel of the table on screen, as download links (data: URLs)."""
        shown = self.shown_table(progress)
        csv = base64.b64encode(export_csv(shown)).decode()
        xlsx = base64.b64encode(export_excel(shown)).decode()
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return (f"<p>{self.t('export')}: "
                f"<a class='la-csv' download='cohort.csv' href='data:text/csv;base64,{csv}'>"
                f"CSV</a> · <a class='la-xlsx' download='cohort.xlsx' "
                f"href='data:{mime};base64,{xlsx}'>Excel</a></p>")

    def show_enrolment(self, cohort_id: int) -> None:
        """Add the new intake one by one, then enrol them all and show the codes once."""
        self.pending: list[Intake] = []
        style = {"description_width": "14em"}
        self.f_pseudonym = widgets.Text(description=self.t("pseudonym"), style=style)
        self.f_l1 = widgets.Dropdown(description=self.t("l1"), style=style,
                                     options=[(lang.endonym, c) for c, lang in LANGUAGES.items()])
        self.f_years = widgets.BoundedIntText(description=self.t("years"), min=0, max=25,
                                              style=style)
        self.f_literate = widgets.Checkbox(description=self.t("literate"), value=True)
        self.f_higher = widgets.Checkbox(description=self.t("higher"))
        self.pending_list = widgets.HTML()
        add = widgets.Button(description=self.t("add"))
        self._on(add, self._add_pending)
        save = widgets.Button(description=self.t("save"), button_style="primary")
        save.add_class("la-save")
        self._on(save, lambda: self._enrol(cohort_id))
        self._set_body(widgets.HTML(f"<h2>{self.t('enrol')}</h2>"), self.f_pseudonym,
                              self.f_l1, self.f_years, self.f_literate, self.f_higher, add,
                              self.pending_list, save)

    def _add_pending(self) -> None:
        if not self.f_pseudonym.value.strip():
            return
        self.pending.append(Intake(
            pseudonym=self.f_pseudonym.value.strip(), language=self.f_l1.value,
            years_schooling=self.f_years.value, literate_l1=self.f_literate.value,
            higher_education=self.f_higher.value))
        self.f_pseudonym.value = ""
        self.pending_list.value = "<ul>" + "".join(
            f"<li>{html.escape(i.pseudonym)}</li>" for i in self.pending) + "</ul>"

    def _enrol(self, cohort_id: int) -> None:
        if self.teacher is None or not self.pending:
            return
        enrolled = self.service.enrol(self.teacher, cohort_id, self.pending)
        rows = "".join(
            f"<tr><td>{html.escape(e.pseudonym)}</td><td class='la-new-code'>{e.code}</td>"
            f"<td class='la-picture-code'>{sheet_html(e.code)}</td>"
            f"<td>{self.t('track')} {e.track}</td></tr>" for e in enrolled)
        self.pending = []
        hide = widgets.Button(description=self.t("hide"))
        hide.add_class("la-hide-codes")
        self._on(hide, lambda: self.show_cohort(cohort_id))  # the sheet is closed on leaving
        self._set_body(
            widgets.HTML(f"<h2>{self.t('codes')}</h2><p><strong>{self.t('once')}</strong></p>"
                         f"<table class='la-code-sheet'>{rows}</table>"), hide)

    def _people_with(self, flag: str) -> None:
        names = self.table.loc[self.table[flag], "pseudonym"].tolist() if len(self.table) else []
        self.people.value = (f"<ul class='la-people-{flag}'>"
                             + "".join(f"<li>{html.escape(n)}</li>" for n in names)
                             + "</ul>") if names else f"<p>{self.t('nobody')}</p>"


def plot_widget(figure: Any | None) -> widgets.Output:
    """A plotly figure as a widget, sent as plotly's JSON mime type only: the page's
    plotly extension draws it.  (The default notebook renderer would also send the whole
    plotly.js library through the websocket with the first figure: seconds on a phone.)"""
    out = widgets.Output()
    if figure is not None:
        from IPython.display import display

        with out:
            display({"application/vnd.plotly.v1+json": json.loads(figure.to_json())}, raw=True)
    return out


def parse_link(query: str) -> dict[str, int]:
    """``cohort`` and ``participant`` ids from a page's query string; anything else, or
    a value that is not a whole number, is ignored."""
    values = parse_qs(query.lstrip("?"))
    return {k: int(v[0]) for k in ("cohort", "participant")
            if (v := values.get(k)) and v[0].isdigit()}


def make_dashboard() -> TeacherDashboard:
    """The dashboard on the configured database and bank (dashboards/teacher.ipynb)."""
    from lang_assess.programme.service import open_service
    from lang_assess.ui.page_client import client_info, page_query

    service = open_service()  # load before waiting: the pool's head start
    _warm_up()
    # a preheated kernel waits here, in the pool, until a page load takes it
    return TeacherDashboard(service, query=page_query(), client=client_info)


def _warm_up() -> None:
    """Pay plotly's and openpyxl's first-use costs while the kernel waits in the pool,
    not after the teacher's click (about a second on this machine)."""
    table = pd.DataFrame({"A1": [1]}, index=pd.Index([0], name="week"))
    level_distribution_figure(table).to_json()
    export_excel(table)
