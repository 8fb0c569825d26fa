"""One participant's adaptive test, resumable after a crash.

A :class:`CATSession` asks for the next item, records the answer, and knows its estimate
and whether it is done.  :meth:`CATSession.to_json` captures everything needed to carry
on exactly — answers, the item on screen, items withheld by exposure control, the random
generator — and :meth:`CATSession.from_json` rebuilds the session by replaying the answers,
so a restored test gives the same next items as one that never stopped.

With a design's ``pretest_items`` > 0 and a pool of pretest ids, the session interleaves
unscored pretest items (:mod:`lang_assess.engine.cat.pretest`); their answers are kept apart
(:attr:`CATSession.pretest_answers`) and never reach the estimate.

``enemies`` (pairs of item ids that answer or repeat each other) are never both given:
an answered item blocks its enemies, and the enemies of the planned pretest items are
blocked from the start.  The pairs travel in the saved state, so a restored test blocks
exactly what the original did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from lang_assess.engine.cat import engine
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.cat.pretest import pretest_rng, schedule
from lang_assess.engine.cat.routing import BRANCHES
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.errors import SessionError

# 2 added the pretest plan and answers, 3 the enemy pairs; older states still load.
FORMAT_VERSION = 3
_READABLE = (1, 2, 3)
_ROW = np.zeros(1, dtype=int)


def bank_fingerprint(params: ItemParameters) -> str:
    """Short hash of item ids and parameters; a restored test must see the same bank."""
    h = hashlib.sha256()
    for arr in (params.ids.astype(str), params.a, params.steps, params.c):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


class CATSession:
    """One adaptive test of one person on one bank.

    Parameters
    ----------
    params : the bank's item parameters.
    design : how the test runs (see :mod:`lang_assess.engine.cat.design`).
    seed : seeds the random choices (randomesque, exposure control; the pretest draws
        from a stream of their own); same seed and same answers give the same test.
    prior_mean, prior_sd : this person's prior in logits (default: the design's).
    exclude : item ids that must not be given (e.g. seen in the last four weeks); applies
        to pretest items too.
    pretest : ids of the pretest items available, none of them in ``params`` (they have
        no parameters yet).  ``design.pretest_items`` of them, or as many as there are,
        are given at random positions (never first) and never scored.
    enemies : pairs of item ids never given to the same person (the bank's enemy sets);
        the caller also excludes the enemies of items given in earlier tests.
    """

    def __init__(
        self,
        params: ItemParameters,
        design: TestDesign,
        *,
        seed: int,
        prior_mean: float | None = None,
        prior_sd: float | None = None,
        exclude: Iterable[str] = (),
        pretest: Iterable[str] = (),
        enemies: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.params = params
        self.design = design
        self.seed = int(seed)
        self._enemies = sorted({(min(a, b), max(a, b)) for a, b in enemies if a != b})
        self._bank = design.prepare(params, self._enemies)
        exclude, pretest = set(exclude), list(pretest)  # iterated twice below
        in_bank = set(params.ids.tolist())
        self._excluded = sorted(exclude & in_bank)
        scored = sorted(set(pretest) & in_bank)
        if scored:
            # An item with parameters would be both selectable and unscored: a caller's bug.
            raise ValueError(f"pretest items must not be in the bank's parameters: {scored}")
        blocked = np.zeros(params.n_items, dtype=bool)
        if self._excluded:
            blocked[params.index_of(self._excluded)] = True
        self._state = engine.start(
            self._bank, design, 1, prior_mean=prior_mean, prior_sd=prior_sd, blocked=blocked
        )
        self._rng = np.random.default_rng(self.seed)
        self._pending: int | None = None
        # Drawn now from a stream of their own: the operational rng never sees them.
        self._pretest_plan: tuple[tuple[int, str], ...] = schedule(
            pretest, design.pretest_items, design.stop.min_items, pretest_rng(self.seed),
            exclude,
        )
        self._pretest_answers: dict[str, int] = {}
        self._pending_pretest: str | None = None
        self._block_pretest_enemies()

    def _enemy_mask(self, ids: Iterable[str]) -> np.ndarray:
        """(n,) bool: the items of the bank that are enemies of any of ``ids``."""
        ids = set(ids)
        hit = {b for a, b in self._enemies if a in ids} | {a for a, b in self._enemies
                                                          if b in ids}
        return np.isin(self.params.ids, sorted(hit))

    def _block_pretest_enemies(self) -> None:
        # a planned pretest item will be given: its enemies may not be
        if self._enemies and self._pretest_plan:
            self._state.blocked[0] |= self._enemy_mask(i for _, i in self._pretest_plan)

    # ---- the test loop ----------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the operational test is over and every scheduled pretest item answered.

        The operational test is over when the stop rule is met or no eligible item is left.
        """
        return self._operational_done() and self._next_pretest() is None

    def _operational_done(self) -> bool:
        return bool(engine.finished(self._bank, self.design, self._state)[0])

    def _next_pretest(self) -> tuple[int, str] | None:
        """The first scheduled pretest item not answered yet (they go in plan order)."""
        given = len(self._pretest_answers)
        return self._pretest_plan[given] if given < len(self._pretest_plan) else None

    def _on_screen(self) -> str | None:
        if self._pending_pretest is not None:
            return self._pending_pretest
        return None if self._pending is None else str(self.params.ids[self._pending])

    def next_item(self) -> str | None:
        """Id of the item to show now (the same one until it is answered); None when done."""
        shown = self._on_screen()
        if shown is not None:
            return shown
        due = self._next_pretest()
        # Its slot has come, or the operational test is over and it is still owed.
        if due is not None and (due[0] <= self.n_answered + 1 or self._operational_done()):
            self._pending_pretest = due[1]
            return due[1]
        if self._operational_done():
            return None
        item = int(engine.next_items(self._bank, self.design, self._state, _ROW, self._rng)[0])
        if item < 0:  # the bank ran out: the test ends once the owed pretest items are given
            if due is not None:
                self._pending_pretest = due[1]
                return due[1]
            return None
        self._pending = item
        return str(self.params.ids[item])

    def answer(self, item_id: str, score: int) -> None:
        """Record the score for the item on screen; only an operational one moves θ̂.

        Operational items take 0..their maximum score.  A pretest item takes any whole
        number ≥ 0 (it has no parameters here to bound it) and is kept apart.
        """
        shown = self._on_screen()
        if shown is None or shown != item_id:
            raise SessionError(f"answer for item '{item_id}' but the item on screen is {shown!r}")
        if self._pending_pretest is not None:
            if not isinstance(score, int | np.integer) or int(score) < 0:
                raise SessionError(f"item '{item_id}': score must be a whole number ≥ 0")
            self._pretest_answers[item_id] = int(score)
            self._pending_pretest = None
            return
        assert self._pending is not None  # shown is not None and no pretest item on screen
        top = int(self.params.n_steps[self._pending])
        if not isinstance(score, int | np.integer) or not 0 <= int(score) <= top:
            raise SessionError(f"item '{item_id}': score must be a whole number 0..{top}")
        self._record(self._pending, int(score))
        self._pending = None

    def _record(self, item: int, score: int) -> None:
        engine.record(
            self._bank, self.design, self._state, _ROW, np.array([item]), np.array([score])
        )

    # ---- what the test knows ----------------------------------------------------
    @property
    def prior(self) -> tuple[float, float]:
        """(mean, SD) of the prior this test started from, logits."""
        return float(self._state.prior_mean[0]), float(self._state.prior_sd[0])

    def equivalent_prior(self) -> tuple[float, float]:
        """(mean, SD) of the normal prior that, with what the answers alone say, gives
        this test's posterior (logits).

        For a normal prior that is :attr:`prior`.  A robust (mixed) prior acts as a
        different normal for each person: tight for someone near their track, wide for
        someone far from it.  Whoever undoes the prior to recover the answers' own
        measurement (the growth chain, :func:`lang_assess.programme.growth.measurement`)
        needs this one (:func:`~lang_assess.engine.irt.estimate.equivalent_normal_prior`,
        which reads the answers through the design's own wide prior).
        """
        if self.design.population_weight == 0 or self.n_operational == 0:
            return self.prior
        from lang_assess.engine.irt.estimate import equivalent_normal_prior

        mean, sd = equivalent_normal_prior(
            self._state.log_lik, self._bank.grid, self._state.theta, self._state.se,
            (self.design.prior_mean, self.design.prior_sd))
        return float(mean[0]), float(sd[0])

    @property
    def theta(self) -> float:
        """Current ability estimate (logits)."""
        return float(self._state.theta[0])

    @property
    def se(self) -> float:
        """Standard error of the current estimate (logits)."""
        return float(self._state.se[0])

    @property
    def n_answered(self) -> int:
        """Number of items answered, pretest items included (the position on screen - 1)."""
        return int(self._state.length[0]) + len(self._pretest_answers)

    @property
    def n_operational(self) -> int:
        """Number of operational (scored) items answered; what the stop rule counts."""
        return int(self._state.length[0])

    @property
    def answers(self) -> list[tuple[str, int]]:
        """(item id, score) of every answered operational item, in order."""
        items, scores = self._state.administered(0)
        return [(str(self.params.ids[i]), int(s)) for i, s in zip(items, scores, strict=True)]

    @property
    def pretest_answers(self) -> dict[str, int]:
        """Pretest item id → score, in the order given (a copy)."""
        return dict(self._pretest_answers)

    @property
    def pretest_plan(self) -> list[tuple[int, str]]:
        """(position in the whole test, 1-based; item id) of this test's pretest items."""
        return list(self._pretest_plan)

    def is_pretest(self, item_id: str) -> bool:
        """True if ``item_id`` is one of this test's pretest (unscored) items."""
        return any(item_id == i for _, i in self._pretest_plan)

    @property
    def branch(self) -> str | None:
        """Where a test with a routing stage stands: ``"routing"``, ``"non-reader"`` or
        ``"reader"``; None for a design without one."""
        routing = self.design.selector.routing
        if routing is None:
            return None
        return BRANCHES[int(routing.branch(self._bank, self._state, _ROW)[0])]

    def literacy_step(self) -> str | None:
        """The literacy step with the highest posterior probability (the routing stage's
        ``literacy_steps``); None for a design without them."""
        routing = self.design.selector.routing
        if routing is None or routing.literacy_steps is None:
            return None
        probs = self.level_probabilities(routing.literacy_steps)
        return max(probs, key=probs.__getitem__)

    def grid_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(grid (Q,), log prior (Q,), log-likelihood of the operational answers (Q,)):
        what a caller needs to add answers scored outside the loop (teacher-rated tasks)."""
        return (self._bank.grid, np.array(self._state.log_prior[0]),
                np.array(self._state.log_lik[0]))

    def level_probabilities(self, cuts: CutScores) -> dict[str, float]:
        """Posterior probability of each CEFR level (from the grid posterior)."""
        from lang_assess.engine.irt.estimate import posterior_weights

        w = posterior_weights(self._state.log_lik, self._state.log_prior)
        probs = cuts.posterior_probabilities(w, self._bank.grid)[0]
        return {label: float(p) for label, p in zip(cuts.labels, probs, strict=True)}

    # ---- persistence ------------------------------------------------------------
    def to_json(self) -> str:
        """Everything needed to resume this test exactly, as a JSON string."""
        items, _ = self._state.administered(0)
        answered = set(items.tolist())
        excluded = set(self._excluded)
        # blocked as enemies: rebuilt on restore from the answers and the pretest plan
        enemy = self._enemy_mask([*self.params.ids[items].tolist(),
                                  *(i for _, i in self._pretest_plan)])
        withheld = [
            str(self.params.ids[i])
            for i in np.flatnonzero(self._state.blocked[0] & ~enemy)
            if i not in answered and str(self.params.ids[i]) not in excluded
        ]
        payload: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "bank": bank_fingerprint(self.params),
            "design": self.design.to_config(),
            "seed": self.seed,
            "prior": [float(self._state.prior_mean[0]), float(self._state.prior_sd[0])],
            "excluded": self._excluded,
            "enemies": [list(p) for p in self._enemies],
            "withheld": withheld,
            "answers": [[i, s] for i, s in self.answers],
            "pending": self._on_screen(),
            "rng": self._rng.bit_generator.state,
            "pretest": {
                "plan": [[pos, i] for pos, i in self._pretest_plan],
                "answers": [[i, s] for i, s in self._pretest_answers.items()],
            },
        }
        return json.dumps(payload)

    @classmethod
    def from_json(cls, text: str, params: ItemParameters) -> CATSession:
        """Rebuild a session saved by :meth:`to_json` on the same bank parameters."""
        try:
            data = json.loads(text)
            if data.get("format") not in _READABLE:
                raise SessionError(f"unknown session format {data.get('format')!r}")
            if data["bank"] != bank_fingerprint(params):
                raise SessionError(
                    "the bank's parameters differ from those the test started with"
                )
            design = TestDesign.from_config(data["design"])
            mean, sd = data["prior"]
            session = cls(
                params, design, seed=data["seed"], prior_mean=mean, prior_sd=sd,
                exclude=data["excluded"],
                enemies=[(str(a), str(b)) for a, b in data.get("enemies", [])],
            )
            if data["withheld"]:
                session._state.blocked[0, params.index_of(data["withheld"])] = True
            for item_id, score in data["answers"]:
                session._record(int(params.index_of([item_id])[0]), int(score))
            pre = data.get("pretest") or {"plan": [], "answers": []}  # format 1: none
            session._pretest_plan = tuple((int(pos), str(i)) for pos, i in pre["plan"])
            planned = [i for _, i in session._pretest_plan]
            done = [str(i) for i, _ in pre["answers"]]
            if done != planned[: len(done)]:
                raise SessionError("the pretest answers do not follow the test's pretest plan")
            session._pretest_answers = {str(i): int(s) for i, s in pre["answers"]}
            session._block_pretest_enemies()
            pending = data["pending"]
            if pending is not None and pending in planned[len(done):len(done) + 1]:
                session._pending_pretest = str(pending)
            elif pending is not None:
                session._pending = int(params.index_of([pending])[0])
            session._rng.bit_generator.state = data["rng"]
        except SessionError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionError(f"cannot restore the test: {exc}") from exc
        return session
