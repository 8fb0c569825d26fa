"""Weekly decisions measured: how long a ready learner waits to move up, how often a move
comes too early, and how soon a stalled learner is flagged (issue 15).

One simulated programme, several rules side by side on the same learners:

* **weekly**: the service's rule — each week a progress test that decides whether the
  learner is past the cut above their course level (``decision=True``: the cut-decision
  design; ``False``: the SE-target design it replaced), then
  :func:`~lang_assess.programme.rules.participant_flags` moves them up and flags a stall;
* **term**: the system the pilot replaces — everyone retested every ``term_weeks``
  weeks with the placement test and moved to its level when that is above the course
  level.

Learners (:func:`learner_paths`) grow at rates that differ by track, some speed up and
some stop growing; answers come from a :class:`~lang_assess.engine.answers.ResponseModel`
that may differ from the parameters the tests score with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lang_assess.bank.loader import Bank
from lang_assess.engine.answers import ResponseModel
from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.engine.simulate import SimulationResult, simulate
from lang_assess.engine.special import normal_cdf
from lang_assess.programme.growth import measurement, start_trend
from lang_assess.programme.rules import (
    ProgrammeConfig,
    decision_cut,
    decision_design_key,
    default_growth_prior,
    participant_flags,
    progress_for_cut,
    weekly_trend,
    window_growth,
)
from lang_assess.programme.simulation import placement_starts


@dataclass(frozen=True)
class Learners:
    """Simulated learners: ``track`` (N,) in 1-3, true θ ``truth`` (N, W) logits over
    weeks 0 … W−1 (week 0: arrival), ``stall_week`` (N,) the week each stops growing
    (−1: never)."""

    track: np.ndarray
    truth: np.ndarray
    stall_week: np.ndarray


def learner_paths(seed: int, n: int = 400, weeks: int = 40, *, stall_share: float = 0.3
                  ) -> Learners:
    """An intake whose growth differs by track, speeds up and stalls.

    Start levels (logits) by track N(−2.0, 0.6), N(−0.8, 0.7), N(0.2, 0.8); initial
    growth uniform on 0.02–0.06, 0.04–0.09, 0.06–0.12 logits a week
    (docs/programme/programme.md); each learner's growth rises linearly by a factor drawn
    from 0–1 over the programme (some speed up, to double); ``stall_share`` of learners
    stop growing for good in a week drawn from 4 to W − 8.
    """
    rng = np.random.default_rng([seed, 15])
    track = rng.integers(1, 4, n)
    start = np.choose(track - 1, [rng.normal(-2.0, 0.6, n), rng.normal(-0.8, 0.7, n),
                                  rng.normal(0.2, 0.8, n)])
    growth = np.choose(track - 1, [rng.uniform(0.02, 0.06, n), rng.uniform(0.04, 0.09, n),
                                   rng.uniform(0.06, 0.12, n)])
    speedup = rng.uniform(0.0, 1.0, n)
    w = np.arange(weeks, dtype=float)
    rate = growth[:, None] * (1.0 + speedup[:, None] * w[None, :] / weeks)  # (N, W)
    stall = np.where(rng.random(n) < stall_share, rng.integers(4, max(weeks - 7, 5), n), -1)
    grows = (stall[:, None] < 0) | (w[None, :] < stall[:, None])
    steps = np.where(grows[:, :-1], rate[:, :-1], 0.0)
    truth = start[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(steps, 1)], 1)
    return Learners(track, truth, stall)


@dataclass(frozen=True)
class Run:
    """One rule through the programme: arrays (N, W) over learners × weeks.

    ``theta``/``se``: each test's posterior (NaN: no test that week); ``prior_mean``/
    ``prior_sd`` the prior it started from; ``own``/``own_se`` what its answers alone
    said (:func:`~lang_assess.programme.growth.measurement`); ``length`` items given;
    ``course`` the course level (index) during each week; ``moves`` (k, 3) rows of
    (learner, week, cut index passed); ``stalled`` the stalled flag after each week;
    ``growth_z`` the growth over the stalled window in its SEs (NaN: window not full),
    for trying other thresholds on the same run."""

    theta: np.ndarray
    se: np.ndarray
    prior_mean: np.ndarray
    prior_sd: np.ndarray
    length: np.ndarray
    course: np.ndarray
    moves: np.ndarray
    stalled: np.ndarray
    growth_z: np.ndarray

    @property
    def own(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, W) the week's own measurement and its SE (logits; inf: said nothing)."""
        y, r = measurement(self.theta, self.se, self.prior_mean, self.prior_sd)
        return y, np.sqrt(r)


