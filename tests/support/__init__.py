"""Helpers the tests share (not fixtures: those are in ``tests/conftest.py``).

- :mod:`support.reference` — textbook formulas written without the engine
- :mod:`support.pg_server` — a real PostgreSQL server in a temporary folder
- :mod:`support.browser` — Debian's Chromium via Playwright, and a Voila server
- :mod:`support.programme` — a small programme enrolled through the service
- :mod:`support.concurrency` — participants answering from several processes
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def needs(what: str, available: bool) -> None:
    """Skip when a real part is missing locally; under CI=true it must be there."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing under CI=true: `make test` installs it")
    pytest.skip(f"{what} not installed (`make test` installs it)")


def write_easier_truth(path: Path, params, shift: float) -> Path:
    """A ``--respond-with`` CSV: ``params`` with every item (each step of a rated task too)
    ``shift`` logits easier than the bank says."""
    import dataclasses

    from lang_assess.bank.params_csv import write_bank_params_csv

    easier = dataclasses.replace(params, steps=params.steps - shift)
    k = len(params.ids)
    write_bank_params_csv(path, easier, source=["shifted"] * k, n=[0] * k,
                          model=["gpcm" if s > 1 else "3pl" for s in params.n_steps])
    return path
