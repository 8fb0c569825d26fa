"""Item selection: which item each test gives next.

The pieces, each with one job:

- criteria score every item for every test: :class:`MaxInformation` (Fisher information
  at θ̂), :class:`PosteriorWeightedInformation` (information averaged over the posterior,
  better while θ̂ is still vague), :class:`InformationAtCut` (information where a
  decision lies) and :class:`SwitchAfter` (one criterion for the first
  items, another after);
- :class:`ContentBalancing` keeps the skill mix near the design's proportions
  (Kingsbury & Zara: give the skill furthest below its target share);
- exposure control: :class:`Randomesque` (random pick among the k best) and
  :class:`SympsonHetter` (an item chosen is given with probability k_i, else withheld for
  the rest of the test);
- :class:`ItemSelector` puts them together (with an optional
  :class:`~lang_assess.engine.cat.routing.Routing` stage that narrows the pool first).

Scores and masks are (P, n) arrays: P tests, n items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lang_assess.engine.cat.routing import Routing
from lang_assess.engine.cat.state import PreparedBank, TestState
from lang_assess.engine.irt.estimate import posterior_weights
from lang_assess.engine.irt.models import item_information

NO_ITEM = -1


class Criterion(Protocol):
    """Scores items for P tests: larger is better."""

    def scores(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n) item scores for the tests at positions ``rows``."""
        ...


@dataclass(frozen=True)
class MaxInformation:
    """Fisher information of each item at the current θ̂."""

    def scores(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n) item information at θ̂."""
        return item_information(state.theta[rows], bank.params)


@dataclass(frozen=True)
class PosteriorWeightedInformation:
    """Item information averaged over the current posterior (van der Linden, 1998)."""

    def scores(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n) posterior-weighted item information."""
        w = posterior_weights(state.log_lik[rows], state.log_prior[rows])
        return w @ bank.information_grid


@dataclass(frozen=True)
class InformationAtCut:
    """Fisher information of each item at a fixed θ, the cut a decision is about
    (``cut`` in logits): the classic choice for classifying against one cut (Spray &
    Reckase, 1994), whatever the current estimate."""

    cut: float

    def scores(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n) item information at the cut, the same for every test."""
        info = item_information(np.array([float(self.cut)]), bank.params)  # (1, n)
        return np.broadcast_to(info, (rows.size, info.shape[-1])).copy()


@dataclass(frozen=True)
class SwitchAfter:
    """Use ``first`` for the first ``n_items`` items of a test, ``then`` afterwards."""

    first: Criterion = field(default_factory=PosteriorWeightedInformation)
    then: Criterion = field(default_factory=MaxInformation)
    n_items: int = 3

    def scores(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n) scores from whichever criterion applies to each test."""
        early = state.length[rows] < self.n_items
        if np.all(early):
            return self.first.scores(bank, state, rows)
        if not np.any(early):
            return self.then.scores(bank, state, rows)
        out = self.then.scores(bank, state, rows)
        out[early] = self.first.scores(bank, state, rows[early])
        return out


@dataclass(frozen=True)
class ContentBalancing:
    """Keep each skill near its target share of the test.

    ``targets`` maps skill → proportion (normalised to sum 1).  Items whose skill is not
    listed are never given under this design.
    """

    targets: Mapping[str, float]

    @property
    def skills(self) -> tuple[str, ...]:
        """Balanced skills, in a fixed order."""
        return tuple(self.targets)

    @property
    def proportions(self) -> np.ndarray:
        """(S,) target proportions summing to 1."""
        p = np.asarray([float(v) for v in self.targets.values()])
        if p.size == 0 or np.any(p < 0) or p.sum() <= 0:
            raise ValueError(f"content targets must be non-negative and not all 0: {self.targets}")
        return p / p.sum()

    def restrict(
        self, bank: PreparedBank, state: TestState, rows: np.ndarray, eligible: np.ndarray
    ) -> np.ndarray:
        """(len(rows), n) eligibility narrowed to the skill furthest below its target."""
        listed = bank.skill_code >= 0
        eligible = eligible & listed
        onehot = bank.skill_code[listed, None] == np.arange(len(self.skills))  # (n_listed, S)
        has_items = (eligible[:, listed].astype(np.float32) @ onehot.astype(np.float32)) > 0
        deficit = self.proportions * (state.length[rows, None] + 1) - state.skill_counts[rows]
        deficit = np.where(has_items, deficit, -np.inf)
        chosen = np.argmax(deficit, axis=1)  # ties: the first listed skill
        return eligible & (bank.skill_code[None, :] == chosen[:, None])


