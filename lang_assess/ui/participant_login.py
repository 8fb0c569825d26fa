"""The participant page's first screens: the language (named in itself, in writing and
aloud), the login, by tapping the pictures of the code (:mod:`lang_assess.ui.picture_code`)
or by typing it, and the privacy notice at the first login.  A mixin of
:class:`~lang_assess.ui.participant_page.ParticipantTestApp`, whose helpers (``_say``,
``_spoken``, ``_picture`` …) it uses.

Typed or tapped, a code goes through the same login call with this page's client
(:meth:`~lang_assess.programme.service.Service.login_participant`), so both count
against the same limits; the code leaves the page's widgets (field emptied, taps
forgotten, both closed) before it is checked, right or wrong.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from lang_assess.programme.service import AccessDenied, RateLimited
from lang_assess.programme.service.access import LOOKUP_LEN, SECRET_LEN
from lang_assess.ui.messages import LANGUAGES, catalogue
from lang_assess.ui.picture_code import PICTURES, picture_url, pictures_code
from lang_assess.ui.speech import NAME

CODE_LENGTH = LOOKUP_LEN + SECRET_LEN  # pictures of a code: the last (ninth) tap logs in
# a wait longer than this is a matter for the teacher (a new code), not for waiting
LONGEST_WAIT_MINUTES = 60


class ParticipantLogin:
    """Language choice and login screens."""

    def show_languages(self) -> None:
        """Language choice: each language named in itself, in writing and aloud (its own
        speaker: nothing has been tapped yet, so nothing may play by itself)."""
        rows = []
        for code, lang in LANGUAGES.items():
            b = self._button(lang.endonym, lambda c=code: self.choose_language(c))
            b.add_class(f"la-lang-{code}")
            b.add_class("la-lang")
            speaker = widgets.HTML(self._say([NAME], autoplay=False, lang=code))
            row = widgets.HBox([speaker, b])
            row.add_class("la-lang-row")
            rows.append(row)
        title = " · ".join(catalogue(c).text("language.choose") for c in ("nb", "en", "ar"))
        self._show(widgets.HTML(f"<h1 lang='mul'>{html.escape(title)}</h1>"), *rows)

    def choose_language(self, code: str) -> None:
        """Switch the page to ``code`` and ask for the access code."""
        self.language = code
        self.show_login()

    def show_login(self, message: str = "", **values: object) -> None:
        """The access-code screen: a pad of pictures to tap (the code on the sheet as
        pictures, :mod:`lang_assess.ui.picture_code`) and, below, the typed code."""
        self.tapped = []
        # the description is rendered as a <label for=...>: the input's accessible name
        self.code_box = widgets.Text(placeholder="ABCD-EFGHJ",
                                     description=self.t("login.code_label"),
                                     style={"description_width": "initial"},
                                     continuous_update=False,
                                     layout=widgets.Layout(width="100%"))
        self.code_box.add_class("la-code")
        # the value arrives on Enter (or when focus leaves): Enter logs in
        self.code_box.observe(lambda _change: self.login(), names="value")
        self.message = widgets.HTML(self._message(message, **values) if message else "")
        self.slots = widgets.HTML(self._slots())
        # a drawn arrow, not "⌫": a phone without that glyph would show a box
        erase = widgets.Button(description="", tooltip=self.t("login.erase"),
                               layout=widgets.Layout(width="72px"))
        erase.add_class("la-pic")
        erase.add_class("la-erase")
        erase.on_click(lambda _b: self.untap())
        self.slots_row = slots_row = widgets.HBox([self.slots, erase])
        slots_row.add_class("la-pad-row")
        pad = widgets.GridBox([self._picture(n, lambda n=n: self.tap(n), f"la-pic-{n}")
                               for n in PICTURES])
        pad.add_class("la-pad")
        # after a wrong code the message speaks first; the help stays a tap away
        parts = [widgets.HTML(f"<h1>{html.escape(self.t('login.title'))}</h1>"),
                 self._spoken(["login.title", "login.picture_help"],
                              [self.t("login.picture_help")], autoplay=not message),
                 self.message, slots_row, pad,
                 self._spoken(["login.code_help"], [self.t("login.code_help")],
                              autoplay=False),
                 self.code_box, self._button(self.t("login.start"), self.login, primary=True)]
        self._show(*parts)

    def _slots(self) -> str:
        cells = "".join(f'<span><img src="{picture_url(n)}" alt=""></span>'
                        for n in self.tapped)
        cells += "<span></span>" * (CODE_LENGTH - len(self.tapped))
        return f'<div class="la-slots" data-filled="{len(self.tapped)}">{cells}</div>'

    def tap(self, name: str) -> None:
        """One picture of the code; the last (:data:`CODE_LENGTH`) logs in."""
        if self.who is not None or len(self.tapped) >= CODE_LENGTH:
            return
        self.tapped.append(name)
        self.slots.value = self._slots()
        if len(self.tapped) == CODE_LENGTH:
            self._login(pictures_code(self.tapped))

    def untap(self) -> None:
        """Take back the last picture."""
        self.tapped = self.tapped[:-1]
        self.slots.value = self._slots()

    def login(self) -> None:
        """Log in with the typed code."""
        if self.who is not None or not self.code_box.value.strip():
            return  # already in (Enter and Start both fired), or nothing typed yet
        self._login(self.code_box.value)

    def _forget_code(self) -> None:
        """Take the code out of the page's widgets: the field emptied, the taps
        forgotten, both closed with the row holding the slots (a new screen is drawn
        whatever the answer)."""
        self.tapped = []
        self.code_box.value = ""
        self.slots.value = self._slots()
        for w in (self.code_box, self.slots_row, self.slots):
            w.close()

    def _login(self, code: str) -> None:
        """Check the code (typed or tapped) for this page's client; rate limiting gives
        a friendly wait message, or after a long pause the way to the teacher."""
        self._forget_code()
        try:
            self.who = self.service.login_participant(code, self.client())
        except RateLimited as exc:
            if exc.minutes <= LONGEST_WAIT_MINUTES:
                self.show_login("login.rate_limited", minutes=exc.minutes)
            else:
                self.show_login("login.paused")
            return
        except AccessDenied:
            self.show_login("login.wrong_code")
            return
        if self.service.privacy_notice_due(self.who):
            self.show_privacy()
        else:
            self.start()

    def show_privacy(self) -> None:
        """The privacy notice in the participant's language, written and spoken, once,
        at the first login (a recording of it replaces the synthetic voice)."""
        if self.who is None:
            return
        months = max(1, round(self.service.config.retention_days / 30.44))
        text = self.t("privacy.text", months=months,
                      organisation=self.service.organisation_name(self.who))
        self._show(
            widgets.HTML(f"<h1 class='la-privacy'>{html.escape(self.t('privacy.title'))}</h1>"),
            self._spoken(["privacy.title", "privacy.text"], [text], cls="la-privacy-text"),
            self._button(self.t("privacy.ok"), self.accept_privacy, primary=True))

    def accept_privacy(self) -> None:
        """The notice was seen: note it, then on to the test."""
        if self.who is None:
            return
        self.service.privacy_notice_seen(self.who)
        self.start()

    def start(self) -> None:
        """The test due now: the intro, the item where it stopped, or 'no test'."""
        if self.who is None:
            return
        view = self.service.start_or_resume(self.who)
        if view is None:
            self._show(self._spoken(["error.no_test"], [self.t("error.no_test")]))
        elif view.position > 1:
            self.view = view
            self.show_item(note="resume.welcome_back")
        else:
            self.view = view
            self.show_intro()
