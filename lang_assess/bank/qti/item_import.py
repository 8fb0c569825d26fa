"""One ``qti-assessment-item`` document → the bank's fields (what
:mod:`~lang_assess.bank.qti.item_export` writes, and what other tools write).

A body that is exactly what the bank writes (its sounds, picture, passage, the
interaction) is read into those fields; any other body is kept as markup in ``body``,
with ``___`` where the interaction was.  What the bank cannot represent raises
:class:`~lang_assess.bank.qti.interactions.Refused` naming the QTI construct.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from lang_assess.bank.qti.interactions import INLINE, SUPPORTED, Refused, read_interaction
from lang_assess.bank.qti.item_export import FEEDBACK_KINDS
from lang_assess.bank.qti.markup import block_fragment, content_fragment, local, q
from lang_assess.bank.qti.processing import read_processing
from lang_assess.bank.schema import Audio, Feedback, Image, QtiOrigin, RubricLevel


def _read_blocks(el: etree._Element) -> str:
    kids = [c for c in el if isinstance(c.tag, str)]
    if (len(kids) == 1 and local(kids[0]) == "p" and not kids[0].attrib
            and not (el.text or "").strip() and not (kids[0].tail or "").strip()):
        return content_fragment(kids[0])
    return block_fragment(el)


def _catalog(root: etree._Element) -> dict[str, str]:
    out = {}
    for cat in root.iterfind(f"{q('qti-catalog-info')}/{q('qti-catalog')}"):
        card = cat.find(q("qti-card"))
        html = card.find(q("qti-html-content")) if card is not None else None
        if html is not None and card.get("support") == "transcript":
            out[cat.get("id", "")] = content_fragment(html)
    return out


def _own(el: etree._Element, tag: str, cls: str) -> bool:
    return local(el) == tag and el.get("class") == cls


def read_item(root: etree._Element, stimuli: list[etree._Element]) -> dict[str, Any]:
    """The bank fields of a ``qti-assessment-item`` (``id``, ``skill`` and the other
    metadata come from elsewhere); raises :class:`Refused` for what the bank cannot hold.

    ``stimuli``: the ``qti-stimulus-body`` elements the item refers to, shown first.
    """
    body = root.find(q("qti-item-body"))
    if body is None:
        raise Refused("no qti-item-body")
    found = [el for el in body.iter() if isinstance(el.tag, str)
             and local(el).endswith("-interaction")]
    if not found:
        raise Refused("no interaction in the item body")
    unsupported = sorted({local(el) for el in found} - SUPPORTED)
    if unsupported:
        raise Refused(f"{', '.join(unsupported)} (not an interaction the bank has)")
    if len(found) > 1:
        raise Refused(f"{len(found)} interactions ({', '.join(local(e) for e in found)}); "
                      "a bank item has one")
    el = found[0]
    catalog = _catalog(root)
    data = read_interaction(el, catalog)
    _check_parts(root, data["_notes"])
    decls = {d.get("identifier"): d for d in root.iterfind(q("qti-response-declaration"))}
    if set(decls) != {data["_response"]}:
        raise Refused(f"response declarations {sorted(decls)} for one interaction "
                      f"responding to '{data['_response']}'")
    _read_response(decls[data["_response"]], data)
    _read_body(body, el, data, catalog, stimuli)
    outcomes = {o.get("identifier"): o for o in root.iterfind(q("qti-outcome-declaration"))}
    feedback_outcomes = [k for k, o in outcomes.items()
                         if o.get("base-type") == "identifier" and k != "SCORE"]
    if data["type"] == "rated":
        data.setdefault("rubric", [])
        if root.find(q("qti-response-processing")) is not None:
            raise Refused("response processing on an extended-text item (the bank has "
                          "such tasks scored by a teacher: external-scored='human')")
    else:
        kind, fb, fb_outcome = read_processing(root, data["_response"], feedback_outcomes)
        if kind is None and not data.get("key"):
            raise Refused("no response processing and no correct response: nothing says "
                          "how the item is scored")
        if kind == "map" and data.get("mapping") is None:
            raise Refused("map_response without a qti-mapping")
        if kind == "match":
            data["mapping"] = None
        _read_feedback(root, data, fb, fb_outcome)
    data["_title"] = root.get("title")
    data["_identifier"] = root.get("identifier", "")
    return data


REFUSED_PARTS = {
    "qti-template-declaration": "items that vary by template",
    "qti-template-processing": "items that vary by template",
    "qti-context-declaration": "context variables",
}
NOTED_PARTS = {
    "qti-stylesheet": "the bank's pages use their own styles",
    "qti-companion-materials-info": "the bank's tests give no companion materials",
}


def _check_parts(root: etree._Element, notes: list[str]) -> None:
    """Refuse what changes how the item works; note what is left out of its looks."""
    for child in root:
        name = local(child)
        if name in REFUSED_PARTS:
            raise Refused(f"{name} ({REFUSED_PARTS[name]}: the bank holds fixed items)")
        if name in NOTED_PARTS:
            notes.append(f"{name} {child.get('href', '')} left out: {NOTED_PARTS[name]}"
                         .replace("  ", " "))
    for out in root.iterfind(q("qti-outcome-declaration")):
        ident = out.get("identifier", "")
        if ident not in ("SCORE", "MAXSCORE") and out.get("base-type") != "identifier":
            notes.append(f"outcome '{ident}' left out: the bank keeps the score")


def _value(data: dict[str, Any], value: str, construct: str) -> str:
    """A QTI value in the bank's ids."""
    if data["type"] in ("text_entry", "rated"):
        return value
    ids = data["_ids"]
    parts = value.split()
    try:
        if data["type"] == "gap_match" and len(parts) == 2:
            return f"{ids[parts[0]]} {data['_gaps'][parts[1]]}"
        return " ".join(ids[p] for p in parts)
    except KeyError as exc:
        raise Refused(f"{construct} names {exc.args[0]!r}, which is not a choice of the "
                      "interaction") from None


