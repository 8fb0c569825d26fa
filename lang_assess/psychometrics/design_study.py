"""Test designs compared by simulation: the tables and figures of ``simulate_cat.ipynb``.

Every design in a comparison runs on the *same* simulees with the *same* seed (common
random numbers), so differences between rows come from the designs, not from drawing
different people.  Pure functions: arrays and designs in, DataFrames and plotly figures
out; no files are read or written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lang_assess.engine.cat.design import TestDesign
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.engine.simulate import SimulationResult, simulate

Prior = tuple[float | np.ndarray, float | np.ndarray]

SUMMARY_COLUMNS = (
    "n", "bias", "rmse", "mean_se", "mean_length", "p90_length", "max_length",
    "cefr_accuracy", "max_exposure", "test_overlap", "share_never_used",
)
CONDITIONAL_COLUMNS = ("design", "theta", "bias", "rmse", "length", "n")
_AXIS = {
    "rmse": "RMSE of θ̂ (logits)",
    "bias": "bias of θ̂ (θ̂ − θ, logits)",
    "length": "mean test length (items)",
}


def run_designs(
    params: ItemParameters,
    designs: Mapping[str, TestDesign],
    thetas: np.ndarray,
    *,
    seed: int,
    cuts: CutScores | None = None,
    oracle: bool = False,
    priors: Mapping[str, Prior] | None = None,
) -> dict[str, SimulationResult]:
    """Simulate every named design on the same simulees.

    Parameters
    ----------
    params : ItemParameters
        The bank's item parameters (n items).
    designs : Mapping[str, TestDesign]
        Design name → design; the names label rows, lines and markers downstream.
    thetas : np.ndarray
        (N,) true abilities of the simulees, logits.
    seed : int
        Seed of every design's run (the same for all: common random numbers).
    cuts : CutScores, optional
        CEFR cut scores (logits), for exact-level accuracy.
    oracle : bool
        Also run the oracle test per simulee (about doubles the run time).
    priors : Mapping[str, tuple], optional
        Design name → (prior mean, prior SD) in logits, scalars or (N,), overriding the
        design's own prior; e.g. the weekly test's per-person prior from
        :func:`lang_assess.programme.simulation.progress_prior`.

    Returns
    -------
    dict[str, SimulationResult]
        One result per design, in the order of ``designs``.
    """
    priors = priors or {}
    unknown = sorted(set(priors) - set(designs))
    if unknown:
        raise ValueError(f"priors given for designs not in the comparison: {unknown}")
    out = {}
    for name, design in designs.items():
        mean, sd = priors.get(name, (None, None))
        out[name] = simulate(params, design, thetas, seed=seed, cuts=cuts, oracle=oracle,
                             prior_mean=mean, prior_sd=sd)
    return out


def summary_table(results: Mapping[str, SimulationResult]) -> pd.DataFrame:
    """One row per design: accuracy, length, classification and exposure.

    Parameters
    ----------
    results : Mapping[str, SimulationResult]
        Design name → simulation result (see :func:`run_designs`).

    Returns
    -------
    pd.DataFrame
        Index ``design``; columns :data:`SUMMARY_COLUMNS`: ``n`` simulees; ``bias`` and
        ``rmse`` of θ̂ and ``mean_se`` (logits); ``mean_length``, ``p90_length``,
        ``max_length`` (items); ``cefr_accuracy`` (share placed at their true level, NaN
        without cuts); ``max_exposure`` (largest share of simulees given one item);
        ``test_overlap`` (mean share of items two simulees share); ``share_never_used``
        (share of the bank no simulee saw).  With oracle runs, ``mean_oracle_length``
        (items) as well.
    """
    rows = []
    for name, r in results.items():
        err = r.theta - r.true_theta
        acc = r.cefr_accuracy()
        row = {
            "design": name,
            "n": r.n,
            "bias": float(err.mean()),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mean_se": float(r.se.mean()),
            "mean_length": float(r.length.mean()),
            "p90_length": float(np.percentile(r.length, 90)),
            "max_length": int(r.length.max()),
            "cefr_accuracy": np.nan if acc is None else acc,
            "max_exposure": float(r.exposure.max()),
            "test_overlap": r.test_overlap(),
            "share_never_used": float(np.mean(r.exposure == 0)),
        }
        if np.any(np.isfinite(r.oracle_length)):
            row["mean_oracle_length"] = float(np.nanmean(r.oracle_length))
        rows.append(row)
    return pd.DataFrame(rows).set_index("design")


def compare_designs(
    params: ItemParameters,
    designs: Mapping[str, TestDesign],
    thetas: np.ndarray,
    *,
    seed: int,
    cuts: CutScores | None = None,
    oracle: bool = False,
    priors: Mapping[str, Prior] | None = None,
) -> pd.DataFrame:
    """Simulate each design on the same simulees and tabulate one row per design.

    :func:`summary_table` of :func:`run_designs` (see both for the parameters and the
    columns); use the two directly when the per-simulee results are needed as well
    (conditional tables, exposure curves).  Deterministic given ``seed``.
    """
    return summary_table(
        run_designs(params, designs, thetas, seed=seed, cuts=cuts, oracle=oracle,
                    priors=priors)
    )


def conditional_table(
    results: Mapping[str, SimulationResult],
    bins: int | Sequence[float] | np.ndarray,
) -> pd.DataFrame:
    """Conditional bias, RMSE and mean length by true-θ bin, per design (tidy).

    Parameters
    ----------
    results : Mapping[str, SimulationResult]
        Design name → simulation result.
    bins : int or array-like
        Bin edges on the true θ (logits, increasing), or a number of equal-width bins
        spanning all simulees' true θ.  The last bin includes its right edge; simulees
        outside the edges are left out (``n`` shows how many were kept).

    Returns
    -------
    pd.DataFrame
        Columns :data:`CONDITIONAL_COLUMNS`: ``design``; ``theta``, the bin centre
        (logits); ``bias`` and ``rmse`` of θ̂ (logits); ``length``, mean items; ``n``,
        simulees in the bin.  Empty bins have no row.
    """
    names = list(results)
    frame = pd.DataFrame({
        "design": np.repeat(np.arange(len(names)), [r.n for r in results.values()]),
        "true": np.concatenate([r.true_theta for r in results.values()]),
        "err": np.concatenate([r.theta - r.true_theta for r in results.values()]),
        "length": np.concatenate([r.length for r in results.values()]).astype(float),
    })
    true = frame["true"].to_numpy()
    if np.ndim(bins) == 0:
        # one set of edges for all designs, so that their lines share the same x
        edges = np.histogram_bin_edges(true, bins=int(bins))
    else:
        edges = np.asarray(bins, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("bins must be a count or at least two increasing edges")
    k = np.searchsorted(edges, true, side="right") - 1
    k[true == edges[-1]] = edges.size - 2  # the last bin is closed on the right
    frame["bin"] = k
    frame["sq"] = frame["err"] ** 2
    table = (
        frame[(k >= 0) & (k < edges.size - 1)]
        .groupby(["design", "bin"])  # design codes keep the order of ``results``
        .agg(bias=("err", "mean"), mse=("sq", "mean"), length=("length", "mean"),
             n=("err", "size"))
        .reset_index()
    )
    table["theta"] = ((edges[:-1] + edges[1:]) / 2.0)[table["bin"].to_numpy()]
    table["rmse"] = np.sqrt(table["mse"])
    table["design"] = np.asarray(names, dtype=object)[table["design"].to_numpy()]
    return table.loc[:, list(CONDITIONAL_COLUMNS)].reset_index(drop=True)


def findings(summary: pd.DataFrame) -> list[str]:
    """Plain sentences stating what a summary table shows, computed from its numbers.

    Parameters
    ----------
    summary : pd.DataFrame
        Output of :func:`summary_table` or :func:`compare_designs`.

    Returns
    -------
    list[str]
        Which design is most precise, shortest, best at placing, least and most
        exposing, most biased, with the figures; and how large a difference the number of
        simulees can resolve (two Monte Carlo standard errors of RMSE and accuracy).
    """
    s = summary
    out = []
    best = s["rmse"].idxmin()
    short = s["mean_length"].idxmin()
    out.append(f"Most precise: {best} (RMSE {s.at[best, 'rmse']:.3f} logits, "
               f"{s.at[best, 'mean_length']:.1f} items on average).")
    out.append(f"Shortest: {short} ({s.at[short, 'mean_length']:.1f} items, "
               f"RMSE {s.at[short, 'rmse']:.3f}).")
    if s["cefr_accuracy"].notna().any():
        acc = s["cefr_accuracy"].idxmax()
        out.append(f"Best at placing: {acc} ({s.at[acc, 'cefr_accuracy']:.1%} at their "
                   f"true CEFR level; lowest: {s['cefr_accuracy'].min():.1%}).")
    low, high = s["max_exposure"].idxmin(), s["max_exposure"].idxmax()
    out.append(f"Lowest maximum exposure: {low} (its most used item goes to "
               f"{s.at[low, 'max_exposure']:.1%} of test takers; highest: {high} at "
               f"{s.at[high, 'max_exposure']:.1%}).")
    lo_o, hi_o = s["test_overlap"].idxmin(), s["test_overlap"].idxmax()
    out.append(f"Test overlap runs from {s.at[lo_o, 'test_overlap']:.1%} ({lo_o}) to "
               f"{s.at[hi_o, 'test_overlap']:.1%} ({hi_o}).")
    worst_bias = s["bias"].abs().idxmax()
    out.append(f"Largest overall bias: {worst_bias} ({s.at[worst_bias, 'bias']:+.3f} logits).")
    # Monte Carlo error of the figures at this N: differences below it are noise
    n = float(s["n"].min())
    rmse_noise = 2.0 * float(s["rmse"].mean()) / np.sqrt(2.0 * n)
    noise = f"about ±{rmse_noise:.3f} logits in RMSE"
    if s["cefr_accuracy"].notna().any():
        p = float(s["cefr_accuracy"].mean())
        noise += f" and ±{2.0 * np.sqrt(p * (1.0 - p) / n):.1%} in CEFR accuracy"
    out.append(f"With {int(n)} simulees per design, differences smaller than {noise} "
               "are within simulation noise (two standard errors).")
    return out


def _colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per design, the same in every figure of a comparison."""
    from plotly.colors import qualitative

    palette = qualitative.Plotly
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def rmse_length_figure(summary: pd.DataFrame) -> Any:
    """RMSE against mean test length, one labelled marker per design.

    Parameters
    ----------
    summary : pd.DataFrame
        Output of :func:`summary_table` (index: design names).

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per design (named by it), x = ``mean_length`` (items), y = ``rmse``
        (logits).  Down and to the left is better.
    """
    import plotly.graph_objects as go

    colours = _colours(list(summary.index))
    # labels alternate above and below along the length axis, so neighbours do not overlap
    rank = summary["mean_length"].rank(method="first").astype(int)
    fig = go.Figure([
        go.Scatter(x=[row.mean_length], y=[row.rmse], mode="markers+text", name=str(name),
                   text=[str(name)],
                   textposition="top center" if rank[name] % 2 else "bottom center",
                   marker={"size": 12, "color": colours[name]})
        for name, row in summary.iterrows()
    ])
    fig.update_layout(xaxis_title="mean test length (items)", yaxis_title=_AXIS["rmse"],
                      height=420, showlegend=False,
                      margin={"l": 60, "r": 20, "t": 20, "b": 50})
    return fig


