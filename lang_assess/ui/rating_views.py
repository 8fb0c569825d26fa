"""Rating speaking and writing answers in the teachers' page (issue 16).

:class:`RatingPanel` shows the actor's queue one answer at a time: the task (its text,
sound and picture), the answer (the recording to play, or the text), the rubric with its
descriptors in the page's language (bokmål or English), a score, a comment.  A second
rater sees the same and nothing of the first rating.  An admin also sees the agreement
figures per rater.  The recording travels to the page as a data URL fetched through the
service, which checks who is asking; nothing else serves it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from lang_assess.programme.service import Service, TeacherContext, ToRate


class RatingPanel:
    """The rating queue of one teacher; ``root`` is the widget; ``on_done`` is called
    after each saved rating (to refresh whatever shows results)."""

    def __init__(self, service: Service, teacher: TeacherContext, t: Callable[[str], str],
                 language: str, on_done: Callable[[], None] | None = None) -> None:
        self.service = service
        self.teacher = teacher
        self.t = t
        self.language = language
        self.on_done = on_done
        self.root = widgets.VBox()
        self.root.add_class("la-rating")
        self.show()

    def _media(self, rel: str | None, kind: str) -> str:
        if not rel:
            return ""
        data = base64.b64encode((Path(self.service.bank.root) / rel).read_bytes()).decode()
        if kind == "audio":
            return f'<audio controls src="data:audio/ogg;base64,{data}"></audio>'
        return f'<img src="data:image/svg+xml;base64,{data}" alt="" width="160">'

    def show(self) -> None:
        """The first answer in the queue (or that there is none), and for an admin the
        agreement figures."""
        queue = self.service.rating_queue(self.teacher)
        parts: list[widgets.Widget] = [widgets.HTML(
            f"<h2>{html.escape(self.t('rate'))}: <span class='la-queue-count'>{len(queue)}"
            f"</span></h2>")]
        if queue:
            parts += self._answer(queue[0])
        else:
            parts.append(widgets.HTML(f"<p class='la-queue-empty'>{self.t('rate_none')}</p>"))
        if self.teacher.is_admin:
            parts.append(widgets.HTML(self.agreement_html()))
        self.root.children = tuple(parts)

    def _answer(self, a: ToRate) -> list[widgets.Widget]:
        task = (f"<div class='la-rate-task' data-answer='{a.answer_id}'>"
                f"<p><b>{html.escape(a.pseudonym)}</b> · {html.escape(self.t(a.skill))} · "
                f"{html.escape(a.level)} · {self.t('rate_round')} {a.round}</p>"
                f"<p lang='nb'>{html.escape(a.stem)}</p>"
                f"{self._media(a.stem_audio, 'audio')}{self._media(a.image, 'image')}</div>")
        if a.has_audio:
            data, mime = self.service.recording(self.teacher, a.answer_id)
            answer = (f"<audio class='la-answer-audio' controls preload='auto' "
                      f"src='data:{mime};base64,{base64.b64encode(data).decode()}'></audio>")
        elif a.text:
            answer = (f"<blockquote class='la-answer-text' lang='nb' "
                      f"style='white-space:pre-wrap'>{html.escape(a.text)}</blockquote>")
        else:
            answer = f"<p>{self.t('rate_deleted')}</p>"
        english = self.language == "en"

        def descriptor(r: Any) -> str:
            return r.descriptor_en if english and r.descriptor_en else r.descriptor

        scores = widgets.RadioButtons(
            options=[(f"{r.score} — {descriptor(r)}", r.score) for r in a.rubric],
            value=None, layout=widgets.Layout(width="100%"))
        scores.add_class("la-rubric")
        comment = widgets.Textarea(placeholder=self.t("rate_comment"),
                                   layout=widgets.Layout(width="100%", height="4em"))
        comment.add_class("la-rate-comment")
        message = widgets.HTML()
        save = widgets.Button(description=self.t("rate_save"), button_style="primary")
        save.add_class("la-rate-save")

        def rate(_b: object) -> None:
            if scores.value is None:
                message.value = f"<p class='la-message'>{self.t('rate_choose')}</p>"
                return
            self.service.rate(self.teacher, a.answer_id, int(scores.value),
                              comment.value.strip() or None)
            if self.on_done is not None:
                self.on_done()
            self.show()

        save.on_click(rate)
        return [widgets.HTML(task + f"<h3>{self.t('rate_answer')}</h3>" + answer
                             + f"<h3>{self.t('rate_rubric')}</h3>"), scores, comment, save,
                message]

    def agreement_html(self) -> str:
        """Agreement of double-rated answers per rater and overall (admins)."""
        figures: dict[str, Any] = self.service.rater_agreement(self.teacher)
        rows = [("—", figures["overall"], None, None)] + [
            (u, f["agreement"], f.get("severity"), f.get("severity_se"))
            for u, f in figures["raters"].items()]

        def num(v: float | None, fmt: str) -> str:
            return "–" if v is None or v != v else fmt.format(v)

        body = "".join(
            f"<tr><td>{html.escape(u)}</td><td>{g.n}</td><td>{num(g.exact, '{:.0%}')}</td>"
            f"<td>{num(g.adjacent, '{:.0%}')}</td><td>{num(g.kappa, '{:.2f}')}</td>"
            f"<td>{num(s, '{:+.2f}')}{'' if se is None else ' ± ' + num(se, '{:.2f}')}</td></tr>"
            for u, g, s, se in rows)
        head = "".join(f"<th>{self.t(k)}</th>" for k in
                       ("rater", "pairs", "exact", "adjacent", "kappa", "severity"))
        return (f"<h2>{self.t('agreement')}</h2><table class='la-agreement'><tr>{head}</tr>"
                f"{body}</table><p><small>{self.t('severity_note')}</small></p>")
