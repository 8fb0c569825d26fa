"""Figures for the psychometricians' notebooks (plotly, the project's one plotting library).

Each function takes the table a check or a calibration produced and returns a plotly
figure whose traces hold those numbers; the notebooks only display them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lang_assess.engine.irt.models import expected_score
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores

GRID = np.linspace(-4.0, 4.0, 81)
ETS_COLOURS = {"A": "#7a7a7a", "B": "#e69f00", "C": "#d55e00", "too few": "#cccccc"}


def _cut_lines(fig: Any, cuts: CutScores | None, axis: str = "x") -> None:
    if cuts is None:
        return
    for value, label in zip(cuts.cuts, cuts.labels[1:], strict=True):
        if axis == "x":
            fig.add_vline(x=value, line_dash="dot", line_color="#999999",
                          annotation_text=label, annotation_position="top")
        else:
            fig.add_hline(y=value, line_dash="dot", line_color="#999999",
                          annotation_text=label, annotation_position="right")


def icc_figure(versions: dict[str, ItemParameters], item: str,
               grid: np.ndarray = GRID, cuts: CutScores | None = None) -> Any:
    """Expected score of one item over θ (logits) under each named parameter set, e.g.
    ``{"v0": old, "new": recalibrated}``."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, params in versions.items():
        k = params.index_of([item])
        curve = expected_score(grid, params.subset(k))[:, 0]
        fig.add_trace(go.Scatter(x=grid, y=curve, mode="lines", name=name))
    _cut_lines(fig, cuts)
    fig.update_layout(title=item, xaxis_title="θ (logits)", yaxis_title="expected score",
                      height=320)
    return fig


def information_figure(curves: pd.DataFrame, cuts: CutScores | None = None) -> Any:
    """Test information and conditional SEM (two panels) from
    :func:`lang_assess.psychometrics.checks.precision.information_curve`."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("information", "SEM (logits)"))
    for name, part in curves.groupby("curve", sort=False):
        fig.add_scatter(x=part["theta"], y=part["information"], name=f"{name}", row=1,
                        col=1, mode="lines")
        fig.add_scatter(x=part["theta"], y=part["sem"].clip(upper=2.0), name=f"{name} SEM",
                        row=1, col=2, mode="lines")
    if cuts is not None:
        for value in cuts.cuts:
            fig.add_vline(x=value, line_dash="dot", line_color="#999999")
    fig.update_xaxes(title_text="θ (logits)")
    fig.update_layout(height=340)
    return fig


def fit_figure(fit: pd.DataFrame, band: tuple[float, float] = (0.7, 1.3)) -> Any:
    """Infit against outfit mean squares, flagged items in red, the acceptable band
    shaded (table from :func:`lang_assess.psychometrics.checks.fit.item_fit`)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_shape(type="rect", x0=band[0], x1=band[1], y0=band[0], y1=band[1],
                  fillcolor="#4063a8", opacity=0.08, line_width=0)
    for flagged, colour in ((False, "#0b57d0"), (True, "#d55e00")):
        part = fit[fit["flag"] == flagged]
        fig.add_trace(go.Scatter(x=part["infit"], y=part["outfit"], mode="markers",
                                 text=part["item"], name="flagged" if flagged else "fits",
                                 marker_color=colour))
    fig.update_layout(xaxis_title="infit mean square", yaxis_title="outfit mean square",
                      height=380)
    return fig


def dif_figure(dif: pd.DataFrame, grouping: str | None = None) -> Any:
    """Mantel–Haenszel Δ per item and comparison, coloured by ETS class, with the
    ±1 (B) and ±1.5 (C) lines (table from
    :func:`lang_assess.psychometrics.checks.dif.dif_report`)."""
    import plotly.graph_objects as go

    rows = dif if grouping is None else dif[dif["grouping"] == grouping]
    fig = go.Figure()
    for cls, colour in ETS_COLOURS.items():
        part = rows[rows["ets_class"] == cls]
        if part.empty:
            continue
        fig.add_trace(go.Scatter(
            x=part["item"], y=part["delta_mh"], mode="markers", name=f"ETS {cls}",
            marker_color=colour,
            text=[f"{g}: {f} vs {r} (n focal {n})" for g, f, r, n in zip(
                part["grouping"], part["focal"], part["reference"], part["n_focal"],
                strict=True)]))
    for y in (-1.5, -1.0, 1.0, 1.5):
        fig.add_hline(y=y, line_dash="dot", line_color="#999999")
    fig.update_layout(xaxis_title="item", yaxis_title="Δ_MH (ETS delta)", height=380,
                      xaxis_showticklabels=False)
    return fig


def drift_figure(drift: pd.DataFrame) -> Any:
    """New against old difficulty of the common items, identity line, drifted items in
    red (table from :func:`lang_assess.psychometrics.checks.drift.parameter_drift`)."""
    import plotly.graph_objects as go

    lo = float(np.nanmin([drift["b_old"].min(), drift["b_new"].min()])) - 0.5
    hi = float(np.nanmax([drift["b_old"].max(), drift["b_new"].max()])) + 0.5
    fig = go.Figure([go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="no change",
                                line={"dash": "dash", "color": "#999999"})])
    for flagged, colour in ((False, "#0b57d0"), (True, "#d55e00")):
        part = drift[drift["flag"] == flagged]
        fig.add_trace(go.Scatter(x=part["b_old"], y=part["b_new"], mode="markers",
                                 text=part["item"], marker_color=colour,
                                 name="drifted" if flagged else "stable"))
    fig.update_layout(xaxis_title="b, current version", yaxis_title="b, new calibration",
                      height=380)
    return fig


def booklet_figure(booklet: pd.DataFrame, cuts: CutScores | None = None,
                   levels: Sequence[str] | None = None) -> Any:
    """The ordered item booklet: each page's RP location (logits), coloured by the
    item's intended level, with the panel's cuts as horizontal lines."""
    import plotly.graph_objects as go

    fig = go.Figure()
    key = "level" if "level" in booklet else None
    groups = booklet.groupby(key, sort=False) if key else [("items", booklet)]
    order = list(levels) if levels is not None else None
    for name, part in sorted(groups, key=lambda g: order.index(g[0]) if order and
                             g[0] in order else 0):
        fig.add_trace(go.Scatter(x=part["page"], y=part["location"], mode="markers",
                                 name=str(name), text=part["item"]))
    _cut_lines(fig, cuts, axis="y")
    fig.update_layout(xaxis_title="page of the ordered item booklet",
                      yaxis_title="RP location (logits)", height=380)
    return fig
