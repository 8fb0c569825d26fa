"""Item parts the QTI interactions need (issue 18), and the rules that tie them together.

- **Markup.**  ``body``, ``text``, ``stem``, option texts, rubric descriptors and feedback
  are XHTML fragments: plain text is a fragment (write ``&`` as ``&amp;`` and ``<`` as
  ``&lt;``), and may hold the elements in :data:`ELEMENTS` and MathML.  ``___`` marks a
  slot: in ``body`` where the interaction goes, in ``stem`` the gap of a gap_choice or
  text_entry item, in ``text`` the gaps (gap_match) or hottexts (hottext) in order.
- **Scoring.**  Right/wrong items match the key.  A ``mapping`` (QTI ``map_response``)
  scores whole points: the sum of the values of the distinct parts given (options, pairs
  ``"A D"``, typed answers), ``default`` for parts it does not list, clipped to
  ``[lower, upper]``; the item then has steps 0..max score under the GPCM.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

GAP = "___"
MATHML = "http://www.w3.org/1998/Math/MathML"


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (long name lists stay readable)."""
    return frozenset(text.split())


#: XHTML elements a fragment may hold (QTI 3.0's content model, without scripting).
ELEMENTS = words("""
    a abbr address b bdi bdo big blockquote br caption cite code col colgroup dd dfn div dl
    dt em figcaption figure h1 h2 h3 h4 h5 h6 hr i img kbd label li ol p pre q rb rp rt rtc
    ruby samp small span strong sub sup table tbody td tfoot th thead tr tt u ul var
    audio video source track picture
""")
ATTRIBUTES = words("""
    id class lang dir title src alt width height controls loop muted autoplay poster
    preload type kind srclang label colspan rowspan headers scope abbr start href
    longdesc span cite datetime
""") | {"{http://www.w3.org/XML/1998/namespace}lang"}
MEDIA_ATTRIBUTES = ("src", "poster")
PAIR_TYPES = ("match", "associate", "gap_match")
MAPPED_TYPES = ("multiple_response", "match", "associate", "gap_match", "hottext",
                "text_entry")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mapping(_Strict):
    """Whole points per answer part (QTI ``qti-mapping``); see the module docstring."""

    entries: dict[str, int]
    default: int = 0
    lower: int | None = 0
    upper: int | None = None
    case_sensitive: bool = True  # typed answers (text_entry)


class Feedback(_Strict):
    """Feedback a QTI player shows after the answer (``qti-modal-feedback``).

    ``on``: ``correct``, ``incorrect`` or an option id (shown when that option is chosen).
    Tests never show it: feedback mid-test would teach the answers.
    """

    on: str = Field(min_length=1)
    title: str | None = None
    content: str = Field(min_length=1)


class QtiOrigin(_Strict):
    """Identifiers an imported item had, so that an export writes them back.

    ``options`` and ``gaps`` map the bank's ids (``A``…, gap ``1``…) to the QTI ones.
    """

    identifier: str = Field(min_length=1)
    title: str | None = None
    response: str = "RESPONSE"
    options: dict[str, str] = Field(default_factory=dict)
    gaps: dict[str, str] = Field(default_factory=dict)
    # attributes kept verbatim: "interaction" for the interaction, an option id for its choice
    attributes: dict[str, dict[str, str]] = Field(default_factory=dict)
    feedback_outcome: str = "FEEDBACK"
    feedback: dict[str, str] = Field(default_factory=dict)  # `on` → qti-modal-feedback id


def parse_fragment(text: str) -> ET.Element:
    """A fragment wrapped in a ``<fragment>`` element (raises ``ValueError`` if not XML)."""
    try:
        return ET.fromstring(f"<fragment>{text}</fragment>")
    except ET.ParseError as exc:
        raise ValueError(f"is not well-formed markup ({exc}); write & as &amp; "
                         "and < as &lt;") from None


def fragment_problems(text: str) -> list[str]:
    """What is wrong with a markup fragment: parse errors, elements or attributes that
    are not allowed (scripts, event handlers, styles)."""
    try:
        root = parse_fragment(text)
    except ValueError as exc:
        return [str(exc)]
    out = []
    for el in root.iter():
        if el is root or el.tag.startswith(f"{{{MATHML}}}"):
            continue
        if el.tag not in ELEMENTS:
            out.append(f"holds <{el.tag}>, which the bank does not show")
            continue
        out.extend(f"<{el.tag}> has attribute {a!r}, which the bank does not keep"
                   for a in el.attrib if a not in ATTRIBUTES)
        if el.get("href", "").strip().lower().startswith(("javascript:", "data:")):
            out.append(f"<{el.tag}> links to a script")
    return out


def fragment_media(text: str | None) -> list[str]:
    """Relative paths of the pictures and sounds a fragment uses (in order)."""
    if not text or "<" not in text:
        return []
    try:
        root = parse_fragment(text)
    except ValueError:
        return []
    return [el.get(a, "") for el in root.iter() for a in MEDIA_ATTRIBUTES
            if el.get(a) and not re.match(r"^[a-z]+:", el.get(a, ""))]


