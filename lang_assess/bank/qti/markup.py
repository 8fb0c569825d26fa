"""XML plumbing shared by the QTI reader and writer: namespaces, the bank's markup
fragments in and out of QTI elements, and a serialisation that is the same byte for byte
every time (what makes export → import → export stable)."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from lang_assess.bank.interaction_rules import GAP, MATHML, words

NS = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_LANG = f"{{{XML_NS}}}lang"
SCHEMA_LOCATION = (
    f"{NS} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0p1_v1p0.xsd"
)
#: QTI elements whose children are structure: pretty-printed; all others keep their text.
STRUCTURE = words("""
    qti-assessment-item qti-response-declaration qti-outcome-declaration qti-correct-response
    qti-mapping qti-default-value qti-item-body qti-choice-interaction qti-order-interaction
    qti-match-interaction qti-associate-interaction qti-simple-match-set
    qti-extended-text-interaction qti-response-processing qti-response-condition
    qti-response-if qti-response-else qti-response-else-if qti-set-outcome-value qti-match
    qti-is-null qti-catalog-info qti-catalog qti-card qti-modal-feedback qti-rubric-block
    qti-gap-match-interaction qti-hottext-interaction qti-sum qti-gte qti-and qti-or qti-not
""")


def q(tag: str) -> str:
    """A QTI element name in Clark notation."""
    return f"{{{NS}}}{tag}"


def local(el: etree._Element) -> str:
    """An element's name without its namespace ('' for comments and processing
    instructions)."""
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def sub(parent: etree._Element, tag: str, text: str | None = None,
        **attrs: str) -> etree._Element:
    """A QTI child element; ``attrs`` with ``_`` for ``-`` (``response_identifier``)."""
    el = etree.SubElement(parent, q(tag), {k.replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


# ---- bank fragments → QTI elements ------------------------------------------------------

def append_fragment(parent: etree._Element, fragment: str | None) -> None:
    """Append a bank markup fragment (XHTML without namespace, MathML in its own) to
    ``parent`` as QTI content."""
    if not fragment:
        return
    wrapper = etree.fromstring(f"<fragment>{fragment}</fragment>")
    _append_text(parent, wrapper.text)
    for child in wrapper:
        parent.append(_to_qti(child))


def _append_text(parent: etree._Element, text: str | None) -> None:
    if not text:
        return
    if len(parent):
        parent[-1].tail = (parent[-1].tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def _to_qti(el: etree._Element) -> etree._Element:
    if not isinstance(el.tag, str):
        copy = etree.Comment(el.text)
    else:
        name = etree.QName(el)
        tag = el.tag if name.namespace == MATHML else q(name.localname)
        copy = etree.Element(tag, dict(el.attrib), nsmap={None: MATHML} if (
            name.namespace == MATHML and name.localname == "math") else None)
        copy.text = el.text
        for child in el:
            copy.append(_to_qti(child))
    copy.tail = el.tail
    return copy


# ---- QTI elements → bank fragments ------------------------------------------------------

def _escape(text: str, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = (text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
                .replace("\t", "&#9;"))
    return text


def _attr_name(name: str) -> str:
    return "xml:" + name.split("}", 1)[1] if name.startswith(f"{{{XML_NS}}}") else name


def element_fragment(el: etree._Element, in_math: bool = False) -> str:
    """One element (and its tail) as bank markup: QTI names without namespace."""
    if not isinstance(el.tag, str):
        return _escape(el.tail or "")  # comments and processing instructions are not kept
    name = etree.QName(el)
    math = name.namespace == MATHML
    tag = name.localname
    attrs = "".join(f' {_attr_name(k)}="{_escape(v, True)}"' for k, v in el.attrib.items())
    if math and tag == "math" and not in_math:
        attrs = f' xmlns="{MATHML}"' + attrs
    inner = content_fragment(el, in_math=math)
    out = f"<{tag}{attrs}>{inner}</{tag}>" if inner else f"<{tag}{attrs}/>"
    return out + _escape(el.tail or "")


def content_fragment(el: etree._Element, skip: Iterable[etree._Element] = (),
                     in_math: bool = False) -> str:
    """The content of ``el`` (text and children, not ``skip``) as bank markup."""
    skipped = set(skip)
    out = [_escape(el.text or "")]
    for child in el:
        if child in skipped:
            out.append(_escape(child.tail or ""))
        else:
            out.append(element_fragment(child, in_math=in_math))
    return "".join(out)


#: Elements whose whitespace between children is layout, not content.
BLOCK_CONTAINERS = words("""
    qti-item-body qti-content-body qti-stimulus-body div figure blockquote ul ol dl table
    thead tbody tfoot tr colgroup section article aside header footer nav
    qti-gap-match-interaction qti-hottext-interaction
