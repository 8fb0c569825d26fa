"""Programme rules as pure functions: tracks from intake data, how a placement test
starts, weekly priors, flags.

The numbers live in one config file (``lang_assess/programme/programme.yaml``, or the file
named by the settings' ``config_file``); these functions do no I/O besides reading it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from numpy.typing import ArrayLike

from lang_assess.engine.levels import CutScores
from lang_assess.engine.special import normal_cdf
from lang_assess.programme.growth import GrowthPrior, Trend, measurement, own_growth
from lang_assess.programme.settings import PACKAGED_CONFIG

if TYPE_CHECKING:
    from lang_assess.bank.loader import Bank
    from lang_assess.engine.cat.design import TestDesign


@dataclass(frozen=True)
class ProgrammeConfig:
    """The rules of the programme (see programme.yaml for meanings and defaults)."""

    track1_max_years: int = 6
    track3_min_years: int = 13
    track1_prior_mean: float = -2.6
    track1_prior_sd: float = 0.5
    track2_prior_mean: float = -1.2
    track2_prior_sd: float = 0.8
    track3_prior_mean: float = 0.2
    track3_prior_sd: float = 0.9
    placement_min_learners: int = 30
    settled_months: int = 12
    bank: str = "nb"
    exclude_weeks: int = 8
    max_exposure: float = 0.25
    expected_growth: float = 0.05
    growth_between_sd: float = 0.04
    level_drift_sd: float = 0.05
    growth_drift_sd: float = 0.005
    growth_min_learners: int = 20
    growth_min_tests: int = 6
    ready_probability: float = 0.93
    ready_consecutive: int = 1
    stalled_weeks: int = 6
    reliable_change_z: float = 1.645
    stalled_z: float = -0.9
    missed_after_days: int = 9
    page_max_failures: int = 5
    client_max_failures: int = 30
    client_window_minutes: int = 60
    pair_max_failures: int = 5
    pair_window_minutes: int = 1440
    pause_failures: int = 20
    pause_clients: int = 3
    pause_window_minutes: int = 1440
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    show_level_to_participant: bool = False
    retention_days: int = 365
    retention_action: str = "anonymise"
    double_rate_share: float = 0.25
    recording_retention_days: int = 180
    recording_max_seconds: float = 180.0
    recording_max_bytes: int = 3_000_000
    text_max_chars: int = 4000

    @classmethod
    def from_file(cls, path: str | Path) -> ProgrammeConfig:
        """Read a programme.yaml (sections tracks, weekly, flags, access, privacy)."""
        raw: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        flat = {k: v for section in raw.values() if isinstance(section, dict)
                for k, v in section.items()}
        unknown = set(flat) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {sorted(unknown)}")
        if flat.get("retention_action", "anonymise") not in ("anonymise", "delete"):
            raise ValueError(f"{path}: retention_action must be 'anonymise' or 'delete'")
        return cls(**flat)


@cache
def load_config(path: str | Path | None = None) -> ProgrammeConfig:
    """The programme config in ``path`` (default: the packaged ``programme.yaml``;
    entry points pass :attr:`~lang_assess.programme.settings.Settings.config_file`)."""
    return ProgrammeConfig.from_file(path or PACKAGED_CONFIG)


def suggest_track(
    years_schooling: int | None,
    literate_l1: bool | None,
    higher_education: bool,
    config: ProgrammeConfig,
) -> int:
    """FAFO track from intake data (1 no schooling, 2 little or some, 3 higher education).

    Track 1: not literate in any language, no schooling, or at most ``track1_max_years``
    of schooling with literacy not known.  Track 3: higher education, or at least
    ``track3_min_years`` of schooling.  Everyone else, and unknown data: Track 2.
    """
    if literate_l1 is False or years_schooling == 0:
        return 1
    if higher_education or (years_schooling or 0) >= config.track3_min_years:
        return 3
    if literate_l1 is None and years_schooling is not None and (
        years_schooling <= config.track1_max_years
    ):
        return 1
    return 2


@dataclass(frozen=True)
class PlacementPrior:
    """Where a track's participants stand on arrival: N(``mean``, ``sd``²) in logits;
    ``n`` placement results it was estimated from (0: the config's default)."""

    mean: float
    sd: float
    n: int = 0


@dataclass(frozen=True)
class PlacementStart:
    """How a participant's placement test starts: its prior (logits; None: the design's
    own wide prior) and whether it begins with the routing stage for those who may not
    read."""

    mean: float | None
    sd: float | None
    routing: bool


def default_placement_prior(track: int, config: ProgrammeConfig) -> PlacementPrior:
    """The documented default of a track (programme.yaml ``placement``), logits."""
    if track not in (1, 2, 3):
        raise ValueError(f"track must be 1, 2 or 3, got {track!r}")
    return PlacementPrior(getattr(config, f"track{track}_prior_mean"),
                          getattr(config, f"track{track}_prior_sd"))


def placement_prior_from_results(theta: ArrayLike, se: ArrayLike, default: PlacementPrior,
                                 min_learners: int) -> PlacementPrior:
    """A track's arrival distribution from its placement results θ̂ and SE ((N,) logits),
    once there are ``min_learners`` of them; ``default`` before.

    The mean is the mean of the EAPs and the variance var(θ̂) + mean(SE²): with EAP
    estimates the spread of the estimates understates the spread of the people by the
    mean posterior variance (the law of total variance)."""
    t, s = np.asarray(theta, dtype=float), np.asarray(se, dtype=float)
    ok = np.isfinite(t) & np.isfinite(s)
    t, s = t[ok], s[ok]
    if t.size < max(min_learners, 2):
        return default
    return PlacementPrior(float(t.mean()), float(np.sqrt(t.var(ddof=1) + np.mean(s**2))),
                          int(t.size))


def placement_start(track: int, prior: PlacementPrior, config: ProgrammeConfig, *,
                    literate_l1: bool | None = None,
                    months_in_norway: int | None = None) -> PlacementStart:
    """How the placement test of a participant in ``track`` starts.

    The prior is the track's (``prior``: the default or the organisation's own); someone
    who has lived in Norway for ``settled_months`` or more before enrolling may have
    learnt Norwegian the track does not predict, so their test starts from the design's
    wide prior instead (mean and SD None).  The routing stage is for
    Track 1 and for anyone enrolled as not literate.
    """
    routing = track == 1 or literate_l1 is False
    if months_in_norway is not None and months_in_norway >= config.settled_months:
        return PlacementStart(None, None, routing)
    return PlacementStart(prior.mean, prior.sd, routing)


def default_growth_prior(config: ProgrammeConfig) -> GrowthPrior:
    """The growth prior of a track without enough data of its own (logits a week)."""
    return GrowthPrior(config.expected_growth, config.growth_between_sd)


def weekly_trend(trend: Trend, weeks_since: ArrayLike, config: ProgrammeConfig) -> Trend:
    """The trend a progress test starts from, ``weeks_since`` weeks after the last test:
    its :meth:`~lang_assess.programme.growth.Trend.prior` is the test's prior (logits)."""
    return trend.predict(np.maximum(weeks_since, 1), config.level_drift_sd,
                         config.growth_drift_sd)


def prob_above_next_cut(theta: float, se: float, cuts: CutScores, level: int) -> float:
    """P(θ is above the cut over level index ``level``), normal approximation; 0 when
    ``level`` is the top level."""
    if level >= len(cuts.cuts):
        return 0.0
    return float(1.0 - normal_cdf((cuts.cuts[level] - theta) / max(se, 1e-9)))


def decision_cut(cuts: CutScores, course_level: int | None) -> float | None:
    """The cut (logits) a weekly test decides about: the one above the course level
    (level index); None with no course level or at the top level."""
    if course_level is None or course_level >= len(cuts.cuts):
        return None
    return float(cuts.cuts[course_level])


def decision_design_key(cut: float) -> str:
    """The name the weekly design deciding ``cut`` (logits) goes by, in the service's
    cache and the simulation's design maps."""
    return f"progress@{float(cut)}"


def progress_for_cut(bank: Bank, cut: float, config: ProgrammeConfig,
                     **overrides: Any) -> TestDesign:
    """The weekly test of a learner whose next cut is ``cut`` (logits): the bank's
    progress design deciding that cut at ``config.ready_probability`` — the probability
    the move-up rule acts on, so the test stops when the week's decision is made;
    ``overrides`` (e.g. ``max_items``) go to the design."""
    return bank.design("progress", decision_cut=float(cut),
                       decision_probability=config.ready_probability, **overrides)


def reliable_growth(theta_then: float, se_then: float, theta_now: float, se_now: float,
                    config: ProgrammeConfig, z: float | None = None) -> bool:
    """True when θ grew by more than measurement error explains: Δθ / SE(Δθ) ≥ z
    (default ``config.reliable_change_z``, a one-sided test)."""
    ratio = (theta_now - theta_then) / np.sqrt(se_then**2 + se_now**2)
    return bool(ratio >= (config.reliable_change_z if z is None else z))


@dataclass(frozen=True)
class Flags:
    """What a teacher acts on for one participant this week, and why.

    ``p_above``: P(θ above the cut over the course level) after the latest test (None
    without a course level or at the top level); ``growth``/``growth_se``: the growth the
    weekly tests' own answers show over the stalled window (logits a week, None before
    the window is full) — the numbers behind each flag and behind its absence.
    """

    ready_to_move_up: bool
    stalled: bool
    missed: bool
    p_above: float | None = None
    growth: float | None = None
    growth_se: float | None = None


Test = tuple[int, float, float] | tuple[int, float, float, float | None, float | None]


def window_growth(history: list[Test], config: ProgrammeConfig
                  ) -> tuple[float, float] | tuple[None, None]:
    """Growth (logits a week) and its SE from the tests of the last ``stalled_weeks``
    weeks, each test's own measurement only (its answers without the prior it started
    from, :func:`~lang_assess.programme.growth.measurement`), so the trend a test started
    from cannot carry a stalled learner upwards.

    ``history`` = [(week, θ̂, SE[, prior mean, prior SD])] in week order (logits); a test
    without its prior counts as its posterior.  (None, None) until the history spans the
    window with at least three informative tests.
    """
    if not history:
        return None, None
    last = history[-1][0]
    if last - history[0][0] < config.stalled_weeks:
        return None, None
    recent = [h for h in history if last - h[0] <= config.stalled_weeks]
    weeks = np.array([h[0] for h in recent], dtype=float)
    theta = np.array([h[1] for h in recent], dtype=float)
    se = np.array([h[2] for h in recent], dtype=float)
    known = np.array([len(h) > 3 and h[3] is not None for h in recent])
    mean = np.array([h[3] if k else 0.0 for h, k in zip(recent, known, strict=True)], float)
    sd = np.array([h[4] if k else 1.0 for h, k in zip(recent, known, strict=True)], float)
    y, r = measurement(theta, se, mean, sd)
    y, r = np.where(known, y, theta), np.where(known, r, se**2)
    if np.sum(np.isfinite(r)) < 3:
        return None, None
    slope, var = own_growth(weeks[None, :], y[None, :], r[None, :])
    if not np.isfinite(slope[0]):
        return None, None
    return float(slope[0]), float(np.sqrt(var[0]))


def participant_flags(
    history: list[Test],
    cuts: CutScores,
    config: ProgrammeConfig,
    *,
    course_level: int | None,
    current_week: int,
    days_since_last_test: int | None,
) -> Flags:
    """Flags from finished tests ``history`` = [(week, θ̂, SE[, prior mean, prior SD])]
    in week order (logits; the prior the test started from, when known).

    Ready to move up: P(θ above the cut over the participant's ``course_level``) ≥
    ready_probability in the last ``ready_consecutive`` tests, in consecutive weeks (the
    weekly posterior carries the tracked trend, so one week may do).  Stalled: the growth
    the tests' own answers show over the last ``stalled_weeks`` weeks
    (:func:`window_growth`) is below ``stalled_z`` of its SEs.  Missed: no test for
    ``missed_after_days`` days.  docs/programme/programme.md has the figures behind the
    thresholds.
    """
    ready, p_above = False, None
    n = config.ready_consecutive
    if course_level is not None and course_level < len(cuts.cuts) and history:
        p_above = prob_above_next_cut(history[-1][1], history[-1][2], cuts, course_level)
        if len(history) >= n:
            last = history[-n:]
            consecutive = all(b[0] - a[0] == 1 for a, b in itertools.pairwise(last))
            ready = consecutive and all(
                prob_above_next_cut(h[1], h[2], cuts, course_level) >= config.ready_probability
                for h in last)
    growth, growth_se = window_growth(history, config)
    stalled = growth is not None and growth < config.stalled_z * growth_se
    missed = days_since_last_test is None or days_since_last_test >= config.missed_after_days
    return Flags(ready, stalled, missed and current_week > 0, p_above, growth, growth_se)
