"""A routing stage for the lowest levels: can this person read, or not yet?

As Cito's Alfa intake and Norskprøven do, the test starts with a few items that need no
reading (a spoken question, pictures to choose from).  Their answers decide the rest:

- a person who cannot do them is a *non-reader*: the test stays in the items that need
  no reading (the routing items' pool and the pre-A1 literacy tasks, which are spoken),
  and the result says which literacy step they reached;
- a person who can is a *reader* and goes on to the main test, starting from what the
  routing showed (its answers are scored like any other, so the posterior carries them);
  literacy tasks are not given to readers.

After the routing items the decision is the posterior's, from every answer so far: a
non-reader who answers the items that need no reading well goes on to the main test as
soon as the evidence says they read, and a reader who cannot do the main test's items
is given items that need no reading.  Four guessable picture items alone sent almost
half of Track 1 simulees at θ = −1.5 (A1: readers) down the non-reader branch on the
nb bank; a decision that keeps looking does not leave them there.  The branch is a pure
function of the answers and the prior, so a test restored from its answers takes the
same branch; nothing is added to the state.
:class:`Routing` narrows the items a test may be given
(:class:`~lang_assess.engine.cat.select.ItemSelector` asks it before content balancing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lang_assess.engine.cat.state import PreparedBank, TestState
from lang_assess.engine.irt.estimate import posterior_weights
from lang_assess.engine.levels import CutScores

ROUTING, NON_READER, READER = -1, 0, 1
BRANCHES = {ROUTING: "routing", NON_READER: "non-reader", READER: "reader"}


@dataclass(frozen=True)
class Routing:
    """Routing items first; then non-readers stay with items that need no reading.

    Parameters
    ----------
    route : ids of the routing items (audio and pictures; chosen among them by the test's
        criterion).
    no_reading : ids of every item a non-reader may be given (routing items included).
    readers_skip : ids readers are never given (the literacy tasks).
    n_items : length of the routing stage (items).
    cut : θ (logits) of the reading threshold: a person whose posterior puts θ below it
        with probability > 0.5 is a non-reader.
    literacy_steps : cut scores of the literacy steps (e.g. LASLLIAM-style steps 1-4 on
        the θ scale), reported for routed tests; None: not reported.
    """

    route: tuple[str, ...]
    no_reading: tuple[str, ...]
    readers_skip: tuple[str, ...] = ()
    n_items: int = 4
    cut: float = -2.0
    literacy_steps: CutScores | None = None

    def __post_init__(self) -> None:
        for name in ("route", "no_reading", "readers_skip"):
            object.__setattr__(self, name, tuple(str(i) for i in getattr(self, name)))
        if self.n_items < 1 or not self.route:
            raise ValueError("routing needs at least one routing item and n_items ≥ 1")
        missing = sorted(set(self.route) - set(self.no_reading))
        if missing:
            raise ValueError(f"routing items must need no reading: {missing}")

    def pools(self, ids: np.ndarray) -> np.ndarray:
        """(3, n) bool over the bank's items ``ids``: routing, non-reader and reader pools.

        Ids the bank does not have are ignored (a bank version may lack an item)."""
        ids = np.asarray(ids).astype(str)
        route = np.isin(ids, self.route)
        no_reading = np.isin(ids, self.no_reading)
        return np.stack([route, no_reading, ~np.isin(ids, self.readers_skip)])

    def branch(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) int: ROUTING while fewer than ``n_items`` are answered, then
        NON_READER or READER from the posterior of every answer so far."""
        below = self.below_cut(bank, state, rows) > 0.5
        routing = state.length[rows] < self.n_items
        return np.where(routing, ROUTING, np.where(below, NON_READER, READER))

    def below_cut(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) posterior probability that θ < ``cut``."""
        w = posterior_weights(state.log_lik[rows], state.log_prior[rows])
        return w @ (bank.grid < self.cut).astype(float)

    def allowed(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n) bool: the items each test may be given at its stage.

        Routing: the routing items (if none is left, any item that needs no reading);
        non-readers: items that need no reading; readers: all but ``readers_skip``."""
        route, no_reading, reader = bank.route_pools
        stage = self.branch(bank, state, rows)
        left = (~state.blocked[rows] & route).any(axis=1)
        routing_pool = np.where(left[:, None], route, no_reading)
        return np.where(
            (stage == ROUTING)[:, None], routing_pool,
            np.where((stage == NON_READER)[:, None], no_reading, reader))
