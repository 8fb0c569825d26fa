"""Simulees through a test design: how accurate, how long, how exposed.

:func:`simulate` runs N simulees with known θ through the same engine the live test uses
(:mod:`lang_assess.engine.cat.engine`), many at a time, answering from the IRT model.  The
result reports bias, RMSE, lengths, SEs, item exposure, test overlap, CEFR accuracy, and
the *oracle length*: the number of items the stop rule would need if every item were the
most informative one left in the bank at the simulee's true θ (the physical limit of an
adaptive test on that bank).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lang_assess.engine.cat import engine
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.cat.select import ItemSelector, SympsonHetter
from lang_assess.engine.cat.state import PreparedBank, TestState
from lang_assess.engine.cat.stop import StandardErrorTarget
from lang_assess.engine.irt.models import item_information, paired_probabilities
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores

_CHUNK_CELLS = 2_000_000  # simulees × items held in one batch


@dataclass(frozen=True)
class SimulationResult:
    """Per-simulee outcomes of a simulation (arrays are (N,) unless stated).

    ``oracle_length`` is the length of the oracle test (see :func:`simulate`), NaN when
    it was not run; ``information_oracle_length`` the idealised count from
    :func:`information_oracle_length`.
    ``exposure`` is (n,): the share of simulees who were given each item.
    ``items`` is (N, L) bank positions given, -1 padded.
    """

    true_theta: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    length: np.ndarray
    oracle_length: np.ndarray
    information_oracle_length: np.ndarray
    exposure: np.ndarray
    items: np.ndarray
    cuts: CutScores | None = None

    @property
    def n(self) -> int:
        """Number of simulees N."""
        return int(self.true_theta.shape[0])

    def test_overlap(self) -> float:
        """Mean share of items two simulees have in common (pairwise, over all pairs)."""
        n = self.n
        if n < 2 or self.length.mean() == 0:
            return 0.0
        counts = self.exposure * n
        shared_per_pair = np.sum(counts * (counts - 1)) / (n * (n - 1))
        return float(shared_per_pair / self.length.mean())

    def cefr_accuracy(self) -> float | None:
        """Share of simulees placed at their true CEFR level (None without cuts)."""
        if self.cuts is None:
            return None
        return float(
            np.mean(self.cuts.level_index(self.theta) == self.cuts.level_index(self.true_theta))
        )

    def cefr_accuracy_by_level(self) -> dict[str, float]:
        """Exact-level accuracy among simulees whose true level is each level."""
        if self.cuts is None:
            return {}
        true_level = self.cuts.level_index(self.true_theta)
        hit = self.cuts.level_index(self.theta) == true_level
        return {
            label: float(hit[true_level == k].mean())
            for k, label in enumerate(self.cuts.labels)
            if np.any(true_level == k)
        }

    def by_level(self) -> dict[str, dict[str, float]]:
        """Bias, RMSE, lengths and exact-level accuracy among simulees of each true level."""
        if self.cuts is None:
            return {}
        true_level = self.cuts.level_index(self.true_theta)
        hit = self.cuts.level_index(self.theta) == true_level
        out = {}
        for k, label in enumerate(self.cuts.labels):
            m = true_level == k
            if not np.any(m):
                continue
            err = self.theta[m] - self.true_theta[m]
            out[label] = {
                "n": int(m.sum()),
                "bias": float(err.mean()),
                "rmse": float(np.sqrt(np.mean(err**2))),
                "mean_length": float(self.length[m].mean()),
                "mean_oracle_length": float(np.nanmean(self.oracle_length[m]))
                if np.any(np.isfinite(self.oracle_length[m])) else float("nan"),
                "cefr_accuracy": float(hit[m].mean()),
            }
        return out

    def summary(self) -> dict[str, Any]:
        """The figures ``lang-assess simulate --json`` prints."""
        err = self.theta - self.true_theta
        out: dict[str, Any] = {
            "n": self.n,
            "bias": float(err.mean()),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mean_length": float(self.length.mean()),
            "max_length": int(self.length.max()),
            "mean_se": float(self.se.mean()),
            "mean_oracle_length": _nanmean(self.oracle_length),
            "mean_information_oracle_length": _nanmean(self.information_oracle_length),
            "max_exposure": float(self.exposure.max()),
            "test_overlap": self.test_overlap(),
            "items_never_used": int(np.sum(self.exposure == 0)),
        }
        if self.cuts is not None:
            out["cefr_accuracy"] = self.cefr_accuracy()
            out["cefr_accuracy_by_level"] = self.cefr_accuracy_by_level()
        return out


@dataclass(frozen=True, eq=False)
class InformationAtTrueTheta:
    """Selection criterion of the oracle: item information at each simulee's true θ.

    ``thetas`` holds the true abilities of the tests in the batch, by row.
    """

    thetas: np.ndarray

    def scores(self, bank: PreparedBank, state: TestState, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n) item information at the true abilities."""
        return item_information(self.thetas[rows], bank.params)


