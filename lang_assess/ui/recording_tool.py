"""The recording tool of the teachers' app: an admin (or an interpreter at their side)
picks a language, sees each participant message that has no recording yet, reads it into
the browser's microphone, listens, and saves.  A saved recording replaces the synthetic
clip on the participant page at once (:func:`lang_assess.ui.speech.find_clip`).

Recording runs in the browser (``MediaRecorder``, Opus in WebM or Ogg, whichever the
browser makes); the button's inline handler hands the result to a hidden text widget as a
``data:`` URL, which is how it reaches the kernel (widget HTML runs no ``<script>``).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets

from lang_assess.ui.messages import LANGUAGES
from lang_assess.ui.speech import audio_report, find_clip, spoken_keys, spoken_text

MAX_BYTES = 2_000_000  # a spoken sentence is tens of kB; anything larger is a mistake
KINDS = {"audio/webm": ".webm", "audio/ogg": ".ogg"}
DATA_URL = re.compile(r"^data:(audio/(?:webm|ogg))(?:;[^,]*)?;base64,([A-Za-z0-9+/=]+)$")

_RECORD = (
    "var st=this.parentNode.querySelector('.la-rec-state');"
    "if(window.laRec&&window.laRec.state==='recording'){window.laRec.stop();return;}"
    "navigator.mediaDevices.getUserMedia({audio:true}).then(function(s){"
    "var r=new MediaRecorder(s),parts=[];window.laRec=r;st.dataset.state='recording';"
    "st.textContent='\u25cf';"
    "r.ondataavailable=function(e){parts.push(e.data)};"
    "r.onstop=function(){s.getTracks().forEach(function(t){t.stop()});"
    "st.dataset.state='stopped';st.textContent='';"
    "var b=new Blob(parts,{type:r.mimeType.split(';')[0]}),f=new FileReader();"
    "f.onload=function(){var box=document.querySelector('.la-rec-data textarea');"
    "box.value=f.result;box.dispatchEvent(new Event('input',{bubbles:true}))};"
    "f.readAsDataURL(b)};r.start()})"
    ".catch(function(e){st.dataset.state='error';st.textContent=String(e)})")
INLINE_HANDLERS = (_RECORD,)  # admitted by the pages' CSP (lang_assess.ui.guard)


def save_recording(recordings: Path, code: str, key: str, data_url: str) -> Path:
    """Store a recording sent as a ``data:audio/webm|ogg;base64,…`` URL as
    ``recordings/<code>/<key>.webm|.ogg`` (replacing an earlier one); returns the file.
    Raises ValueError, naming what is wrong, for anything else."""
    if code not in LANGUAGES:
        raise ValueError(f"no participant language {code!r}")
    if key not in spoken_keys():
        raise ValueError(f"no participant message {key!r}")
    match = DATA_URL.match(data_url.strip())
    if match is None:
        raise ValueError("the recording is not Opus audio (WebM or Ogg) as a data: URL")
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the recording is not valid base64: {exc}") from None
    magic = {"audio/webm": b"\x1aE\xdf\xa3", "audio/ogg": b"OggS"}[match.group(1)]
    if not data.startswith(magic) or not 1000 <= len(data) <= MAX_BYTES:
        raise ValueError(f"the recording is not a {match.group(1)} file of 1 kB to 2 MB "
                         f"({len(data)} bytes)")
    folder = recordings / code
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{key}.*"):
        old.unlink()
    out = folder / f"{key}{KINDS[match.group(1)]}"
    out.write_bytes(data)
    return out


class RecordingTool:
    """The widget: language, message, record, listen, save; ``root`` is the widget."""

    def __init__(self, recordings: Path, t: Callable[[str], str]) -> None:
        self.recordings = Path(recordings)
        self.t = t
        self.language = widgets.Dropdown(
            options=[(lang.endonym, code) for code, lang in LANGUAGES.items()],
            description=t("rec_language"))
        self.language.add_class("la-rec-language")
        self.key = widgets.Dropdown(description=t("rec_missing"),
                                    style={"description_width": "initial"},
                                    layout=widgets.Layout(width="100%"))
        self.key.add_class("la-rec-key")
        self.counts, self.words, self.preview, self.message = (
            widgets.HTML(), widgets.HTML(), widgets.HTML(), widgets.HTML())
        self.data = widgets.Textarea(layout=widgets.Layout(display="none"))
        self.data.add_class("la-rec-data")
        self.data.observe(lambda _c: self._recorded(), names="value")
        record = widgets.HTML(
            f'<div class="la-rec"><button type="button" class="la-rec-button" '
            f'onclick="{html.escape(_RECORD)}">{html.escape(t("rec_record"))}</button> '
            f'<span class="la-rec-state" data-state="idle"></span></div>')
        save = widgets.Button(description=t("rec_save"), button_style="primary")
        save.add_class("la-rec-save")
        save.on_click(lambda _b: self.save())
        self.language.observe(lambda _c: self._refresh(), names="value")
        self.key.observe(lambda _c: self._show_words(), names="value")
        self.root = widgets.VBox([widgets.HTML(f"<h2>{html.escape(t('recordings'))}</h2>"),
                                  self.language, self.counts, self.key, self.words, record,
                                  self.data, self.preview, save, self.message])
        self.root.add_class("la-recorder")
        self._refresh()

    def _refresh(self) -> None:
        code = self.language.value
        n = audio_report(self.recordings)[code]
        self.counts.value = (f"<p class='la-rec-counts'>{html.escape(self.t('rec_counts'))}: "
                             f"{n['recorded']} / {n['synthetic']} / {n['none']}</p>")
        missing = [k for k in spoken_keys()
                   if (c := find_clip(code, k, self.recordings)) is None or c.kind != "recorded"]
        self.key.options = [(f"{k}: {spoken_text(code, k)[:60]}", k) for k in missing]
        self._show_words()

    def _show_words(self) -> None:
        code, key = self.language.value, self.key.value
        self.preview.value = ""
        self.data.value = ""
        if key is None:
            self.words.value = ""
            return
        lang = LANGUAGES[code]
        self.words.value = (f'<p class="la-rec-words" lang="{code}" dir="{lang.direction}" '
                            f'style="font-size: 24px">{html.escape(spoken_text(code, key))}</p>')

    def _recorded(self) -> None:
        if self.data.value:
            self.preview.value = (f'<audio controls class="la-rec-preview" '
                                  f'aria-label="{html.escape(self.t("rec_listen"))}" '
                                  f'src="{html.escape(self.data.value)}"></audio>')

    def save(self) -> None:
        """Save the recording for the chosen language and message."""
        try:
            path = save_recording(self.recordings, self.language.value, self.key.value or "",
                                  self.data.value)
        except ValueError as exc:
            self.message.value = f"<p class='la-message'>{html.escape(str(exc))}</p>"
            return
        self._refresh()  # the counts first: "saved" is shown once they are current
        self.message.value = (f"<p class='la-rec-saved' data-file='{html.escape(path.name)}'>"
                              f"{html.escape(self.t('rec_saved'))}</p>")
