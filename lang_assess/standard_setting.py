"""Standard setting: CEFR cut scores on the θ scale from a panel's judgements.

Pure functions, no I/O, no hidden state (see docs/standard_setting.md).

- **Bookmark** (Mitzel, Lewis, Patz & Green, 2001): :func:`ordered_item_booklet` orders
  the items by their RP location (the θ at which a person answers with probability
  ``rp``, 0.67 by default); panellists place one bookmark per cut on the last page a
  minimally competent person at that level would master; :func:`bookmark_cuts` maps the
  bookmarks to θ, aggregates them over the panel and gives the standard error.
- **Modified Angoff** (Angoff, 1971; Kane, 1987), for comparison: :func:`angoff_cuts`
  maps each panellist's expected score of the borderline person to θ through the test
  characteristic curve.
- :func:`cut_provenance`: what to write into the bank config next to the cut values.

All abilities and cuts are in logits on the metric of the item parameters used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from lang_assess.irt.models import expected_score, paired_probabilities
from lang_assess.irt.params import ItemParameters
from lang_assess.levels import CEFR_LEVELS, CutScores

RP67 = 0.67
Aggregate = Literal["median", "mean"]
Placement = Literal["page", "midpoint"]

_BISECTIONS = 200  # halvings of the bracket; stops earlier once it is below _TOL
_TOL = 1e-10  # logits
_MAX_EXPANSIONS = 60


# ---- the ordered item booklet --------------------------------------------------------
def rp_locations(params: ItemParameters, rp: float = RP67) -> np.ndarray:
    """RP location of every score point of every item.

    Right/wrong items (1PL/2PL/3PL) have one score point, located in closed form at
    ``θ_rp = b + ln((rp − c) / (1 − rp)) / a``; this requires ``rp > c``.  A rated (GPCM)
    item with maximum score m has m score points; score point k is located at the θ where
    ``P(X ≥ k | θ) = rp`` (cumulative convention: Huynh, 1998; Mitzel et al., 2001),
    found by bisection.  P(X ≥ k | θ) increases with θ under the GPCM, and the
    locations increase with k.

    Parameters
    ----------
    params : ItemParameters
        n items, at most K steps each.
    rp : float
        Response probability criterion in (0, 1).

    Returns
    -------
    (n, K) float
        Location in logits of score point k + 1 of item i at ``[i, k]``; NaN beyond an
        item's maximum score, and NaN for right/wrong items with ``c ≥ rp`` (no θ gives
        P = rp: such an item is answered correctly with probability above rp by
        everyone).
    """
    rp = _check_rp(rp)
    n_steps = params.n_steps
    out = np.full(params.steps.shape, np.nan)

    one = n_steps == 1
    a, b, c = params.a[one], params.steps[one, 0], params.c[one]
    with np.errstate(invalid="ignore", divide="ignore"):
        loc = b + np.log((rp - c) / (1.0 - rp)) / a
    out[one, 0] = np.where(rp > c, loc, np.nan)

    rated = np.flatnonzero(n_steps > 1)
    if rated.size:
        # one row per (item, score point k ≥ 1)
        items = np.repeat(rated, n_steps[rated])
        k = np.concatenate([np.arange(1, m + 1) for m in n_steps[rated]])

        def at_least_k(theta: np.ndarray) -> np.ndarray:
            probs = paired_probabilities(theta, params, items)  # (m, K+1)
            tail = np.cumsum(probs[:, ::-1], axis=1)[:, ::-1]  # P(X ≥ j), j = 0..K
            return np.take_along_axis(tail, k[:, None], axis=1)[:, 0]

        start = np.nan_to_num(params.steps[items, k - 1])
        theta = _solve_increasing(at_least_k, np.full(items.size, rp), start)
        out[items, k - 1] = theta
    return out


def ordered_item_booklet(
    params: ItemParameters,
    rp: float = RP67,
    levels: Sequence[str] | Mapping[str, str] | None = None,
    on_guessing: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """The ordered item booklet of the Bookmark method: score points by RP location.

    Parameters
    ----------
    params : ItemParameters
        The n items of the booklet (a form or the whole bank; take a subset with
        ``params.subset(params.index_of(ids))``).
    rp : float
        Response probability criterion in (0, 1); 0.67 (RP67) by default.
    levels : optional
        The intended CEFR level of each item: a sequence aligned with ``params.ids`` or a
        mapping item id → level.  Adds a ``level`` column when given.
    on_guessing : {"raise", "skip"}
        What to do with right/wrong items whose lower asymptote ``c ≥ rp`` (they have no
        RP location): raise a ``ValueError`` naming them, or leave them out of the
        booklet and list their ids in ``booklet.attrs["skipped"]``.

    Returns
    -------
    pandas.DataFrame
        One row per page, ordered by location (ties: by item id, then score point),
        with columns ``page`` (1-based int), ``item`` (id), ``skill``, ``level`` (only
        when ``levels`` is given), ``score`` (the score point: 1 for right/wrong items,
        1..m for a rated item) and ``location`` (logits).  ``booklet.attrs`` holds
        ``rp`` and ``skipped``.
    """
    if on_guessing not in ("raise", "skip"):
        raise ValueError(f"on_guessing must be 'raise' or 'skip', got {on_guessing!r}")
    loc = rp_locations(params, rp)
    no_location = (params.n_steps == 1) & ~np.isfinite(loc[:, 0])
    skipped = params.ids[no_location].tolist()
    if skipped and on_guessing == "raise":
        shown = ", ".join(f"'{i}' (c = {c:g})" for i, c in zip(
            skipped, params.c[no_location], strict=True
        ))
        raise ValueError(
            f"no RP{round(rp * 100)} location for items whose guessing parameter c is at "
            f"least rp = {rp:g}: {shown}; lower c, raise rp or pass on_guessing='skip'"
        )

    level_of = _item_levels(params, levels)
    row, col = np.nonzero(np.isfinite(loc))  # row-major: items in bank order, then k
    location = loc[row, col]
    item = params.ids[row]
    score = col + 1
    order = np.lexsort((score, item, location))
    row, location, item, score = row[order], location[order], item[order], score[order]
    columns: dict[str, Any] = {
        "page": np.arange(1, row.size + 1),
        "item": item,
        "skill": params.skill[row],
    }
    if level_of is not None:
        columns["level"] = level_of[row]
    columns["score"] = score
    columns["location"] = location
    booklet = pd.DataFrame(columns)
    booklet.attrs["rp"] = float(rp)
    booklet.attrs["skipped"] = skipped
    return booklet


# ---- the panel's cuts ----------------------------------------------------------------
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


# ---- provenance ----------------------------------------------------------------------
def cut_provenance(
    result: PanelCuts,
    *,
    date: dt.date | str,
    source: str,
    params_version: str,
    rounds: int | None = None,
    rp: float | None = None,
    decimals: int = 3,
) -> dict[str, Any]:
    """Provenance of a cut version, ready to be written next to the cut values.

    Parameters
    ----------
    result : PanelCuts
        From :func:`bookmark_cuts` or :func:`angoff_cuts` (the final round's).
    date : datetime.date or str
        Date of the standard-setting meeting (ISO ``YYYY-MM-DD``); explicit, never today.
    source : str
        Who, where and on what: panel, booklet or form, reference sample.
    params_version : str
        Version of the item parameters the locations were computed with (e.g. ``v1``).
    rounds : optional int
        Number of judgement rounds held.
    rp : optional float
        Response probability criterion; defaults to ``result.rp`` (required for the
        Bookmark method when the booklet did not record it).
    decimals : int
        Decimals kept for the cut values and SEs (logits).

    Returns
    -------
    dict
        Plain Python values: ``method``, ``rp``, ``date``, ``panel_size``, ``n_tables``,
        ``rounds``, ``aggregate``, ``placement``, ``values`` and ``labels`` (the cuts
        these SEs belong to), ``se`` (one per cut, logits), ``se_method``, ``source``,
        ``params_version``; keys that do not apply are left out.
    """
    if isinstance(date, str):
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise ValueError(f"date must be YYYY-MM-DD, got {date!r}") from None
    else:
        day = date
    if not source.strip():
        raise ValueError("source must describe the panel and the material, got ''")
    if not params_version.strip():
        raise ValueError("params_version must name the parameter version, got ''")
    rp_used = result.rp if rp is None else _check_rp(rp)
    if result.method == "bookmark" and rp_used is None:
        raise ValueError("the Bookmark method needs the response probability rp")
    if rounds is not None and rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    out: dict[str, Any] = {
        "method": result.method,
        "rp": None if rp_used is None else float(rp_used),
        "date": day.isoformat(),
        "panel_size": int(result.n_panellists),
        "n_tables": result.n_tables,
        "rounds": rounds,
        "aggregate": result.aggregate,
        "placement": result.placement,
        "values": [round(float(v), decimals) for v in result.cuts.cuts],
        "labels": list(result.cuts.labels),
        "se": [round(float(s), decimals) for s in result.se],
        "se_method": result.se_method,
        "source": source.strip(),
        "params_version": params_version.strip(),
    }
    return {k: v for k, v in out.items() if v is not None}


# ---- helpers -------------------------------------------------------------------------
def _check_rp(rp: float) -> float:
    value = float(rp)
    if not 0.0 < value < 1.0:
        raise ValueError(f"rp must be a probability strictly between 0 and 1, got {rp!r}")
    return value


def _solve_increasing(
    func: Callable[[np.ndarray], np.ndarray], target: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """θ with ``func(θ) = target`` elementwise, for ``func`` increasing in each element.

    ``func`` maps an array of θ (the shape of ``target``) to values of the same shape.
    The bracket grows from ``start ± 1`` by doubling, then is bisected to ``_TOL``.
    """
    lo, hi = start - 1.0, start + 1.0
    width = 1.0
    for _ in range(_MAX_EXPANSIONS):
        low_bad, high_bad = func(lo) > target, func(hi) < target
        if not (np.any(low_bad) or np.any(high_bad)):
            break
        width *= 2.0
        lo = np.where(low_bad, lo - width, lo)
        hi = np.where(high_bad, hi + width, hi)
    else:  # pragma: no cover - targets are checked to lie inside the range first
        raise ValueError("no θ found for a target outside the function's range")
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        below = func(mid) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        if np.max(hi - lo, initial=0.0) < _TOL:
            break
    return 0.5 * (lo + hi)


def _item_levels(
    params: ItemParameters, levels: Sequence[str] | Mapping[str, str] | None
) -> np.ndarray | None:
    if levels is None:
        return None
    if isinstance(levels, Mapping):
        missing = [i for i in params.ids.tolist() if i not in levels]
        if missing:
            raise ValueError(f"no level given for items: {', '.join(missing[:10])}")
        return np.array([levels[i] for i in params.ids.tolist()], dtype=object)
    arr = np.asarray(levels, dtype=object)
    if arr.shape != (params.n_items,):
        raise ValueError(f"levels must have one entry per item ({params.n_items}), got {arr.shape}")
    return arr


def _booklet_locations(booklet: pd.DataFrame) -> np.ndarray:
    missing = [c for c in ("page", "location") if c not in booklet.columns]
    if missing:
        raise ValueError(f"the booklet needs columns 'page' and 'location'; missing {missing}")
    pages = booklet["page"].to_numpy()
    loc = booklet["location"].to_numpy(dtype=float)
    if loc.size == 0:
        raise ValueError("the booklet has no pages")
    if not np.array_equal(pages, np.arange(1, loc.size + 1)):
        raise ValueError("the booklet's pages must be numbered 1..N in order")
    if not np.all(np.isfinite(loc)) or np.any(np.diff(loc) < 0):
        raise ValueError("the booklet's locations must be finite and in ascending order")
    return loc


def _booklet_rp(booklet: pd.DataFrame) -> float | None:
    rp = booklet.attrs.get("rp")
    return None if rp is None else float(rp)


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