def _nanmean(x: np.ndarray) -> float | None:
    return None if np.all(np.isnan(x)) else float(np.nanmean(x))


def simulate(
    params: ItemParameters,
    design: TestDesign,
    thetas: np.ndarray,
    *,
    seed: int,
    cuts: CutScores | None = None,
    prior_mean: float | np.ndarray | None = None,
    prior_sd: float | np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
    selected_counts: np.ndarray | None = None,
    oracle: bool = True,
    blocked: np.ndarray | None = None,
    enemies: Iterable[tuple[str, str]] = (),
) -> SimulationResult:
    """Run one simulated test per true ability in ``thetas`` (N,) logits.

    Deterministic given ``seed``.  ``prior_mean``/``prior_sd`` are scalars or (N,)
    (default: the design's).  ``progress`` is called with the number of tests that just
    finished; ``selected_counts`` (n,) accumulates selections before exposure control.
    With ``oracle`` each simulee also takes the oracle test (same estimator, prior, stop
    rule and item pool; every item the most informative one left at the true θ; no
    content balancing or exposure control), whose length is ``oracle_length``.
    ``blocked`` (N, n) bool marks items a simulee may not be given (e.g. seen lately);
    ``enemies`` are pairs of item ids never given to the same simulee (as in the live test,
    an item given blocks its enemies).
    """
    true = np.asarray(thetas, dtype=float).ravel()
    if true.size == 0 or not np.all(np.isfinite(true)):
        raise ValueError("thetas must be a non-empty array of finite numbers")
    n_sim = true.size
    rng = np.random.default_rng(seed)
    oracle_rng = np.random.default_rng([seed, 1])
    enemies = list(enemies)
    bank = design.prepare(params, enemies)
    mean = np.broadcast_to(
        np.asarray(design.prior_mean if prior_mean is None else prior_mean, float), (n_sim,)
    )
    sd = np.broadcast_to(
        np.asarray(design.prior_sd if prior_sd is None else prior_sd, float), (n_sim,)
    )
    theta_hat, se, length = np.empty(n_sim), np.empty(n_sim), np.empty(n_sim, dtype=int)
    oracle_len = np.full(n_sim, np.nan)
    given = np.full((n_sim, design.stop.max_items), -1)
    chunk = max(1, _CHUNK_CELLS // params.n_items)
    for lo in range(0, n_sim, chunk):
        part = slice(lo, min(lo + chunk, n_sim))
        mask = None if blocked is None else np.asarray(blocked, dtype=bool)[part]
        state = _run_tests(
            bank, design, true[part], mean[part], sd[part], rng, progress, selected_counts, mask
        )
        theta_hat[part], se[part], length[part] = state.theta, state.se, state.length
        given[part] = state.items
        if oracle:
            oracle_design = dataclasses.replace(
                design, selector=ItemSelector(criterion=InformationAtTrueTheta(true[part]))
            )
            # the oracle draws on the design's item pool: skills it does not list stay out
            outside = (bank.skill_code < 0) if bank.skills else np.zeros(params.n_items, bool)
            oracle_mask = outside[None, :] if mask is None else mask | outside[None, :]
            oracle_mask = np.broadcast_to(oracle_mask, (true[part].size, params.n_items))
            oracle_state = _run_tests(
                oracle_design.prepare(params, enemies), oracle_design, true[part], mean[part],
                sd[part], oracle_rng, blocked=oracle_mask,
            )
            oracle_len[part] = oracle_state.length
    counts = np.bincount(given[given >= 0], minlength=params.n_items)
    return SimulationResult(
        true_theta=true,
        theta=theta_hat,
        se=se,
        length=length,
        oracle_length=oracle_len,
        information_oracle_length=information_oracle_length(params, design, true, prior_sd=sd),
        exposure=counts / n_sim,
        items=given,
        cuts=cuts,
    )


def _run_tests(
    bank: PreparedBank,
    design: TestDesign,
    true: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
    selected_counts: np.ndarray | None = None,
    blocked: np.ndarray | None = None,
) -> TestState:
    """Run len(true) tests to the end, answering from the model at the true abilities."""
    state = engine.start(bank, design, true.size, prior_mean=mean, prior_sd=sd, blocked=blocked)
    active = np.arange(true.size)
    while active.size:
        items = engine.next_items(bank, design, state, active, rng, selected_counts)
        rows, items = active[items >= 0], items[items >= 0]
        if rows.size:
            probs = paired_probabilities(true[rows], bank.params, items)
            draw = rng.random(rows.size)[:, None]
            scores = np.sum(np.cumsum(probs, axis=1)[:, :-1] < draw, axis=1)
            engine.record(bank, design, state, rows, items, scores)
        done = engine.finished(bank, design, state)
        still = active[~done[active]]
        if progress is not None and active.size != still.size:
            progress(int(active.size - still.size))
        active = still
    return state


def information_oracle_length(
    params: ItemParameters,
    design: TestDesign,
    thetas: np.ndarray,
    *,
    prior_sd: float | np.ndarray | None = None,
) -> np.ndarray:
    """(N,) items whose Fisher information at the true θ reaches the design's SE target.

    The idealised oracle: it assumes the SE is known at the true θ.  Takes items in
    decreasing information at each true θ until
    1/√(1/prior_sd² + Σ I) ≤ target, bounded by the design's minimum and maximum length.
    NaN when the design has no SE target.
    """
    target = next(
        (r.se for r in design.stop.rules if isinstance(r, StandardErrorTarget)), None
    )
    true = np.asarray(thetas, dtype=float).ravel()
    if target is None:
        return np.full(true.shape, np.nan)
    sd = np.broadcast_to(
        np.asarray(design.prior_sd if prior_sd is None else prior_sd, float), true.shape
    )
    lo, hi = design.stop.min_items, design.stop.max_items
    out = np.empty(true.size)
    chunk = max(1, _CHUNK_CELLS // params.n_items)
    for s in range(0, true.size, chunk):
        info = item_information(true[s : s + chunk], params)
        k = min(hi, params.n_items)
        best = -np.sort(-np.partition(info, params.n_items - k, axis=1)[:, -k:], axis=1)
        precision = 1.0 / sd[s : s + chunk, None] ** 2 + np.cumsum(best, axis=1)
        reached = precision >= 1.0 / target**2
        need = np.where(reached.any(axis=1), np.argmax(reached, axis=1) + 1, hi)
        out[s : s + chunk] = np.clip(need, lo, hi)
    return out


def sympson_hetter_parameters(
    params: ItemParameters,
    design: TestDesign,
    thetas: np.ndarray,
    *,
    r_max: float,
    seed: int,
    iterations: int = 20,
    progress: Callable[[int, float], None] | None = None,
) -> dict[str, float]:
    """Sympson-Hetter exposure-control parameters k_i for a design and population.

    Iterative procedure: simulate with the current k, scale k_i by r / P(administered_i)
    (capped at 1), repeat until the largest exposure rate is ≤ r_max for two iterations
    in a row.  ``thetas`` (N,) is a sample from
    the population the test serves.  The working target r is r_max less two binomial
    standard errors at N, so that the rates on new test takers, which scatter by about
    that much, stay at or below r_max.  Returns item id → k for items with k < 1.
    """
    if not 0 < r_max < 1:
        raise ValueError("r_max must be between 0 and 1")
    n_sim = np.asarray(thetas).size
    target = r_max - 2.0 * np.sqrt(r_max * (1.0 - r_max) / n_sim)
    k = np.ones(params.n_items)
    settled = 0
    for it in range(iterations):
        sh = SympsonHetter({str(i): float(v) for i, v in zip(params.ids, k, strict=True) if v < 1})
        trial = dataclasses.replace(
            design, selector=dataclasses.replace(design.selector, sympson_hetter=sh)
        )
        selected = np.zeros(params.n_items)
        result = simulate(
            params, trial, thetas, seed=seed + it, selected_counts=selected, oracle=False
        )
        worst = float(result.exposure.max())
        if progress is not None:
            progress(it, worst)
        settled = settled + 1 if worst <= r_max else 0
        if settled >= 2:
            break
        # multiplicative fixed-point step on administration rates: with randomesque
        # selection the classic reset k = r/P(S) oscillates, this settles
        rate = result.exposure
        k = np.where(rate > 0, np.minimum(1.0, k * target / np.maximum(rate, 1e-12)), k)
    return {str(i): float(v) for i, v in zip(params.ids, k, strict=True) if v < 1}


def synthetic_bank(
    n_items: int,
    *,
    seed: int,
    b_range: tuple[float, float] = (-3.0, 3.0),
    skills: tuple[str, ...] = (),
) -> ItemParameters:
    """A 2PL bank for simulations: a ~ lognormal(0.2, 0.3), b ~ uniform over ``b_range``.

    The default range spans the CEFR scale used in the demo (pre-A1 to C1).  With
    ``skills`` the items cycle through them.
    """
    rng = np.random.default_rng(seed)
    ids = [f"syn{i:05d}" for i in range(n_items)]
    skill = [skills[i % len(skills)] for i in range(n_items)] if skills else None
    return ItemParameters.dichotomous(
        ids, rng.lognormal(0.2, 0.3, n_items), rng.uniform(*b_range, n_items), skill=skill
    )
