"""Shared fixtures: small banks built in code, so tests depend on no files."""

from __future__ import annotations

import numpy as np
import pytest

from lang_assess.irt import ItemParameters


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


def probs_by_hand(theta: float, a: float, steps: list[float], c: float) -> np.ndarray:
    """P(X=x) for one item from the textbook formulas, written without the engine."""
    steps = [s for s in steps if not np.isnan(s)]
    if len(steps) == 1:
        p = c + (1 - c) / (1 + np.exp(-a * (theta - steps[0])))
        return np.array([1 - p, p])
    numerators = [1.0]
    total = 0.0
    for s in steps:
        total += a * (theta - s)
        numerators.append(np.exp(total))
    numerators = np.array(numerators)
    return numerators / numerators.sum()


def loglik_by_hand(theta: float, bank: ItemParameters, pattern: np.ndarray) -> float:
    """log L(θ) of one response pattern (−1 = not given), item by item."""
    total = 0.0
    for i, x in enumerate(pattern):
        if x < 0:
            continue
        p = probs_by_hand(theta, bank.a[i], list(bank.steps[i]), bank.c[i])
        total += np.log(p[int(x)])
    return total


# ---- databases: every storage test runs on SQLite and on a real PostgreSQL server ------
import itertools  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from pg_server import PostgresServer, find_pg_bin  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
_db_names = itertools.count()


def needs(what: str, available: bool) -> None:
    """Skip when a real part is missing locally; under CI=true it must be there."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing under CI=true: `make test` installs it")
    pytest.skip(f"{what} not installed (`make test` installs it)")


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