""")


def _path(root: etree._Element, el: etree._Element) -> list[int]:
    path = []
    while el is not root:
        parent = el.getparent()
        path.append(parent.index(el))
        el = parent
    return path[::-1]


def _at(root: etree._Element, path: list[int]) -> etree._Element:
    for i in path:
        root = root[i]
    return root


def _remove(el: etree._Element, replacement: str = "") -> None:
    """Remove ``el`` keeping its tail (after ``replacement``) in the text around it."""
    parent, text = el.getparent(), replacement + (el.tail or "")
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    parent.remove(el)


def _layout(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    return GAP if text.strip() == GAP else text


def _drop_layout_space(el: etree._Element) -> None:
    if local(el) in BLOCK_CONTAINERS:
        el.text = _layout(el.text)
        for child in el:
            child.tail = _layout(child.tail)
    for child in el:
        if isinstance(child.tag, str) and etree.QName(child).namespace != MATHML:
            _drop_layout_space(child)


def block_fragment(container: etree._Element, slots: Iterable[etree._Element] = (),
                   skip: Iterable[etree._Element] = ()) -> str:
    """Block content (an item body, an interaction's text) as bank markup: whitespace
    between blocks is layout and dropped; each of ``slots`` (the interaction, gaps,
    hottexts) becomes ``___``; ``skip`` elements are left out (read into fields of their
    own)."""
    copy = copy_element(container)
    skipped = [_at(copy, _path(container, s)) for s in skip]
    targets = [_at(copy, _path(container, s)) for s in slots]
    for el in skipped:
        _remove(el)
    for el in targets:
        _remove(el, GAP)
    _drop_layout_space(copy)
    return content_fragment(copy)


def fill_slots(container: etree._Element, make: Iterable[etree._Element]) -> None:
    """Put the elements of ``make`` where the ``___`` slots are, in document order."""
    for new in make:
        for el in container.iter():
            if el.text and GAP in el.text:
                before, after = el.text.split(GAP, 1)
                el.text = before or None
                el.insert(0, new)
                new.tail = after or None
                break
            if el is not container and el.tail and GAP in el.tail:
                before, after = el.tail.split(GAP, 1)
                el.tail = before or None
                parent = el.getparent()
                parent.insert(parent.index(el) + 1, new)
                new.tail = after or None
                break
        else:
            raise ValueError("fewer ___ slots than parts to place")


def copy_element(el: etree._Element) -> etree._Element:
    """A deep copy (the original document stays as parsed)."""
    from copy import deepcopy

    return deepcopy(el)


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


# ---- writing -----------------------------------------------------------------------------

def indent(el: etree._Element, level: int = 0) -> None:
    """Pretty-print structure elements only; content keeps its text byte for byte."""
    if local(el) not in STRUCTURE or not len(el) or not _blank(el.text) or any(
            not _blank(c.tail) for c in el):
        return
    pad = "\n" + "  " * (level + 1)
    el.text = pad
    for child in el:
        child.tail = pad
        indent(child, level + 1)
    el[-1].tail = "\n" + "  " * level


def to_bytes(root: etree._Element) -> bytes:
    """A document as UTF-8 bytes with the XML declaration, pretty where it may be."""
    indent(root)
    body = etree.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def parse(data: bytes, source: str) -> etree._Element:
    """Parse an XML document safely (no entities resolved, no network); raises
    ``ValueError`` naming the problem."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             remove_comments=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML ({exc})") from None


