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
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import cache
from pathlib import Path

import ipywidgets as widgets

from lang_assess.bank.interaction_rules import parse_fragment
from lang_assess.errors import LangAssessError
from lang_assess.programme.service import (
    ClientInfo,
    ItemView,
    OptionView,
    ParticipantContext,
    Service,
)
from lang_assess.ui.item_markup import markup_html
from lang_assess.ui.messages import LANGUAGES, catalogue
from lang_assess.ui.page_parts import speaker_html, style_html
from lang_assess.ui.participant_login import ParticipantLogin
from lang_assess.ui.speech import find_clip
from lang_assess.ui.task_widgets import TaskScreen

PRACTICE = {"stem": "Trykk på sola.", "right": "sol", "options": ("hus", "sol", "bil")}


@cache
def _data_url(path: str, _version: int = 0) -> str:
    """A file as a data: URL (pictures and sounds travel inline; no file server);
    ``_version`` (a modification time) makes a changed file a new cache entry."""
    p = Path(path)
    mime = {".svg": "image/svg+xml", ".ogg": "audio/ogg", ".png": "image/png",
            ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
            ".webp": "image/webp", ".mp3": "audio/mpeg", ".wav": "audio/wav",
            ".m4a": "audio/mp4", ".mp4": "video/mp4", ".webm": "video/webm",
            ".ogv": "video/ogg"}[p.suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode()}"