def _read_response(decl: etree._Element, data: dict[str, Any]) -> None:
    correct = decl.find(q("qti-correct-response"))
    values = [] if correct is None else [(v.text or "") for v in correct.iter(q("qti-value"))]
    data["key"] = [_value(data, v, "qti-correct-response") for v in values]
    mapping = decl.find(q("qti-mapping"))
    if mapping is None:
        data["mapping"] = None
        return
    entries, sensitive = {}, set()
    for e in mapping.iter(q("qti-map-entry")):
        value = e.get("mapped-value", "0")
        if float(value) != int(float(value)):
            raise Refused(f"qti-map-entry with mapped-value {value} (the bank scores whole "
                          "points)")
        entries[_value(data, e.get("map-key", ""), "qti-map-entry")] = int(float(value))
        sensitive.add(e.get("case-sensitive", "true"))
    if len(sensitive) > 1:
        raise Refused("qti-map-entry elements that differ in case-sensitive")
    bounds = {}
    for attr, name in (("lower-bound", "lower"), ("upper-bound", "upper"),
                       ("default-value", "default")):
        if mapping.get(attr) is not None:
            v = float(mapping.get(attr))
            if v != int(v):
                raise Refused(f"qti-mapping with {attr} {mapping.get(attr)} (whole points)")
            bounds[name] = int(v)
    bounds.setdefault("lower", None)
    data["mapping"] = {"entries": entries, **bounds,
                       "case_sensitive": sensitive != {"false"}}


def _read_body(body: etree._Element, el: etree._Element, data: dict[str, Any],
               catalog: dict[str, str], stimuli: list[etree._Element]) -> None:
    kids = [c for c in body if isinstance(c.tag, str)]
    rubric = [c for c in kids if local(c) == "qti-rubric-block"]
    _read_rubric(rubric, data)
    rest = [c for c in kids if c not in rubric]
    own: dict[str, Any] = {}
    i = 0
    for tag, cls, name in (("audio", "la-stem-audio", "stem_audio"),
                           ("audio", "la-transcript", "transcript"),
                           ("div", "la-stem-image", "image"),
                           ("div", "la-passage", "passage")):
        if i < len(rest) and _own(rest[i], tag, cls):
            own[name] = rest[i]
            i += 1
    inline = data["type"] in INLINE
    simple = not stimuli and not (body.text or "").strip() and len(rest) == i + 1 and all(
        not (c.tail or "").strip() for c in kids) and (
        rest[i] is el if not inline else (_own(rest[i], "p", "la-stem")
                                          and el.getparent() is rest[i]))
    if simple:
        for name, node in own.items():
            if name == "passage":
                data["passage"] = content_fragment(node)
            elif name == "image":
                img = node.find(q("img"))
                if img is None or len(node) != 1:
                    raise Refused("div.la-stem-image without its one img")
                data["image"] = Image(file=img.get("src", ""), alt=img.get("alt", ""))
            else:
                data[name] = Audio(file=node.get("src", ""),
                                   text=catalog.get(node.get("data-catalog-idref", ""), ""))
        if inline:
            data["stem"] = block_fragment(rest[i], slots=[el])
        return
    fragment = block_fragment(body, slots=[el], skip=rubric)
    for stimulus in stimuli:
        fragment = f'<div class="la-stimulus">{block_fragment(stimulus)}</div>' + fragment
    data["body"] = fragment
    if inline:
        data["stem"] = ""


