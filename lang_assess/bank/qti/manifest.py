"""``imsmanifest.xml``: the package's resources and each item's metadata.

What QTI items do not hold (skill, level, topic, author, review, …: every item field that
is not content) is metadata, and QTI keeps metadata in the manifest: each item resource
has a LOM record (``lom:lom``) with what other tools read — the bank id, language, topic
as a keyword, the author, the CEFR level as a classification — and, in LOM's extension
point, an ``la:item`` element whose text is those fields as JSON (the bank's own record,
read back first on import).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from lang_assess import __version__
from lang_assess.bank.qti.markup import XSI, local

CP = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
LOM = "http://ltsc.ieee.org/xsd/LOM"
QMD = "http://www.imsglobal.org/xsd/imsqti_metadata_v3p0"
LA = "https://lang-assess.invalid/xsd/qti-metadata/v1"
CP_LOCATION = (f"{CP} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/"
               "imsqtiv3p0_imscpv1p2_v1p0.xsd")
LEVELS = ("preA1", "A1", "A2", "B1", "B2", "C1")
SKILLS = ("reading", "listening", "vocabulary", "grammar", "literacy", "speaking", "writing")
INTERACTION_TYPE = {
    "qti-choice-interaction": "choiceInteraction", "qti-order-interaction": "orderInteraction",
    "qti-inline-choice-interaction": "inlineChoiceInteraction",
    "qti-text-entry-interaction": "textEntryInteraction",
    "qti-match-interaction": "matchInteraction",
    "qti-associate-interaction": "associateInteraction",
    "qti-gap-match-interaction": "gapMatchInteraction",
    "qti-hottext-interaction": "hottextInteraction",
    "qti-extended-text-interaction": "extendedTextInteraction",
}


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None,
        **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def _vocab(parent: etree._Element, tag: str, value: str) -> None:
    v = _el(parent, LOM, tag)
    _el(v, LOM, "source", "LOMv1.0")
    _el(v, LOM, "value", value)


@dataclass
class Entry:
    """One item resource to write: its file, the files it uses and its metadata."""

    identifier: str
    href: str
    files: list[str]
    metadata: dict[str, Any]
    interaction: str
    human_scored: bool
    feedback: bool
    language: str


def write_manifest(entries: list[Entry], identifier: str) -> etree._Element:
    """The package manifest (valid against the QTI 3.0 content-package schema)."""
    root = etree.Element(f"{{{CP}}}manifest", nsmap={None: CP, "lom": LOM, "imsqti": QMD,
                                                     "la": LA, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", CP_LOCATION)
    root.set("identifier", identifier)
    meta = _el(root, CP, "metadata")
    _el(meta, CP, "schema", "QTI Item Bank")
    _el(meta, CP, "schemaversion", "3.0.0")
    _el(root, CP, "organizations")
    resources = _el(root, CP, "resources")
    for e in entries:
        res = _el(resources, CP, "resource", identifier=e.identifier,
                  type="imsqti_item_xmlv3p0", href=e.href)
        _resource_metadata(_el(res, CP, "metadata"), e)
        for f in [e.href, *e.files]:
            _el(res, CP, "file", href=f)
    return root


def _resource_metadata(meta: etree._Element, e: Entry) -> None:
    qmd = _el(meta, QMD, "qtiMetadata")
    _el(qmd, QMD, "timeDependent", "false")
    _el(qmd, QMD, "interactionType", INTERACTION_TYPE[e.interaction])
    _el(qmd, QMD, "feedbackType", "nonadaptive" if e.feedback else "none")
    _el(qmd, QMD, "solutionAvailable", "false" if e.human_scored else "true")
    _el(qmd, QMD, "scoringMode", "human" if e.human_scored else "responseprocessing")
    _el(qmd, QMD, "toolName", "lang_assess")
    _el(qmd, QMD, "toolVersion", __version__)
    lom = _el(meta, LOM, "lom")
    general = _el(lom, LOM, "general")
    ident = _el(general, LOM, "identifier")
    _el(ident, LOM, "catalog", "lang_assess")
    _el(ident, LOM, "entry", str(e.metadata.get("id", e.identifier)))
    _el(general, LOM, "language", e.language)
    if e.metadata.get("topic"):
        _el(_el(general, LOM, "keyword"), LOM, "string", str(e.metadata["topic"]))
    if e.metadata.get("author"):
        contribute = _el(_el(lom, LOM, "lifeCycle"), LOM, "contribute")
        _vocab(contribute, "role", "author")
        _el(contribute, LOM, "entity",
            f"BEGIN:VCARD\nVERSION:3.0\nFN:{e.metadata['author']}\nEND:VCARD")
    if e.metadata.get("level"):
        cls = _el(lom, LOM, "classification")
        _vocab(cls, "purpose", "educational level")
        path = _el(cls, LOM, "taxonPath")
        _el(_el(path, LOM, "source"), LOM, "string", "CEFR")
        _el(_el(path, LOM, "taxon"), LOM, "id", str(e.metadata["level"]))
    _el(lom, LA, "item", json.dumps(e.metadata, ensure_ascii=False))


# ---- reading ----------------------------------------------------------------------------

@dataclass
class Resource:
    """An item resource of a manifest: its file and what its metadata says."""

    identifier: str
    href: str
    files: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def _text(el: etree._Element | None) -> str | None:
    return None if el is None or el.text is None else el.text.strip() or None


def read_manifest(root: etree._Element) -> tuple[list[Resource], list[str]]:
    """The item resources (in order) and the problems of a manifest."""
    if local(root) != "manifest":
        return [], [f"root element is '{local(root)}', not manifest"]
    out, problems = [], []
    for res in root.iter("{*}resource"):
        kind = res.get("type", "")
        if not kind.startswith("imsqti_item_xml"):
            continue
        files = [f.get("href", "") for f in res.iterfind("{*}file")]
        href = res.get("href") or (files[0] if files else "")
        if not href:
            problems.append(f"resource '{res.get('identifier')}': no href")
            continue
        meta, trouble = _metadata(res)
        problems.extend(f"resource '{res.get('identifier')}': {t}" for t in trouble)
        out.append(Resource(res.get("identifier", href), href, files, meta))
    return out, problems


def _metadata(res: etree._Element) -> tuple[dict[str, Any], list[str]]:
    """The bank's own record when there is one, else what LOM says."""
    own = res.find(f".//{{{LA}}}item")
    if own is not None:
        try:
            data = json.loads(own.text or "{}")
        except json.JSONDecodeError as exc:
            return {}, [f"la:item metadata is not JSON ({exc})"]
        return (data, []) if isinstance(data, dict) else ({}, ["la:item is not a record"])
    out: dict[str, Any] = {}
    lom = res.find(f".//{{{LOM}}}lom")
    if lom is None:
        return out, []
    keyword = lom.find(f"{{{LOM}}}general/{{{LOM}}}keyword/{{{LOM}}}string")
    if _text(keyword):
        out["topic"] = _text(keyword)
    for contribute in lom.iterfind(f"{{{LOM}}}lifeCycle/{{{LOM}}}contribute"):
        if _text(contribute.find(f"{{{LOM}}}role/{{{LOM}}}value")) == "author":
            entity = _text(contribute.find(f"{{{LOM}}}entity")) or ""
            m = re.search(r"^FN:(.+)$", entity, re.M)
            out["author"] = (m.group(1) if m else entity).strip()
            break
    for taxon in lom.iter(f"{{{LOM}}}taxon"):
        for value in (_text(taxon.find(f"{{{LOM}}}id")),
                      _text(taxon.find(f"{{{LOM}}}entry/{{{LOM}}}string"))):
            level = {v.lower(): v for v in LEVELS}.get((value or "").replace("-", "").lower())
            if level:
                out.setdefault("level", level)
            if value and value.lower() in SKILLS:
                out.setdefault("skill", value.lower())
    return out, []
