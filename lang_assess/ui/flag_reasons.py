"""Why a participant is (or is not) flagged, in plain words for teachers (issue 15).

The numbers come from :meth:`Service.cohort_progress` (``p_above``, ``growth``,
``growth_se``, see :class:`lang_assess.programme.rules.Flags`); the thresholds from the
programme config, so the sentence always states the rule the flag was decided by.  Growth
is said in points a week on the page's 0–100 ability scale
(:func:`lang_assess.ui.cohort_views.ability_scale`), the scale the teacher reads
everywhere else, not in logits.  Labels come through ``t`` (the dashboard's catalogue
lookup), so the same function speaks bokmål and English.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lang_assess.programme.rules import ProgrammeConfig

POINTS_PER_LOGIT = 100.0 / 6.0  # the 0–100 scale spans θ −3 … +3
Z95 = 1.96  # "±" on the teachers' pages is a 95 % interval


def missing(value: Any) -> bool:
    """None or NaN (a pandas column of optional floats holds either)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: float, decimals: int, mark: str, signed: bool = False) -> str:
    """``value`` with ``decimals`` decimals, the language's decimal ``mark`` and a true
    minus sign (−), with + in front when ``signed``."""
    text = f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"
    return text.replace("-", "\u2212").replace(".", mark)


def percent_below(p: float, decimals: int) -> float:
    """``p`` (0–1) as a percentage rounded *down* to ``decimals`` decimals: a shown
    figure at the threshold then always means the threshold was reached (94 % is never
    shown for 0.9396 against a 94 % rule), and certainty never reads as 100 %."""
    scale = 10**decimals
    # the small epsilon keeps 0.94 (stored as 0.93999…) at 94
    return math.floor(p * 100 * scale + 1e-7) / scale


def flag_reasons(row: Mapping[str, Any], labels: Sequence[str], config: ProgrammeConfig,
                 t: Callable[[str], str]) -> str:
    """One short text: a missed test first (when flagged), the chance of being above the
    next cut against the move-up threshold, then the growth over the stalled window (or
    why there is none yet).

    ``row``: a :meth:`Service.cohort_progress` row (``tests``, ``course_level``,
    ``p_above`` 0–1, ``growth`` and ``growth_se`` in logits a week, ``stalled``,
    ``missed``, ``days_since_test``; the flags optional); ``labels``: the CEFR
    labels in order; ``t``: key → template in the UI language (keys ``why_*``,
    ``decimal``).
    """
    if not row.get("tests"):
        text = t("why_no_test")
    else:
        mark = t("decimal")
        parts = [_move_up(row, labels, config, t, mark), _growth(row, config, t, mark)]
        days = row.get("days_since_test")
        if row.get("missed") and not missing(days):  # the action first
            parts.insert(0, t("why_missed").format(days=int(days),
                                                   limit=config.missed_after_days))
        text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _move_up(row: Mapping[str, Any], labels: Sequence[str], config: ProgrammeConfig,
             t: Callable[[str], str], mark: str) -> str:
    course = row.get("course_level")
    if missing(course):
        return t("why_no_course")
    if missing(row.get("p_above")):  # at the top level there is no cut above
        return t("why_top")
    threshold = config.ready_probability * 100
    # as many decimals as the threshold needs, so the rule stays exactly legible
    decimals = 0 if abs(threshold - round(threshold)) < 1e-9 else 1
    rule = (t("why_rule") if config.ready_consecutive <= 1 else t("why_rule_weeks")).format(
        threshold=number(threshold, decimals, mark), n=config.ready_consecutive)
    index = list(labels).index(course)
    above = labels[index + 1] if index + 1 < len(labels) else course
    return t("why_p_above").format(
        p=number(percent_below(float(row["p_above"]), decimals), decimals, mark),
        level=above, rule=rule)


def _growth(row: Mapping[str, Any], config: ProgrammeConfig, t: Callable[[str], str],
            mark: str) -> str:
    weeks = config.stalled_weeks
    growth, se = row.get("growth"), row.get("growth_se")
    if missing(growth) or missing(se):
        return t("why_too_few").format(weeks=weeks)
    g = number(float(growth) * POINTS_PER_LOGIT, 1, mark, signed=True)
    e = number(Z95 * float(se) * POINTS_PER_LOGIT, 1, mark)
    stalled = row.get("stalled")
    if missing(stalled):  # the rule of rules.participant_flags, when no flag came along
        stalled = float(growth) < config.stalled_z * float(se)
    return t("why_stalled" if bool(stalled) else "why_growing").format(g=g, e=e, weeks=weeks)


def reasons_column(progress: Any, labels: Sequence[str], config: ProgrammeConfig,
                   t: Callable[[str], str]) -> list[str]:
    """:func:`flag_reasons` for every row of a cohort progress DataFrame, in order."""
    return [flag_reasons(r, labels, config, t) for r in progress.to_dict("records")]
