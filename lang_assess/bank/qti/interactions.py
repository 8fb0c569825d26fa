"""The QTI interactions, both ways: a bank item's interaction as a QTI element, and a QTI
interaction element read into the bank's fields.

| bank type | QTI interaction | response |
| --- | --- | --- |
| mc_text, mc_picture, mc_audio, true_false | ``qti-choice-interaction`` | single identifier |
| multiple_response | ``qti-choice-interaction`` (``max-choices`` ≠ 1) | multiple identifier |
| gap_choice | ``qti-inline-choice-interaction`` at the gap | single identifier |
| text_entry | ``qti-text-entry-interaction`` at the gap | single string |
| ordering | ``qti-order-interaction`` | ordered identifier |
| match | ``qti-match-interaction`` (two ``qti-simple-match-set``) | multiple directedPair |
| associate | ``qti-associate-interaction`` | multiple pair |
| gap_match | ``qti-gap-match-interaction`` (gap texts, gaps in the text) | multiple directedPair |
| hottext | ``qti-hottext-interaction`` (hottexts in the text) | multiple identifier |
| rated | ``qti-extended-text-interaction``, scored by a person | single string |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from lang_assess.bank.interaction_rules import GAP, words
from lang_assess.bank.qti.markup import (
    append_fragment,
    block_fragment,
    content_fragment,
    fill_slots,
    local,
    q,
    sub,
)
from lang_assess.bank.schema import Audio, Image, Item, Option

CHOICE = ("mc_text", "mc_picture", "mc_audio", "true_false", "multiple_response")
INLINE = ("gap_choice", "text_entry")
TAG = {
    **dict.fromkeys(CHOICE, "qti-choice-interaction"),
    "gap_choice": "qti-inline-choice-interaction", "text_entry": "qti-text-entry-interaction",
    "ordering": "qti-order-interaction", "match": "qti-match-interaction",
    "associate": "qti-associate-interaction", "gap_match": "qti-gap-match-interaction",
    "hottext": "qti-hottext-interaction", "rated": "qti-extended-text-interaction",
}
SUPPORTED = frozenset(TAG.values())
#: attributes the bank models; others on an interaction or choice are kept verbatim
MODELLED = {"response-identifier", "shuffle", "max-choices", "min-choices",
            "max-associations", "min-associations", "identifier", "fixed"}
DEFAULTS = {"match-max": "1"}
#: QTI 3.0 attributes of interactions and choices kept as they are; others (QTI 2 leftovers
#: such as ``orientation``) are left out with a note, so that the export stays valid
KEPT = words("""
    class id label expected-length pattern-mask placeholder-text format expected-lines
    min-strings max-strings match-max match-min show-hide template-identifier match-group
    data-min-selections-message data-max-selections-message data-patternmask-message
    data-first-column-header data-choices-container-width data-catalog-idref
""")
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]


def cardinality(item: Item) -> tuple[str, str]:
    """(cardinality, base-type) of the item's response variable."""
    t = item.type
    if t in ("gap_choice", "mc_text", "mc_picture", "mc_audio", "true_false"):
        return "single", "identifier"
    if t in ("text_entry", "rated"):
        return "single", "string"
    if t == "ordering":
        return "ordered", "identifier"
    if t in ("multiple_response", "hottext"):
        return "multiple", "identifier"
    return "multiple", "pair" if t == "associate" else "directedPair"


@dataclass
class Ids:
    """Bank ids ⇄ QTI identifiers of one item (options, gaps)."""

    options: dict[str, str] = field(default_factory=dict)  # bank → QTI
    gaps: dict[str, str] = field(default_factory=dict)

    def option(self, bank_id: str) -> str:
        """The QTI identifier of an option."""
        return self.options.get(bank_id, bank_id)

    def gap(self, number: str) -> str:
        """The QTI identifier of a gap (``G1``… unless the item came with its own)."""
        return self.gaps.get(number, f"G{number}")

    def value(self, item: Item, bank_value: str) -> str:
        """A key or mapping value (an option, a pair, typed words) in QTI identifiers."""
        if item.type in ("text_entry", "rated"):
            return bank_value
        parts = bank_value.split()
        if item.type == "gap_match" and len(parts) == 2:
            return f"{self.option(parts[0])} {self.gap(parts[1])}"
        return " ".join(self.option(p) for p in parts)


# ---- writing ----------------------------------------------------------------------------

def _choice(parent: etree._Element, tag: str, o: Option, ids: Ids, item: Item,
            attrs: dict[str, dict[str, str]]) -> etree._Element:
    el = sub(parent, tag, identifier=ids.option(o.id))
    if tag == "qti-simple-associable-choice" or tag == "qti-gap-text":
        el.set("match-max", DEFAULTS["match-max"])
    if o.id in item.fixed:
        el.set("fixed", "true")
    for k, v in attrs.get(o.id, {}).items():
        el.set(k, v)
    append_fragment(el, o.text)
    if o.image is not None:
        sub(el, "img", src=o.image.file, alt=o.image.alt, **{"class": "la-option-image"})
    if o.audio is not None:
        media_audio(el, o.audio, "la-option-audio", f"la-audio-{o.id}")
    return el


