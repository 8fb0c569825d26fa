"""The recalibration loop in one place: stored answers → calibration → the bank's scale →
drift, fit and fairness checks.  ``notebooks/recalibrate.ipynb`` lays it out; the
decisions (which items, which anchors) are arguments here, not cells there.

Each finished test is one calibration case (``occasion``): a participant's θ moves from
week to week, so their tests are not repeated measures of one θ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lang_assess.engine.irt.params import ItemParameters
from lang_assess.psychometrics.calibrate import Calibration, Responses, calibrate
from lang_assess.psychometrics.checks.dif import dif_report
from lang_assess.psychometrics.checks.drift import parameter_drift
from lang_assess.psychometrics.checks.fit import item_fit
from lang_assess.psychometrics.linking import Transform, mean_sigma, stocking_lord

LINKING = ("stocking-lord", "mean-sigma", "fixed")
GROUPINGS = {"L1": "language", "gender": "gender", "track": "track"}


@dataclass(frozen=True, eq=False)
class Recalibration:
    """What one recalibration produced.

    ``params`` are the recalibrated items on the bank's scale; ``transform`` took them
    there (identity for fixed-item calibration); ``anchors`` the items that defined the
    link; ``drift``, ``fit`` and ``dif`` the checks' tables (see
    :mod:`lang_assess.psychometrics.checks`);
    ``n_responses`` item id → answers used; ``data_window`` the answers' dates.
    """

    calibration: Calibration
    params: ItemParameters
    transform: Transform
    linking: str
    anchors: tuple[str, ...]
    drift: pd.DataFrame
    fit: pd.DataFrame
    dif: pd.DataFrame
    n_responses: dict[str, int]
    data_window: str

    def publishable(self, *, max_se_b: float = 0.4,
                    slope_range: tuple[float, float] = (0.3, 4.0)) -> pd.DataFrame:
        """Which estimated items are precise enough to publish: ``item, n, a, b, c, se_b,
        se_c, publish, why`` (c and its SE from a 3PL calibration; 0 and NaN otherwise).
        An item is held back when SE(b) > ``max_se_b`` logits, its slope is outside
        ``slope_range`` (adaptive data put nearly everyone near p = .5, which says little
        about a slope), or the calibration flagged it."""
        cal = self.calibration
        est = ~cal.fixed
        ids = cal.params.ids[est]
        flagged = {i for i in ids if any(f"'{i}'" in f for f in cal.flags)}
        se_b = cal.se_b[est]
        a, b = self.params.a[est], self.params.b[est]
        why = []
        for i, s, slope in zip(ids, se_b, a, strict=True):
            reasons = ([f"SE(b) {s:.2f} > {max_se_b}"] if not s <= max_se_b else []) + (
                [f"a {slope:.2f} outside {slope_range}"]
                if not slope_range[0] <= slope <= slope_range[1] else []) + (
                ["flagged by the calibration"] if i in flagged else [])
            why.append("; ".join(reasons))
        return pd.DataFrame({"item": ids, "n": cal.n_responses[est], "a": a, "b": b,
                             "c": self.params.c[est], "se_b": se_b, "se_c": cal.se_c[est],
                             "publish": [not w for w in why], "why": why})

    def summary(self) -> str:
        """A few lines for the notebook: what was fitted, linked and flagged."""
        flagged = {name: int(t["flag"].sum()) if len(t) else 0
                   for name, t in (("drift", self.drift), ("fit", self.fit),
                                   ("DIF", self.dif))}
        return "\n".join([
            self.calibration.summary(),
            f"linking: {self.linking} through {len(self.anchors)} anchors "
            f"(A = {self.transform.A:.3f}, B = {self.transform.B:+.3f})",
            f"data: {sum(self.n_responses.values())} answers, window {self.data_window}",
            "flagged: " + ", ".join(f"{k} {v}" for k, v in flagged.items()),
        ])


def responses_from_export(export: pd.DataFrame, items: Sequence[str]) -> Responses:
    """The (occasions × items) matrix of :meth:`Service.calibration_responses` rows,
    restricted to ``items`` (in that order)."""
    keep = export[export["item"].isin(list(items))]
    return Responses.from_columns(keep["occasion"].to_numpy(), keep["item"].to_numpy(),
                                  keep["score"].to_numpy(dtype=float), items=list(items))


def recalibrate(
    export: pd.DataFrame,
    current: ItemParameters,
    *,
    model: str = "2pl",
    backend: str = "mml",
    linking: str = "stocking-lord",
    min_responses: int = 100,
    free: Sequence[str] | None = None,
    progress: bool = False,
    chance: Mapping[str, float] | None = None,
    **options: object,
) -> Recalibration:
    """Calibrate the items with at least ``min_responses`` answers and put them on the
    scale of ``current`` (the bank's parameters now).

    Parameters
    ----------
    export : DataFrame
        Rows of :meth:`lang_assess.programme.service.Service.calibration_responses`.
    current : ItemParameters
        The bank's current parameters: the scale to keep.
    model, backend : see :func:`lang_assess.psychometrics.calibrate.calibrate`.
    linking : {"stocking-lord", "mean-sigma", "fixed"}
        ``"stocking-lord"``/``"mean-sigma"``: a free calibration linked through every
        calibrated item of ``current``, then again without the anchors whose difficulty
        drifted (|Δb| > 0.3 or robust z > 3), until the anchor set is stable (at most five
        rounds, never fewer than five anchors): drifting anchors must not move the scale.
        ``"fixed"``: items not in ``free`` keep their current
        parameters in the calibration itself (fixed-item calibration; how pretest
        items are calibrated).
    min_responses : int
        Items answered fewer times are left as they are (reported in ``n_responses``).
    free : sequence of str, optional
        With ``linking="fixed"``: the items to estimate (default: those not in
        ``current``, i.e. pretest items).
    chance : Mapping[str, float], optional
        ``model="3pl"``: item id → chance level 1/k (0: no guessing); default the c of
        ``current`` (v0 parameters carry c = 1/k).  An item calibrated as 3PL that is in
        neither is an error.
    """
    if linking not in LINKING:
        raise ValueError(f"linking {linking!r}: use one of {', '.join(LINKING)}")
    counts = export.groupby("item").size()
    known = set(current.ids.tolist())
    if linking == "fixed":
        estimate = set(free) if free is not None else set(counts.index) - known
    else:
        estimate = set(counts.index)
    enough = sorted(i for i in counts.index if counts[i] >= min_responses
                    and (i in estimate or (linking == "fixed" and i in known)))
    if not any(i in estimate for i in enough):
        raise ValueError(f"no item to calibrate has {min_responses} answers or more")
    resp = responses_from_export(export, enough)
    if model.lower() == "3pl":
        options["chance"] = _chance_levels(enough, current, chance)
    if linking == "fixed":
        anchors = [i for i in enough if i in known and i not in estimate]
        cal = calibrate(resp, model, backend, fixed=current.subset(current.index_of(anchors)),
                        progress=progress, **options)
        transform, linked = Transform(1.0, 0.0), cal.params
    else:
        cal = calibrate(resp, model, backend, progress=progress, **options)
        anchors = [i for i in enough if i in known]
        link = stocking_lord if linking == "stocking-lord" else mean_sigma
        transform = link(cal.params, current)
        candidates = current.subset(current.index_of(anchors))
        for _ in range(5):  # purify: anchors = items not drifted under the latest link
            drifted = parameter_drift(candidates, transform.apply(cal.params))
            stable = drifted.loc[~drifted["flag"], "item"].tolist()
            if stable == anchors or len(stable) < 5:
                break
            anchors = stable
            transform = link(cal.params.subset(cal.params.index_of(anchors)), current)
        linked = transform.apply(cal.params)
    matrix = resp.matrix
    groups = export.drop_duplicates("occasion").set_index(
        export.drop_duplicates("occasion")["occasion"].astype(str))
    labels = {name: groups.loc[resp.persons, column].to_numpy()
              for name, column in GROUPINGS.items()}
    dates = pd.to_datetime(export["answered_at"])
    return Recalibration(
        calibration=cal, params=linked, transform=transform, linking=linking,
        anchors=tuple(anchors),
        drift=parameter_drift(current, linked, min_common=1) if anchors else pd.DataFrame(),
        fit=item_fit(linked, matrix),
        dif=dif_report(linked, matrix, _as_labels(labels)),
        n_responses={str(i): int(n) for i, n in counts.items()},
        data_window=f"{dates.min():%Y-%m-%d}..{dates.max():%Y-%m-%d}",
    )


def _chance_levels(items: Sequence[str], current: ItemParameters,
                   chance: Mapping[str, float] | None) -> np.ndarray:
    """(I,) chance levels of ``items`` for a 3PL fit: ``chance`` first, else the c of
    ``current``; every item must have one."""
    known = dict(zip(current.ids.tolist(), current.c.tolist(), strict=True))
    given = dict(chance or {})
    missing = [i for i in items if i not in given and i not in known]
    if missing:
        raise ValueError(f"3PL needs each item's chance level (1/k); none for {missing}")
    return np.array([given.get(i, known.get(i, 0.0)) for i in items], dtype=float)


def _as_labels(labels: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Group labels as strings (track 1/2/3 are numbers in the database)."""
    return {k: np.array(["" if pd.isna(v) else str(v) for v in arr], dtype=object)
            for k, arr in labels.items()}
