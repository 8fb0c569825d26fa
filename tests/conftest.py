"""Shared fixtures: small banks built in code, the shipped bank, and databases on both
backends.  Tests are laid out by layer (engine/, bank/, psychometrics/, programme/, ui/,
cli/); helpers live in the ``support`` package.  Markers: a test that uses a database is
marked ``db``, one that drives Chromium ``browser`` (both set here from the fixtures and
modules they use), so ``pytest -m "not db and not browser"`` is the quick loop.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support import REPO, needs
from support.pg_server import PostgresServer, find_pg_bin

from lang_assess.engine.irt import ItemParameters


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


@pytest.fixture
def mixed_bank(rng: np.random.Generator) -> ItemParameters:
    """12 right/wrong items (some 3PL) and 4 rated GPCM items with 2 or 3 steps."""
    n = 12
    dich = ItemParameters.dichotomous(
        [f"d{i}" for i in range(n)],
        rng.lognormal(0.1, 0.3, n),
        rng.uniform(-2.5, 2.5, n),
        np.where(np.arange(n) % 3 == 0, 0.2, 0.0),
        skill=["reading", "listening", "vocabulary", "grammar"] * 3,
    )
    steps = np.array(
        [[-1.0, 0.2, 1.1], [-0.5, 0.8, np.nan], [0.3, -0.4, 1.5], [-1.8, -0.6, np.nan]]
    )
    poly = ItemParameters.gpcm(
        [f"g{i}" for i in range(4)], [0.9, 1.3, 0.7, 1.1], steps, skill=["writing"] * 4
    )
    return ItemParameters.concat([dich, poly])


# ---- databases: every storage test runs on SQLite and on a real PostgreSQL server ------
_db_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    needs("PostgreSQL", find_pg_bin() is not None)
    with PostgresServer() as pg:
        yield pg


@pytest.fixture(scope="session")
def nb_bank():
    from lang_assess.bank.loader import load_bank

    return load_bank(REPO / "item_bank" / "nb")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    pg = request.getfixturevalue("postgres_server")
    return pg.create_database(f"t{next(_db_names)}")


_DB_FIXTURES = {"db_url", "postgres_server", "engine", "demo_service", "site"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark database tests ``db`` by the fixtures they use; browser modules mark
    themselves ``browser`` (``pytestmark``)."""
    for item in items:
        if _DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
