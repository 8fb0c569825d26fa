"""IMS QTI 3.0 export and import of items, so they move to and from TAO and other tools.

Mapping (one ``qti-assessment-item`` per item, namespace ``imsqtiasi_v3p0``):

- mc_text, mc_picture, mc_audio, true_false → ``qti-choice-interaction`` (single
  cardinality); picture and sound options carry ``img`` / ``audio`` elements;
- gap_choice → ``qti-inline-choice-interaction`` placed where the gap ``___`` is;
- ordering → ``qti-order-interaction`` (ordered cardinality);
- rated → ``qti-extended-text-interaction`` with the rubric in a scorer
  ``qti-rubric-block``; the score is set by a person, so no response processing.
- Right/wrong items use the standard ``match_correct`` response processing template.

What QTI has no element for (skill, level, topic, author, review, enemies, the words an
audio file speaks) travels in ``data-*`` attributes, which QTI 3.0 allows on body content, so
an export followed by an import gives back the same item.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from lang_assess.bank.schema import GAP, Audio, Image, Item, Option, Review, RubricLevel
from lang_assess.errors import BankError

NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MATCH_CORRECT = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"
SCHEMA_LOCATION = (
    f"{NS} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0p1_v1p0.xsd"
)
ET.register_namespace("", NS)


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, _q(tag), {k.replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def _media(parent: ET.Element, role: str, audio: Audio | None = None,
           image: Image | None = None) -> None:
    if image is not None:
        _sub(parent, "img", src=image.file, alt=image.alt, data_role=role)
    if audio is not None:
        _sub(parent, "audio", src=audio.file, controls="controls", data_role=role,
             data_text=audio.text)


def item_to_qti(item: Item, language: str = "nb") -> str:
    """The item as a QTI 3.0 ``qti-assessment-item`` XML document (str)."""
    root = ET.Element(_q("qti-assessment-item"), {
        "identifier": item.id, "title": item.id, "adaptive": "false",
        "time-dependent": "false", XML_LANG: language,
    })
    root.set("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", SCHEMA_LOCATION)
    if item.type == "rated":
        _sub(root, "qti-response-declaration", identifier="RESPONSE", cardinality="single",
             base_type="string")
    else:
        ordered = item.type == "ordering"
        decl = _sub(root, "qti-response-declaration", identifier="RESPONSE",
                    cardinality="ordered" if ordered else "single", base_type="identifier")
        correct = _sub(decl, "qti-correct-response")
        for k in item.key:
            _sub(correct, "qti-value", k)
    _sub(root, "qti-outcome-declaration", identifier="SCORE", cardinality="single",
         base_type="float", normal_maximum=str(item.max_score))

    body = _sub(root, "qti-item-body", data_skill=item.skill, data_level=item.level,
                data_type=item.type, data_topic=item.topic, data_within_level=item.within_level,
                data_author=item.author, data_review_status=item.review.status)
    for name in ("reviewer", "date", "note"):
        value = getattr(item.review, name)
        if value is not None:
            body.set(f"data-review-{name}", value)
    if item.review.changes:
        body.set("data-review-changes", json.dumps(item.review.changes, ensure_ascii=False))
    if item.enemies:
        body.set("data-enemies", " ".join(item.enemies))
    _media(body, "stem", audio=item.stem_audio, image=item.image)
    _media(body, "transcript", audio=item.transcript)
    if item.passage is not None:
        _sub(body, "div", item.passage, data_role="passage")

    if item.type == "gap_choice":
        before, after = item.stem.split(GAP, 1)
        p = _sub(body, "p", before, data_role="stem")
        inline = _sub(p, "qti-inline-choice-interaction", response_identifier="RESPONSE",
                      shuffle="false")
        inline.tail = after
        for o in item.options:
            _sub(inline, "qti-inline-choice", o.text, identifier=o.id)
    elif item.type == "rated":
        interaction = _sub(body, "qti-extended-text-interaction",
                           response_identifier="RESPONSE")
        _sub(interaction, "qti-prompt", item.stem)
        rubric = _sub(body, "qti-rubric-block", view="scorer", use="scoring")
        for r in item.rubric or []:
            _sub(rubric, "p", r.descriptor, data_score=str(r.score))
    else:
        tag = "qti-order-interaction" if item.type == "ordering" else "qti-choice-interaction"
        interaction = _sub(body, tag, response_identifier="RESPONSE", shuffle="false")
        if tag == "qti-choice-interaction":
            interaction.set("max-choices", "1")
        _sub(interaction, "qti-prompt", item.stem)
        for o in item.options:
            choice = _sub(interaction, "qti-simple-choice", identifier=o.id)
            if o.text is not None:
                _sub(choice, "span", o.text, data_role="text")
            _media(choice, "option", audio=o.audio, image=o.image)
    if item.type != "rated":
        _sub(root, "qti-response-processing", template=MATCH_CORRECT)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _audio(el: ET.Element, role: str) -> Audio | None:
    for a in el.findall(_q("audio")):
        if a.get("data-role") == role:
            return Audio(file=a.get("src", ""), text=a.get("data-text", ""))
    return None


def _image(el: ET.Element, role: str) -> Image | None:
    for i in el.findall(_q("img")):
        if i.get("data-role") == role:
            return Image(file=i.get("src", ""), alt=i.get("alt", ""))
    return None


def qti_to_item(xml: str, source: str = "<qti>") -> Item:
    """Parse a ``qti-assessment-item`` written by :func:`item_to_qti` (or a tool that
    keeps its structure and ``data-*`` attributes) back into an item."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise BankError(f"not well-formed XML ({exc})", source=source) from None
    if root.tag != _q("qti-assessment-item"):
        raise BankError(f"root element is {root.tag!r}, not qti-assessment-item", source=source)
    body = root.find(_q("qti-item-body"))
    if body is None:
        raise BankError(f"item '{root.get('identifier')}': no qti-item-body", source=source)
    data: dict[str, Any] = {
        "id": root.get("identifier"),
        "skill": body.get("data-skill"),
        "level": body.get("data-level"),
        "type": body.get("data-type"),
        "topic": body.get("data-topic"),
        "within_level": body.get("data-within-level", "mid"),
        "author": body.get("data-author"),
        "review": Review(status=body.get("data-review-status", "draft"),
                         reviewer=body.get("data-review-reviewer"),
                         date=body.get("data-review-date"),
                         note=body.get("data-review-note"),
                         changes=json.loads(body.get("data-review-changes", "[]"))),
        "enemies": body.get("data-enemies", "").split(),
        "stem_audio": _audio(body, "stem"),
        "image": _image(body, "stem"),
        "transcript": _audio(body, "transcript"),
    }
    passage = next((d for d in body.findall(_q("div")) if d.get("data-role") == "passage"), None)
    if passage is not None:
        data["passage"] = passage.text or ""
    decl = root.find(_q("qti-response-declaration"))
    if decl is not None and decl.find(_q("qti-correct-response")) is not None:
        data["key"] = [v.text or "" for v in decl.iter(_q("qti-value"))]

    inline = body.find(f".//{_q('qti-inline-choice-interaction')}")
    extended = body.find(_q("qti-extended-text-interaction"))
    if inline is not None:
        p = next(p for p in body.findall(_q("p")) if p.get("data-role") == "stem")
        # pretty-printing may put indentation where the gap starts or ends the stem
        before = p.text if p.text and p.text.strip() else ""
        after = inline.tail if inline.tail and inline.tail.strip() else ""
        data["stem"] = before + GAP + after
        data["options"] = [Option(id=c.get("identifier", ""), text=c.text)
                           for c in inline.findall(_q("qti-inline-choice"))]
    elif extended is not None:
        data["stem"] = extended.findtext(_q("qti-prompt"), default="")
        block = body.find(_q("qti-rubric-block"))
        data["rubric"] = [RubricLevel(score=int(p.get("data-score", "0")), descriptor=p.text or "")
                          for p in (block.findall(_q("p")) if block is not None else [])]
    else:
        interaction = body.find(_q("qti-choice-interaction"))
        if interaction is None:
            interaction = body.find(_q("qti-order-interaction"))
        if interaction is None:
            raise BankError(f"item '{data['id']}': no supported interaction", source=source)
        data["stem"] = interaction.findtext(_q("qti-prompt"), default="")
        options = []
        for c in interaction.findall(_q("qti-simple-choice")):
            text_el = next((s for s in c.findall(_q("span")) if s.get("data-role") == "text"),
                           None)
            options.append(Option(id=c.get("identifier", ""),
                                  text=None if text_el is None else text_el.text or "",
                                  image=_image(c, "option"), audio=_audio(c, "option")))
        data["options"] = options
    try:
        return Item.model_validate(data)
    except ValueError as exc:
        raise BankError(f"item '{data['id']}': {exc}", source=source) from None


