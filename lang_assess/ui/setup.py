"""The service a page uses: configured database, bank and programme rules."""

from __future__ import annotations

import os
from pathlib import Path

from lang_assess.serve import REPO
from lang_assess.service import Service


def configured_service() -> tuple[Service, Path]:
    """The service on ``LANG_ASSESS_DB`` (or ``$LANG_ASSESS_DATA``, default ``data/`` in the
    repository) and the bank in ``LANG_ASSESS_BANK`` (default ``item_bank/nb``); returns
    it with the bank folder (where the pictures and sounds are)."""
    from lang_assess.bank.loader import load_bank
    from lang_assess.programme import load_config
    from lang_assess.store.db import make_engine, migrate

    os.environ.setdefault("LANG_ASSESS_DATA", str(REPO / "data"))
    bank_dir = Path(os.environ.get("LANG_ASSESS_BANK", REPO / "item_bank" / "nb"))
    engine = make_engine()
    migrate(engine)
    return Service(engine, load_bank(bank_dir), load_config()), bank_dir
