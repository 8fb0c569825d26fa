"""The participant's speaking and writing tasks (issue 16): a recorder and a text box.

:class:`Recorder` is a small anywidget around the browser's MediaRecorder (no plug-in):
record, stop, listen back, record again.  When a recording stops, its bytes travel to
the kernel in one widget message; nothing is stored until the participant presses Send
and the service has checked and committed it (:meth:`Service.submit_recording`).  A
reload or a killed kernel before that loses only the unsent recording: the task is shown
again and asks for it; after it, the next task is shown — never half a recording.
Recordings stop by themselves at the programme's maximum length.

The text box (:class:`WritingBox`) takes any keyboard; æ, ø and å have their own
buttons for keyboards without them, inserting at the cursor in the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

_ESM = r"""
function render({ model, el }) {
  const L = model.get("labels");
  const make = (cls, text) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "la-rec " + cls; b.textContent = text;
    return b;
  };
  const record = make("la-rec-start", "\u25CF " + L.record);
  const stop = make("la-rec-stop", "\u25A0 " + L.stop);
  stop.hidden = true;
  const audio = document.createElement("audio");
  audio.controls = true; audio.hidden = true; audio.className = "la-rec-audio";
  audio.setAttribute("aria-label", L.listen_back);
  const status = document.createElement("div");
  status.className = "la-rec-status"; status.setAttribute("aria-live", "polite");
  el.classList.add("la-recorder");
  el.append(record, stop, audio, status);
  let rec = null, stream = null, chunks = [], started = 0, timer = null;
  record.onclick = async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      status.textContent = L.no_microphone;
      model.send({ kind: "denied" });
      return;
    }
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"]
      .find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));
    rec = new MediaRecorder(stream, type ? { mimeType: type } : {});
    chunks = [];
    rec.ondataavailable = (e) => { if (e.data && e.data.size) chunks.push(e.data); };
    rec.onstop = async () => {
      clearTimeout(timer);
      stream.getTracks().forEach((t) => t.stop());
      const blob = new Blob(chunks, { type: rec.mimeType });
      audio.src = URL.createObjectURL(blob);
      audio.hidden = false;
      record.textContent = "\u21BA " + L.record_again;
      record.hidden = false; stop.hidden = true;
      status.textContent = L.listen_back;
      const buffer = await blob.arrayBuffer();
      model.send({ kind: "recording", seconds: (Date.now() - started) / 1000,
                   type: rec.mimeType }, undefined, [buffer]);
    };
    rec.start(250);
    started = Date.now();
    record.hidden = true; stop.hidden = false; audio.hidden = true;
    status.textContent = L.recording;
    model.send({ kind: "started" });
    timer = setTimeout(() => { if (rec.state === "recording") rec.stop(); },
                       model.get("max_seconds") * 1000);
  };
  stop.onclick = () => { if (rec && rec.state === "recording") rec.stop(); };
}
export default { render };
"""


class Recorder(anywidget.AnyWidget):
    """Record a spoken answer in the browser; ``data`` holds the last recording's bytes
    (Opus in WebM or Ogg, as the browser makes it) once it reached the kernel."""

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    labels = traitlets.Dict().tag(sync=True)
    max_seconds = traitlets.Float(180.0).tag(sync=True)

    def __init__(self, labels: dict[str, str], max_seconds: float,
                 on_change: Callable[[], None] | None = None) -> None:
        super().__init__(labels=labels, max_seconds=max_seconds)
        self.data: bytes | None = None
        self.denied = False
        self._on_change = on_change
        self.on_msg(self._message)

    def _message(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "recording" and buffers:
            self.data = bytes(buffers[0])
        elif kind == "started":
            self.data = None  # recording again: the last one is discarded
        elif kind == "denied":
            self.denied = True
        if self._on_change is not None:
            self._on_change()


LETTERS = ("æ", "ø", "å", "Æ", "Ø", "Å")

_WRITING_ESM = r"""
function render({ model, el }) {
  el.classList.add("la-writing", "la-nb");
  const area = document.createElement("textarea");
  area.lang = "nb"; area.dir = "ltr"; area.rows = 8; area.value = model.get("value");
  area.setAttribute("aria-label", model.get("label"));
  area.style.width = "100%"; area.style.fontSize = "20px";
  const sync = () => { model.set("value", area.value); model.save_changes(); };
  area.addEventListener("input", sync);
  const row = document.createElement("div");
  for (const ch of model.get("letters")) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "la-letter"; b.textContent = ch;
    b.style.minWidth = "48px"; b.style.minHeight = "48px"; b.style.fontSize = "22px";
    // the letter goes in at the cursor, in the browser: typing never races the kernel
    b.addEventListener("mousedown", (e) => e.preventDefault());
    b.addEventListener("click", () => {
      const at = area.selectionStart ?? area.value.length;
      const end = area.selectionEnd ?? at;
      area.value = area.value.slice(0, at) + ch + area.value.slice(end);
      area.selectionStart = area.selectionEnd = at + ch.length;
      area.focus();
      sync();
    });
    row.append(b);
  }
  el.append(area, row);
}
export default { render };
"""


class WritingBox(anywidget.AnyWidget):
    """A text box for a written answer with æ ø å buttons (for keyboards without them);
    ``value`` is the text, kept in step with every keystroke."""

    _esm = traitlets.Unicode(_WRITING_ESM).tag(sync=True)
    value = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    letters = traitlets.List(list(LETTERS)).tag(sync=True)


def recorder_labels(t: Callable[[str], str]) -> dict[str, str]:
    """The recorder's texts in the participant's language (``t``: key → message)."""
    return {k: t(f"task.{k}") for k in ("record", "stop", "record_again", "recording",
                                        "listen_back", "no_microphone")}


class TaskScreen:
    """The part of the participant page that shows a speaking or writing task and sends
    its answer; mixed into :class:`~lang_assess.ui.participant_page.ParticipantTestApp`
    (which provides ``service``, ``who``, ``view``, ``t``, ``_button``, ``_html``)."""

    recorder: Recorder | None = None
    writing: WritingBox | None = None

    def _task(self, v: Any) -> widgets.Widget:
        """The answer part of a task: the recorder or the text box, and "I cannot"."""
        app: Any = self
        self.recorder, self.writing = None, None
        cannot = app._button(app.t("task.cannot"), self.skip_task)
        cannot.add_class("la-cannot")
        if v.skill == "speaking":
            self.recorder = Recorder(recorder_labels(app.t),
                                     app.service.config.recording_max_seconds,
                                     on_change=self._clear_message)
            return widgets.VBox([self.recorder, cannot])
        self.writing = WritingBox(label=app.t("instruction.writing"))
        return widgets.VBox([self.writing, cannot])

    def _clear_message(self) -> None:
        message = getattr(self, "message", None)
        if message is not None:
            message.value = ""

    def _send_task(self, v: Any) -> Any:
        """Send the task's answer; the next view (the service stored the answer first).
        Raises ValueError when there is nothing to send yet."""
        app: Any = self
        if v.skill == "speaking":
            if self.recorder is None or not self.recorder.data:
                raise ValueError("nothing recorded")
            return app.service.submit_recording(app.who, v.session_id, v.item_id,
                                                self.recorder.data)
        text = self.writing.value if self.writing is not None else ""
        if not text.strip():
            raise ValueError("nothing written")
        return app.service.submit_text(app.who, v.session_id, v.item_id, text)

    def skip_task(self) -> None:
        """"I cannot answer this": the task scores 0 and the test goes on."""
        app: Any = self
        v = app.view
        if v is None or app.who is None:
            return
        app.view = app.service.skip_task(app.who, v.session_id, v.item_id)
        app._next_screen(v.session_id)
