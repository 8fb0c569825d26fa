"""Modified Angoff (Angoff, 1971; Kane, 1987): each panellist's expected score of the
borderline person, mapped to θ through the test characteristic curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lang_assess.engine.irt.models import expected_score
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CEFR_LEVELS
from lang_assess.psychometrics.standard_setting.booklet import (
    Aggregate,
    _solve_increasing,
)
from lang_assess.psychometrics.standard_setting.panel import (
    PanelCuts,
    _cut_labels,
    _panel_result,
    _panellist_ids,
)


def angoff_cuts(
    params: ItemParameters,
    ratings: np.ndarray,
    labels: Sequence[str] = CEFR_LEVELS,
    *,
    aggregate: Aggregate = "mean",
    tables: Sequence[Any] | np.ndarray | None = None,
    panellists: Sequence[str] | None = None,
    theta_sample: np.ndarray | None = None,
) -> PanelCuts:
    """Cut scores from modified-Angoff ratings, mapped to θ by the test characteristic curve.

    Each panellist judges, for each cut, the borderline person's probability of answering
    each right/wrong item correctly (for a rated item: the expected score, 0..max score).
    The panellist's cut is the θ where the test characteristic curve
    ``T(θ) = Σ_i E[X_i | θ]`` equals the sum of the ratings (Kane, 1987).

    Parameters
    ----------
    params : ItemParameters
        The n rated items.
    ratings : (P, C, n) float, or (P, n) for a single cut
        Ratings of P panellists for C cuts, each within 0..max score of its item.
    labels : sequence of str
        The C + 1 level labels; with the CEFR default, the first C + 1 are used.
    aggregate : {"mean", "median"}
        How panellists' θ cuts are combined; the mean is the Angoff tradition.
    tables : optional (P,)
        Table of each panellist; with at least two tables the SE comes from table-level
        cuts.
    panellists : optional (P,) str
        Panellist ids (default ``P01``, ``P02``, ...).
    theta_sample : optional (N,) float
        Abilities (logits) of a reference group, for the impact of the cuts.

    Returns
    -------
    PanelCuts
        As :func:`bookmark_cuts`; ``panellists`` has ``expected_score`` (the sum of the
        panellist's ratings) instead of ``page``.

    Raises
    ------
    ValueError
        When ratings are outside an item's score range, a sum of ratings lies outside
        the range of the test characteristic curve (at or below the sum of the guessing
        parameters, or at the maximum score), or cuts are not strictly increasing.
    """
    r = np.asarray(ratings, dtype=float)
    if r.ndim == 2:
        r = r[:, None, :]
    if r.ndim != 3 or r.shape[2] != params.n_items or r.shape[0] == 0 or r.shape[1] == 0:
        raise ValueError(
            f"ratings must have shape (panellists, cuts, {params.n_items}) or "
            f"(panellists, {params.n_items}), got {np.shape(ratings)}"
        )
    n_p, n_c, _ = r.shape
    ids = _panellist_ids(panellists, n_p)
    cut_labels, labels = _cut_labels(labels, n_c)
    if not np.all(np.isfinite(r)):
        raise ValueError("ratings must be finite numbers (no missing ratings)")
    bad = (r < 0) | (r > params.n_steps)
    if np.any(bad):
        p, k, i = np.argwhere(bad)[0]
        raise ValueError(
            f"panellist '{ids[p]}', cut {cut_labels[k]}, item '{params.ids[i]}': rating "
            f"{r[p, k, i]:g} is outside 0..{params.n_steps[i]}"
        )
    target = r.sum(axis=2)  # (P, C) expected raw score of the borderline person
    floor = float(np.sum(params.c[params.n_steps == 1]))
    top = float(np.sum(params.n_steps))
    outside = (target <= floor) | (target >= top)
    if np.any(outside):
        p, k = np.argwhere(outside)[0]
        raise ValueError(
            f"panellist '{ids[p]}', cut {cut_labels[k]}: the sum of ratings "
            f"{target[p, k]:g} has no θ on the test characteristic curve, whose range is "
            f"({floor:g}, {top:g}) (sum of guessing parameters, maximum score)"
        )
    steps_back = np.diff(target, axis=1) <= 0
    if np.any(steps_back):
        p = int(np.argwhere(steps_back)[0, 0])
        raise ValueError(
            f"panellist '{ids[p]}': the sums of ratings must increase for higher levels "
            f"({', '.join(cut_labels)}), got {np.round(target[p], 3).tolist()}"
        )

    def tcc(theta: np.ndarray) -> np.ndarray:
        return expected_score(theta, params).sum(axis=-1)

    theta = _solve_increasing(tcc, target, np.zeros_like(target))
    result = _panel_result(
        theta, ids, cut_labels, labels, aggregate, tables, theta_sample,
        {"expected_score": target}, method="angoff", rp=None, placement=None,
    )
    result.summary.insert(1, "expected_score", target.mean(axis=0))
    return result
