"""What the teachers' page adds for accounts, codes and privacy (issue 19).

- :func:`show_admin` — an admin's view: the organisation's teachers (add, disable or
  enable, reset a password: one-time passwords are shown once, then closed);
- :func:`participant_actions` — on a participant's page: a new access code (teachers of
  the cohort and admins), the day they left the programme and when retention acts, and
  for admins the export of everything about them (right of access) and erasure.

Every action goes through the service, which checks the session and audits it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

if TYPE_CHECKING:
    from lang_assess.ui.teacher_page import TeacherDashboard


def _secret_box(dash: TeacherDashboard, title: str, secret: str, cls: str) -> widgets.VBox:
    """A one-time secret with a "hide" button that empties and closes it."""
    shown = widgets.HTML(f"<p>{html.escape(title)}</p><p><code class='{cls}'>"
                         f"{html.escape(secret)}</code></p>")
    hide = widgets.Button(description=dash.t("hide"))
    hide.add_class(f"{cls}-hide")
    box = widgets.VBox([shown, hide])

    def close() -> None:
        shown.value = ""
        box.children = ()
        shown.close()
        hide.close()

    dash._on(hide, close)
    return box


def show_admin(dash: TeacherDashboard) -> None:
    """The organisation's teacher accounts, with add / disable / enable / reset."""
    actor = dash.teacher
    if actor is None:
        return
    table = dash.service.teachers(actor)
    rows: list[widgets.Widget] = []
    result = widgets.VBox()
    for r in table.itertuples():
        label = html.escape(r.username) + (f" ({dash.t('is_admin')})" if r.is_admin else "")
        if r.disabled:
            label += f" — {dash.t('disabled')}"
        toggle = widgets.Button(description=dash.t("enable" if r.disabled else "disable"))
        toggle.add_class(f"la-toggle-{r.username}")
        reset = widgets.Button(description=dash.t("reset_password"),
                               layout=widgets.Layout(width="auto"))
        reset.add_class(f"la-reset-{r.username}")

        def flip(tid: int = int(r.id), now: bool = not r.disabled) -> None:
            dash.service.set_teacher_disabled(actor, tid, now)
            show_admin(dash)

        def new_password(tid: int = int(r.id), name: str = r.username) -> None:
            secret = dash.service.reset_password(actor, tid)
            result.children = (_secret_box(dash, f"{name}: {dash.t('one_time_password')}",
                                           secret, "la-one-time"),)

        dash._on(toggle, flip)
        dash._on(reset, new_password)
        controls = [reset] if r.id == actor.teacher_id else [toggle, reset]
        rows.append(widgets.HBox([widgets.HTML(f"<span class='la-account'>{label}</span>",
                                               layout=widgets.Layout(width="16em")),
                                  *controls]))
    username = widgets.Text(description=dash.t("user"))
    username.add_class("la-new-user")
    admin = widgets.Checkbox(description=dash.t("is_admin"))
    add = widgets.Button(description=dash.t("add_teacher"), button_style="primary",
                         layout=widgets.Layout(width="auto"))
    add.add_class("la-add-teacher")

    def add_teacher() -> None:
        name = username.value.strip()
        if not name:
            return
        secret = dash.service.add_teacher(actor, name, is_admin=admin.value)
        show_admin(dash)
        dash.admin_result.children = (_secret_box(
            dash, f"{name}: {dash.t('one_time_password')}", secret, "la-one-time"),)

    dash._on(add, add_teacher)
    back = widgets.Button(description=dash.t("back"))
    dash._on(back, lambda: dash.show_cohort(dash.picker.value) if dash.picker.options
             else None)
    dash.admin_result = result
    dash._set_body(widgets.HTML(f"<h2 class='la-admin-title'>{dash.t('teachers')}</h2>"),
                   *rows, widgets.HBox([username, admin, add]), result, back)


def participant_actions(dash: TeacherDashboard, participant_id: int,
                        record: dict[str, Any]) -> widgets.VBox:
    """New code, leaving date and retention, and (admins) export and erasure."""
    actor = dash.teacher
    assert actor is not None
    status = dash.service.participant_status(actor, participant_id)
    out = widgets.VBox()
    wide = {"description_width": "initial"}
    auto = widgets.Layout(width="auto")
    new_code = widgets.Button(description=dash.t("new_code"), layout=auto)
    new_code.add_class("la-new-code-button")
    why = widgets.Text(description=dash.t("reason"), style=wide)

    def reissue() -> None:
        code = dash.service.reissue_code(actor, participant_id, why.value)
        why.value = ""
        out.children = (_secret_box(dash, dash.t("new_code_shown"), code, "la-reissued"),)

    dash._on(new_code, reissue)
    left = widgets.DatePicker(description=dash.t("left"), value=status["left_on"],
                              style=wide)
    left.add_class("la-left")
    save_left = widgets.Button(description=dash.t("left_save"), layout=auto)
    save_left.add_class("la-left-save")

    def mark_left() -> None:
        dash.service.mark_left(actor, participant_id, left.value)
        dash.show_participant(record["cohort_id"], participant_id)

    dash._on(save_left, mark_left)
    due = status["retention_due"]
    parts: list[widgets.Widget] = [
        widgets.HTML(f"<h3>{dash.t('privacy')}</h3>"), widgets.HBox([new_code, why]), out,
        widgets.HBox([left, save_left]),
        widgets.HTML(f"<p class='la-retention'>{dash.t('retention_due')} {due}</p>"
                     if due else "")]
    if actor.is_admin:
        export = widgets.Button(description=dash.t("export_data"), layout=auto)
        export.add_class("la-export-data")
        link = widgets.HTML()

        def export_data() -> None:
            data = dash.service.export_participant(actor, participant_id)
            body = base64.b64encode(json.dumps(data, ensure_ascii=False, indent=1)
                                    .encode("utf-8")).decode()
            name = html.escape(record["pseudonym"])
            link.value = (f"<a class='la-export-link' download='{name}-{dt.date.today()}.json' "
                          f"href='data:application/json;base64,{body}'>{name}.json</a>")

        dash._on(export, export_data)
        confirm = widgets.Text(placeholder=dash.t("erase_confirm"),
                               layout=widgets.Layout(width="22em"))
        confirm.add_class("la-erase-confirm")
        erase = widgets.Button(description=dash.t("erase"), button_style="danger",
                               layout=auto)
        erase.add_class("la-erase")

        def erase_all() -> None:
            if confirm.value.strip() != record["pseudonym"]:
                return
            dash.service.erase_participant(actor, participant_id, "erasure request")
            dash._set_body(widgets.HTML(f"<p class='la-erased'>{dash.t('erased')}</p>"))

        dash._on(erase, erase_all)
        parts += [widgets.HBox([export, link]), widgets.HBox([confirm, erase])]
    return widgets.VBox(parts)
