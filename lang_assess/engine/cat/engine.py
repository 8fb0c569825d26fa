"""The adaptive test loop, for P tests at once: start, choose, record, stop.

These four functions are the whole algorithm; :class:`~lang_assess.engine.cat.session.CATSession`
runs them for one participant and :mod:`lang_assess.engine.simulate` for thousands of simulees.
"""

from __future__ import annotations

import numpy as np

from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.cat.state import PreparedBank, TestState
from lang_assess.engine.irt.estimate import normal_log_prior
from lang_assess.engine.irt.models import category_probabilities

_TINY = 1e-300


def start(
    bank: PreparedBank,
    design: TestDesign,
    n_persons: int,
    *,
    prior_mean: float | np.ndarray | None = None,
    prior_sd: float | np.ndarray | None = None,
    blocked: np.ndarray | None = None,
) -> TestState:
    """State of ``n_persons`` new tests.

    ``prior_mean``/``prior_sd`` are scalars or (P,) logits (default: the design's), mixed
    with the design's own prior by its ``population_weight``; ``blocked`` is an optional
    (P, n) or (n,) bool mask of items not to give (e.g. items seen in recent weeks).
    """
    mean = np.broadcast_to(
        np.asarray(design.prior_mean if prior_mean is None else prior_mean, float), (n_persons,)
    ).copy()
    sd = np.broadcast_to(
        np.asarray(design.prior_sd if prior_sd is None else prior_sd, float), (n_persons,)
    ).copy()
    if np.any(~np.isfinite(sd) | (sd <= 0)) or np.any(~np.isfinite(mean)):
        raise ValueError("prior means must be finite and prior SDs positive")
    n_items, max_len = bank.n_items, design.stop.max_items
    mask = np.zeros((n_persons, n_items), dtype=bool)
    if blocked is not None:
        mask |= np.broadcast_to(np.asarray(blocked, dtype=bool), mask.shape)
    grid = bank.grid
    log_prior = normal_log_prior(grid, mean, sd)
    w = design.population_weight
    if w > 0:  # a robust prior: the person's, with a share of the population's
        population = normal_log_prior(grid, design.prior_mean, design.prior_sd)
        log_prior = np.logaddexp(np.log1p(-w) + log_prior, np.log(w) + population)
    return TestState(
        items=np.full((n_persons, max_len), -1),
        scores=np.full((n_persons, max_len), -1),
        length=np.zeros(n_persons, dtype=int),
        blocked=mask,
        log_lik=np.zeros((n_persons, grid.shape[0])),
        log_prior=log_prior,
        prior_mean=mean,
        prior_sd=sd,
        theta=design.start.initial_theta(mean),
        se=sd.copy(),
        skill_counts=np.zeros((n_persons, len(bank.skills)), dtype=int),
        ended=np.zeros(n_persons, dtype=bool),
    )


def next_items(
    bank: PreparedBank,
    design: TestDesign,
    state: TestState,
    rows: np.ndarray,
    rng: np.random.Generator,
    selected_counts: np.ndarray | None = None,
) -> np.ndarray:
    """Next item (bank position) for the tests at ``rows``; -1 (and ``ended``) if none."""
    chosen = design.selector.select(bank, state, rows, rng, selected_counts)
    state.ended[rows[chosen < 0]] = True
    return chosen


def record(
    bank: PreparedBank,
    design: TestDesign,
    state: TestState,
    rows: np.ndarray,
    items: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Store one answer for each test at ``rows`` and update its estimate.

    ``items`` are bank positions and ``scores`` integer scores, both (len(rows),).
    """
    pos = state.length[rows]
    if np.any(pos >= state.items.shape[1]):
        raise ValueError("a test is already at its maximum length")
    state.items[rows, pos] = items
    state.scores[rows, pos] = scores
    state.length[rows] = pos + 1
    state.blocked[rows, items] = True
    if bank.enemies is not None:  # an item given blocks its enemies for this person
        state.blocked[rows] |= bank.enemies[items]
    code = bank.skill_code[items]
    has = code >= 0
    np.add.at(state.skill_counts, (rows[has], code[has]), 1)
    probs = category_probabilities(bank.grid, bank.params, items)  # (Q, m, K+1)
    picked = probs[:, np.arange(items.size), scores]  # (Q, m)
    state.log_lik[rows] += np.log(np.maximum(picked, _TINY)).T
    est = design.estimator.estimate(bank, state, rows)
    ok = np.isfinite(est.theta)
    state.theta[rows[ok]] = est.theta[ok]
    state.se[rows[ok]] = est.se[ok]


def finished(bank: PreparedBank, design: TestDesign, state: TestState) -> np.ndarray:
    """(P,) bool: each test is over."""
    return design.stop.done(bank, state)