class ParticipantTestApp(ParticipantLogin, TaskScreen):
    """The whole participant page; ``root`` is the widget to display."""

    def __init__(self, service: Service, media_root: Path,
                 recordings: Path | None = None,
                 client: Callable[[], ClientInfo] = ClientInfo) -> None:
        self.service = service
        self.media_root = Path(media_root)
        self.recordings = recordings
        self.client = client  # who loaded this page (lang_assess.ui.page_client)
        self.language = "nb"
        self.who: ParticipantContext | None = None
        self.view: ItemView | None = None
        self.choice: list[str] = []
        self.tapped: list[str] = []
        self.style = widgets.HTML(style_html())  # one widget: fonts travel once
        self.root = widgets.VBox()
        self.root.add_class("la-app")
        self.show_languages()

    # ---- helpers -------------------------------------------------------------------
    def t(self, key: str, **values: object) -> str:
        """A participant message in the chosen language."""
        return catalogue(self.language).text(key, **values)

    def _html(self, text: str, cls: str = "", lang: str | None = None) -> widgets.HTML:
        return widgets.HTML(self._div(text, cls, lang))

    def _div(self, text: str, cls: str = "", lang: str | None = None) -> str:
        lang = lang or self.language
        direction = LANGUAGES[lang].direction if lang in LANGUAGES else "ltr"
        return f'<div class="{cls}" lang="{lang}" dir="{direction}">{html.escape(text)}</div>'

    def _clip(self, key: str, lang: str | None = None) -> str:
        """A spoken message as a data: URL (a recording if staff made one)."""
        clip = find_clip(lang or self.language, key, self.recordings)
        if clip is None:
            raise LookupError(f"no audio for {key!r} in {lang or self.language!r}: run "
                              "`make message-audio`")
        url = _data_url(str(clip.path), clip.path.stat().st_mtime_ns)  # re-recorded: new
        return url.replace("data:video/webm", "data:audio/webm", 1)

    def _say(self, keys: list[str], *, autoplay: bool = True, cls: str = "",
             lang: str | None = None, then: str = "") -> str:
        """A speaker for messages ``keys`` (played in order) in the participant's
        language; the first speaker of a screen starts by itself."""
        lang = lang or self.language
        return speaker_html([self._clip(k, lang) for k in keys],
                            catalogue(lang).text("item.listen"), lang=lang, keys=keys,
                            autoplay=autoplay, cls=cls, then=then)

    def _spoken(self, keys: list[str], texts: list[str], *, cls: str = "",
                autoplay: bool = True, then: str = "", spk_cls: str = "") -> widgets.HTML:
        """The speaker and, beside it, the same messages in writing."""
        body = "".join(self._div(t, cls) for t in texts)
        speaker = self._say(keys, autoplay=autoplay, cls=spk_cls, then=then)
        return widgets.HTML(f'<div class="la-said">{speaker}<div>{body}</div></div>')

    def _message(self, key: str, **values: object) -> str:
        """An error or hint: written and spoken at once."""
        return (f'<div class="la-message-box">{self._say([key])}'
                f'{self._div(self.t(key, **values), "la-message")}</div>')

    def _button(self, label: str, on_click: Callable[[], None], *, primary: bool = False,
                name: str = "") -> widgets.Button:
        b = widgets.Button(description=label, tooltip=name or label,
                           layout=widgets.Layout(width="100%"))
        b.button_style = "primary" if primary else ""
        b.on_click(lambda _b: on_click())
        return b

    def _picture(self, name: str, on_click: Callable[[], None], cls: str) -> widgets.Button:
        """A button that is a picture (its accessible name is the picture's name)."""
        b = widgets.Button(description="", tooltip=name, layout=widgets.Layout(width="100%"))
        b.add_class("la-pic")
        b.add_class(cls)
        b.on_click(lambda _b: on_click())
        return b

    def _show(self, *children: widgets.Widget) -> None:
        rtl = LANGUAGES[self.language].direction == "rtl"
        if rtl:
            self.root.add_class("la-rtl")
        else:
            self.root.remove_class("la-rtl")
        self.root.children = (self.style, *children)

    def _media(self, rel: str) -> str:
        return _data_url(str(self.media_root / rel))

    def _markup(self, fragment: str | None, cls: str, slots: tuple[str, ...] = ()
                ) -> widgets.HTML:
        """Item markup (bokmål content): pictures and sounds inline, ``___`` as slots."""
        body = markup_html(fragment, self._media, slots)
        return widgets.HTML(f'<div class="{cls}" lang="nb" dir="ltr">{body}</div>')

    # ---- screens (language, login, privacy notice: ParticipantLogin) ----------------
    def show_intro(self) -> None:
        """Instructions in the participant's language, spoken, then a practice question
        answered by tapping a picture."""
        kind = self.view.kind if self.view else "placement"
        keys = [f"intro.{kind}", "intro.no_time_limit", "intro.dont_know", "practice.title",
                "practice.note", "practice.task"]
        options = [self._picture(w, lambda w=w: self.practice(w), f"la-pic-{w}")
                   for w in PRACTICE["options"]]
        for b in options:
            b.add_class("la-big")
        self._show(self._spoken(keys[:3], [self.t(k) for k in keys[:3]],
                                then=".la-practice-task audio"),
                   self._html(self.t("practice.title"), "la-stem"),
                   self._html(self.t("practice.note")),
                   self._spoken(keys[5:], [self.t("practice.task")], autoplay=False,
                                spk_cls="la-practice-task"),
                   self._html(PRACTICE["stem"], "la-nb la-stem", lang="nb"),
                   widgets.GridBox(options, layout=widgets.Layout(
                       grid_template_columns="repeat(3, 1fr)", grid_gap="12px")))

    def practice(self, word: str) -> None:
        """The practice answer counts for nothing; then the real test starts."""
        self._show(self._spoken(["practice.done"], [self.t("practice.done")], cls="la-stem"),
                   self._button(self.t("item.next"), self.show_item, primary=True))

    def show_item(self, note: str = "") -> None:
        """The item on screen: instruction, stem, passage, picture, sounds, options."""
        v = self.view
        if v is None:
            return
        self.choice = []
        parts: list[widgets.Widget] = []
        bar = min(100, 4 * v.position)  # grows with each item; promises no length
        label = html.escape(self.t("item.progress", n=v.position))
        parts.append(widgets.HTML(
            f'<div class="la-progress" data-position="{v.position}"><div>{label}</div>'
            f'<div class="la-bar" aria-hidden="true"><div style="width:{bar}%"></div></div>'
            f"</div>"))
        key = ("instruction.listening" if v.skill == "listening" else f"instruction.{v.skill}"
               if v.type == "rated" else f"instruction.{v.type}")
        keys = [note, key] if note else [key]
        sounds = [rel for rel in (v.transcript_audio, v.stem_audio) if rel]
        # the instruction (their language) speaks first, then the item's own sound
        parts.append(self._spoken(keys, [self.t(k) for k in keys],
                                  then=".la-item-sound audio" if sounds else ""))
        if sounds:
            parts.append(widgets.HTML(speaker_html(
                [self._media(rel) for rel in sounds], self.t("item.play_again"),
                lang=self.language, cls="la-item-sound")))
        if v.image:
            parts.append(widgets.HTML(f'<img src="{self._media(v.image)}" '
                                      f'alt="{html.escape(v.image_alt or "")}" width="200">'))
        if v.passage:
            parts.append(self._markup(_paragraphs(v.passage), "la-nb la-passage"))
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
        elif v.type == "rated":  # speaking or writing (issue 16)
            parts.append(self._task(v))
        else:
            self.option_buttons = [self._option(o) for o in v.options]
            pictures = [o for o in v.options if o.image]
            if pictures:  # each option's picture, drawn by CSS on its button
                parts.append(widgets.HTML("<style>" + "".join(
                    f".la-opt-{_css_id(o.id)} {{ background-image: url({self._media(o.image)}); }}"
                    for o in pictures) + "</style>"))
                grid = widgets.GridBox([w for w, _ in self.option_buttons],
                                       layout=widgets.Layout(
                                           grid_template_columns="repeat(2, 1fr)",
                                           grid_gap="12px"))
                parts.append(grid)
            else:
                parts.append(widgets.VBox([w for w, _ in self.option_buttons]))
        if v.type == "ordering":
            parts += [self.order_line,
                      self._button("↺", self._reset_order, name=self.t("item.play_again"))]
        self.next_button = self._button(self.t("task.send" if v.type == "rated" else "item.next"),
                                        self.submit, primary=True)
        self.message = widgets.HTML("")
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
        if o.image:  # the picture is the button: nothing written to read, no number
            b = self._picture(o.alt or label, lambda oid=o.id: self.pick(oid),
                              f"la-opt-{_css_id(o.id)}")
            b.add_class("la-big")
        else:
            b = self._button(label, lambda oid=o.id: self.pick(oid), name=label)
            b.add_class("la-nb")
        b.add_class("la-choice")
        if o.audio:
            speaker = widgets.HTML(speaker_html([self._media(o.audio)], self.t("item.listen"),
                                                lang=self.language, cls="la-option-sound"))
            return widgets.VBox([speaker, b]), b
        return b, b

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
        answer = "" if v.type == "rated" else self._answer()
        complete = len(self.choice) == len(v.options) if v.type == "ordering" else \
            v.type == "rated" or bool(answer.strip())
        if not complete:
            self.message.value = self._message("item.choose_answer_first")
            return
        self.next_button.disabled = True
        try:
            self.view = (self._send_task(v) if v.type == "rated" else
                         self.service.answer(self.who, v.session_id, v.item_id, answer))
        except ValueError:  # a task with nothing recorded or written yet
            self.message.value = self._message("item.choose_answer_first")
            self.next_button.disabled = False
            return
        except LangAssessError:
            self.message.value = self._message("error.saving")
            self.next_button.disabled = False
            return
        self._next_screen(v.session_id)

    def _next_screen(self, session_id: int) -> None:
        if self.view is None:
            self.show_end(session_id)
        else:
            self.show_item()

    def show_end(self, session_id: int) -> None:
        """Thanks and encouragement (the level only where the programme shows it)."""
        result = self.service.result(self.who, session_id) if self.who else {}
        keys = ["end.title", "end.encouragement"]
        texts = [self.t("end.encouragement")]
        if "level" in result:
            keys.append(f"end.level.{result['level']}")
            texts.append(self.t("end.level", level=result["level"]))
        self._show(widgets.HTML(f"<h1 class='la-end'>{html.escape(self.t('end.title'))}</h1>"),
                   self._spoken(keys, texts))


def _css_id(option_id: str) -> str:
    """An option id as a CSS class name part."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", option_id)


def _paragraphs(fragment: str) -> str:
    """A passage whose paragraphs flow: a blank line starts a paragraph, a single line
    break inside one is a space (the item files wrap their lines for the editor, not for
    the phone).  Markup passages already say where paragraphs are."""
    if "<" in fragment:
        return fragment
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", fragment.strip())]
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paras if p)


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
    from lang_assess.programme.settings import Settings
    from lang_assess.ui.page_client import client_info

    service = open_service()
    return ParticipantTestApp(service, service.bank.root,
                              Settings.from_env().data_dir / "recordings", client=client_info)