def _placement(params: ItemParameters, designs: Mapping[str, TestDesign],
               truth: np.ndarray, track: np.ndarray, *, seed: int, config: ProgrammeConfig,
               respond: ResponseModel, blocked: np.ndarray | None = None
               ) -> SimulationResult:
    """The placement test as the service starts it, for every learner."""
    mean, sd, routing = placement_starts(track, config)
    by_track = {str(t): designs["placement_routed" if routing[track == t][0] else "placement"]
                for t in np.unique(track)}
    return simulate(params, by_track, truth, seed=seed, oracle=False, prior_mean=mean,
                    prior_sd=sd, groups=track, respond=respond, blocked=blocked)


def simulate_weekly_rule(
    params: ItemParameters,
    designs: Mapping[str, TestDesign],
    learners: Learners,
    cuts: CutScores,
    *,
    seed: int,
    config: ProgrammeConfig,
    respond: ResponseModel | None = None,
) -> Run:
    """Placement in week 0, then each week a progress test and the flags, as the service
    runs them; a learner flagged ready is moved up at once.

    ``designs``: ``placement``, ``placement_routed`` (Track 1), ``progress`` (no decision
    cut: at the top level) and ``progress@{cut}`` for every cut of ``cuts`` whose
    weekly test decides about that cut (absent: ``progress`` for everyone, the old
    design).  ``respond`` draws the answers (default: ``params``).
    """
    model = respond or ResponseModel(params)
    truth, track = learners.truth, learners.track
    n, weeks = truth.shape
    out = {k: np.full((n, weeks), np.nan) for k in ("theta", "se", "prior_mean", "prior_sd")}
    length = np.zeros((n, weeks), dtype=int)
    course = np.zeros((n, weeks), dtype=int)
    stalled = np.zeros((n, weeks), dtype=bool)
    growth_z = np.full((n, weeks), np.nan)
    width = max(d.stop.max_items for d in designs.values())
    seen = np.full((n, weeks, width), -1)  # items given, for the weeks-between-repeats rule
    moves: list[tuple[int, int, int]] = []
    res = _placement(params, designs, truth[:, 0], track, seed=seed, config=config,
                     respond=model)
    out["theta"][:, 0], out["se"][:, 0] = res.theta, res.se
    out["prior_mean"][:, 0], out["prior_sd"][:, 0] = res.prior_mean, res.prior_sd
    length[:, 0] = res.length
    seen[:, 0, : res.items.shape[1]] = res.items
    level = np.asarray(cuts.level_index(res.theta), dtype=int)
    course[:, 0] = level
    prior = default_growth_prior(config)
    trend = start_trend(res.theta, res.se, prior.mean, prior.sd)
    for w in range(1, weeks):
        trend = weekly_trend(trend, 1, config)
        mean, sd = trend.prior()
        recent = seen[:, max(0, w - config.exclude_weeks):w].reshape(n, -1)
        blocked = np.zeros((n, params.n_items), dtype=bool)
        rows, cols = np.nonzero(recent >= 0)
        blocked[rows, recent[rows, cols]] = True
        group = np.array([_design_key(cuts, lv, designs) for lv in level])
        res = simulate(params, {g: designs[g] for g in np.unique(group)}, truth[:, w],
                       seed=seed + w, oracle=False, prior_mean=mean, prior_sd=sd,
                       blocked=blocked, groups=group, respond=model)
        trend = trend.update(res.theta, res.se)
        out["theta"][:, w], out["se"][:, w] = res.theta, res.se
        out["prior_mean"][:, w], out["prior_sd"][:, w] = mean, sd
        length[:, w] = res.length
        seen[:, w, : res.items.shape[1]] = res.items
        for p in range(n):
            history = [(k, out["theta"][p, k], out["se"][p, k], out["prior_mean"][p, k],
                        out["prior_sd"][p, k]) for k in range(w + 1)]
            f = participant_flags(history, cuts, config, course_level=int(level[p]),
                                  current_week=w, days_since_last_test=0)
            stalled[p, w] = f.stalled
            if f.growth is not None:
                growth_z[p, w] = f.growth / f.growth_se
            if f.ready_to_move_up:
                moves.append((p, w, int(level[p])))
                level[p] += 1
        course[:, w] = level
    return Run(out["theta"], out["se"], out["prior_mean"], out["prior_sd"], length,
               course, np.array(moves, dtype=int).reshape(-1, 3), stalled, growth_z)


