"""What the adaptive test knows: the prepared bank and the state of P tests.

Components never keep state of their own; everything that changes during a test lives
in :class:`TestState`, and everything derived once per bank lives in :class:`PreparedBank`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lang_assess.engine.irt.params import ItemParameters


@dataclass(frozen=True, eq=False)
class PreparedBank:
    """A bank with the per-design arrays the components need, computed once.

    Attributes
    ----------
    params : ItemParameters (n items)
    grid : (Q,) quadrature points in logits used for the posterior
    skills : skill names the design balances over (empty: no balancing)
    skill_code : (n,) int position of each item's skill in ``skills``; -1 if not listed
    exposure_k : (n,) float Sympson-Hetter exposure-control parameters (1 = no control)
    enemies : (n, n) bool, symmetric: items never given to the same person; None if
        the bank has none (recording an answer blocks the item's enemies)
    route_pools : (3, n) bool routing, non-reader and reader pools of a design with a
        routing stage (:mod:`lang_assess.engine.cat.routing`); None without one
    """

    params: ItemParameters
    grid: np.ndarray
    skills: tuple[str, ...]
    skill_code: np.ndarray
    exposure_k: np.ndarray
    enemies: np.ndarray | None = None
    route_pools: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        """Number of items n."""
        return self.params.n_items

    @property
    def information_grid(self) -> np.ndarray:
        """(Q, n) item information at every grid point (cached on the parameters)."""
        return self.params.information_on_grid(self.grid)


def enemy_matrix(params: ItemParameters, pairs: Iterable[tuple[str, str]]) -> np.ndarray | None:
    """(n, n) bool symmetric matrix of the enemy ``pairs`` (item ids) whose items are both
    in ``params``; None when there is no such pair."""
    index = {str(i): k for k, i in enumerate(params.ids.tolist())}
    both = [(index[a], index[b]) for a, b in pairs if a in index and b in index and a != b]
    if not both:
        return None
    rows, cols = np.array(both).T
    out = np.zeros((params.n_items, params.n_items), dtype=bool)
    out[rows, cols] = True
    out[cols, rows] = True
    return out


@dataclass(eq=False)
class TestState:
    """State of P adaptive tests on one bank, arrays over persons.

    Attributes
    ----------
    items : (P, L) int  bank positions administered, in order; -1 after ``length``
    scores : (P, L) int  scores given to those items; -1 after ``length``
    length : (P,) int  number of items answered
    blocked : (P, n) bool  items that may not be given (seen, excluded, or withheld by
        exposure control in this test)
    log_lik : (P, Q) float  log-likelihood of the answers on the grid
    log_prior : (P, Q) float  log prior density on the grid
    prior_mean, prior_sd : (P,) float  each person's normal prior (logits)
    theta, se : (P,) float  current estimate and its standard error (logits)
    skill_counts : (P, S) int  items answered per balanced skill
    ended : (P,) bool  no eligible item was left when the next one was asked for
    """

    __test__ = False  # not a pytest test class, despite the name

    items: np.ndarray
    scores: np.ndarray
    length: np.ndarray
    blocked: np.ndarray
    log_lik: np.ndarray
    log_prior: np.ndarray
    prior_mean: np.ndarray
    prior_sd: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    skill_counts: np.ndarray
    ended: np.ndarray

    @property
    def n_persons(self) -> int:
        """Number of tests P."""
        return int(self.length.shape[0])

    def administered(self, person: int) -> tuple[np.ndarray, np.ndarray]:
        """Bank positions and scores of one person's answered items, in order."""
        n = int(self.length[person])
        return self.items[person, :n], self.scores[person, :n]
