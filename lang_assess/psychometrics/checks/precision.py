"""Measurement precision: information and SEM over θ, at the CEFR cuts, and how
accurately and consistently persons are classified.

- **Information and conditional SEM**: I(θ) = Σ item information, SEM(θ) = 1/√I(θ).  For
  the whole bank (or a design's pool) that is the precision of giving every item; an
  adaptive test gives at most ``max_items`` of them, so the *best k* curve (the k most
  informative items at each θ) is the precision a k-item CAT could reach at best (it
  ignores content balancing and exposure control; simulate for the real figure).
- **Classification accuracy and consistency** (Rudner 2001, 2005; Lee 2010): from each
  person's θ̂ and SE, the chance that the true level is the assigned one (accuracy) and
  that two independent administrations agree (consistency), overall and at each cut.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.irt.models import item_information
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores

THETA_GRID: np.ndarray = np.round(np.linspace(-4.0, 4.0, 81), 10)


def information_curve(
    params: ItemParameters,
    *,
    grid: np.ndarray = THETA_GRID,
    design: TestDesign | None = None,
    max_items: int | None = None,
    cuts: CutScores | None = None,
) -> pd.DataFrame:
    """Test information and conditional SEM on a θ grid, tidy for plotting.

    Parameters
    ----------
    params : ItemParameters
        The bank.
    grid : (Q,) float
        θ points in logits.
    design : optional TestDesign
        Restrict to the design's pool (the skills it balances, when it balances content)
        and take ``max_items`` from its stop rule.
    max_items : optional int
        Also give the best-k curve for k = ``max_items`` (overrides the design's).
    cuts : optional CutScores
        Adds the CEFR level of each θ.

    Returns
    -------
    pandas.DataFrame
        Long format, one row per θ and curve: ``theta, curve`` ("pool" or "best k"),
        ``information, sem`` (1/√I, logits; inf where I = 0) and ``level`` with ``cuts``.
    """
    pool = _pool(params, design)
    info = item_information(np.asarray(grid, dtype=float), pool)  # (Q, n)
    k = max_items if max_items is not None else (
        design.stop.max_items if design is not None else None
    )
    curves = {"pool": info.sum(axis=1)}
    if k is not None and k < pool.n_items:
        curves[f"best {k}"] = -np.sort(-info, axis=1)[:, :k].sum(axis=1)
    frames = []
    for name, total in curves.items():
        with np.errstate(divide="ignore"):
            sem = 1.0 / np.sqrt(total)
        frame = pd.DataFrame({"theta": grid, "curve": name, "information": total, "sem": sem})
        if cuts is not None:
            frame["level"] = cuts.level_label(np.asarray(grid))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def precision_at_cuts(
    params: ItemParameters,
    cuts: CutScores,
    *,
    design: TestDesign | None = None,
    max_items: int | None = None,
) -> pd.DataFrame:
    """Information and SEM at each CEFR cut score (where misclassification happens).

    Same curves as :func:`information_curve`, evaluated at the cuts; one row per cut and
    curve: ``cut`` ("A1|A2"), ``lower, upper`` (levels), ``theta, curve, information,
    sem``.
    """
    frame = information_curve(params, grid=cuts.array, design=design, max_items=max_items)
    n_cuts = len(cuts.cuts)
    position = np.tile(np.arange(n_cuts), len(frame) // n_cuts)
    lower = np.asarray(cuts.labels[:-1], dtype=object)[position]
    upper = np.asarray(cuts.labels[1:], dtype=object)[position]
    frame.insert(0, "cut", [f"{lo}|{up}" for lo, up in zip(lower, upper, strict=True)])
    frame.insert(1, "lower", lower)
    frame.insert(2, "upper", upper)
    return frame


def classification_indices(
    theta: np.ndarray, se: np.ndarray, cuts: CutScores
) -> pd.DataFrame:
    """Rudner's classification accuracy and consistency, overall and at each cut.

    Each person's true θ is taken as N(θ̂, SE²) (Rudner 2001): p_k = P(level k) from
    :meth:`CutScores.probabilities`.  Accuracy = mean p at the assigned level; consistency
    = mean Σ_k p_k² (two independent measurements agree; Lee 2010).  At a cut, only the
    side of the cut counts: with q = P(θ < cut), accuracy = mean of q below the cut and
    1 − q above it; consistency = mean q² + (1 − q)²; ``false_up`` is the expected share
    placed above the cut whose true θ is below it, ``false_down`` the reverse.

    Parameters
    ----------
    theta, se : (P,) float
        θ̂ and its standard error in logits (persons with a non-finite value are left out).
    cuts : CutScores

    Returns
    -------
    pandas.DataFrame
        Rows ``"overall"`` and one per cut (``"A1|A2"``): ``cut, theta`` (the cut, NaN
        overall), ``n, accuracy, consistency, false_up, false_down`` (NaN overall).
    """
    th = np.asarray(theta, dtype=float)
    s = np.asarray(se, dtype=float)
    ok = np.isfinite(th) & np.isfinite(s)
    th, s = th[ok], s[ok]
    probs = cuts.probabilities(th, s)  # (P, L)
    assigned = cuts.level_index(th)
    rows = [{
        "cut": "overall",
        "theta": np.nan,
        "n": int(th.size),
        "accuracy": float(np.mean(np.take_along_axis(probs, assigned[:, None], 1))),
        "consistency": float(np.mean(np.sum(probs**2, axis=1))),
        "false_up": np.nan,
        "false_down": np.nan,
    }]
    below = ndtr((cuts.array - th[:, None]) / np.maximum(s[:, None], 1e-12))  # (P, C)
    placed_above = th[:, None] >= cuts.array
    for j, c in enumerate(cuts.cuts):  # a handful of cuts
        q, up = below[:, j], placed_above[:, j]
        rows.append({
            "cut": f"{cuts.labels[j]}|{cuts.labels[j + 1]}",
            "theta": c,
            "n": int(th.size),
            "accuracy": float(np.mean(np.where(up, 1.0 - q, q))),
            "consistency": float(np.mean(q * q + (1.0 - q) ** 2)),
            "false_up": float(np.mean(np.where(up, q, 0.0))),
            "false_down": float(np.mean(np.where(up, 0.0, 1.0 - q))),
        })
    return pd.DataFrame(rows)


def _pool(params: ItemParameters, design: TestDesign | None) -> ItemParameters:
    """The items a design may give: those of the skills it balances (all without)."""
    if design is None:
        return params
    bank = design.prepare(params)
    if not bank.skills:
        return params
    return params.subset(np.flatnonzero(bank.skill_code >= 0))