def media_audio(parent: etree._Element, audio: Audio, cls: str, catalog: str) -> None:
    """An ``audio`` element whose spoken words are in the catalog card ``catalog``."""
    sub(parent, "audio", src=audio.file, controls="true",
        **{"class": cls, "data-catalog-idref": catalog})


def write_interaction(item: Item, response: str, ids: Ids,
                      attrs: dict[str, dict[str, str]]) -> etree._Element:
    """The item's interaction element (its prompt, choices and text inside)."""
    t = item.type
    el = etree.Element(q(TAG[t]), {"response-identifier": response})
    for k, v in attrs.get("interaction", {}).items():
        el.set(k, v)
    if t not in ("text_entry", "rated", "hottext"):  # these have no shuffle attribute
        el.set("shuffle", "true" if item.shuffle else "false")
    if t in CHOICE:
        el.set("max-choices", "1" if t != "multiple_response" else str(item.max_choices or 0))
    if t == "hottext":
        el.set("max-choices", str(item.max_choices or 0))
    if t in ("match", "associate"):
        el.set("max-associations", str(item.max_choices or 0))
    if item.min_choices:
        el.set("min-associations" if t in ("match", "associate", "gap_match")
               else "min-choices", str(item.min_choices))
    if t not in INLINE and item.stem:
        append_fragment(sub(el, "qti-prompt"), item.stem)
    if t in (*CHOICE, "ordering"):
        for o in item.options:
            _choice(el, "qti-simple-choice", o, ids, item, attrs)
    elif t == "gap_choice":
        for o in item.options:
            _choice(el, "qti-inline-choice", o, ids, item, attrs)
    elif t == "match":
        for group in (item.options, item.targets):
            match_set = sub(el, "qti-simple-match-set")
            for o in group:
                _choice(match_set, "qti-simple-associable-choice", o, ids, item, attrs)
    elif t == "associate":
        for o in item.options:
            _choice(el, "qti-simple-associable-choice", o, ids, item, attrs)
    elif t == "gap_match":
        for o in item.options:
            _choice(el, "qti-gap-text", o, ids, item, attrs)
        _text(el, item.text or "", [
            etree.Element(q("qti-gap"), {"identifier": ids.gap(str(n))})
            for n in range(1, (item.text or "").count(GAP) + 1)])
    elif t == "hottext":
        made = []
        for o in item.options:
            hot = etree.Element(q("qti-hottext"), {"identifier": ids.option(o.id)})
            append_fragment(hot, o.text)
            made.append(hot)
        _text(el, item.text or "", made)
    return el


def _text(el: etree._Element, text: str, slots: list[etree._Element]) -> None:
    """The text of a gap-match or hottext interaction (blocks; plain text goes in a p)."""
    holder = etree.Element(q("div"))
    append_fragment(holder, text if text.lstrip().startswith("<") else f"<p>{text}</p>")
    fill_slots(holder, slots)
    if holder.text and holder.text.strip():
        holder.text = None  # blocks only; the reader never produces loose text here
    for child in list(holder):
        el.append(child)


# ---- reading ----------------------------------------------------------------------------

class Refused(Exception):
    """What the bank cannot represent, naming the QTI construct."""


def _map_ids(qti_ids: list[str]) -> dict[str, str]:
    """QTI identifiers → bank ids: kept when all are single capitals, else A, B, … in
    document order."""
    if len(set(qti_ids)) != len(qti_ids):
        raise Refused("duplicate choice identifiers")
    if all(re.fullmatch(r"[A-Z]", i) for i in qti_ids):
        return {i: i for i in qti_ids}
    if len(qti_ids) > len(LETTERS):
        raise Refused(f"{len(qti_ids)} choices (the bank names at most 26)")
    return dict(zip(qti_ids, LETTERS, strict=False))


def _extra_attrs(el: etree._Element, notes: list[str]) -> dict[str, str]:
    extra = {k: v for k, v in el.attrib.items() if k not in MODELLED and DEFAULTS.get(k) != v}
    notes.extend(f"attribute {k}='{v}' of {local(el)} is not QTI 3.0; left out"
                 for k, v in extra.items() if k not in KEPT)
    return {k: v for k, v in extra.items() if k in KEPT}


