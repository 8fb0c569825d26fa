"""What to write into the bank config next to the cut values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lang_assess.psychometrics.standard_setting.booklet import (
    _check_rp,
)
from lang_assess.psychometrics.standard_setting.panel import PanelCuts


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
