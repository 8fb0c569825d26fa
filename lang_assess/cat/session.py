"""One participant's adaptive test, resumable after a crash.

A :class:`CATSession` asks for the next item, records the answer, and knows its estimate
and whether it is done.  :meth:`CATSession.to_json` captures everything needed to carry
on exactly — answers, the item on screen, items withheld by exposure control, the random
generator — and :meth:`CATSession.from_json` rebuilds the session by replaying the answers,
so a restored test gives the same next items as one that never stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from lang_assess.cat import engine
from lang_assess.cat.design import TestDesign
from lang_assess.errors import SessionError
from lang_assess.irt.params import ItemParameters
from lang_assess.levels import CutScores

FORMAT_VERSION = 1
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
    design : how the test runs (see :mod:`lang_assess.cat.design`).
    seed : seeds the random choices (randomesque, exposure control); same seed and same
        answers give the same test.
    prior_mean, prior_sd : this person's prior in logits (default: the design's).
    exclude : item ids that must not be given (e.g. seen in the last four weeks).
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
    ) -> None:
        self.params = params
        self.design = design
        self.seed = int(seed)
        self._bank = design.prepare(params)
        self._excluded = sorted(set(exclude) & set(params.ids.tolist()))
        blocked = np.zeros(params.n_items, dtype=bool)
        if self._excluded:
            blocked[params.index_of(self._excluded)] = True
        self._state = engine.start(
            self._bank, design, 1, prior_mean=prior_mean, prior_sd=prior_sd, blocked=blocked
        )
        self._rng = np.random.default_rng(self.seed)
        self._pending: int | None = None

    # ---- the test loop ----------------------------------------------------------
    @property
    def done(self) -> bool:
        """True once the stop rule is met or no eligible item is left."""
        return bool(engine.finished(self._bank, self.design, self._state)[0])

    def next_item(self) -> str | None:
        """Id of the item to show now (the same one until it is answered); None when done."""
        if self._pending is not None:
            return str(self.params.ids[self._pending])
        if self.done:
            return None
        item = int(engine.next_items(self._bank, self.design, self._state, _ROW, self._rng)[0])
        if item < 0:
            return None
        self._pending = item
        return str(self.params.ids[item])

    def answer(self, item_id: str, score: int) -> None:
        """Record the score (0..max) for the item on screen and update the estimate."""
        if self._pending is None or self.params.ids[self._pending] != item_id:
            shown = None if self._pending is None else str(self.params.ids[self._pending])
            raise SessionError(f"answer for item '{item_id}' but the item on screen is {shown!r}")
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
    def theta(self) -> float:
        """Current ability estimate (logits)."""
        return float(self._state.theta[0])

    @property
    def se(self) -> float:
        """Standard error of the current estimate (logits)."""
        return float(self._state.se[0])

    @property
    def n_answered(self) -> int:
        """Number of items answered."""
        return int(self._state.length[0])

    @property
    def answers(self) -> list[tuple[str, int]]:
        """(item id, score) of every answered item, in order."""
        items, scores = self._state.administered(0)
        return [(str(self.params.ids[i]), int(s)) for i, s in zip(items, scores, strict=True)]

    def level_probabilities(self, cuts: CutScores) -> dict[str, float]:
        """Posterior probability of each CEFR level (from the grid posterior)."""
        from lang_assess.irt.estimate import posterior_weights

        w = posterior_weights(self._state.log_lik, self._state.log_prior)
        probs = cuts.posterior_probabilities(w, self._bank.grid)[0]
        return {label: float(p) for label, p in zip(cuts.labels, probs, strict=True)}

    # ---- persistence ------------------------------------------------------------
    def to_json(self) -> str:
        """Everything needed to resume this test exactly, as a JSON string."""
        items, _ = self._state.administered(0)
        answered = set(items.tolist())
        excluded = set(self._excluded)
        withheld = [
            str(self.params.ids[i])
            for i in np.flatnonzero(self._state.blocked[0])
            if i not in answered and str(self.params.ids[i]) not in excluded
        ]
        payload: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "bank": bank_fingerprint(self.params),
            "design": self.design.to_config(),
            "seed": self.seed,
            "prior": [float(self._state.prior_mean[0]), float(self._state.prior_sd[0])],
            "excluded": self._excluded,
            "withheld": withheld,
            "answers": [[i, s] for i, s in self.answers],
            "pending": None if self._pending is None else str(self.params.ids[self._pending]),
            "rng": self._rng.bit_generator.state,
        }
        return json.dumps(payload)

    @classmethod
    def from_json(cls, text: str, params: ItemParameters) -> CATSession:
        """Rebuild a session saved by :meth:`to_json` on the same bank parameters."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT_VERSION:
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
            )
            if data["withheld"]:
                session._state.blocked[0, params.index_of(data["withheld"])] = True
            for item_id, score in data["answers"]:
                session._record(int(params.index_of([item_id])[0]), int(score))
            if data["pending"] is not None:
                session._pending = int(params.index_of([data["pending"]])[0])
            session._rng.bit_generator.state = data["rng"]
        except SessionError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionError(f"cannot restore the test: {exc}") from exc
        return session
