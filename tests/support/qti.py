"""QTI test helpers: the 1EdTech QTI 3.0 schemas (lxml), fixture packages, empty banks."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

from lxml import etree

from support import REPO

FIXTURES = REPO / "tests" / "fixtures"
SCHEMAS = FIXTURES / "qti3-schemas"
FOREIGN = FIXTURES / "qti3-foreign"
UNSUPPORTED = FIXTURES / "qti3-unsupported"
QTI21 = FIXTURES / "qti21-package"
BANK = REPO / "item_bank" / "nb"
DEFAULTS = {"skill": "reading", "level": "A2", "topic": "daily_life", "author": "imported"}


@cache
def item_schema() -> etree.XMLSchema:
    """The QTI 3.0 assessment-item schema (1EdTech, SBAC profile)."""
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "qtiv3p0"
                                           / "imsqti_asiv3p0_sbacv1p0_v1p0.xsd")))


@cache
def manifest_schema() -> etree.XMLSchema:
    """The QTI 3.0 content-package (imsmanifest.xml) schema."""
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "qtiv3p0"
                                           / "imsqtiv3p0_imscpv1p2_v1p0.xsd")))


def schema_errors(schema: etree.XMLSchema, document: bytes | Path) -> list[str]:
    """Every validation error of a document ('' list when valid)."""
    tree = etree.parse(str(document)) if isinstance(document, Path) else \
        etree.fromstring(document).getroottree()
    schema.validate(tree)
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def empty_bank(folder: Path) -> Path:
    """A bank folder with the shipped bank.yaml and no items."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BANK / "bank.yaml", folder / "bank.yaml")
    return folder


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path (to compare two folders byte by byte)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}