def _design_key(cuts: CutScores, level: int, designs: Mapping[str, TestDesign]) -> str:
    cut = decision_cut(cuts, int(level))
    key = "progress" if cut is None else decision_design_key(cut)
    return key if key in designs else "progress"


def simulate_term_rule(
    params: ItemParameters,
    designs: Mapping[str, TestDesign],
    learners: Learners,
    cuts: CutScores,
    *,
    seed: int,
    config: ProgrammeConfig,
    respond: ResponseModel | None = None,
    term_weeks: int = 10,
) -> np.ndarray:
    """The term-based baseline: placement in week 0 and again every ``term_weeks``
    weeks; a learner whose placement level is above their course level moves to it.
    Returns the moves, (k, 3) rows of (learner, week, cut index passed)."""
    model = respond or ResponseModel(params)
    truth, track = learners.truth, learners.track
    level = None
    moves: list[tuple[int, int, int]] = []
    for w in range(0, truth.shape[1], term_weeks):
        res = _placement(params, designs, truth[:, w], track, seed=seed + w, config=config,
                         respond=model)
        placed = np.asarray(cuts.level_index(res.theta), dtype=int)
        if level is None:
            level = placed
            continue
        for p in np.flatnonzero(placed > level):
            moves.extend((int(p), w, k) for k in range(int(level[p]), int(placed[p])))
        level = np.maximum(level, placed)
    return np.array(moves, dtype=int).reshape(-1, 3)


def waiting_weeks(moves: np.ndarray, truth: np.ndarray, start_level: np.ndarray,
                  cuts: CutScores) -> dict[str, float]:
    """Weeks from each true crossing of a cut above a learner's start level to the move
    past it, and the share of moves made too early.

    A crossing is dated by the truth alone: the first week the true θ (``truth`` (N, W)
    logits) is at or above the cut.  Its wait is the move's week minus that week (0 for a
    move before it), counted to the end of the programme (week W) when the move never
    comes.  A move is premature when the true θ was below the cut it passed that week.
    ``moves`` (k, 3) rows of (learner, week, cut index); ``start_level`` (N,) the
    placement level (index).
    """
    n, weeks = truth.shape
    moved = {(int(p), int(k)): int(w) for p, w, k in moves}
    waits = []
    for p in range(n):
        for k in range(int(start_level[p]), len(cuts.cuts)):
            above = np.flatnonzero(truth[p] >= cuts.cuts[k])
            if above.size == 0:
                continue
            crossed = int(above[0])
            waits.append(max(0, moved.get((p, k), weeks) - crossed))
    premature = [truth[p, w] < cuts.cuts[k] for p, w, k in moves]
    wait = np.asarray(waits, dtype=float)
    return {
        "crossings": int(wait.size),
        "mean_wait_weeks": float(wait.mean()) if wait.size else float("nan"),
        "median_wait_weeks": float(np.median(wait)) if wait.size else float("nan"),
        "p90_wait_weeks": float(np.percentile(wait, 90)) if wait.size else float("nan"),
        "moves": len(moves),
        "premature_moves": int(np.sum(premature)),
        "premature_move_rate": float(np.mean(premature)) if len(moves) else 0.0,
    }


def stalled_detection(flags: np.ndarray, learners: Learners, *, within: Sequence[int] = (4, 6, 8),
                      first_week: int = 1) -> dict[str, float]:
    """How the stalled flag follows the truth.

    ``flags`` (N, W) bool: flagged after each week.  Sensitivity within d weeks: of the
    learners who stop growing in week s with s + d inside the programme, the share
    flagged in some week s+1 … s+d.  False flags: the share of weeks ``first_week`` …
    W−1 in which a learner who never stalls is flagged.
    """
    weeks = flags.shape[1]
    out: dict[str, float] = {}
    stall = learners.stall_week
    for d in within:
        who = np.flatnonzero((stall >= 0) & (stall + d < weeks))
        hit = [flags[p, stall[p] + 1: stall[p] + d + 1].any() for p in who]
        out[f"sensitivity_{d}"] = float(np.mean(hit)) if hit else float("nan")
    growing = stall < 0
    out["false_rate"] = float(flags[growing, first_week:].mean()) if growing.any() else 0.0
    return out