def _markup_fields(item: Any) -> list[tuple[str, str]]:
    fields = [("stem", item.stem), ("body", item.body), ("text", item.text),
              ("passage", item.passage)]
    fields += [(f"options[{o.id}].text", o.text) for o in (*item.options, *item.targets)]
    fields += [(f"rubric[{r.score}].descriptor", r.descriptor) for r in item.rubric or []]
    fields += [(f"feedback[{f.on}].content", f.content) for f in item.feedback]
    return [(name, value) for name, value in fields if value]


def markup_media(item: Any) -> list[tuple[str, str]]:
    """Every (field, relative path) of a picture or sound inside the item's markup."""
    return [(name, rel) for name, value in _markup_fields(item)
            for rel in fragment_media(value)]


def mapping_max(item: Any) -> int:
    """Highest score a mapping gives: ``upper`` or the best answer the mapping allows."""
    m = item.mapping
    if m.upper is not None:
        return m.upper
    positive = sorted((v for v in m.entries.values() if v > 0), reverse=True)
    if item.type == "text_entry":
        return max([*positive, m.default, 0])
    limit = item.max_choices or len(positive)
    return sum(positive[:limit])


def _slots(text: str | None) -> int:
    return (text or "").count(GAP)


def interaction_problems(item: Any) -> list[str]:
    """Rules of the issue-18 fields and types; each message names the field."""
    p: list[str] = []
    for name, value in _markup_fields(item):
        p.extend(f"field '{name}' {msg}" for msg in fragment_problems(value))
    if not item.stem and item.body is None:
        p.append("field 'stem' is missing")
    if item.body is not None and _slots(item.body) != 1:
        p.append(f"field 'body' must mark the interaction's place with one {GAP}")
    ids = [o.id for o in item.options]
    target_ids = [o.id for o in item.targets]
    if set(ids) & set(target_ids):
        p.append("fields 'options' and 'targets' share option ids")
    known = set(ids) | set(target_ids)
    p.extend(f"field 'fixed' names option {f!r}, which is not among the options"
             for f in item.fixed if f not in known)
    t = item.type
    if t in ("multiple_response", "hottext"):
        if len(ids) < 1 + (t == "multiple_response"):
            p.append("field 'options' needs at least 2 options")
        if not item.key and item.mapping is None:
            p.append("field 'key' must name the right options")
        p.extend(f"field 'key' names option {k!r}, which is not among {ids}"
                 for k in item.key if k not in ids)
    if t == "hottext" and _slots(item.text) != len(ids):
        p.append(f"field 'text' must have one {GAP} per hottext (option), in order")
    if t == "gap_match" and _slots(item.text) < 1:
        p.append(f"field 'text' must mark its gaps with {GAP}")
    if t in ("hottext", "gap_match") and not item.text:
        p.append("field 'text' is missing")
    if t == "text_entry":
        if _slots(item.stem) != 1 and item.body is None:
            p.append(f"field 'stem' of a text_entry item must contain the gap {GAP}")
        if len(item.key) != 1:
            p.append("field 'key' must give the right answer (one; other answers that "
                     "count go in 'mapping')")
        if ids:
            p.append("field 'options' is not used by text_entry items")
    if t in PAIR_TYPES:
        gaps = {str(n) for n in range(1, _slots(item.text) + 1)}
        second = gaps if t == "gap_match" else (set(target_ids) if t == "match" else set(ids))
        if t == "match" and not target_ids:
            p.append("field 'targets' is missing (the second set of a match item)")
        if not item.key and item.mapping is None:
            p.append("field 'key' must list the right pairs, e.g. 'A D'")
        for pair in item.key:
            parts = pair.split()
            if len(parts) != 2 or parts[0] not in ids or parts[1] not in second:
                p.append(f"field 'key' has pair {pair!r}: it must be 'option target' "
                         f"with an option of {ids} and a target of {sorted(second)}")
    if item.mapping is not None and t not in MAPPED_TYPES:
        p.append(f"field 'mapping' is not used by {t} items")
    if item.mapping is not None and mapping_max(item) < 1:
        p.append("field 'mapping' gives no score above 0")
    several = ("multiple_response", "hottext", "match", "associate", "gap_match")
    if t not in several and item.max_choices is not None:
        p.append(f"field 'max_choices' is not used by {t} items")
    if t not in (*several, "mc_text", "mc_picture", "mc_audio", "true_false") and \
            item.min_choices:
        p.append(f"field 'min_choices' is not used by {t} items")
    fb = [f.on for f in item.feedback]
    per_option = [f for f in fb if f not in ("correct", "incorrect")]
    if per_option and len(per_option) != len(fb):
        p.append("field 'feedback' is either per option or correct/incorrect, not both")
    p.extend(f"field 'feedback' names option {f!r}, which is not among {ids}"
             for f in per_option if f not in ids)
    return p
