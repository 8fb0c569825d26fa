"""Simulees through a test design: how accurate, how long, how exposed.

:func:`simulate` runs N simulees with known θ through the same engine the live test uses
(:mod:`lang_assess.engine.cat.engine`), many at a time.  Answers are drawn from a
:class:`~lang_assess.engine.answers.ResponseModel`: by default the very parameters the
test scores with, or others (guessing, slips, calibration error:
:mod:`lang_assess.engine.answers`) so that every figure can also be measured when the
scoring model is wrong.  The result
reports bias, RMSE, lengths, SEs, item exposure, test overlap, CEFR accuracy and how many
were placed too high or too low, overall, by true level and by group (e.g. track), and
the *oracle length*: the number of items the stop rule would need if every item were the
most informative one left in the bank at the simulee's true θ (the physical limit of an
adaptive test on that bank).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lang_assess.engine.answers import ResponseModel
from lang_assess.engine.cat import engine
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.cat.select import ItemSelector, SympsonHetter
from lang_assess.engine.cat.state import PreparedBank, TestState
from lang_assess.engine.cat.stop import StandardErrorTarget
from lang_assess.engine.irt.estimate import equivalent_normal_prior
from lang_assess.engine.irt.models import item_information
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
    ``groups`` is (N,) str: each simulee's group (e.g. track) when the simulation had
    groups, else None.  ``prior_mean``/``prior_sd`` (N,) are the normal prior each test's
    result is equivalent to (its own prior when normal; see
    :meth:`~lang_assess.engine.cat.session.CATSession.equivalent_prior`).
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
    groups: np.ndarray | None = None
    prior_mean: np.ndarray | None = None
    prior_sd: np.ndarray | None = None

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

    def placement_error(self) -> np.ndarray | None:
        """(N,) int: placed level minus true level (0 right, > 0 too high); None without
        cuts."""
        if self.cuts is None:
            return None
        return self.cuts.level_index(self.theta) - self.cuts.level_index(self.true_theta)

    def cefr_accuracy(self) -> float | None:
        """Share of simulees placed at their true CEFR level (None without cuts)."""
        off = self.placement_error()
        return None if off is None else float(np.mean(off == 0))

    def cefr_accuracy_by_level(self) -> dict[str, float]:
        """Exact-level accuracy among simulees whose true level is each level."""
        return {label: f["cefr_accuracy"] for label, f in self.by_level().items()}

    def figures(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        """n, bias, RMSE, mean length and (with cuts) exact-level accuracy and the shares
        placed too high and too low, among the simulees in ``mask`` (N,) bool (all)."""
        m = np.ones(self.n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        err = self.theta[m] - self.true_theta[m]
        out: dict[str, Any] = {
            "n": int(m.sum()),
            "bias": float(err.mean()),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mean_length": float(self.length[m].mean()),
        }
        off = self.placement_error()
        if off is not None:
            out["cefr_accuracy"] = float(np.mean(off[m] == 0))
            out["placed_too_high"] = float(np.mean(off[m] > 0))
            out["placed_too_low"] = float(np.mean(off[m] < 0))
        return out

    def by_level(self) -> dict[str, dict[str, Any]]:
        """:meth:`figures` (and the mean oracle length) among simulees of each true level."""
        if self.cuts is None:
            return {}
        true_level = self.cuts.level_index(self.true_theta)
        out = {}
        for k, label in enumerate(self.cuts.labels):
            m = true_level == k
            if not np.any(m):
                continue
            out[label] = self.figures(m)
            out[label]["mean_oracle_length"] = (
                float(np.nanmean(self.oracle_length[m]))
                if np.any(np.isfinite(self.oracle_length[m])) else float("nan"))
        return out

    def by_group(self) -> dict[str, dict[str, Any]]:
        """:meth:`figures` among the simulees of each group (empty without groups)."""
        if self.groups is None:
            return {}
        return {str(g): self.figures(self.groups == g) for g in np.unique(self.groups)}

    def summary(self) -> dict[str, Any]:
        """The figures ``lang-assess simulate --json`` prints: everyone's, then the same
        ``by_level`` (true level) and, with groups, ``by_group``."""
        out: dict[str, Any] = {
            **self.figures(),
            "max_length": int(self.length.max()),
            "mean_se": float(self.se.mean()),
            "mean_oracle_length": _nanmean(self.oracle_length),
            "mean_information_oracle_length": _nanmean(self.information_oracle_length),
            "max_exposure": float(self.exposure.max()),
            "test_overlap": self.test_overlap(),
            "items_never_used": int(np.sum(self.exposure == 0)),
        }
        if self.cuts is not None:
            levels = self.by_level()
            out["cefr_accuracy_by_level"] = {k: v["cefr_accuracy"] for k, v in levels.items()}
            out["by_level"] = {k: {f: v for f, v in row.items() if f != "mean_oracle_length"}
                               for k, row in levels.items()}
        if self.groups is not None:
            out["by_group"] = self.by_group()
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
    design: TestDesign | Mapping[str, TestDesign],
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
    respond: ResponseModel | None = None,
    groups: np.ndarray | None = None,
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
    ``respond`` draws the answers (default: the model the test scores with, ``params``).
    ``groups`` (N,) labels each simulee (e.g. its track); ``design`` may then map each
    group to the design its members take (the result reports figures by group).
    """
    true = np.asarray(thetas, dtype=float).ravel()
    if true.size == 0 or not np.all(np.isfinite(true)):
        raise ValueError("thetas must be a non-empty array of finite numbers")
    n_sim = true.size
    labels = None if groups is None else np.asarray(groups).astype(str).ravel()
    if labels is not None and labels.size != n_sim:
        raise ValueError(f"groups has {labels.size} labels for {n_sim} simulees")
    model = (respond or ResponseModel(params)).aligned(params)
    enemies = list(enemies)
    if isinstance(design, TestDesign):
        plan = [(design, np.arange(n_sim), np.random.default_rng(seed),
                 np.random.default_rng([seed, 1]))]
    else:
        if labels is None:
            raise ValueError("a design for each group needs the groups")
        missing = sorted(set(labels.tolist()) - set(design))
        if missing:
            raise ValueError(f"no design for group(s) {missing}")
        plan = [(design[g], np.flatnonzero(labels == g), np.random.default_rng([seed, 2, k]),
                 np.random.default_rng([seed, 1, k]))
                for k, g in enumerate(sorted(set(labels.tolist())))]
    mean = np.empty(n_sim)
    sd = np.empty(n_sim)
    for d, rows, _, _ in plan:
        mean[rows] = np.broadcast_to(np.asarray(
            d.prior_mean if prior_mean is None else prior_mean, float), (n_sim,))[rows]
        sd[rows] = np.broadcast_to(np.asarray(
            d.prior_sd if prior_sd is None else prior_sd, float), (n_sim,))[rows]
    width = max(d.stop.max_items for d, *_ in plan)
    eq_mean, eq_sd = mean.copy(), sd.copy()
    theta_hat, se, length = np.empty(n_sim), np.empty(n_sim), np.empty(n_sim, dtype=int)
    oracle_len = np.full(n_sim, np.nan)
    info_len = np.empty(n_sim)
    given = np.full((n_sim, width), -1)
    mask_all = None if blocked is None else np.asarray(blocked, dtype=bool)
    for d, rows, rng, oracle_rng in plan:
        bank = d.prepare(params, enemies)
        chunk = max(1, _CHUNK_CELLS // params.n_items)
        for lo in range(0, rows.size, chunk):
            part = rows[lo : lo + chunk]
            mask = None if mask_all is None else mask_all[part]
            state = _run_tests(bank, d, true[part], mean[part], sd[part], rng, model,
                               progress, selected_counts, mask)
            theta_hat[part], se[part], length[part] = state.theta, state.se, state.length
            if d.population_weight > 0:  # a mixed prior: the normal it acted as
                eq_mean[part], eq_sd[part] = equivalent_normal_prior(
                    state.log_lik, bank.grid, state.theta, state.se,
                    (d.prior_mean, d.prior_sd))
            given[part, : state.items.shape[1]] = state.items
            if oracle:
                oracle_len[part] = _oracle_lengths(params, d, bank, true[part], mean[part],
                                                   sd[part], oracle_rng, model, mask,
                                                   enemies)
        info_len[rows] = information_oracle_length(params, d, true[rows], prior_sd=sd[rows])
    counts = np.bincount(given[given >= 0], minlength=params.n_items)
    return SimulationResult(
        true_theta=true,
        theta=theta_hat,
        se=se,
        length=length,
        oracle_length=oracle_len,
        information_oracle_length=info_len,
        exposure=counts / n_sim,
        items=given,
        cuts=cuts,
        groups=labels,
        prior_mean=eq_mean,
        prior_sd=eq_sd,
    )


def _oracle_lengths(
    params: ItemParameters,
    design: TestDesign,
    bank: PreparedBank,
    true: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    rng: np.random.Generator,
    model: ResponseModel,
    mask: np.ndarray | None,
    enemies: list[tuple[str, str]],
) -> np.ndarray:
    """Lengths of the oracle test (see :func:`simulate`) for simulees at ``true``."""
    oracle_design = dataclasses.replace(
        design, selector=ItemSelector(criterion=InformationAtTrueTheta(true))
    )
    # the oracle draws on the design's item pool: skills it does not list stay out
    outside = (bank.skill_code < 0) if bank.skills else np.zeros(params.n_items, bool)
    oracle_mask = outside[None, :] if mask is None else mask | outside[None, :]
    oracle_mask = np.broadcast_to(oracle_mask, (true.size, params.n_items))
    state = _run_tests(oracle_design.prepare(params, enemies), oracle_design, true, mean, sd,
                       rng, model, blocked=oracle_mask)
    return state.length


def _run_tests(
    bank: PreparedBank,
    design: TestDesign,
    true: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    rng: np.random.Generator,
    model: ResponseModel,
    progress: Callable[[int], None] | None = None,
    selected_counts: np.ndarray | None = None,
    blocked: np.ndarray | None = None,
) -> TestState:
    """Run len(true) tests to the end, answers drawn from ``model`` at the true abilities."""
    state = engine.start(bank, design, true.size, prior_mean=mean, prior_sd=sd, blocked=blocked)
    active = np.arange(true.size)
    while active.size:
        items = engine.next_items(bank, design, state, active, rng, selected_counts)
        rows, items = active[items >= 0], items[items >= 0]
        if rows.size:
            scores = model.draw(true[rows], items, rng)
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
