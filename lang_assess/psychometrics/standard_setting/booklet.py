"""The ordered item booklet: items by their RP location (the θ at which a person answers
with probability ``rp``), and the root finding it needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.irt.params import ItemParameters

RP67 = 0.67
Aggregate = Literal["median", "mean"]
Placement = Literal["page", "midpoint"]

_BISECTIONS = 200  # halvings of the bracket; stops earlier once it is below _TOL
_TOL = 1e-10  # logits
_MAX_EXPANSIONS = 60


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
