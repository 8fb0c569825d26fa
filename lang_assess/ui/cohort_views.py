"""What the teacher dashboards show, as plain functions over the service's tables.

The dashboards (Voila, issue 6) only lay these out.  Inputs are the DataFrames from
:meth:`Service.cohort_tests` (one row per finished test) and :meth:`Service.cohort_progress`
(one row per participant); outputs are DataFrames, export bytes and plotly figures.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from lang_assess.engine.levels import CutScores

STATUS_READY = "ready to move up"
STATUS_ACTION = "needs action"
STATUS_ON_TRACK = "on track"
AGE_GROUPS = ((18, 29, "18–29"), (30, 39, "30–39"), (40, 55, "40–55"), (56, 120, "56+"))


def status_label(ready: bool, stalled: bool, missed: bool) -> str:
    """One status a teacher acts on: ready to move up, needs action (stalled or missed
    tests), or on track.  Ready wins: moving up is the action."""
    if ready:
        return STATUS_READY
    if stalled or missed:
        return STATUS_ACTION
    return STATUS_ON_TRACK


def with_status(progress: pd.DataFrame) -> pd.DataFrame:
    """The cohort progress table with a ``status`` column."""
    out = progress.copy()
    out["status"] = [status_label(bool(r), bool(s), bool(m)) for r, s, m in
                     zip(out["ready_to_move_up"], out["stalled"], out["missed"], strict=True)]
    return out


def flag_counts(progress: pd.DataFrame) -> dict[str, int]:
    """How many participants are ready to move up, stalled, missed a test."""
    return {
        "ready_to_move_up": int(progress["ready_to_move_up"].sum()),
        "stalled": int(progress["stalled"].sum()),
        "missed": int(progress["missed"].sum()),
    }


def level_distribution_by_week(tests: pd.DataFrame, labels: tuple[str, ...]) -> pd.DataFrame:
    """Participants at each CEFR level in each programme week (their latest test so far).

    ``tests``: columns participant_id, week, level.  Returns a (weeks × levels) count table.
    """
    if tests.empty:
        return pd.DataFrame(columns=list(labels))
    weeks = range(int(tests["week"].min()), int(tests["week"].max()) + 1)
    latest = tests.sort_values(["participant_id", "week"])
    rows = {}
    for w in weeks:
        current = latest[latest["week"] <= w].groupby("participant_id").tail(1)
        rows[w] = current["level"].value_counts().reindex(list(labels), fill_value=0)
    table = pd.DataFrame(rows).T
    table.index.name = "week"
    return table


def age_group(birth_year: int | None, today: dt.date) -> str:
    """Age band of a participant (for growth by age group)."""
    if birth_year is None:
        return "unknown"
    age = today.year - birth_year
    return next((label for lo, hi, label in AGE_GROUPS if lo <= age <= hi), "unknown")


def growth_per_week(tests: pd.DataFrame) -> pd.Series:
    """Each participant's growth in logits a week: the least-squares slope of θ̂ over
    weeks (NaN with fewer than three tests)."""
    def slope(g: pd.DataFrame) -> float:
        if len(g) < 3:
            return float("nan")
        x = g["week"].to_numpy(float)
        y = g["theta"].to_numpy(float)
        x = x - x.mean()
        return float((x * (y - y.mean())).sum() / (x * x).sum())

    return tests.groupby("participant_id")[["week", "theta"]].apply(slope)


def growth_by_group(tests: pd.DataFrame, participants: pd.DataFrame, by: str) -> pd.DataFrame:
    """Median growth a week and the number of participants for each value of ``by``
    (track, gender or age_group); groups under 5 people are marked ``small``."""
    growth = growth_per_week(tests).rename("growth").reset_index()
    # only the grouping column: the progress table has a growth of its own (issue 15)
    merged = growth.merge(participants[["participant_id", by]], on="participant_id")
    table = merged.groupby(by)["growth"].agg(median="median", n="count").reset_index()
    table["small"] = table["n"] < 5
    return table


def track_median(tests: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """Median θ̂ per track and week (for comparing a participant with their track)."""
    merged = tests.merge(participants[["participant_id", "track"]], on="participant_id")
    return merged.groupby(["track", "week"])["theta"].median().reset_index()


# What a spreadsheet reads as the start of a formula (OWASP's CSV injection list)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> object:
    """A text that a spreadsheet would take for a formula gets a leading apostrophe
    (``=HYPERLINK(…)`` → ``'=HYPERLINK(…)``); numbers and other texts stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_csv(table: pd.DataFrame) -> bytes:
    """The table as UTF-8 CSV (with BOM, so Excel reads æøå) for case workers; texts
    that start like a formula are neutralised (:func:`formula_safe`), headers too."""
    safe = table.rename(columns=formula_safe).astype(object).map(formula_safe)
    # CRLF rows (RFC 4180): a text holding a CR is then quoted, so the row stays whole
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def export_excel(table: pd.DataFrame, sheet: str = "Cohort") -> bytes:
    """The table as an .xlsx workbook.  Every text is a text cell, never a formula, and
    one that starts like a formula is marked quote-prefixed (so Excel keeps it a text
    even when someone edits the cell); numbers stay numbers."""
    from openpyxl import load_workbook

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        table.to_excel(writer, sheet_name=sheet[:31], index=False)
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    for row in book.active.iter_rows():
        for cell in row:
            if cell.data_type == "f" or (isinstance(cell.value, str)
                                         and cell.value.startswith(FORMULA_PREFIXES)):
                cell.data_type = "s"
                cell.quotePrefix = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FIGURE_LABELS = {"week": "week", "participants": "participants",
                 "ability": "ability (0–100)", "track": "track"}


def trajectory_figure(tests: pd.DataFrame, participant_id: int, cuts: CutScores,
                      median: pd.DataFrame | None = None, track: int | None = None,
                      labels: dict[str, str] | None = None) -> Any:
    """θ̂ over weeks on the readable 0–100 scale (:func:`ability_scale`) with a ±1.96 SE
    band, CEFR bands drawn behind, and the track's median.  ``labels``: axis and legend
    texts in the UI language (keys as :data:`FIGURE_LABELS`)."""
    import plotly.graph_objects as go

    text = {**FIGURE_LABELS, **(labels or {})}
    mine = tests[tests["participant_id"] == participant_id].sort_values("week")
    fig = go.Figure()
    edges = ability_scale([cuts.cuts[0] - 1.5, *cuts.cuts, cuts.cuts[-1] + 1.5])
    edges[0], edges[-1] = 0.0, 100.0
    for k, label in enumerate(cuts.labels):
        fig.add_hrect(y0=edges[k], y1=edges[k + 1], line_width=0, opacity=0.08 + 0.04 * (k % 2),
                      fillcolor="#4063a8", annotation_text=label, annotation_position="left")
    upper = ability_scale(mine["theta"] + 1.96 * mine["se"])
    lower = ability_scale(mine["theta"] - 1.96 * mine["se"])
    fig.add_trace(go.Scatter(x=[*mine["week"], *mine["week"][::-1]],
                             y=[*upper, *lower[::-1]], fill="toself", line_width=0,
                             mode="lines",
                             fillcolor="rgba(11,87,208,0.15)", name="95 %", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=mine["week"], y=ability_scale(mine["theta"]),
                             mode="lines+markers", name="θ", line_color="#0b57d0",
                             text=mine.get("level")))
    if median is not None and track is not None:
        m = median[median["track"] == track]
        fig.add_trace(go.Scatter(x=m["week"], y=ability_scale(m["theta"]), mode="lines",
                                 name=f"{text['track']} {track}",
                                 line={"dash": "dash", "color": "#555555"}))
    fig.update_layout(xaxis_title=text["week"], yaxis_title=text["ability"], height=380,
                      plot_bgcolor="#ffffff", yaxis_range=[0, 100],
                      margin={"l": 60, "r": 10, "t": 10, "b": 40})
    return fig


def level_distribution_figure(table: pd.DataFrame, labels: dict[str, str] | None = None) -> Any:
    """Stacked bars: participants at each CEFR level, week by week (``table`` from
    :func:`level_distribution_by_week`)."""
    import plotly.graph_objects as go

    text = {**FIGURE_LABELS, **(labels or {})}
    fig = go.Figure([go.Bar(x=table.index, y=table[level], name=str(level))
                     for level in table.columns])
    fig.update_layout(barmode="stack", xaxis_title=text["week"],
                      yaxis_title=text["participants"],
                      height=340, margin={"l": 50, "r": 10, "t": 10, "b": 40})
    return fig


def ability_scale(theta: float | np.ndarray | list[float] | pd.Series) -> np.ndarray:
    """θ (logits) on a readable 0–100 scale (θ −3 → 0, θ +3 → 100), clipped; same shape."""
    return np.clip((np.asarray(theta, dtype=float) + 3.0) / 6.0 * 100.0, 0.0, 100.0)


def skill_levels_html(levels: dict, t: Callable[[str], str]) -> str:
    """A level per skill (issue 16) as a table: level, or "not enough evidence"; the
    ability ± 1.96 SE (logits) and the answers behind it; and answers still to rate.
    ``levels``: :meth:`Service.skill_levels`."""
    rows = "".join(
        f"<tr class='la-skill-{html.escape(name)}'><td>{html.escape(t(name))}</td>"
        f"<td class='la-skill-level'>{html.escape(s['level'] or t('not_enough'))}</td>"
        f"<td>{s['theta']:+.2f} ± {1.96 * s['se']:.2f}</td><td>{s['n']}</td></tr>"
        for name, s in (levels.get("skills") or {}).items())
    pending = levels.get("pending") or 0
    note = f"<p>{pending} {html.escape(t('pending'))}</p>" if pending else ""
    return (f"<h3>{html.escape(t('skill_levels'))}</h3>"
            f"<table class='la-skill-levels'>{rows}</table>{note}")


def participant_report_html(record: dict, history: pd.DataFrame, skills: pd.DataFrame,
                            t: Callable[[str], str], levels: dict | None = None) -> str:
    """A one-page printable report: who, track, course level, the tests, the level per
    skill and the skills (shares right, never items); no access code, no key."""
    rows = "".join(
        f"<tr><td>{r.kind}</td><td>{r.week}</td><td>{r.level}</td><td>{r.theta:+.2f} "
        f"± {1.96 * r.se:.2f}</td></tr>" for r in history.itertuples())
    skill_rows = "".join(f"<tr><td>{html.escape(r.skill)}</td><td>{r.share:.0%}</td></tr>"
                         for r in skills.itertuples())
    reason = record.get("track_override_reason")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(record['pseudonym'])}</title><style>body{{font-family:sans-serif;"
        "max-width:180mm;margin:10mm auto}}td,th{{padding:2px 8px;border-bottom:1px solid #ccc}}"
        "@page{{size:A4;margin:12mm}}</style></head><body>"
        f"<h1>{html.escape(record['pseudonym'])}</h1>"
        f"<p>{t('track')} {record['track']}" + (f" ({html.escape(reason)})" if reason else "")
        + f" · {html.escape(str(record['course_level']))} · {record['intake_date']}</p>"
        f"<h2>{t('history')}</h2><table>{rows}</table>"
        + (skill_levels_html(levels, t) if levels else "")
        + f"<h2>{t('skills')}</h2><table>{skill_rows}</table></body></html>")


def table_html(table: pd.DataFrame) -> str:
    """The cohort table as escaped HTML, '—' for what is missing."""
    if table.empty:
        return "<p>—</p>"
    shown = table.astype(object)
    shown = shown.where(shown.notna(), "—")
    return shown.to_html(index=False, classes="la-cohort-table", escape=True)
