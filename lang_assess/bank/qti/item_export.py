"""One item → one ``qti-assessment-item`` document (valid QTI 3.0).

The body of an item written by the bank: its sounds (``audio`` with class
``la-stem-audio`` / ``la-transcript``), picture (``div.la-stem-image``), passage
(``div.la-passage``), then the interaction (gap items: a ``p.la-stem`` around it), then
rubric blocks.  The words a sound speaks are a ``transcript`` card of the item's
``qti-catalog-info``, tied to the ``audio`` by ``data-catalog-idref``.  An item with a
``body`` (an imported one) has that markup written with the interaction at its ``___``.
:mod:`~lang_assess.bank.qti.item_import` reads all of this back.
"""

from __future__ import annotations

from lxml import etree

from lang_assess.bank.interaction_rules import GAP
from lang_assess.bank.qti.interactions import (
    INLINE,
    Ids,
    cardinality,
    media_audio,
    write_interaction,
)
from lang_assess.bank.qti.markup import (
    NS,
    SCHEMA_LOCATION,
    XML_LANG,
    XSI,
    append_fragment,
    fill_slots,
    q,
    sub,
)
from lang_assess.bank.qti.processing import write_processing
from lang_assess.bank.schema import Item, QtiOrigin

FEEDBACK_KINDS = ("correct", "incorrect")


def _blocks(parent: etree._Element, fragment: str) -> None:
    """Content that must be blocks (rubrics, feedback): inline markup goes in a ``p``."""
    inline = not fragment.lstrip().startswith(("<p", "<div", "<ul", "<ol", "<table",
                                               "<figure", "<blockquote", "<h"))
    append_fragment(parent, f"<p>{fragment}</p>" if inline else fragment)


def write_item(item: Item, language: str) -> etree._Element:
    """The item as a ``qti-assessment-item`` element (valid QTI 3.0)."""
    origin = item.qti or QtiOrigin(identifier=item.id)
    ids = Ids(dict(origin.options), dict(origin.gaps))
    response = origin.response
    root = etree.Element(q("qti-assessment-item"), nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    for k, v in (("identifier", origin.identifier), ("title", origin.title or item.id),
                 ("adaptive", "false"), ("time-dependent", "false"), (XML_LANG, language)):
        root.set(k, v)
    card, base = cardinality(item)
    decl = sub(root, "qti-response-declaration", identifier=response, cardinality=card,
               base_type=base)
    if item.key:
        correct = sub(decl, "qti-correct-response")
        for k in item.key:
            sub(correct, "qti-value", ids.value(item, k))
    if item.mapping is not None:
        m = item.mapping
        mapping = sub(decl, "qti-mapping", default_value=str(m.default))
        if m.lower is not None:
            mapping.set("lower-bound", str(m.lower))
        if m.upper is not None:
            mapping.set("upper-bound", str(m.upper))
        for k, v in m.entries.items():
            entry = sub(mapping, "qti-map-entry", map_key=ids.value(item, k),
                        mapped_value=str(v))
            if item.type == "text_entry":
                entry.set("case-sensitive", "true" if m.case_sensitive else "false")
    score = sub(root, "qti-outcome-declaration", identifier="SCORE", cardinality="single",
                base_type="float", normal_maximum=str(item.max_score))
    if item.type == "rated":
        score.set("external-scored", "human")
    feedback_ids = {f.on: origin.feedback.get(f.on, f.on if f.on in FEEDBACK_KINDS
                                              else ids.option(f.on)) for f in item.feedback}
    if item.feedback:
        per_option = not set(feedback_ids) & set(FEEDBACK_KINDS)
        sub(root, "qti-outcome-declaration", identifier=origin.feedback_outcome,
            cardinality=card if per_option else "single", base_type="identifier")

    body = sub(root, "qti-item-body")
    if item.stem_audio is not None:
        media_audio(body, item.stem_audio, "la-stem-audio", "la-audio-stem")
    if item.transcript is not None:
        media_audio(body, item.transcript, "la-transcript", "la-audio-transcript")
    if item.image is not None:  # an img is inline content: the body wants blocks
        sub(sub(body, "div", **{"class": "la-stem-image"}), "img", src=item.image.file,
            alt=item.image.alt)
    if item.passage is not None:
        append_fragment(sub(body, "div", **{"class": "la-passage"}), item.passage)
    interaction = write_interaction(item, response, ids, dict(origin.attributes))
    if item.body is not None:
        holder = etree.Element(q("div"))
        append_fragment(holder, item.body)
        fill_slots(holder, [interaction])
        body.text = holder.text
        for child in list(holder):
            body.append(child)
    elif item.type in INLINE:
        before, after = item.stem.split(GAP, 1)
        p = sub(body, "p", **{"class": "la-stem"})
        append_fragment(p, before + GAP + after)
        fill_slots(p, [interaction])
    else:
        body.append(interaction)
    for r in item.rubric or []:
        block = sub(body, "qti-rubric-block", use="scoring", view="scorer",
                    **{"class": f"la-score-{r.score}"})
        content = sub(block, "qti-content-body")
        _blocks(content, r.descriptor)
        if r.descriptor_en:  # the English descriptor, read back into descriptor_en
            sub(content, "p", r.descriptor_en, **{"class": "la-descriptor-en"})

    sounds = [("la-audio-stem", item.stem_audio), ("la-audio-transcript", item.transcript)]
    sounds += [(f"la-audio-{o.id}", o.audio) for o in item.options]
    sounds = [(cid, a) for cid, a in sounds if a is not None]
    if sounds:
        info = sub(root, "qti-catalog-info")
        for cid, audio in sounds:
            card_el = sub(sub(info, "qti-catalog", id=cid), "qti-card", support="transcript")
            sub(card_el, "qti-html-content", audio.text)
    if item.type != "rated":
        write_processing(root, "map" if item.mapping is not None else "match", response,
                         {ids.option(k) if k not in FEEDBACK_KINDS else k: v
                          for k, v in feedback_ids.items()}, origin.feedback_outcome)
    for f in item.feedback:
        modal = sub(root, "qti-modal-feedback", outcome_identifier=origin.feedback_outcome,
                    identifier=feedback_ids[f.on], show_hide="show")
        if f.title is not None:
            modal.set("title", f.title)
        _blocks(sub(modal, "qti-content-body"), f.content)
    return root