def export_qti(items: list[Item], bank_root: Path, out: Path, language: str = "nb") -> Path:
    """Write a QTI 3.0 content package: ``imsmanifest.xml``, one XML per item, the media.

    Returns the manifest path.
    """
    out.mkdir(parents=True, exist_ok=True)
    manifest = ET.Element("manifest", {
        "xmlns": "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1",
        "identifier": f"lang_assess-{language}",
    })
    ET.SubElement(manifest, "organizations")
    resources = ET.SubElement(manifest, "resources")
    for item in items:
        href = f"items/{item.id}.xml"
        (out / "items").mkdir(exist_ok=True)
        (out / href).write_text(item_to_qti(item, language), encoding="utf-8")
        res = ET.SubElement(resources, "resource", {
            "identifier": item.id, "type": "imsqti_item_xmlv3p0", "href": href})
        ET.SubElement(res, "file", {"href": href})
        for _, rel in item.media():
            target = out / "items" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bank_root / rel, target)
            ET.SubElement(res, "file", {"href": f"items/{rel}"})
    ET.indent(manifest)
    path = out / "imsmanifest.xml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                    + ET.tostring(manifest, encoding="unicode"), encoding="utf-8")
    return path


def import_qti(package: Path, bank_root: Path, *, overwrite: bool = False) -> list[Item]:
    """Read every item XML of a package (folder with ``items/*.xml``) into the bank folder.

    Media files are copied next to the items; an id already in the bank is refused unless
    ``overwrite``.  All problems are reported together and nothing is written then.
    """
    import yaml

    files = sorted((package / "items").glob("*.xml")) or sorted(package.glob("*.xml"))
    items, problems = [], []
    for f in files:
        try:
            items.append(qti_to_item(f.read_text(encoding="utf-8"), source=str(f)))
        except BankError as exc:
            problems.append(str(exc))
    for item in items:
        target = bank_root / item.skill / f"{item.id}.yaml"
        if target.exists() and not overwrite:
            problems.append(f"{target}: item '{item.id}' is already in the bank")
        for field, rel in item.media():
            if not (files[0].parent / rel).is_file():
                problems.append(f"{package}: item '{item.id}': field '{field}' points to a "
                                f"missing file '{rel}'")
    if problems:
        raise BankError(problems)
    for item in items:
        for _, rel in item.media():
            (bank_root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files[0].parent / rel, bank_root / rel)
        data = item.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
        (bank_root / item.skill).mkdir(exist_ok=True)
        (bank_root / item.skill / f"{item.id}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return items
