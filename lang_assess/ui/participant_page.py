"""The participant's test: an ipywidgets application served by Voila
(dashboards/participant.ipynb).

Screens: language → access code → the privacy notice (first login only) → instructions
and a practice question → the adaptive test, one item at a time → end. The code is read
once and never kept: the field is emptied and closed at login, and the login counts
against this page's client (address, device, page) in the service's limits. Everything
the page holds is what is shown: item text, pictures and sounds (inline), option labels.
Keys, parameters and other participants' data stay in the kernel, behind
:class:`~lang_assess.programme.service.Service`; every answer is committed by the
service before the next item appears, so a reload, a killed kernel or a restarted server
brings the participant back to the same item after the code.
"""

from __future__ import annotations

import base64
import html
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import cache
from pathlib import Path

import ipywidgets as widgets

from lang_assess.bank.interaction_rules import parse_fragment
from lang_assess.errors import LangAssessError
from lang_assess.programme.service import (
    AccessDenied,
    ClientInfo,
    ItemView,
    OptionView,
    ParticipantContext,
    RateLimited,
    Service,
)
from lang_assess.ui.item_markup import markup_html
from lang_assess.ui.messages import LANGUAGES, catalogue, privacy_audio

STYLE = """
<style>
.la-app { max-width: 760px; margin: 0 auto; padding: 8px; box-sizing: border-box;
          font-size: 20px; color: #1a1a1a; background: #ffffff; }
.la-app * { box-sizing: border-box; }
.la-rtl { direction: rtl; }
.la-app .widget-button, .la-app button { min-height: 56px; font-size: 20px;
          white-space: normal; height: auto; }
.la-app .widget-text input { font-size: 28px; min-height: 56px; letter-spacing: 0.12em;
          text-transform: uppercase; }
.la-app :focus-visible { outline: 4px solid #0b57d0 !important; outline-offset: 2px; }
.la-nb { direction: ltr; unicode-bidi: isolate; text-align: left; }
.la-stem { font-size: 24px; font-weight: 600; margin: 8px 0; }
.la-passage { border-left: 4px solid #555; padding: 8px 12px; white-space: pre-line;
          background: #f4f4f4; }
.la-bar { height: 12px; background: #e3e3e3; border-radius: 6px; overflow: hidden; }
.la-bar > div { height: 100%; background: #0b57d0; }
.la-choice.mod-info, .la-choice.mod-info:focus { background: #0b57d0; color: #ffffff; }
.la-app img { max-width: 100%; height: auto; }
.la-message { color: #8a1c1c; font-weight: 600; min-height: 1.5em; }
.la-gap { letter-spacing: 0.1em; }
.la-slot { border: 2px solid #0b57d0; border-radius: 4px; padding: 0 6px; font-weight: 700; }
.la-body figure { margin: 8px 0; }
.la-app .widget-dropdown select { font-size: 20px; min-height: 48px; }
.la-app .la-typed input { text-transform: none; letter-spacing: normal; }
</style>
"""

PRACTICE = {"stem": "Trykk på sola.", "right": "sol", "options": ("hus", "sol", "bil")}


@cache
def _data_url(path: str) -> str:
    """A file as a data: URL (pictures and sounds travel inline; no file server)."""
    p = Path(path)
    mime = {".svg": "image/svg+xml", ".ogg": "audio/ogg", ".png": "image/png",
            ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
            ".webp": "image/webp", ".mp3": "audio/mpeg", ".wav": "audio/wav",
            ".m4a": "audio/mp4", ".mp4": "video/mp4", ".webm": "video/webm",
            ".ogv": "video/ogg"}[p.suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode()}"