def _option(el: etree._Element, bank_id: str, catalog: dict[str, str]) -> Option:
    """A choice's content: the bank's own picture and sound (class la-option-*), and the
    rest as markup."""
    image = next((c for c in el if local(c) == "img" and c.get("class") == "la-option-image"),
                 None)
    audio = next((c for c in el if local(c) == "audio"
                  and c.get("class") == "la-option-audio"), None)
    text = content_fragment(el, skip=[c for c in (image, audio) if c is not None])
    return Option(
        id=bank_id, text=text or None,
        image=None if image is None else Image(file=image.get("src", ""),
                                               alt=image.get("alt", "")),
        audio=None if audio is None else Audio(
            file=audio.get("src", ""), text=catalog.get(audio.get("data-catalog-idref", ""), "")),
    )


def read_interaction(el: etree._Element, catalog: dict[str, str]) -> dict[str, Any]:
    """The bank fields an interaction gives (``type`` is a first guess the metadata may
    refine; ``catalog``: catalog id → the words a sound speaks); raises :class:`Refused`."""
    name = local(el)
    out: dict[str, Any] = {"_catalog": catalog, "_notes": [],
                           "_response": el.get("response-identifier", "RESPONSE"),
                           "_attrs": {}, "_ids": {}, "_gaps": {}}
    extra = _extra_attrs(el, out["_notes"])
    if extra:
        out["_attrs"]["interaction"] = extra
    out["shuffle"] = el.get("shuffle") == "true"
    prompt = el.find(q("qti-prompt"))
    if prompt is not None:
        out["stem"] = content_fragment(prompt)
    if name in ("qti-choice-interaction", "qti-order-interaction",
                "qti-inline-choice-interaction", "qti-associate-interaction",
                "qti-gap-match-interaction"):
        tag = {"qti-inline-choice-interaction": "qti-inline-choice",
               "qti-associate-interaction": "qti-simple-associable-choice",
               "qti-gap-match-interaction": "qti-gap-text"}.get(name, "qti-simple-choice")
        choices = [c for c in el if local(c) == tag]
        _read_choices(out, choices)
    if name == "qti-choice-interaction":
        most = int(el.get("max-choices", "1"))
        out["type"] = "mc_text" if most == 1 else "multiple_response"
        if most != 1:
            out["max_choices"] = most or None
        out["min_choices"] = int(el.get("min-choices", "0"))
        opts = out["options"]
        if opts and all(o.image and not o.text and not o.audio for o in opts):
            out["type"] = "mc_picture" if most == 1 else out["type"]
        if opts and all(o.audio and not o.text and not o.image for o in opts):
            out["type"] = "mc_audio" if most == 1 else out["type"]
    elif name == "qti-order-interaction":
        out["type"] = "ordering"
    elif name == "qti-inline-choice-interaction":
        out["type"] = "gap_choice"
    elif name == "qti-text-entry-interaction":
        out["type"] = "text_entry"
    elif name == "qti-extended-text-interaction":
        out["type"] = "rated"
    elif name in ("qti-match-interaction", "qti-associate-interaction"):
        out["type"] = "match" if name == "qti-match-interaction" else "associate"
        if name == "qti-match-interaction":
            sets = [s for s in el if local(s) == "qti-simple-match-set"]
            if len(sets) != 2:
                raise Refused("qti-match-interaction without two qti-simple-match-set")
            first, second = ([c for c in s if local(c) == "qti-simple-associable-choice"]
                             for s in sets)
            _read_choices(out, first, second)
        out["max_choices"] = int(el.get("max-associations", "1")) or None
        out["min_choices"] = int(el.get("min-associations", "0"))
    elif name == "qti-gap-match-interaction":
        out["type"] = "gap_match"
        gaps = list(el.iter(q("qti-gap")))
        names = [g.get("identifier", "") for g in gaps]
        out["_gaps"] = {g: str(n) for n, g in enumerate(names, 1)}
        skip = [c for c in el if local(c) in ("qti-prompt", "qti-gap-text")]
        out["text"] = block_fragment(el, slots=gaps, skip=skip)
        out["min_choices"] = int(el.get("min-associations", "0"))
    elif name == "qti-hottext-interaction":
        out["type"] = "hottext"
        hots = list(el.iter(q("qti-hottext")))
        _read_choices(out, hots)
        skip = [c for c in el if local(c) == "qti-prompt"]
        out["text"] = block_fragment(el, slots=hots, skip=skip)
        out["max_choices"] = int(el.get("max-choices", "1")) or None
        out["min_choices"] = int(el.get("min-choices", "0"))
    return out


def _read_choices(out: dict[str, Any], first: list[etree._Element],
                  second: list[etree._Element] | None = None) -> None:
    every = first + (second or [])
    ids = _map_ids([c.get("identifier", "") for c in every])
    out["_ids"] = ids
    made = [_option(c, ids[c.get("identifier", "")], out["_catalog"]) for c in every]
    out["options"], out["targets"] = made[:len(first)], made[len(first):]
    out["fixed"] = [ids[c.get("identifier", "")] for c in every if c.get("fixed") == "true"]
    for c in every:
        extra = _extra_attrs(c, out["_notes"])
        if extra:
            out["_attrs"][ids[c.get("identifier", "")]] = extra
