"""The teachers' page: logging in and out, the session, the teacher's own password.

:class:`SessionScreens` is the part of :class:`~lang_assess.ui.teacher_page.TeacherDashboard`
that deals with who is logged in (issue 19): the password is read once and its field
emptied; a login counts against this page's client in the service's limits; a teacher
with a one-time password chooses their own before anything else; logging out, or a
session the service no longer accepts, closes every widget on the page.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable

import ipywidgets as widgets

from lang_assess.errors import LangAssessError
from lang_assess.programme.service import (
    AccessDenied,
    ClientInfo,
    PasswordRejected,
    RateLimited,
    Service,
    TeacherContext,
)


class SessionScreens:
    """Login, logout, password change and the guarded running of every click."""

    service: Service
    language: str
    root: widgets.VBox
    teacher: TeacherContext | None
    client: Callable[[], ClientInfo]
    # the dashboard provides t(key), show_home(), show_admin() and _denied()

    def show_login(self, message: str = "") -> None:
        """User name and password."""
        self._clear()
        self.user = widgets.Text(description=self.t("user"), style={"description_width": "8em"})
        self.password = widgets.Password(description=self.t("password"),
                                         style={"description_width": "8em"})
        button = widgets.Button(description=self.t("login"), button_style="primary")
        self._on(button, self.login)
        self.language_switch = widgets.ToggleButtons(
            options=[("Norsk", "nb"), ("English", "en")], value=self.language)
        self.language_switch.observe(lambda c: self._switch(c["new"]), names="value")
        self.root.children = (self.language_switch,
                              widgets.HTML(f"<h1>{self.t('title')}</h1>"), self.user,
                              self.password, button,
                              widgets.HTML(f"<p class='la-message'>{html.escape(message)}</p>"))

    def _switch(self, language: str) -> None:
        self.language = language
        self.show_login()

    def _clear(self) -> None:
        """Close every widget on the page: nothing stays in the kernel's widget state
        (a password, a table, a code) for anyone who attaches to it later."""
        def close(w: widgets.Widget) -> None:
            for child in getattr(w, "children", ()):
                close(child)
            if isinstance(w, widgets.Password | widgets.Text | widgets.Textarea):
                w.value = ""
            w.close()

        for child in self.root.children:
            close(child)
        self.root.children = ()

    def _on(self, button: widgets.Button, action: Callable[[], None]) -> None:
        """Run ``action`` on a click; a session that has ended sends the teacher back to
        the login, a refused call shows why (never a traceback)."""
        button.on_click(lambda _b: self._run(action))

    def _run(self, action: Callable[[], None]) -> None:
        try:
            action()
        except AccessDenied:
            self._denied()  # the login again when it was the session that ended
        except (LangAssessError, ValueError) as exc:
            self.status(f"{self.t('failed')} {exc}")

    def _session_open(self) -> bool:
        try:
            self.service.verify_teacher(self.teacher, password_change=True)
        except AccessDenied:
            return False
        return True

    def status(self, text: str) -> None:
        """A line under the page's toolbar (what went wrong, what was done)."""
        if hasattr(self, "status_line"):
            self.status_line.value = f"<p class='la-status'>{html.escape(text)}</p>"

    def login(self) -> None:
        """Check the password (the field is emptied first); on success show the first
        cohort, or ask for a new password first when the admin set a one-time one."""
        user, password = self.user.value, self.password.value
        self.password.value = ""
        try:
            self.teacher = self.service.login_teacher(user, password, self.client())
        except RateLimited as exc:
            self.show_login(self.t("rate_limited").format(minutes=exc.minutes))
            return
        except AccessDenied:
            self.show_login(self.t("wrong"))
            return
        if self.teacher.must_change_password:
            self.show_change_password(first=True)
        else:
            self.show_home()

    def logout(self) -> None:
        """End the session and empty the page."""
        if self.teacher is not None:
            self.service.logout_teacher(self.teacher)
        self.teacher = None
        self.show_login(self.t("logged_out"))

    def _toolbar(self) -> widgets.Widget:
        assert self.teacher is not None
        buttons = []
        for label, action, cls in (("change_password", lambda: self.show_change_password(),
                                    "la-change-password"),
                                   ("logout", self.logout, "la-logout")):
            b = widgets.Button(description=self.t(label))
            b.add_class(cls)
            self._on(b, action)
            buttons.append(b)
        if self.teacher.is_admin:
            b = widgets.Button(description=self.t("admin"))
            b.add_class("la-admin")
            self._on(b, self.show_admin)
            buttons.insert(0, b)
        self.status_line = widgets.HTML()
        return widgets.VBox([widgets.HBox(buttons), self.status_line])

    def show_change_password(self, first: bool = False) -> None:
        """The teacher's own password: current, new twice; ``first`` when a one-time
        password must be replaced before anything else."""
        if self.teacher is None:
            return
        self._clear()
        style = {"description_width": "12em"}
        old = widgets.Password(description=self.t("old_password"), style=style)
        new = widgets.Password(description=self.t("new_password"), style=style)
        again = widgets.Password(description=self.t("new_password_again"), style=style)
        for field, cls in ((old, "la-old"), (new, "la-new"), (again, "la-again")):
            field.add_class(cls)
        message = widgets.HTML()
        save = widgets.Button(description=self.t("change_password"), button_style="primary")
        save.add_class("la-save-password")

        def change() -> None:
            values = old.value, new.value, again.value
            old.value = new.value = again.value = ""
            if values[1] != values[2]:
                message.value = f"<p class='la-message'>{self.t('password_differs')}</p>"
                return
            try:
                self.service.change_own_password(self.teacher, values[0], values[1])
            except PasswordRejected:
                message.value = f"<p class='la-message'>{self.t('password_refused')}</p>"
                return
            except AccessDenied:
                if not self._session_open():
                    raise
                message.value = f"<p class='la-message'>{self.t('old_password_wrong')}</p>"
                return
            self.teacher = dataclasses.replace(self.teacher, must_change_password=False)
            self.show_home()
            self.status(self.t("password_changed"))

        self._on(save, change)
        parts: list[widgets.Widget] = [
            widgets.HTML(f"<h1>{html.escape(self.teacher.username)}</h1>"),
            widgets.HTML(f"<p>{self.t('must_change' if first else 'change_password')}</p>"
                         f"<p>{self.t('password_rules')}</p>"), old, new, again, save, message]
        if not first:
            back = widgets.Button(description=self.t("back"))
            self._on(back, self.show_home)
            parts.append(back)
        else:
            out = widgets.Button(description=self.t("logout"))
            self._on(out, self.logout)
            parts.append(out)
        self.root.children = tuple(parts)