class ParticipantTestApp:
    """The whole participant page; ``root`` is the widget to display."""

    def __init__(self, service: Service, media_root: Path,
                 client: Callable[[], ClientInfo] = ClientInfo) -> None:
        self.service = service
        self.media_root = Path(media_root)
        self.client = client  # who loaded this page (lang_assess.ui.page_client)
        self.language = "nb"
        self.who: ParticipantContext | None = None
        self.view: ItemView | None = None
        self.choice: list[str] = []
        self.root = widgets.VBox()
        self.root.add_class("la-app")
        self.show_languages()

    # ---- helpers -------------------------------------------------------------------
    def t(self, key: str, **values: object) -> str:
        """A participant message in the chosen language."""
        return catalogue(self.language).text(key, **values)

    def _html(self, text: str, cls: str = "", lang: str | None = None) -> widgets.HTML:
        lang = lang or self.language
        direction = LANGUAGES[lang].direction if lang in LANGUAGES else "ltr"
        body = f'<div class="{cls}" lang="{lang}" dir="{direction}">{html.escape(text)}</div>'
        return widgets.HTML(body)

    def _button(self, label: str, on_click: Callable[[], None], *, primary: bool = False,
                name: str = "") -> widgets.Button:
        b = widgets.Button(description=label, tooltip=name or label,
                           layout=widgets.Layout(width="100%"))
        b.button_style = "primary" if primary else ""
        b.on_click(lambda _b: on_click())
        return b

    def _show(self, *children: widgets.Widget) -> None:
        rtl = LANGUAGES[self.language].direction == "rtl"
        if rtl:
            self.root.add_class("la-rtl")
        else:
            self.root.remove_class("la-rtl")
        self.root.children = (widgets.HTML(STYLE), *children)

    def _media(self, rel: str) -> str:
        return _data_url(str(self.media_root / rel))

    def _markup(self, fragment: str | None, cls: str, slots: tuple[str, ...] = ()
                ) -> widgets.HTML:
        """Item markup (bokmål content): pictures and sounds inline, ``___`` as slots."""
        body = markup_html(fragment, self._media, slots)
        return widgets.HTML(f'<div class="{cls}" lang="nb" dir="ltr">{body}</div>')

    # ---- screens ---------------------------------------------------------------------
    def show_languages(self) -> None:
        """Language choice: each language named in itself."""
        buttons = []
        for code, lang in LANGUAGES.items():
            b = self._button(lang.endonym, lambda c=code: self.choose_language(c))
            b.add_class(f"la-lang-{code}")
            buttons.append(b)
        title = " · ".join(catalogue(c).text("language.choose") for c in ("nb", "en", "ar"))
        self._show(widgets.HTML(f"<h1 lang='mul'>{html.escape(title)}</h1>"), *buttons)

    def choose_language(self, code: str) -> None:
        """Switch the page to ``code`` and ask for the access code."""
        self.language = code
        self.show_login()

    def show_login(self, message: str = "") -> None:
        """The access-code screen."""
        # the description is rendered as a <label for=...>: the input's accessible name
        self.code_box = widgets.Text(placeholder="ABCD-EFGHJ",
                                     description=self.t("login.code_label"),
                                     style={"description_width": "initial"},
                                     continuous_update=False,
                                     layout=widgets.Layout(width="100%"))
        self.code_box.add_class("la-code")
        # the value arrives on Enter (or when focus leaves): Enter logs in
        self.code_box.observe(lambda _change: self.login(), names="value")
        self.message = self._html(message, "la-message")
        self._show(widgets.HTML(f"<h1>{html.escape(self.t('login.title'))}</h1>"),
                   self._html(self.t("login.code_help")), self.code_box,
                   self._button(self.t("login.start"), self.login, primary=True),
                   self.message)

    def login(self) -> None:
        """Check the code; rate limiting gives a friendly wait message.  The code leaves
        the page's widgets before the check: emptied and closed, right or wrong."""
        code = self.code_box.value
        if self.who is not None or not code.strip():
            return  # already in (Enter and Start both fired), or nothing typed yet
        self.code_box.value = ""
        self.code_box.close()
        try:
            self.who = self.service.login_participant(code, self.client())
        except RateLimited as exc:  # a wait of hours is a matter for the teacher
            self.show_login(self.t("login.rate_limited", minutes=exc.minutes)
                            if exc.minutes <= 60 else self.t("login.paused"))
            return
        except AccessDenied:
            self.show_login(self.t("login.wrong_code"))
            return
        if self.service.privacy_notice_due(self.who):
            self.show_privacy()
        else:
            self.start()

    def show_privacy(self) -> None:
        """The privacy notice in the participant's language, once, at the first login
        (with its recording when there is one: :func:`~lang_assess.ui.messages.privacy_audio`)."""
        if self.who is None:
            return
        months = max(1, round(self.service.config.retention_days / 30.44))
        text = self.t("privacy.text", months=months,
                      organisation=self.service.organisation_name(self.who))
        parts: list[widgets.Widget] = [
            widgets.HTML(f"<h1 class='la-privacy'>{html.escape(self.t('privacy.title'))}</h1>")]
        audio = privacy_audio(self.language)
        if audio is not None:
            parts.append(widgets.HTML(
                f'<audio controls src="{_data_url(str(audio))}" '
                f'aria-label="{html.escape(self.t("privacy.listen"))}"></audio>'))
        parts += [self._html(text, "la-privacy-text"),
                  self._button(self.t("privacy.ok"), self.accept_privacy, primary=True)]
        self._show(*parts)

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
            self._show(self._html(self.t("error.no_test")))
        elif view.position > 1:
            self.view = view
            self.show_item(note=self.t("resume.welcome_back"))
        else:
            self.view = view
            self.show_intro()

    def show_intro(self) -> None:
        """Instructions in the participant's language, then a practice question."""
        kind = self.view.kind if self.view else "placement"
        texts = [self.t(f"intro.{kind}"), self.t("intro.no_time_limit"),
                 self.t("intro.dont_know")]
        options = []
        for word in PRACTICE["options"]:
            img = self._media(f"media/img/{word}.svg")
            pic = widgets.HTML(f'<img src="{img}" alt="{word}" width="120" height="120">')
            b = self._button(str(len(options) + 1), lambda w=word: self.practice(w), name=word)
            options.append(widgets.VBox([pic, b], layout=widgets.Layout(width="30%")))
        self._show(*(self._html(t) for t in texts),
                   self._html(self.t("practice.title"), "la-stem"),
                   self._html(self.t("practice.note")),
                   self._html(PRACTICE["stem"], "la-nb la-stem", lang="nb"),
                   widgets.HBox(options, layout=widgets.Layout(justify_content="space-around")))

    def practice(self, word: str) -> None:
        """The practice answer counts for nothing; then the real test starts."""
        self._show(self._html(self.t("practice.done"), "la-stem"),
                   self._button(self.t("item.next"), self.show_item, primary=True))

    def show_item(self, note: str = "") -> None:
        """The item on screen: instruction, stem, passage, picture, sounds, options."""
        v = self.view
        if v is None:
            return
        self.choice = []
        parts: list[widgets.Widget] = []
        if note:
            parts.append(self._html(note))
        bar = min(100, 4 * v.position)  # grows with each item; promises no length
        label = html.escape(self.t("item.progress", n=v.position))
        parts.append(widgets.HTML(
            f'<div class="la-progress" data-position="{v.position}"><div>{label}</div>'
            f'<div class="la-bar" aria-hidden="true"><div style="width:{bar}%"></div></div>'
            f"</div>"))
        key = "instruction.listening" if v.skill == "listening" else f"instruction.{v.type}"
        parts.append(self._html(self.t(key)))
        for rel, label in ((v.transcript_audio, "item.listen"), (v.stem_audio, "item.listen")):
            if rel:
                parts.append(widgets.HTML(
                    f'<audio controls preload="auto" src="{self._media(rel)}" '
                    f'aria-label="{html.escape(self.t(label))}"></audio>'))
        if v.image:
            parts.append(widgets.HTML(f'<img src="{self._media(v.image)}" '
                                      f'alt="{html.escape(v.image_alt or "")}" width="200">'))
        if v.passage:
            parts.append(self._markup(v.passage, "la-nb la-passage"))
        if v.body:
            parts.append(self._markup(v.body, "la-nb la-body"))
        if v.stem:
            parts.append(self._markup(v.stem, "la-nb la-stem"))
        if v.text:
            labels = (tuple(f'<span class="la-slot">{html.escape(o.id)}</span> '
                            f"{markup_html(o.text, self._media)}" for o in v.options)
                      if v.type == "hottext" else tuple(
                          f'<span class="la-slot">{n}</span>'
                          for n in range(1, v.text.count("___") + 1)))
            parts.append(self._markup(v.text, "la-nb la-text", labels))
        self.option_buttons = []
        self.order_line = self._html("", "la-nb", lang="nb")
        self.pairs: list[widgets.Dropdown] = []
        self.typed = widgets.Text(layout=widgets.Layout(width="100%"))
        if v.type == "text_entry":
            self.typed.add_class("la-typed")
            parts.append(self.typed)
        elif v.type in ("match", "gap_match", "associate"):
            parts.append(self._pairing(v))
        else:
            self.option_buttons = [self._option(o) for o in v.options]
            parts.append(widgets.VBox([w for w, _ in self.option_buttons]))
        if v.type == "ordering":
            parts += [self.order_line,
                      self._button("↺", self._reset_order, name=self.t("item.play_again"))]
        self.next_button = self._button(self.t("item.next"), self.submit, primary=True)
        self.message = self._html("", "la-message")
        parts += [self.next_button, self.message]
        self._show(*parts)

    def _pairing(self, v: ItemView) -> widgets.Widget:
        """One drop-down per part: a target (match), a word (each gap of gap_match), a
        partner (associate); the answer is the pairs chosen."""
        def label(o: OptionView) -> str:
            return _plain(o.text) if o.text else (o.alt or o.id)

        if v.type == "gap_match":
            rows = [(str(n), str(n)) for n in range(1, (v.text or "").count("___") + 1)]
            choices = [(label(o), o.id) for o in v.options]
        else:
            rows = [(label(o), o.id) for o in v.options]
            second = v.targets if v.type == "match" else v.options
            choices = [(label(o), o.id) for o in second]
        boxes = []
        for text, row in rows:
            own = [c for c in choices if v.type != "associate" or c[1] != row]
            box = widgets.Dropdown(options=[("…", ""), *own], value="", description=text,
                                   style={"description_width": "initial"},
                                   layout=widgets.Layout(width="100%"))
            box.add_class("la-pair")
            box.row = row  # type: ignore[attr-defined]
            boxes.append(box)
        self.pairs = boxes
        return widgets.VBox(boxes)

    def _answer(self) -> str:
        """The answer string the service scores (lang_assess.bank.scoring)."""
        v = self.view
        assert v is not None
        if v.type == "text_entry":
            return self.typed.value
        if v.type in ("match", "associate"):
            return ",".join(f"{b.row} {b.value}" for b in self.pairs if b.value)
        if v.type == "gap_match":
            return ",".join(f"{b.value} {b.row}" for b in self.pairs if b.value)
        if v.type in ("multiple_response", "hottext"):
            return ",".join(self.choice)
        return "".join(self.choice)

    def _option(self, o: OptionView) -> tuple[widgets.Widget, widgets.Button]:
        label = _plain(o.text) if o.text is not None else o.id
        b = self._button(label, lambda oid=o.id: self.pick(oid), name=(o.image and o.alt) or label)
        b.add_class("la-choice")
        b.add_class("la-nb")
        extras: list[widgets.Widget] = []
        if o.image:
            extras.append(widgets.HTML(f'<img src="{self._media(o.image)}" '
                                       f'alt="{html.escape(o.alt or "")}" width="140">'))
        if o.audio:
            extras.append(widgets.HTML(f'<audio controls src="{self._media(o.audio)}" '
                                       f'aria-label="{html.escape(self.t("item.listen"))} '
                                       f'{o.id}"></audio>'))
        return (widgets.VBox([*extras, b]) if extras else b), b

    def pick(self, option_id: str) -> None:
        """Choose an option (ordering: add the next part)."""
        v = self.view
        if v is None:
            return
        if v.type == "ordering":
            if option_id not in self.choice:
                self.choice.append(option_id)
            texts = {o.id: _plain(o.text) if o.text else o.id for o in v.options}
            self.order_line.value = (
                f'<div class="la-nb" lang="nb" dir="ltr">'
                f'{html.escape(" → ".join(texts[c] for c in self.choice))}</div>')
        elif v.type in ("multiple_response", "hottext"):
            if option_id in self.choice:
                self.choice.remove(option_id)
            elif not v.max_choices or len(self.choice) < v.max_choices:
                self.choice.append(option_id)
            elif v.max_choices == 1:
                self.choice = [option_id]
        else:
            self.choice = [option_id]
        for (_, b), o in zip(self.option_buttons, v.options, strict=True):
            b.button_style = "info" if o.id in self.choice else ""

    def _reset_order(self) -> None:
        self.choice = []
        self.order_line.value = ""
        for _, b in self.option_buttons:
            b.button_style = ""

    def submit(self) -> None:
        """Send the answer; the service stores it before returning the next item."""
        v = self.view
        if v is None or self.who is None:
            return
        answer = self._answer()
        complete = len(self.choice) == len(v.options) if v.type == "ordering" else \
            bool(answer.strip())
        if not complete:
            self.message.value = self._html(self.t("item.choose_answer_first"),
                                            "la-message").value
            return
        self.next_button.disabled = True
        try:
            self.view = self.service.answer(self.who, v.session_id, v.item_id, answer)
        except LangAssessError:
            self.message.value = self._html(self.t("error.saving"), "la-message").value
            self.next_button.disabled = False
            return
        if self.view is None:
            self.show_end(v.session_id)
        else:
            self.show_item()

    def show_end(self, session_id: int) -> None:
        """Thanks and encouragement (the level only where the programme shows it)."""
        parts = [widgets.HTML(f"<h1 class='la-end'>{html.escape(self.t('end.title'))}</h1>"),
                 self._html(self.t("end.encouragement"))]
        result = self.service.result(self.who, session_id) if self.who else {}
        if "level" in result:
            parts.append(self._html(self.t("end.level", level=result["level"]), "la-stem"))
        self._show(*parts)


def _plain(fragment: str | None) -> str:
    """The text of a markup fragment (button and drop-down labels are plain text)."""
    if not fragment or ("<" not in fragment and "&" not in fragment):
        return fragment or ""
    return " ".join(ET.tostring(parse_fragment(fragment), encoding="unicode",
                                method="text").split())


def make_app() -> ParticipantTestApp:
    """The app on the configured database and bank (what dashboards/participant.ipynb
    shows)."""
    from lang_assess.programme.service import open_service
    from lang_assess.ui.page_client import client_info

    service = open_service()
    return ParticipantTestApp(service, service.bank.root, client=client_info)