def idealised_growth_z(run: Run, learners: Learners, config: ProgrammeConfig, *,
                       seed: int) -> np.ndarray:
    """The stalled rule's statistic on an idealised measurement: each week an unbiased
    normal measurement of the true θ with the SE of that week's own measurement in
    ``run`` (the same precision; no guessing, misfit or prior), through the same
    window.  Returns (N, W) growth / SE (NaN: window not full); flags are
    ``z < config.stalled_z``."""
    rng = np.random.default_rng([seed, 151])
    _, own_se = run.own
    n, weeks = learners.truth.shape
    se = np.where(np.isfinite(own_se), own_se, 10.0)
    y = learners.truth + rng.normal(0.0, 1.0, (n, weeks)) * se
    z = np.full((n, weeks), np.nan)
    for p in range(n):
        for w in range(1, weeks):
            g, g_se = window_growth([(k, y[p, k], se[p, k]) for k in range(w + 1)], config)
            if g is not None:
                z[p, w] = g / g_se
    return z


def weekly_designs(bank: Bank, config: ProgrammeConfig, cuts: CutScores | None = None,
                   *, decision: bool = True, **overrides: Any) -> dict[str, TestDesign]:
    """The designs the service runs, by the names :func:`simulate_weekly_rule` uses:
    placement (and the routed one), ``progress`` (no decision cut) and, with
    ``decision``, ``progress@{cut}`` deciding each cut of ``cuts`` (default the bank's)
    at ``config.ready_probability``; ``overrides`` (e.g. ``max_items``) go to every
    progress design."""
    out = {"placement": bank.design("placement"),
           "progress": bank.design("progress", **overrides)}
    if bank.config.designs["placement"].routing is not None:
        out["placement_routed"] = bank.design("placement", routing=True)
    else:
        out["placement_routed"] = out["placement"]
    if decision:
        for cut in (cuts or bank.cuts).cuts:
            out[decision_design_key(cut)] = progress_for_cut(bank, cut, config, **overrides)
    return out


def _at_false_rate(z: np.ndarray, learners: Learners, rate: float,
                   first_week: int) -> float:
    """The largest threshold whose false-flag rate on never-stalling learners is ≤ ``rate``."""
    growing = z[learners.stall_week < 0, first_week:]
    growing = growing[np.isfinite(growing)]
    n_weeks = z[learners.stall_week < 0, first_week:].size
    if growing.size == 0:
        return 0.0
    ranked = np.sort(growing)
    k = int(np.floor(rate * n_weeks))  # flags allowed
    return float(ranked[k]) if k < ranked.size else float(ranked[-1]) + 1.0