def conditional_figure(
    table: pd.DataFrame,
    what: str = "rmse",
    *,
    cuts: CutScores | None = None,
) -> Any:
    """Conditional RMSE, bias or mean length over the true θ, one line per design.

    Parameters
    ----------
    table : pd.DataFrame
        Output of :func:`conditional_table`.
    what : {"rmse", "bias", "length"}
        The column to draw.
    cuts : CutScores, optional
        CEFR cut scores (logits), drawn as vertical lines labelled with the level they
        open; cuts outside the range of bin centres are left out.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per design, x = ``theta`` (bin centres, logits), y = ``table[what]``.
    """
    import plotly.graph_objects as go

    if what not in _AXIS:
        raise ValueError(f"what must be one of {sorted(_AXIS)}, got {what!r}")
    names = list(dict.fromkeys(table["design"]))
    colours = _colours(names)
    fig = go.Figure()
    for name in names:
        part = table[table["design"] == name]
        fig.add_trace(go.Scatter(x=part["theta"].to_numpy(), y=part[what].to_numpy(),
                                 mode="lines+markers", name=str(name),
                                 line={"color": colours[name]},
                                 customdata=part["n"].to_numpy(),
                                 hovertemplate="θ %{x:.2f}: %{y:.3f} (n %{customdata})"))
    if what == "bias":
        fig.add_hline(y=0.0, line={"color": "#888888", "width": 1})
    if cuts is not None and len(table):
        # the cut is where a placement decision flips: precision matters most there;
        # cuts outside the data would only stretch the axis
        lo, hi = table["theta"].min(), table["theta"].max()
        for value, label in zip(cuts.cuts, cuts.labels[1:], strict=True):
            if not lo <= value <= hi:
                continue
            fig.add_vline(x=value, line={"color": "#aaaaaa", "dash": "dot"},
                          annotation_text=label, annotation_position="top right")
    fig.update_layout(xaxis_title="true θ (logits)", yaxis_title=_AXIS[what], height=420,
                      margin={"l": 60, "r": 20, "t": 30, "b": 50})
    return fig


def exposure_figure(results: Mapping[str, SimulationResult]) -> Any:
    """Item exposure rates sorted from the most used item down, one curve per design.

    Parameters
    ----------
    results : Mapping[str, SimulationResult]
        Design name → simulation result.

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per design, x = item rank (1 = most used), y = share of simulees given
        the item (sorted ``exposure``, (n,)).
    """
    import plotly.graph_objects as go

    colours = _colours(list(results))
    fig = go.Figure([
        go.Scatter(x=np.arange(1, r.exposure.size + 1), y=np.sort(r.exposure)[::-1],
                   mode="lines", name=str(name), line={"color": colours[name]})
        for name, r in results.items()
    ])
    fig.update_layout(xaxis_title="item rank by exposure (1 = most used)",
                      yaxis_title="exposure rate (share of test takers)",
                      yaxis_tickformat=".0%", height=420,
                      margin={"l": 60, "r": 20, "t": 20, "b": 50})
    return fig
