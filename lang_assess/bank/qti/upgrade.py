"""QTI 2.x packages and items (what TAO and many LMSs still export) are upgraded to QTI 3.0
before they are read, by Citolab's converter (PyPI ``citolab-qti-convert``, GPL-3.0, the
optional extra ``lang-assess[qti2]``), not by a second parser."""

from __future__ import annotations

import re

from lang_assess.errors import BankError

QTI2 = re.compile(rb"http://www\.imsglobal\.org/xsd/imsqti_v2p[0-2]")


def is_qti2(files: dict[str, bytes]) -> bool:
    """Whether any XML file of the package is QTI 2.0, 2.1 or 2.2."""
    return any(QTI2.search(data[:4000]) for path, data in files.items()
               if path.lower().endswith(".xml"))


def upgrade(files: dict[str, bytes], where: str) -> dict[str, bytes]:
    """The package's files with every QTI 2.x document converted to QTI 3.0."""
    try:
        from qti_convert import upgrade_package_files
    except ImportError:
        raise BankError(f"{where}: this is a QTI 2.x package; upgrading it to QTI 3.0 needs "
                        "the converter: pip install 'lang-assess[qti2]'") from None
    try:
        result = upgrade_package_files(files)
    except Exception as exc:  # the converter's own errors: name them, no traceback
        raise BankError(f"{where}: the QTI 2.x → 3.0 upgrade failed ({exc})") from None
    return {path: data.encode("utf-8") if isinstance(data, str) else data
            for path, data in result.files.items()}