def _read_rubric(blocks: list[etree._Element], data: dict[str, Any]) -> None:
    if blocks and data["type"] != "rated":
        raise Refused("qti-rubric-block on an item that is not scored by a person")
    levels = []
    for b in blocks:
        cls = b.get("class", "")
        content = b.find(q("qti-content-body"))
        if not cls.startswith("la-score-") or content is None or b.get("view") != "scorer":
            levels.extend(_numbered_levels(b))
            continue
        english = [p for p in content if isinstance(p.tag, str) and local(p) == "p"
                   and p.get("class") == "la-descriptor-en"]
        for p in english:
            content.remove(p)
        levels.append(RubricLevel(score=int(cls.removeprefix("la-score-")),
                                  descriptor=_read_blocks(content),
                                  descriptor_en=english[0].text if english else None))
    if blocks:
        data["rubric"] = levels


def _numbered_levels(block: etree._Element) -> list[RubricLevel]:
    """A scorer rubric written as paragraphs or list items that start with their score
    ("2 points: …", "1 – …")."""
    import re

    if block.get("view", "scorer") != "scorer":
        raise Refused(f"qti-rubric-block for view '{block.get('view')}' (the bank keeps the "
                      "scorer's rubric only)")
    out = []
    for el in block.iter():
        if local(el) not in ("p", "li"):
            continue
        text = content_fragment(el)
        m = re.match(r"\s*(\d+)\s*(?:points?|pts?|poeng|punten?)?\s*[:.)–-]\s*(.+)", text,
                     re.S | re.I)
        if m is None:
            raise Refused("qti-rubric-block whose entries do not start with their score "
                          "(write '2: …' per score)")
        out.append(RubricLevel(score=int(m.group(1)), descriptor=m.group(2).strip()))
    return out


def _read_feedback(root: etree._Element, data: dict[str, Any], fb: dict[str, str],
                   outcome: str | None) -> None:
    modals = list(root.iterfind(q("qti-modal-feedback")))
    if not modals:
        return
    if outcome is None:
        raise Refused("qti-modal-feedback that the response processing never shows")
    names = {v: k for k, v in fb.items() if k in FEEDBACK_KINDS}
    feedback, ids = [], {}
    for m in modals:
        ident = m.get("identifier", "")
        if m.get("outcome-identifier") != outcome or m.get("show-hide", "show") != "show":
            raise Refused(f"qti-modal-feedback '{ident}' (the bank shows feedback for "
                          f"show-hide='show' on the outcome {outcome})")
        if "*" in fb:
            if ident not in data["_ids"]:
                raise Refused(f"qti-modal-feedback '{ident}' for no choice")
            on = data["_ids"][ident]
        elif ident in names:
            on = names[ident]
        else:
            raise Refused(f"qti-modal-feedback '{ident}' that the response processing "
                          "never shows")
        content = m.find(q("qti-content-body"))
        text = _read_blocks(content) if content is not None else content_fragment(m)
        feedback.append(Feedback(on=on, title=m.get("title"), content=text))
        default = on if on in FEEDBACK_KINDS else next(
            k for k, v in data["_ids"].items() if v == on)
        if ident != default:
            ids[on] = ident
    data["feedback"] = feedback
    data["_feedback"] = ids
    data["_feedback_outcome"] = outcome


def origin_of(data: dict[str, Any], bank_id: str) -> QtiOrigin | None:
    """The identifiers to keep for an item read by :func:`read_item` (None: the bank's
    own, nothing to keep)."""
    options = {bank: qti for qti, bank in data["_ids"].items() if qti != bank}
    gaps = {n: g for g, n in data["_gaps"].items() if g != f"G{n}"}
    origin = QtiOrigin(
        identifier=data["_identifier"],
        title=data["_title"] if data["_title"] not in (None, bank_id) else None,
        response=data["_response"], options=options, gaps=gaps,
        attributes=data["_attrs"], feedback=data.get("_feedback", {}),
        feedback_outcome=data.get("_feedback_outcome") or "FEEDBACK")
    return None if origin == QtiOrigin(identifier=bank_id) else origin
