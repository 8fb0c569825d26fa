"""The programme simulated: intakes that grow week to week, tested as the service tests them.

:func:`simulate_weekly` runs a placement test and then a weekly progress test for N
simulees through :func:`lang_assess.engine.simulate.simulate` (the live engine), each
weekly test starting from the learner's tracked trend (:mod:`lang_assess.programme.growth`)
exactly as :class:`~lang_assess.programme.service.Service` starts it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lang_assess.bank.loader import Bank
from lang_assess.engine.answers import ResponseModel
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.cat.state import enemy_matrix
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.engine.simulate import SimulationResult, simulate
from lang_assess.programme.growth import GrowthPrior, growth_prior_from_tests, start_trend
from lang_assess.programme.rules import (
    PlacementPrior,
    ProgrammeConfig,
    default_growth_prior,
    default_placement_prior,
    participant_flags,
    placement_prior_from_results,
    placement_start,
    weekly_trend,
)


def programme_cohort(seed: int, n: int = 400, weeks: int = 20, *,
                     stall_share: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A simulated intake in the three tracks: (track (N,), growth (N,), true θ (N, W)).

    Start levels (logits) by track: N(-2.0, 0.6), N(-0.8, 0.7), N(0.2, 0.8); weekly growth
    uniform on 0.02-0.06, 0.04-0.09, 0.06-0.12 logits (docs/programme/programme.md), linear.  With
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

    def given(self, n_items: int) -> np.ndarray:
        """(N, W, n) bool: which items each simulee was given in each week's test."""
        n_sim, n_weeks, _ = self.items.shape
        out = np.zeros((n_sim, n_weeks, n_items), dtype=bool)
        p, w, k = np.nonzero(self.items >= 0)
        out[p, w, self.items[p, w, k]] = True
        return out

    def weekly_exposure(self, n_items: int) -> np.ndarray:
        """(W, n): the share of each week's tests that gave each item."""
        return self.given(n_items).mean(axis=0)

    def enemy_meetings(self, pairs: np.ndarray, n_items: int) -> int:
        """How many (simulee, enemy pair) there are where the simulee was given both items,
        in any weeks; ``pairs`` is (m, 2) bank positions of a bank of ``n_items``."""
        ever = self.given(n_items).any(axis=1)
        pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
        return int(np.sum(ever[:, pairs[:, 0]] & ever[:, pairs[:, 1]]))

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
    placement: TestDesign | Mapping[str, TestDesign],
    progress: TestDesign,
    true_theta: np.ndarray,
    *,
    seed: int,
    config: ProgrammeConfig,
    growth_mean: float | np.ndarray | None = None,
    growth_sd: float | np.ndarray | None = None,
    tracks: np.ndarray | None = None,
    placement_priors: Mapping[int, PlacementPrior] | None = None,
    enemies: Iterable[tuple[str, str]] = (),
) -> WeeklyResult:
    """Week 0 placement, then weekly progress tests for ``true_theta`` (N, W) logits.

    As the service runs them: with ``tracks`` (N,) in 1-3 each placement test starts as
    :func:`placement_starts` says (the track's prior, from ``placement_priors`` or the
    config's default; ``placement`` may map a track, as a string, to its design: the
    routed one for Track 1); each learner's trend starts
    from the placement result and the growth prior ``growth_mean``/``growth_sd``
    (scalars or (N,), logits a week; default the config's), each progress test starts
    from :func:`weekly_trend` of it and may not give an item the simulee saw in the last
    ``config.exclude_weeks`` weeks, nor an enemy (``enemies``: pairs of item ids) of any
    item the simulee was ever given.
    """
    true = np.asarray(true_theta, dtype=float)
    n_sim, n_weeks = true.shape
    theta, se = np.empty((n_sim, n_weeks)), np.empty((n_sim, n_weeks))
    growth, growth_se = np.empty((n_sim, n_weeks)), np.empty((n_sim, n_weeks))
    prior_mean, prior_sd = np.empty((n_sim, n_weeks)), np.empty((n_sim, n_weeks))
    length = np.empty((n_sim, n_weeks), dtype=int)
    designs = [placement] if isinstance(placement, TestDesign) else list(placement.values())
    width = max(*(d.stop.max_items for d in designs), progress.stop.max_items)
    items = np.full((n_sim, n_weeks, width), -1)
    default = default_growth_prior(config)
    g_mean = default.mean if growth_mean is None else growth_mean
    g_sd = default.sd if growth_sd is None else growth_sd
    enemies = list(enemies)
    foes = enemy_matrix(params, enemies)
    ever = np.zeros((n_sim, params.n_items), dtype=bool)  # items each simulee was given
    trend = None
    for w in range(n_weeks):
        if w == 0:
            if tracks is None:
                mean, sd = designs[0].prior_mean, designs[0].prior_sd
                res = simulate(params, placement, true[:, 0], seed=seed, oracle=False,
                               enemies=enemies)
            else:
                mean, sd, _ = placement_starts(tracks, config, placement_priors)
                res = simulate(params, placement, true[:, 0], seed=seed, oracle=False,
                               prior_mean=mean, prior_sd=sd, groups=tracks,
                               enemies=enemies)
            mean, sd = res.prior_mean, res.prior_sd  # as the service stores them
            trend = start_trend(res.theta, res.se, g_mean, g_sd)
        else:
            blocked = np.zeros((n_sim, params.n_items), dtype=bool)
            recent = items[:, max(0, w - config.exclude_weeks) : w].reshape(n_sim, -1)
            rows, cols = np.nonzero(recent >= 0)
            blocked[rows, recent[rows, cols]] = True
            if foes is not None:
                blocked |= (ever.astype(np.float32) @ foes.astype(np.float32)) > 0
            trend = weekly_trend(trend, 1, config)
            mean, sd = trend.prior()
            res = simulate(params, progress, true[:, w], seed=seed + w, oracle=False,
                           blocked=blocked, prior_mean=mean, prior_sd=sd, enemies=enemies)
            trend = trend.update(res.theta, res.se)
        theta[:, w], se[:, w], length[:, w] = res.theta, res.se, res.length
        growth[:, w], growth_se[:, w] = trend.growth, trend.growth_se
        prior_mean[:, w], prior_sd[:, w] = mean, sd
        items[:, w, : res.items.shape[1]] = res.items
        rows, cols = np.nonzero(res.items >= 0)
        ever[rows, res.items[rows, cols]] = True
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
    placement_routed: TestDesign | None = None,
    placement_priors: Mapping[int, PlacementPrior] | None = None,
    enemies: Iterable[tuple[str, str]] = (),
) -> tuple[np.ndarray, WeeklyResult]:
    """One simulated intake (:func:`programme_cohort` with ``seed``) through
    :func:`simulate_weekly` (seed + 1), each learner on their track's growth prior from
    ``priors`` (track → prior; default: the config's), each placement test from its
    track's placement prior (``placement_priors``, e.g. :func:`track_placement_priors`
    of an earlier intake; default the config's), Track 1 with ``placement_routed`` when
    given; never two ``enemies`` to one learner.  Returns (track (N,), result)."""
    track, _, truth = programme_cohort(seed, n, weeks, stall_share=stall_share)
    mean = np.array([priors[t].mean for t in track]) if priors else None
    sd = np.array([priors[t].sd for t in track]) if priors else None
    if placement_routed is not None:
        placement = {"1": placement_routed, "2": placement, "3": placement}
    result = simulate_weekly(params, placement, progress, truth, seed=seed + 1,
                             config=config, growth_mean=mean, growth_sd=sd, tracks=track,
                             placement_priors=placement_priors, enemies=enemies)
    return track, result