def compare_rules(bank: Bank, config: ProgrammeConfig, *, n: int = 400, weeks: int = 40,
                  seed: int = 1, respond: ResponseModel | None = None,
                  term_weeks: int = 10, current: bool = False,
                  **overrides: Any) -> dict[str, Any]:
    """The measures of issue 15 on one simulated intake (:func:`learner_paths`), the
    weekly rule (as configured) beside the term-based baseline and, with ``current``,
    the rule it replaced (P ≥ 0.8 in two consecutive weeks, the SE-target test).

    Waiting weeks and premature moves: :func:`waiting_weeks`, every rule counted from
    the same placement levels (the weekly run's).  Stalled: sensitivity within 4
    (``stalled_sensitivity``), 6 and 8 weeks and false flags at ``config.stalled_z``;
    the same window on an idealised measurement (:func:`idealised_growth_z`) at its
    threshold with the same false-flag rate is the bound.  ``overrides`` go to the
    progress designs (e.g. ``max_items``).  Returns one flat dict (JSON-able).
    """
    learners = learner_paths(seed, n, weeks)
    cuts = bank.cuts
    designs = weekly_designs(bank, config, cuts, **overrides)
    run = simulate_weekly_rule(bank.params, designs, learners, cuts, seed=seed + 1,
                               config=config, respond=respond)
    start = run.course[:, 0]
    out: dict[str, Any] = {"n": n, "weeks": weeks, "seed": seed,
                           **waiting_weeks(run.moves, learners.truth, start, cuts)}
    term = simulate_term_rule(bank.params, designs, learners, cuts, seed=seed + 1,
                              config=config, respond=respond, term_weeks=term_weeks)
    out.update({f"term_baseline_{k}": v
                for k, v in waiting_weeks(term, learners.truth, start, cuts).items()})
    if current:
        old = dataclasses.replace(config, ready_probability=0.80, ready_consecutive=2)
        was = simulate_weekly_rule(bank.params, weekly_designs(bank, old, cuts,
                                                               decision=False),
                                   learners, cuts, seed=seed + 1, config=old,
                                   respond=respond)
        out.update({f"current_rule_{k}": v for k, v in
                    waiting_weeks(was.moves, learners.truth, was.course[:, 0], cuts).items()})
        out["current_rule_mean_weekly_items"] = float(was.length[:, 1:].mean())
    out["mean_weekly_items"] = float(run.length[:, 1:].mean())
    _, own_se = run.own
    finite = np.isfinite(own_se[:, 1:])
    out["weekly_own_se_median"] = float(np.median(own_se[:, 1:][finite]))
    out["weekly_posterior_se_mean"] = float(run.se[:, 1:].mean())
    # the bound: the same rule on unbiased measurements as precise as this test's own
    ideal_moves, ideal_start = idealised_moves(learners, cuts, config, seed=seed,
                                               weekly_se=out["weekly_own_se_median"])
    ideal_term = simulate_term_rule(bank.params, designs, learners, cuts, seed=seed + 1,
                                    config=config, respond=respond, term_weeks=term_weeks)
    ideal_wait = waiting_weeks(ideal_moves, learners.truth, ideal_start, cuts)
    out["idealised_mean_wait_weeks"] = ideal_wait["mean_wait_weeks"]
    out["idealised_premature_move_rate"] = ideal_wait["premature_move_rate"]
    out["idealised_term_baseline_mean_wait_weeks"] = waiting_weeks(
        ideal_term, learners.truth, ideal_start, cuts)["mean_wait_weeks"]
    first = config.stalled_weeks
    flags = run.growth_z < config.stalled_z
    real = stalled_detection(flags, learners, first_week=first)
    ideal_z = idealised_growth_z(run, learners, config, seed=seed)
    bound_z = _at_false_rate(ideal_z, learners, real["false_rate"], first)
    ideal = stalled_detection(ideal_z < bound_z, learners, first_week=first)
    out.update({
        "stalled_sensitivity": real["sensitivity_4"],
        "stalled_sensitivity_6": real["sensitivity_6"],
        "stalled_sensitivity_8": real["sensitivity_8"],
        "stalled_false_rate": real["false_rate"],
        "stalled_z": config.stalled_z,
        "idealised_stalled_sensitivity": ideal["sensitivity_4"],
        "idealised_stalled_sensitivity_6": ideal["sensitivity_6"],
        "idealised_stalled_sensitivity_8": ideal["sensitivity_8"],
        "idealised_stalled_false_rate": ideal["false_rate"],
        "idealised_stalled_z": bound_z,
    })
    return out


def idealised_moves(learners: Learners, cuts: CutScores, config: ProgrammeConfig, *,
                    weekly_se: float, seed: int, placement_se: float = 0.3
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The move-up rule on an idealised measurement: each week an unbiased normal
    measurement of the true θ with SE ``weekly_se`` (logits; no guessing, misfit or
    item supply), placement with SE ``placement_se``, through the same trend and the
    same threshold (``config.ready_probability``, one week).  What the rule could reach
    if the weekly test measured that well.  Returns (moves (k, 3) as
    :func:`waiting_weeks` takes them, start levels (N,))."""
    rng = np.random.default_rng([seed, 152])
    truth = learners.truth
    n, weeks = truth.shape
    y0 = truth[:, 0] + rng.normal(0.0, placement_se, n)
    level = np.asarray(cuts.level_index(y0), dtype=int)
    start = level.copy()
    prior = default_growth_prior(config)
    trend = start_trend(y0, np.full(n, placement_se), prior.mean, prior.sd)
    edges = np.append(np.asarray(cuts.cuts, dtype=float), np.inf)
    moves: list[tuple[int, int, int]] = []
    for w in range(1, weeks):
        trend = weekly_trend(trend, 1, config)
        m, s = trend.prior()
        y = truth[:, w] + rng.normal(0.0, weekly_se, n)
        var = 1.0 / (1.0 / s**2 + 1.0 / weekly_se**2)
        post = var * (m / s**2 + y / weekly_se**2)
        trend = trend.update(post, np.sqrt(var))
        cut = edges[level]
        p_above = 1.0 - normal_cdf((cut - post) / np.sqrt(var))
        ready = (level < len(cuts.cuts)) & (p_above >= config.ready_probability)
        moves.extend((int(p), w, int(level[p])) for p in np.flatnonzero(ready))
        level = level + ready
    return np.array(moves, dtype=int).reshape(-1, 3), start
