"""The panel's cuts: what every method returns (:class:`PanelCuts`), Bookmark (bookmarks
→ θ, aggregated, with an SE), and the impact of a set of cuts on a population."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lang_assess.engine.levels import CEFR_LEVELS, CutScores
from lang_assess.psychometrics.standard_setting.booklet import (
    Aggregate,
    Placement,
    _booklet_locations,
    _booklet_rp,
)


@dataclass(frozen=True)
class PanelCuts:
    """Cut scores recommended by a panel, with their uncertainty and impact.

    Attributes
    ----------
    cuts : CutScores
        The panel's cuts (logits), strictly increasing, with the level labels.
    se : (C,) float
        Standard error of each cut in logits (see ``se_method``).
    summary : pandas.DataFrame
        One row per cut, indexed by the level whose lower edge it is: ``theta`` (the
        panel's cut), ``se``, ``sd`` (across panellists), ``n_panellists``, ``min``,
        ``max``, ``se_panellists`` (SD/√n), and ``se_tables`` and ``n_tables`` when tables
        were given.  Angoff adds ``expected_score`` (the mean sum of ratings).
    panellists : pandas.DataFrame
        Long format, one row per panellist and cut: ``panellist``, ``table``, ``cut``
        (level label), ``page`` (Bookmark) or ``expected_score`` (Angoff), ``theta``.
    impact : pandas.Series or None
        Share of the reference θ sample in each level (sums to 1), indexed by label;
        None when no sample was given.
    method : str
        ``"bookmark"`` or ``"angoff"``.
    rp : float or None
        Response probability criterion of the booklet (Bookmark), else None.
    aggregate : str
        ``"median"`` or ``"mean"``: how panellists' cuts were combined.
    placement : str or None
        Where a bookmark maps (``"page"`` or ``"midpoint"``); None for Angoff.
    se_method : str
        How ``se`` was computed, in words.
    n_panellists : int
        Number of panellists P.
    n_tables : int or None
        Number of tables when table-level SEs were computed.
    """

    cuts: CutScores
    se: np.ndarray
    summary: pd.DataFrame
    panellists: pd.DataFrame
    impact: pd.Series | None
    method: str
    rp: float | None
    aggregate: str
    placement: str | None
    se_method: str
    n_panellists: int
    n_tables: int | None


def bookmark_cuts(
    booklet: pd.DataFrame,
    bookmarks: pd.DataFrame | np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str] = CEFR_LEVELS,
    *,
    placement: Placement = "page",
    aggregate: Aggregate = "median",
    tables: Sequence[Any] | np.ndarray | None = None,
    panellists: Sequence[str] | None = None,
    theta_sample: np.ndarray | None = None,
) -> PanelCuts:
    """Cut scores from panellists' bookmarks in an ordered item booklet.

    Parameters
    ----------
    booklet : pandas.DataFrame
        From :func:`ordered_item_booklet` (needs ``page`` 1..N in order and a
        non-decreasing ``location``).
    bookmarks : (P, C) int, array-like or DataFrame
        Page number of each panellist's bookmark for each cut: the last page that a
        person just at the level would master (answer with probability ≥ rp).  A
        DataFrame's index names the panellists; string columns must be the level labels
        of the cuts (``labels[1:]``, in order).
    labels : sequence of str
        The C + 1 level labels; with the CEFR default, the first C + 1 are used.
    placement : {"page", "midpoint"}
        Where a bookmark on page p maps: the RP location of page p (default: the θ at
        which the person masters exactly pages 1..p), or the midpoint between the
        locations of pages p and p + 1.
    aggregate : {"median", "mean"}
        How panellists' cuts are combined (and table-level cuts, when ``tables`` is
        given).  The median is the Bookmark tradition (Mitzel et al., 2001).
    tables : optional (P,)
        Table (small group) of each panellist.  With at least two tables the SE is
        computed from the table-level cuts (Cizek & Bunch, 2007): panellists who
        discussed together are not independent.
    panellists : optional (P,) str
        Panellist ids (default: the DataFrame index, or ``P01``, ``P02``, ...).
    theta_sample : optional (N,) float
        Abilities (logits) of a reference group, for the impact of the cuts.

    Returns
    -------
    PanelCuts
        Cuts, SEs (SD/√P across panellists, or SD/√T across T table-level cuts), the
        per-panellist values and the impact.

    Raises
    ------
    ValueError
        When a bookmark is not a page of the booklet, a panellist's bookmarks are not on
        strictly later pages for higher levels, or the panel's cuts are not strictly
        increasing.
    """
    if placement not in ("page", "midpoint"):
        raise ValueError(f"placement must be 'page' or 'midpoint', got {placement!r}")
    location = _booklet_locations(booklet)
    pages, ids, cut_labels, labels = _bookmark_table(bookmarks, labels, panellists)
    n_pages = location.size
    bad = (pages < 1) | (pages > n_pages)
    if placement == "midpoint":
        bad |= pages == n_pages
    if np.any(bad):
        p, k = np.argwhere(bad)[0]
        limit = n_pages - 1 if placement == "midpoint" else n_pages
        extra = " (a midpoint needs a next page)" if placement == "midpoint" else ""
        raise ValueError(
            f"panellist '{ids[p]}', cut {cut_labels[k]}: bookmark on page {pages[p, k]}, "
            f"but the booklet's pages are 1..{limit}{extra}"
        )
    steps_back = np.diff(pages, axis=1) <= 0
    if np.any(steps_back):
        p = int(np.argwhere(steps_back)[0, 0])
        raise ValueError(
            f"panellist '{ids[p]}': bookmarks must be on strictly later pages for higher "
            f"levels ({', '.join(cut_labels)}), got pages {pages[p].tolist()}"
        )
    theta = location[pages - 1]
    if placement == "midpoint":
        theta = 0.5 * (theta + location[pages])
    long_extra = {"page": pages}
    return _panel_result(
        theta, ids, cut_labels, labels, aggregate, tables, theta_sample, long_extra,
        method="bookmark", rp=_booklet_rp(booklet), placement=placement,
    )


def impact(cuts: CutScores, theta_sample: np.ndarray) -> pd.Series:
    """Share of a reference sample of abilities in each level.

    Parameters
    ----------
    cuts : CutScores
        L − 1 cuts and L labels.
    theta_sample : (N,) float
        Abilities in logits, finite, N ≥ 1.

    Returns
    -------
    pandas.Series
        (L,) shares indexed by level label, summing to 1 (a θ at a cut counts in the upper
        level).
    """
    th = np.asarray(theta_sample, dtype=float).ravel()
    if th.size == 0 or not np.all(np.isfinite(th)):
        raise ValueError("theta_sample must be a non-empty array of finite abilities")
    counts = np.bincount(cuts.level_index(th), minlength=cuts.n_levels)
    return pd.Series(counts / th.size, index=list(cuts.labels), name="share")


def _panellist_ids(panellists: Sequence[str] | None, n: int) -> list[str]:
    if panellists is None:
        return [f"P{i + 1:02d}" for i in range(n)]
    ids = [str(p) for p in panellists]
    if len(ids) != n:
        raise ValueError(f"{n} panellists' judgements but {len(ids)} panellist ids")
    if len(set(ids)) != n:
        raise ValueError("panellist ids must be unique")
    return ids


def _cut_labels(labels: Sequence[str], n_cuts: int) -> tuple[list[str], tuple[str, ...]]:
    """(labels of the cuts = the upper level of each, all L labels)."""
    labels = tuple(labels)
    if len(labels) != n_cuts + 1:
        if labels == CEFR_LEVELS and n_cuts + 1 <= len(CEFR_LEVELS):
            labels = CEFR_LEVELS[: n_cuts + 1]
        else:
            raise ValueError(f"{n_cuts} cuts need {n_cuts + 1} level labels, got {len(labels)}")
    return list(labels[1:]), labels


def _bookmark_table(
    bookmarks: pd.DataFrame | np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    panellists: Sequence[str] | None,
) -> tuple[np.ndarray, list[str], list[str], tuple[str, ...]]:
    if isinstance(bookmarks, pd.DataFrame):
        raw = bookmarks.to_numpy()
        if panellists is None:
            panellists = [str(i) for i in bookmarks.index]
        columns = list(bookmarks.columns)
    else:
        raw = np.asarray(bookmarks)
        columns = None
    if raw.ndim != 2 or raw.shape[0] == 0 or raw.shape[1] == 0:
        raise ValueError(f"bookmarks must be a (panellists, cuts) table, got shape {raw.shape}")
    try:
        values = raw.astype(float)
    except (TypeError, ValueError):
        raise ValueError("bookmarks must be page numbers") from None
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ValueError("bookmarks must be whole page numbers (no missing bookmarks)")
    cut_labels, all_labels = _cut_labels(labels, raw.shape[1])
    if columns is not None and all(isinstance(c, str) for c in columns) and (
        columns != cut_labels
    ):
        raise ValueError(
            f"bookmark columns {columns} do not match the cuts' levels {cut_labels}"
        )
    ids = _panellist_ids(panellists, raw.shape[0])
    return values.astype(int), ids, cut_labels, all_labels


def _combine(values: np.ndarray, how: str) -> np.ndarray:
    """Median or mean over axis 0 of a (P, C) array."""
    return np.median(values, axis=0) if how == "median" else values.mean(axis=0)


def _panel_result(
    theta: np.ndarray,
    ids: list[str],
    cut_labels: list[str],
    labels: tuple[str, ...],
    aggregate: str,
    tables: Sequence[Any] | np.ndarray | None,
    theta_sample: np.ndarray | None,
    extra: dict[str, np.ndarray],
    *,
    method: str,
    rp: float | None,
    placement: str | None,
) -> PanelCuts:
    """Aggregate (P, C) per-panellist cuts into the panel's cuts, SEs and tables."""
    if aggregate not in ("median", "mean"):
        raise ValueError(f"aggregate must be 'median' or 'mean', got {aggregate!r}")
    n_p, n_c = theta.shape
    flat = np.diff(theta, axis=1) <= 0
    if np.any(flat):
        p = int(np.argwhere(flat)[0, 0])
        raise ValueError(
            f"panellist '{ids[p]}': cuts must be strictly increasing "
            f"({', '.join(cut_labels)}), got {np.round(theta[p], 3).tolist()} logits"
        )
    panel = _combine(theta, aggregate)
    flat = np.diff(panel) <= 0
    if np.any(flat):
        k = int(np.flatnonzero(flat)[0])
        raise ValueError(
            f"the panel's cuts must be strictly increasing: {cut_labels[k + 1]} at "
            f"{panel[k + 1]:.3f} is not above {cut_labels[k]} at {panel[k]:.3f} logits"
        )
    sd = theta.std(axis=0, ddof=1) if n_p > 1 else np.full(n_c, np.nan)
    se_panellists = sd / np.sqrt(n_p)
    summary = pd.DataFrame(
        {
            "theta": panel,
            "se": se_panellists,
            "sd": sd,
            "n_panellists": n_p,
            "min": theta.min(axis=0),
            "max": theta.max(axis=0),
            "se_panellists": se_panellists,
        },
        index=pd.Index(cut_labels, name="cut"),
    )
    se = se_panellists
    se_method = "SD/sqrt(n) across panellists' cuts (standard error of judgement)"
    n_tables = None
    table_col: np.ndarray = np.full(n_p, None, dtype=object)
    if tables is not None:
        table_col = np.asarray(tables, dtype=object)
        if table_col.shape != (n_p,):
            raise ValueError(f"tables must name one table per panellist ({n_p}), got "
                             f"{table_col.shape}")
        codes, _ = pd.factorize(pd.Series(table_col), sort=True)
        n_tables = int(codes.max()) + 1
        if n_tables < 2:
            raise ValueError("a table-level standard error needs at least two tables")
        table_cuts = np.stack(
            [_combine(theta[codes == t], aggregate) for t in range(n_tables)]
        )  # (T, C)
        se = table_cuts.std(axis=0, ddof=1) / np.sqrt(n_tables)
        summary["se"] = se
        summary["se_tables"] = se
        summary["n_tables"] = n_tables
        se_method = (
            f"SD/sqrt(T) across T = {n_tables} table-level cuts (each the table's "
            f"{aggregate})"
        )
    rows = {
        "panellist": np.repeat(np.asarray(ids, dtype=object), n_c),
        "table": np.repeat(table_col, n_c),
        "cut": np.tile(np.asarray(cut_labels, dtype=object), n_p),
        **{name: np.asarray(values).ravel() for name, values in extra.items()},
        "theta": theta.ravel(),
    }
    cuts = CutScores(tuple(float(v) for v in panel), labels)
    return PanelCuts(
        cuts=cuts,
        se=np.asarray(se, dtype=float),
        summary=summary,
        panellists=pd.DataFrame(rows),
        impact=None if theta_sample is None else impact(cuts, theta_sample),
        method=method,
        rp=rp,
        aggregate=aggregate,
        placement=placement,
        se_method=se_method,
        n_panellists=n_p,
        n_tables=n_tables,
    )
