"""Lord's chi-square (Lord 1980): IRT DIF from separate 2PL calibrations of the two
groups, linked through clean anchors; each item's (a, b) difference is tested against its
standard errors (diagonal Wald, 2 df)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import chi2

MIN_FOCAL = 100  # responses per item in each group below which no class is given
N_STRATA = 20
MIN_PER_STRATUM = 20  # respondents per θ̂ band, on average, before bands are merged
ALPHA = 0.05  # ETS significance level for B and C
_DELTA = 2.35  # ETS delta scale: 4/1.7 rounded (Holland & Thayer 1988)
_IRLS_STEPS = 30


def lord_test(
    responses: np.ndarray,
    items: Sequence[str],
    focal: np.ndarray,
    reference: np.ndarray,
    anchors: Sequence[str],
    *,
    min_focal: int = 200,
) -> pd.DataFrame:
    """Lord's chi-square (Lord 1980) for right/wrong items under the 2PL.

    Each group is calibrated on its own (MML); the focal group's estimates are put on the
    reference group's scale through ``anchors`` (Stocking–Lord, e.g. the items MH classed
    A), and each item's difference in (a, b) is tested against its standard errors:
    χ² = Δb²/(s²_bR + s²_bF) + Δa²/(s²_aR + s²_aF), 2 df.  The covariance of a and b
    is not available from the backend, so the two terms are added as if independent
    (a diagonal Wald test; slightly liberal where a and b correlate).

    Parameters
    ----------
    responses : (P, n) float, 0/1 with NaN where not administered.
    items : (n,) item ids of the columns.
    focal, reference : (P,) bool.
    anchors : item ids that link the two calibrations (at least five).
    min_focal : responses per item in each group below which no test is reported.

    Returns
    -------
    pandas.DataFrame
        One row per item: ``item, n_focal, n_reference, lord_delta_b`` (focal − reference,
        positive = harder for the focal group), ``lord_delta_a, lord_chi2, lord_p`` and
        ``lord_small`` (too few responses: no test).
    """
    from lang_assess.psychometrics.calibrate import Responses, fit_mml
    from lang_assess.psychometrics.linking import stocking_lord

    x = np.asarray(responses, dtype=float)
    ids = [str(i) for i in items]
    answered = np.isfinite(x)
    n_f = (answered & np.asarray(focal, bool)[:, None]).sum(axis=0)
    n_r = (answered & np.asarray(reference, bool)[:, None]).sum(axis=0)
    usable = (n_f >= min_focal) & (n_r >= min_focal)
    keep = [i for i, ok in zip(ids, usable, strict=True) if ok]
    cols = np.flatnonzero(usable)
    out = pd.DataFrame({"item": ids, "n_focal": n_f, "n_reference": n_r,
                        "lord_delta_b": np.nan, "lord_delta_a": np.nan, "lord_chi2": np.nan,
                        "lord_p": np.nan, "lord_small": ~usable})
    if not keep:
        return out
    fits = []
    for group in (reference, focal):
        rows = np.asarray(group, bool) & answered[:, cols].any(axis=1)
        fits.append(fit_mml(Responses.from_matrix(x[np.ix_(rows, cols)], items=keep), "2pl"))
    ref, foc = fits
    link_ids = [i for i in anchors if i in keep]
    t = stocking_lord(foc.params.subset(foc.params.index_of(link_ids)), ref.params)
    b_f, a_f = t.A * foc.params.b + t.B, foc.params.a / t.A
    se_bf, se_af = t.A * foc.se_b, foc.se_a / t.A
    d_b, d_a = b_f - ref.params.b, a_f - ref.params.a
    stat = d_b**2 / (ref.se_b**2 + se_bf**2) + d_a**2 / (ref.se_a**2 + se_af**2)
    out.loc[usable, "lord_delta_b"] = d_b
    out.loc[usable, "lord_delta_a"] = d_a
    out.loc[usable, "lord_chi2"] = stat
    out.loc[usable, "lord_p"] = chi2.sf(stat, 2)
    return out
