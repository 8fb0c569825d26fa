"""The bank's item markup (docs/bank/qti.md) as HTML for the participant's page.

Fragments are checked when the bank is loaded (only the elements and attributes in
:mod:`lang_assess.bank.interaction_rules`: no scripts, no event handlers, no styles), so
this only has to write them out: pictures and sounds become inline ``data:`` URLs (the
page has no file server), MathML stays MathML (Chromium renders it), and each ``___``
slot becomes the HTML the caller gives for it.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

from lang_assess.bank.interaction_rules import GAP, MATHML, MEDIA_ATTRIBUTES, parse_fragment

VOID = {"br", "hr", "img", "source", "track", "col"}


def markup_html(fragment: str | None, media: Callable[[str], str],
                slots: Sequence[str] = ()) -> str:
    """HTML for a fragment; ``media`` turns a bank path into a URL; ``slots`` replace
    the ``___`` in order (missing ones show as a dotted gap)."""
    if not fragment:
        return ""
    root = parse_fragment(fragment)
    filled = iter(slots)
    return _inner(root, media, filled)


def _text(text: str | None, filled: object) -> str:
    if not text:
        return ""
    parts = text.split(GAP)
    out = [html.escape(parts[0], quote=False)]
    for part in parts[1:]:
        out.append(next(filled, '<span class="la-gap">……</span>'))  # type: ignore[call-overload]
        out.append(html.escape(part, quote=False))
    return "".join(out)


def _inner(el: ET.Element, media: Callable[[str], str], filled: object) -> str:
    out = [_text(el.text, filled)]
    for child in el:
        out.append(_element(child, media, filled))
        out.append(_text(child.tail, filled))
    return "".join(out)


def _element(el: ET.Element, media: Callable[[str], str], filled: object) -> str:
    tag = el.tag
    math = tag.startswith(f"{{{MATHML}}}")
    name = tag.split("}", 1)[1] if math else tag
    attrs = []
    if math and name == "math":
        attrs.append(f' xmlns="{MATHML}"')
    for k, v in el.attrib.items():
        key = "lang" if k.endswith("}lang") else k
        value = media(v) if k in MEDIA_ATTRIBUTES and not math else v
        attrs.append(f' {key}="{html.escape(value)}"')
    if name in ("audio", "video") and "controls" in el.attrib:
        attrs.append(' preload="auto"')
    if name in VOID and not len(el) and not el.text:
        return f"<{name}{''.join(attrs)}>"
    return f"<{name}{''.join(attrs)}>{_inner(el, media, filled)}</{name}>"