@dataclass(frozen=True)
class Randomesque:
    """Pick at random among the ``k`` best-scoring eligible items (k=1: the best)."""

    k: int = 1

    def pick(self, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(P,) chosen positions from (P, n) scores with -inf for ineligible; -1 if none."""
        n = scores.shape[1]
        if self.k <= 1 or n <= 1:
            best = np.argmax(scores, axis=1)
            ok = np.isfinite(scores[np.arange(scores.shape[0]), best])
            return np.where(ok, best, NO_ITEM)
        k = min(self.k, n)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        valid = np.isfinite(np.take_along_axis(scores, top, axis=1))
        draw = np.where(valid, rng.random(top.shape), -1.0)
        choice = top[np.arange(top.shape[0]), np.argmax(draw, axis=1)]
        return np.where(valid.any(axis=1), choice, NO_ITEM)


@dataclass(frozen=True)
class SympsonHetter:
    """Sympson-Hetter exposure control.

    ``k`` maps item id → probability of giving the item once selected (items not listed
    have 1).  Values come from :func:`lang_assess.engine.simulate.sympson_hetter_parameters`.
    """

    k: Mapping[str, float] = field(default_factory=dict)

    def admit(self, bank: PreparedBank, chosen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(P,) bool: which chosen items pass the lottery (-1 entries never pass)."""
        has = chosen >= 0
        k = np.where(has, bank.exposure_k[np.maximum(chosen, 0)], 0.0)
        return has & (rng.random(chosen.shape) < k)


@dataclass(frozen=True)
class ItemSelector:
    """Routing, criterion, content balancing and exposure control, in that order."""

    criterion: Criterion = field(default_factory=SwitchAfter)
    content: ContentBalancing | None = None
    randomesque: Randomesque = field(default_factory=Randomesque)
    sympson_hetter: SympsonHetter | None = None
    routing: Routing | None = None

    def select(
        self,
        bank: PreparedBank,
        state: TestState,
        rows: np.ndarray,
        rng: np.random.Generator,
        selected_counts: np.ndarray | None = None,
    ) -> np.ndarray:
        """Next item (bank position) for each test at ``rows``; -1 where none is left.

        Items withheld by Sympson-Hetter are marked in ``state.blocked`` for the rest of
        the test.  ``selected_counts`` (n,), when given, counts every selection before the
        lottery (what Sympson-Hetter calibration needs).
        """
        chosen = np.full(rows.shape, NO_ITEM)
        pending = np.arange(rows.size)
        scores_all = self.criterion.scores(bank, state, rows)
        pool = None if self.routing is None else self.routing.allowed(bank, state, rows)
        while pending.size:
            r = rows[pending]
            eligible = ~state.blocked[r] if pool is None else ~state.blocked[r] & pool[pending]
            if self.content is not None:
                eligible = self.content.restrict(bank, state, r, eligible)
            scores = np.where(eligible, scores_all[pending], -np.inf)
            pick = self.randomesque.pick(scores, rng)
            if selected_counts is not None:
                np.add.at(selected_counts, pick[pick >= 0], 1)
            if self.sympson_hetter is None:
                chosen[pending] = pick
                break
            ok = self.sympson_hetter.admit(bank, pick, rng)
            chosen[pending[ok]] = pick[ok]
            withheld = (pick >= 0) & ~ok
            state.blocked[r[withheld], pick[withheld]] = True
            pending = pending[withheld]
        return chosen
