"""Participant messages in the participant's own language (gettext catalogues).

``messages/participant.pot`` lists every string a participant sees, keyed by a context
(``login.start``) with the English source; ``messages/<code>.po`` translates it.  The
teachers' pages have their own domain: ``teacher.pot`` and ``teacher.<code>.po`` (bokmål
and English).  Every catalogue except English is marked for review by native speakers
(``X-Review-Status``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polib

HERE = Path(__file__).parent
TEMPLATE = HERE / "participant.pot"
DOMAINS = ("participant", "teacher")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@dataclass(frozen=True)
class Language:
    """A participant language: code, its name in itself, and the writing direction."""

    code: str
    endonym: str
    direction: str  # "ltr" or "rtl"


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("nb", "Norsk (bokmål)", "ltr"),
        Language("en", "English", "ltr"),
        Language("ar", "العربية", "rtl"),
        Language("ti", "ትግርኛ", "ltr"),
        Language("prs", "دری", "rtl"),
        Language("so", "Soomaali", "ltr"),
        Language("uk", "Українська", "ltr"),
    )
}


@dataclass(frozen=True)
class Catalogue:
    """The translated participant messages of one language."""

    language: Language
    messages: dict[str, str]
    review_status: str

    def text(self, key: str, **values: object) -> str:
        """The message for ``key`` (a context such as ``"login.start"``), filled in."""
        try:
            template = self.messages[key]
        except KeyError:
            raise KeyError(f"no participant message {key!r}") from None
        return template.format(**values) if values else template


def _po_path(code: str, domain: str) -> Path:
    if domain not in DOMAINS:
        raise KeyError(f"no message domain {domain!r} (have {', '.join(DOMAINS)})")
    return HERE / (f"{code}.po" if domain == "participant" else f"{domain}.{code}.po")


def template_entries(domain: str = "participant") -> list[tuple[str, str]]:
    """(context, English source) of every message of ``domain``, in order."""
    _po_path("en", domain)
    return [(e.msgctxt, e.msgid) for e in polib.pofile(str(HERE / f"{domain}.pot")) if e.msgid]


@cache
def catalogue(code: str, domain: str = "participant") -> Catalogue:
    """The catalogue of ``domain`` for language ``code`` (one of :data:`LANGUAGES`)."""
    path = _po_path(code, domain)
    if code not in LANGUAGES or not path.exists():
        raise KeyError(f"no {domain} language {code!r}")
    po = polib.pofile(str(path))
    messages = {e.msgctxt: e.msgstr for e in po if e.msgid and e.msgstr}
    return Catalogue(LANGUAGES[code], messages, po.metadata.get("X-Review-Status", ""))


def catalogue_problems(code: str, domain: str = "participant") -> list[str]:
    """What is missing or broken in a catalogue compared with its template."""
    path = _po_path(code, domain)
    po = polib.pofile(str(path))
    have = {(e.msgctxt, e.msgid): e.msgstr for e in po if e.msgid}
    problems = []
    code = path.stem
    for ctx, source in template_entries(domain):
        translated = have.get((ctx, source))
        if not translated:
            problems.append(f"{code}.po: '{ctx}' is not translated")
        elif set(PLACEHOLDER.findall(translated)) != set(PLACEHOLDER.findall(source)):
            problems.append(f"{code}.po: '{ctx}' changes the placeholders of {source!r}")
    extra = set(have) - set(template_entries(domain))
    problems.extend(f"{code}.po: '{ctx}' is not in the template" for ctx, _ in sorted(extra))
    return problems
