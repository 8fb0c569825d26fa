"""Simulees through a test design: how accurate, how long, how exposed.

:func:`simulate` runs N simulees with known θ through the same engine the live test uses
(:mod:`lang_assess.cat.engine`), many at a time, answering from the IRT model.  The
result reports bias, RMSE, lengths, SEs, item exposure, test overlap, CEFR accuracy, and
the *oracle length*: the number of items the stop rule would need if every item were the
most informative one left in the bank at the simulee's true θ (the physical limit of an
adaptive test on that bank).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lang_assess.cat import engine
from lang_assess.cat.design import TestDesign
from lang_assess.cat.select import ItemSelector, SympsonHetter
from lang_assess.cat.state import PreparedBank, TestState
from lang_assess.cat.stop import StandardErrorTarget
from lang_assess.growth import (
    GrowthPrior,
    growth_prior_from_data,
    measurement,
    own_growth,
    start_trend,
)
from lang_assess.irt.models import item_information, paired_probabilities
from lang_assess.irt.params import ItemParameters
from lang_assess.levels import CutScores
from lang_assess.programme import (
    ProgrammeConfig,
    default_growth_prior,
    participant_flags,
    weekly_trend,
)

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
) -> SimulationResult:
    """Run one simulated test per true ability in ``thetas`` (N,) logits.

    Deterministic given ``seed``.  ``prior_mean``/``prior_sd`` are scalars or (N,)
    (default: the design's).  ``progress`` is called with the number of tests that just
    finished; ``selected_counts`` (n,) accumulates selections before exposure control.
    With ``oracle`` each simulee also takes the oracle test (same estimator, prior, stop
    rule and item pool; every item the most informative one left at the true θ; no
    content balancing or exposure control), whose length is ``oracle_length``.
    ``blocked`` (N, n) bool marks items a simulee may not be given (e.g. seen lately).
    """
    true = np.asarray(thetas, dtype=float).ravel()
    if true.size == 0 or not np.all(np.isfinite(true)):
        raise ValueError("thetas must be a non-empty array of finite numbers")
    n_sim = true.size
    rng = np.random.default_rng(seed)
    oracle_rng = np.random.default_rng([seed, 1])
    bank = design.prepare(params)
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
                oracle_design.prepare(params), oracle_design, true[part], mean[part],
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


def programme_cohort(seed: int, n: int = 400, weeks: int = 20, *,
                     stall_share: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A simulated intake in the three tracks: (track (N,), growth (N,), true θ (N, W)).

    Start levels (logits) by track: N(-2.0, 0.6), N(-0.8, 0.7), N(0.2, 0.8); weekly growth
    uniform on 0.02-0.06, 0.04-0.09, 0.06-0.12 logits (docs/programme.md), linear.  With
    ``stall_share`` that share of learners stops growing in a week drawn from 4-12.
    """
    rng = np.random.default_rng(seed)
    track = rng.integers(1, 4, n)
    start = np.choose(track - 1, [rng.normal(-2.0, 0.6, n), rng.normal(-0.8, 0.7, n),
                                  rng.normal(0.2, 0.8, n)])
    growth = np.choose(track - 1, [rng.uniform(0.02, 0.06, n), rng.uniform(0.04, 0.09, n),
                                   rng.uniform(0.06, 0.12, n)])
    stop = np.where(rng.random(n) < stall_share, rng.integers(4, 13, n), weeks)
    weeks_grown = np.minimum(np.arange(weeks)[None, :], stop[:, None])
    return track, growth, start[:, None] + growth[:, None] * weeks_grown


@dataclass(frozen=True)
class WeeklyResult:
    """A simulated programme: one placement test, then a progress test every week.

    Arrays are (N, W) over simulees and weeks (week 0 is the placement test);
    ``items`` is (N, W, L) bank positions given, -1 padded; ``growth``/``growth_se`` are
    each simulee's tracked growth after each test (logits a week); ``prior_mean``/
    ``prior_sd`` the prior each test started from (logits).
    """

    true_theta: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    length: np.ndarray
    items: np.ndarray
    growth: np.ndarray | None = None
    growth_se: np.ndarray | None = None
    prior_mean: np.ndarray | None = None
    prior_sd: np.ndarray | None = None

    def shortest_repeat_gap(self) -> float:
        """Fewest weeks between two administrations of one item to one simulee (inf: none)."""
        n_sim, n_weeks, _ = self.items.shape
        best = np.inf
        for p in range(n_sim):
            last: dict[int, int] = {}
            for w in range(n_weeks):
                for i in self.items[p, w][self.items[p, w] >= 0].tolist():
                    if i in last:
                        best = min(best, w - last[i])
                    last[i] = w
        return best


def simulate_weekly(
    params: ItemParameters,
    placement: TestDesign,
    progress: TestDesign,
    true_theta: np.ndarray,
    *,
    seed: int,
    config: ProgrammeConfig,
    growth_mean: float | np.ndarray | None = None,
    growth_sd: float | np.ndarray | None = None,
) -> WeeklyResult:
    """Week 0 placement, then weekly progress tests for ``true_theta`` (N, W) logits.

    As the service runs them: each learner's trend starts from the placement result and
    the growth prior ``growth_mean``/``growth_sd`` (scalars or (N,), logits a week;
    default the config's), each progress test starts from :func:`weekly_trend` of it and
    may not give an item the simulee saw in the last ``config.exclude_weeks`` weeks.
    """
    true = np.asarray(true_theta, dtype=float)
    n_sim, n_weeks = true.shape
    theta, se = np.empty((n_sim, n_weeks)), np.empty((n_sim, n_weeks))
    growth, growth_se = np.empty((n_sim, n_weeks)), np.empty((n_sim, n_weeks))
    prior_mean, prior_sd = np.empty((n_sim, n_weeks)), np.empty((n_sim, n_weeks))
    length = np.empty((n_sim, n_weeks), dtype=int)
    width = max(placement.stop.max_items, progress.stop.max_items)
    items = np.full((n_sim, n_weeks, width), -1)
    default = default_growth_prior(config)
    g_mean = default.mean if growth_mean is None else growth_mean
    g_sd = default.sd if growth_sd is None else growth_sd
    trend = None
    for w in range(n_weeks):
        if w == 0:
            res = simulate(params, placement, true[:, 0], seed=seed, oracle=False)
            mean, sd = placement.prior_mean, placement.prior_sd
            trend = start_trend(res.theta, res.se, g_mean, g_sd)
        else:
            blocked = np.zeros((n_sim, params.n_items), dtype=bool)
            recent = items[:, max(0, w - config.exclude_weeks) : w].reshape(n_sim, -1)
            rows, cols = np.nonzero(recent >= 0)
            blocked[rows, recent[rows, cols]] = True
            trend = weekly_trend(trend, 1, config)
            mean, sd = trend.prior()
            res = simulate(params, progress, true[:, w], seed=seed + w, oracle=False,
                           blocked=blocked, prior_mean=mean, prior_sd=sd)
            trend = trend.update(res.theta, res.se)
        theta[:, w], se[:, w], length[:, w] = res.theta, res.se, res.length
        growth[:, w], growth_se[:, w] = trend.growth, trend.growth_se
        prior_mean[:, w], prior_sd[:, w] = mean, sd
        items[:, w, : res.items.shape[1]] = res.items
    return WeeklyResult(true, theta, se, length, items, growth, growth_se, prior_mean,
                        prior_sd)


def simulate_programme(
    params: ItemParameters,
    placement: TestDesign,
    progress: TestDesign,
    *,
    seed: int,
    config: ProgrammeConfig,
    priors: dict[int, GrowthPrior] | None = None,
    n: int = 400,
    weeks: int = 20,
    stall_share: float = 0.0,
) -> tuple[np.ndarray, WeeklyResult]:
    """One simulated intake (:func:`programme_cohort` with ``seed``) through
    :func:`simulate_weekly` (seed + 1), each learner on their track's growth prior from
    ``priors`` (track → prior; default: the config's).  Returns (track (N,), result)."""
    track, _, truth = programme_cohort(seed, n, weeks, stall_share=stall_share)
    mean = np.array([priors[t].mean for t in track]) if priors else None
    sd = np.array([priors[t].sd for t in track]) if priors else None
    result = simulate_weekly(params, placement, progress, truth, seed=seed + 1,
                             config=config, growth_mean=mean, growth_sd=sd)
    return track, result


def track_growth_priors(track: np.ndarray, result: WeeklyResult, config: ProgrammeConfig,
                        *, week: int = -1) -> dict[int, GrowthPrior]:
    """Track → growth prior estimated from a simulated intake as the service would: each
    learner's own growth from their tests up to ``week`` (default: the last), then
    :func:`~lang_assess.growth.growth_prior_from_data`.  ``track`` (N,) in 1-3."""
    done = int(np.arange(result.theta.shape[1])[week])
    if done < config.growth_min_tests:
        raise ValueError(f"week {done}: learners have fewer than "
                         f"{config.growth_min_tests} weekly tests")
    upto = slice(0, done + 1)
    y, r = measurement(result.theta[:, upto], result.se[:, upto],
                       result.prior_mean[:, upto], result.prior_sd[:, upto])
    slope, var = own_growth(np.arange(done + 1), y, r)
    return {t: growth_prior_from_data(slope[track == t], var[track == t],
                                      default=default_growth_prior(config),
                                      min_learners=config.growth_min_learners)
            for t in (1, 2, 3)}


def move_up_flag_accuracy(
    result: WeeklyResult,
    cuts: CutScores,
    config: ProgrammeConfig,
    *,
    within_weeks: int = 2,
    early_weeks: int = 0,
) -> dict[str, float]:
    """How well the "ready to move up" flag follows the truth in a weekly simulation.

    Each simulee starts in the course level of their placement estimate; when the flag
    fires, the teacher moves them up a level.  A *crossing* is the first week (after
    placement) the true θ is at or above a cut over the placement level, dated by the
    truth alone, so a flag that fires early or late does not change which crossings
    count; crossings whose window runs past the last week are left out.  It is *caught*
    when the move past that cut happens that week or up to ``within_weeks`` after (or up
    to ``early_weeks`` before).  A *false alarm* is a flag fired while the true θ is below
    the cut it moves past.  Returns counts, the share caught and false alarms per
    simulee-week (weeks after placement).
    """
    n_sim, n_weeks = result.theta.shape
    top = len(cuts.cuts)
    crossings = caught = false_alarms = 0
    for p in range(n_sim):
        start = level = int(cuts.level_index(result.theta[p, 0]))
        moved_at: dict[int, int] = {}  # cut index → week the flag moved them past it
        for w in range(1, n_weeks):
            if level >= top:
                break
            history = [(k, result.theta[p, k], result.se[p, k]) for k in range(1, w + 1)]
            flags = participant_flags(history, cuts, config, course_level=level,
                                      current_week=w, days_since_last_test=0)
            if flags.ready_to_move_up:
                false_alarms += bool(result.true_theta[p, w] < cuts.cuts[level])
                moved_at[level] = w
                level += 1
        for k in range(start, top):
            above = np.flatnonzero(result.true_theta[p, 1:] >= cuts.cuts[k])
            if above.size == 0 or above[0] + 1 + within_weeks > n_weeks - 1:
                continue
            crossed = int(above[0]) + 1
            crossings += 1
            caught += k in moved_at and (
                crossed - early_weeks <= moved_at[k] <= crossed + within_weeks)
    weeks = n_sim * (n_weeks - 1)
    return {
        "crossings": crossings,
        "caught_within": caught,
        "share_caught": caught / crossings if crossings else float("nan"),
        "false_alarms": false_alarms,
        "false_alarm_rate": false_alarms / weeks,
        "simulee_weeks": weeks,
    }
