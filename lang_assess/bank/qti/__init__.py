"""IMS QTI 3.0 export and import, so items move to and from TAO, Citolab's players and
other tools (docs/bank/qti.md).

- :mod:`~lang_assess.bank.qti.markup` — namespaces; the bank's markup in and out of QTI.
- :mod:`~lang_assess.bank.qti.interactions` — each interaction, both ways.
- :mod:`~lang_assess.bank.qti.processing` — response processing and modal feedback.
- :mod:`~lang_assess.bank.qti.item_export`, :mod:`~lang_assess.bank.qti.item_import` — one
  item ⇄ one ``qti-assessment-item``.
- :mod:`~lang_assess.bank.qti.manifest` — ``imsmanifest.xml`` and item metadata.
- :mod:`~lang_assess.bank.qti.package` — export a package; import one (folder, zip,
  loose files), every problem at once.
- :mod:`~lang_assess.bank.qti.upgrade` — QTI 2.x packages upgraded to 3.0 first.
"""

from __future__ import annotations

from lxml import etree

from lang_assess.bank.qti.interactions import Refused
from lang_assess.bank.qti.item_import import origin_of, read_item
from lang_assess.bank.qti.markup import NS, parse
from lang_assess.bank.qti.package import (
    ImportReport,
    export_qti,
    import_qti,
    item_document,
    metadata,
    package_files,
)
from lang_assess.bank.schema import Item
from lang_assess.errors import BankError

__all__ = ["NS", "ImportReport", "export_qti", "import_qti", "item_document", "item_to_qti",
           "metadata",
           "package_files", "qti_to_item"]


def item_to_qti(item: Item, language: str = "nb") -> str:
    """The item as a QTI 3.0 ``qti-assessment-item`` document (str)."""
    return item_document(item, language).decode("utf-8")


def qti_to_item(xml: str | bytes, meta: dict | None = None, source: str = "<qti>") -> Item:
    """An item from one ``qti-assessment-item`` document and its metadata (what the
    manifest says; by default none, so the document must come from :func:`item_to_qti`
    of an item whose metadata is passed).  Raises :class:`BankError`."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = parse(data, source)
        if root.tag != etree.QName(NS, "qti-assessment-item").text:
            raise ValueError("root element is not a QTI 3.0 qti-assessment-item")
        fields = read_item(root, [])
    except (ValueError, Refused) as exc:
        raise BankError(str(exc), source=source) from None
    out = {k: v for k, v in fields.items() if not k.startswith("_")}
    out.update(meta or {})
    out["qti"] = origin_of(fields, out.get("id", ""))
    try:
        return Item.model_validate(out)
    except ValueError as exc:
        raise BankError(f"item '{out.get('id')}': {exc}", source=source) from None
