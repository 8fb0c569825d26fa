"""How simulees answer: parameters that may differ from the ones a test scores with.

A simulation that draws answers from the scoring model itself measures a test under the
one assumption no real test taker honours.  :class:`ResponseModel` draws them from other
parameters (matched by item id) with optional slips; :func:`with_guessing` and
:func:`with_calibration_error` make such parameters from a bank's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.errors import BankError


@dataclass(frozen=True, eq=False)
class ResponseModel:
    """How simulees answer: the parameters answers are drawn from, and slips.

    ``params`` may differ from the parameters the test scores with (the truth behind a
    misspecified model); they must hold every item of the bank, matched by id.
    ``slip`` is the probability that someone who knows a right/wrong item still gets it
    wrong: P = c + (1 − c − slip)·logistic(a(θ − b)) (a 4PL upper asymptote); rated items
    have no slips.
    """

    params: ItemParameters
    slip: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.slip < 1.0:
            raise ValueError(f"slip must be in [0, 1), got {self.slip}")

    def aligned(self, bank: ItemParameters) -> ResponseModel:
        """The same model with its items in the order of ``bank`` (same ids, same numbers
        of score steps); :class:`BankError` naming every item that does not match."""
        if np.array_equal(self.params.ids, bank.ids):
            order = np.arange(bank.n_items)
        else:
            known = set(self.params.ids.tolist())
            missing = [i for i in bank.ids.tolist() if i not in known]
            if missing:
                raise BankError([f"item '{i}': has no parameters to draw answers from"
                                 for i in missing])
            order = self.params.index_of(bank.ids)
        true = self.params.subset(order)
        wrong = np.flatnonzero(true.n_steps != bank.n_steps)
        if wrong.size:
            raise BankError([f"item '{bank.ids[i]}': the answer model has {true.n_steps[i]} "
                             f"score steps, the bank {bank.n_steps[i]}" for i in wrong])
        if np.any((true.n_steps == 1) & (true.c + self.slip >= 1.0)):
            raise ValueError("c + slip must stay below 1 for every right/wrong item")
        return ResponseModel(true, self.slip)

    def draw(self, theta: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(m,) integer scores of persons at ``theta`` (m,) logits on bank positions
        ``items`` (m,) (positions in :meth:`aligned` order)."""
        probs = paired_probabilities(theta, self.params, items)
        if self.slip > 0:
            one = self.params.n_steps[items] == 1
            c = self.params.c[items]
            # P = c + (1 - c - s)·P*: shrink the part above the floor by (1 - c - s)/(1 - c)
            p1 = np.where(one, c + (probs[:, 1] - c) * (1.0 - c - self.slip) / (1.0 - c),
                          probs[:, 1])
            probs[:, 1] = p1
            probs[:, 0] = np.where(one, 1.0 - p1, probs[:, 0])
        draw = rng.random(items.size)[:, None]
        return np.sum(np.cumsum(probs, axis=1)[:, :-1] < draw, axis=1)


def with_guessing(params: ItemParameters, c: np.ndarray | float) -> ItemParameters:
    """``params`` with lower asymptote ``c`` ((n,) or a scalar) on right/wrong items;
    rated items keep c = 0.  E.g. c = 1/k: a blind guess among k options."""
    one = params.n_steps == 1
    new_c = np.where(one, np.broadcast_to(np.asarray(c, dtype=float), one.shape), 0.0)
    return dataclasses.replace(params, c=new_c.astype(float))


def with_calibration_error(
    params: ItemParameters,
    rng: np.random.Generator,
    *,
    a_sd: float = 0.25,
    b_sd: float = 0.3,
) -> ItemParameters:
    """Parameters as they might truly be when ``params`` are estimates: each slope times
    lognormal(0, ``a_sd``), each item's steps moved by one N(0, ``b_sd``) draw (logits);
    c unchanged."""
    n = params.n_items
    a = params.a * rng.lognormal(0.0, a_sd, n)
    steps = params.steps + rng.normal(0.0, b_sd, n)[:, None]
    return dataclasses.replace(params, a=a, steps=steps)
