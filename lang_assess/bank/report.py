"""What is in a bank and where it is thin (``lang-assess bank report``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from lang_assess.bank.loader import Bank
from lang_assess.engine.irt.models import item_information
from lang_assess.engine.irt.params import SKILLS
from lang_assess.engine.levels import CEFR_LEVELS

#: Minimum items per level the programme needs (issue 3).
LEVEL_MINIMUM = {"preA1": 40, "A1": 80, "A2": 80, "B1": 70, "B2": 50}
REPORT_THETAS = np.round(np.arange(-3.5, 3.51, 0.5), 2)
BEST_K = 20  # what a 20-item test could collect at a θ


def bank_report(bank: Bank) -> dict[str, Any]:
    """Counts by level, skill and type; information over θ; the thin places.

    Returns a JSON-able dict with ``n_items``, ``by_level`` {level: n}, ``by_skill``,
    ``by_level_skill`` {level: {skill: n}}, ``by_type``, ``by_level_skill_type``,
    ``by_review`` (items per review status), ``review_changes`` (items whose review
    changed something), ``n_retired``, ``n_enemy_pairs``, ``information`` (per θ: bank
    total, per skill, and the SE of the best 20 items) and ``thin`` (sentences naming each
    shortfall).
    """
    items = list(bank.items.values())
    levels = [lv for lv in CEFR_LEVELS if any(it.level == lv for it in items)]
    by_level_skill = {
        lv: {sk: sum(1 for it in items if it.level == lv and it.skill == sk)
             for sk in SKILLS if any(it.level == lv and it.skill == sk for it in items)}
        for lv in levels
    }
    by_lst: dict[str, dict[str, dict[str, int]]] = {}
    for it in items:
        by_lst.setdefault(it.level, {}).setdefault(it.skill, {}).setdefault(it.type, 0)
        by_lst[it.level][it.skill][it.type] += 1

    params = bank.params
    info = item_information(REPORT_THETAS, params)  # (T, n)
    best = -np.sort(-info, axis=1)[:, :BEST_K].sum(axis=1)
    best_se = 1.0 / np.sqrt(1.0 + best)
    per_skill = {sk: info[:, params.skill == sk].sum(axis=1) for sk in SKILLS
                 if np.any(params.skill == sk)}
    information = [
        {"theta": float(t), "total": float(info[k].sum()), "best20_se": float(best_se[k]),
         "by_skill": {sk: float(v[k]) for sk, v in per_skill.items()}}
        for k, t in enumerate(REPORT_THETAS)
    ]

    thin: list[str] = []
    by_level = Counter(it.level for it in items)
    for lv, need in LEVEL_MINIMUM.items():
        if by_level.get(lv, 0) < need:
            thin.append(f"{lv}: {by_level.get(lv, 0)} items, the programme needs {need}")
    for lv, targets in bank.config.content_targets.items():
        for sk, need in targets.items():
            have = by_level_skill.get(lv, {}).get(sk, 0)
            if have < need:
                thin.append(f"{lv} {sk}: {have} items, target {need}")
    for lv in ("A1", "A2", "B1", "B2", "C1"):
        if lv in by_level_skill:
            missing = [sk for sk in ("reading", "listening", "vocabulary", "grammar")
                       if by_level_skill[lv].get(sk, 0) == 0]
            if missing:
                thin.append(f"{lv}: no {', '.join(missing)} items")
    se_target = min(d.se_target for d in bank.config.designs.values())
    lo, hi = bank.cuts.cuts[0] - 1.0, bank.cuts.cuts[-1] + 1.0
    for k, t in enumerate(REPORT_THETAS):
        if lo <= t <= hi and best_se[k] > se_target:
            thin.append(f"θ = {t:+.1f}: the best {BEST_K} items reach SE {best_se[k]:.2f} "
                        f"(> {se_target:.2f})")

    return {
        "bank": str(bank.root),
        "params_version": bank.config.params_version,
        "n_items": len(items),
        "by_level": {lv: by_level[lv] for lv in levels},
        "by_skill": {sk: n for sk in SKILLS if (n := sum(it.skill == sk for it in items))},
        "by_level_skill": by_level_skill,
        "by_type": dict(sorted(Counter(it.type for it in items).items())),
        "by_level_skill_type": by_lst,
        "by_review": dict(Counter(it.review.status for it in items)),
        "review_changes": sum(bool(it.review.changes) for it in items),
        "n_retired": len(bank.retired),
        "n_enemy_pairs": len(bank.enemies),
        "information": information,
        "thin": thin,
    }


def format_bank_report(report: dict[str, Any]) -> str:
    """A plain-text rendering of :func:`bank_report`."""
    skills = [sk for sk in SKILLS if sk in report["by_skill"]]
    lines = [f"Item bank {report['bank']} — parameters {report['params_version']}, "
             f"{report['n_items']} items", "", "Items by level and skill:", ""]
    lines.append("  " + f"{'level':<7}" + "".join(f"{sk:>12}" for sk in skills) + f"{'total':>8}")
    for lv, row in report["by_level_skill"].items():
        lines.append("  " + f"{lv:<7}" + "".join(f"{row.get(sk, 0):>12}" for sk in skills)
                     + f"{report['by_level'][lv]:>8}")
    lines += ["", "Items by type: " + ", ".join(f"{t} {n}" for t, n in report["by_type"].items()),
              "Review status: " + ", ".join(f"{s} {n}" for s, n in report["by_review"].items())
              + f" ({report['review_changes']} changed in review); {report['n_retired']} "
              f"retired; {report['n_enemy_pairs']} enemy pairs",
              "", "Test information of the bank (bars) and the SE the best 20 items reach:", ""]
    peak = max(p["total"] for p in report["information"]) or 1.0
    for p in report["information"]:
        bar = "#" * round(40 * p["total"] / peak)
        lines.append(f"  θ {p['theta']:+.1f}  {p['total']:6.1f}  SE20 {p['best20_se']:.2f}  {bar}")
    lines += ["", "Where the bank is thin:"]
    lines += [f"  - {t}" for t in report["thin"]] or ["  - nowhere: every target is met"]
    return "\n".join(lines)