def track_growth_priors(track: np.ndarray, result: WeeklyResult, config: ProgrammeConfig,
                        *, week: int = -1) -> dict[int, GrowthPrior]:
    """Track → growth prior estimated from a simulated intake as the service would: each
    learner's own growth from their tests up to ``week`` (default: the last), then
    :func:`~lang_assess.programme.growth.growth_prior_from_tests`.  ``track`` (N,) in 1-3."""
    done = int(np.arange(result.theta.shape[1])[week])
    if done < config.growth_min_tests:
        raise ValueError(f"week {done}: learners have fewer than "
                         f"{config.growth_min_tests} weekly tests")
    upto = slice(0, done + 1)
    weeks = np.arange(done + 1)
    arrays = (result.theta[:, upto], result.se[:, upto], result.prior_mean[:, upto],
              result.prior_sd[:, upto])
    return {t: growth_prior_from_tests(weeks, *(x[track == t] for x in arrays),
                                       default=default_growth_prior(config),
                                       min_learners=config.growth_min_learners)
            for t in (1, 2, 3)}


def track_placement_priors(track: np.ndarray, result: WeeklyResult,
                           config: ProgrammeConfig) -> dict[int, PlacementPrior]:
    """Track → placement prior estimated from a simulated intake's placement results as
    the service would (:func:`~lang_assess.programme.rules.placement_prior_from_results`,
    the config's default below ``placement_min_learners``).  ``track`` (N,) in 1-3."""
    return {t: placement_prior_from_results(
        result.theta[track == t, 0], result.se[track == t, 0],
        default_placement_prior(t, config), config.placement_min_learners)
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


def placement_starts(tracks: np.ndarray, config: ProgrammeConfig,
                     priors: Mapping[int, PlacementPrior] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How the service starts the placement test of a participant of each track, for
    simulees with only a track known (no literacy or months in Norway at intake).

    ``tracks`` (N,) in 1-3; ``priors`` track → the track's prior (default: the config's,
    as for an organisation without placement results yet).  Returns (N,) prior means,
    (N,) prior SDs (logits) and (N,) bool: the test starts with the routing stage
    (:func:`~lang_assess.programme.rules.placement_start`).
    """
    t = np.asarray(tracks, dtype=int).ravel()
    mean, sd, routing = np.empty(t.size), np.empty(t.size), np.zeros(t.size, dtype=bool)
    for k in np.unique(t):
        prior = (priors or {}).get(int(k)) or default_placement_prior(int(k), config)
        start = placement_start(int(k), prior, config)
        m = t == k
        mean[m], sd[m], routing[m] = start.mean, start.sd, start.routing
    return mean, sd, routing


def simulate_placement(
    bank: Bank,
    thetas: np.ndarray,
    tracks: np.ndarray | None,
    *,
    seed: int,
    config: ProgrammeConfig,
    cuts: CutScores | None = None,
    respond: ResponseModel | None = None,
    priors: Mapping[int, PlacementPrior] | None = None,
    **options: Any,
) -> SimulationResult:
    """The bank's placement test for simulees with true θ ``thetas`` (N,) logits, each
    started as the service starts a participant of its track (``tracks`` (N,) in 1-3:
    the track's prior, Track 1 with the routing stage; None: everyone from the design's
    own prior).  ``respond`` draws the answers (default: the bank's parameters);
    ``cuts`` default to the bank's; ``options`` go to
    :func:`~lang_assess.engine.simulate.simulate` (e.g. ``oracle=False``); the bank's
    enemy pairs are respected as in the service."""
    options.setdefault("enemies", bank.enemies)
    design: TestDesign | dict[str, TestDesign] = bank.design("placement")
    mean = sd = None
    if tracks is not None:
        mean, sd, routing = placement_starts(tracks, config, priors)
        routed = bank.design("placement", routing=True) if routing.any() else None
        t = np.asarray(tracks, dtype=int)
        design = {str(k): routed if routing[t == k][0] else design for k in np.unique(t)}
    return simulate(bank.params, design, thetas, seed=seed, cuts=cuts or bank.cuts,
                    prior_mean=mean, prior_sd=sd, respond=respond, groups=tracks, **options)


def placement_designs_compared(
    bank: Bank,
    thetas: np.ndarray,
    tracks: np.ndarray,
    *,
    seed: int,
    config: ProgrammeConfig,
    answers: Mapping[str, ResponseModel | None],
) -> pd.DataFrame:
    """The placement test before and after issue 13, with answers from several models.

    ``before``: what the service ran until then: v0 scored as 2PL (c = 0), every
    participant from the design's wide prior, stop at SE 0.30 or 30 items, no routing.
    ``now``: the bank's placement as the service starts it (:func:`simulate_placement`).
    ``answers`` names the answer models (None: the bank's parameters; c = 1/k on
    multiple-choice items in v0).  One row per design × answers: accuracy, mean length,
    bias overall and by track, Track 1's share placed too high.
    """
    d = bank.design("placement", confidence=None)
    before_design = dataclasses.replace(d, population_weight=0.0)
    before_params = dataclasses.replace(bank.params, c=np.zeros(bank.params.n_items))
    rows = []
    for name, respond in answers.items():
        model = respond or ResponseModel(bank.params)
        for design, result in (
            ("before", simulate(before_params, before_design, thetas, seed=seed,
                                cuts=bank.cuts, respond=model, groups=tracks,
                                oracle=False)),
            ("now", simulate_placement(bank, thetas, tracks, seed=seed, config=config,
                                       respond=model, oracle=False)),
        ):
            s = result.summary()
            g = s["by_group"]
            rows.append({
                "design": design, "answers": name, "accuracy": s["cefr_accuracy"],
                "mean_length": s["mean_length"], "bias": s["bias"], "rmse": s["rmse"],
                **{f"bias_track{t}": g[str(t)]["bias"] for t in (1, 2, 3) if str(t) in g},
                "track1_too_high": g["1"]["placed_too_high"] if "1" in g else np.nan,
            })
    return pd.DataFrame(rows)


def progress_prior(
    thetas: np.ndarray,
    *,
    last_se: float,
    config: ProgrammeConfig,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-person priors of a weekly progress test, as the service would form them.

    Last week's estimate is drawn as the true θ less one week's expected growth plus a
    normal error with SD ``last_se``; the prior is the level of :func:`weekly_trend` of
    it one week on (growth: the config's default growth prior), so the simulated test
    starts where a participant's real second weekly test would.

    Parameters
    ----------
    thetas : np.ndarray
        (N,) true abilities this week, logits.
    last_se : float
        SE of last week's estimate, logits (e.g. the progress design's SE target).
    config : ProgrammeConfig
        The programme's growth settings (``expected_growth``, ``growth_between_sd``,
        ``level_drift_sd``, ``growth_drift_sd``).
    seed : int
        Seed of last week's errors.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        (N,) prior means and (N,) prior SDs, logits.
    """
    true = np.asarray(thetas, dtype=float).ravel()
    noise = np.random.default_rng(seed).normal(0.0, last_se, true.size)
    last = true - config.expected_growth + noise
    prior = default_growth_prior(config)
    trend = start_trend(last, np.full(true.size, last_se), prior.mean, prior.sd)
    mean, sd = weekly_trend(trend, 1, config).prior()
    return np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
