"""Differential item functioning (DIF): does an item behave differently for a group?

Two statistics per right/wrong item and comparison of a focal group with a reference
group, both conditioning on ability:

- **Mantel–Haenszel** (Holland & Thayer 1988) with the ETS A/B/C classes (Zwick 2012):
  Δ_MH = −2.35 ln α_MH, negative when the item is harder for the focal group at equal
  ability.  C: |Δ| ≥ 1.5 and |Δ| significantly > 1 (one-sided, 5 %); B: |Δ| ≥ 1 and
  the MH chi-square significant (5 %), not C; A: otherwise.
- **Lord's chi-square**: IRT DIF by separate calibrations, in
  :mod:`lang_assess.psychometrics.checks.lord`.
- **Logistic regression** (Swaminathan & Rogers 1990): per item,
  logit P(x = 1) = β₀ + β₁θ̂ + β₂g + β₃θ̂g, likelihood-ratio tests of β₂ (uniform) and β₃
  (non-uniform DIF, which MH cannot see), and Nagelkerke's ΔR² (Zumbo 1999).

**Matching on θ̂, not on the summed score.**  In an adaptive test persons answer
different items, so summed scores are not comparable.  Persons are matched on their EAP
θ̂ (Zwick, Thayer & Wingersky 1994 matched CAT examinees on an IRT ability estimate too):
for each item, its respondents of both groups are cut into ``n_strata`` equal-count θ̂
bands.  On complete data under the 2PL, EAP is a monotone function of the weighted
sum score (a sufficient statistic), so narrow θ̂ bands give the classic MH.

**Purification** (two-stage; Holland & Thayer 1988, Zwick 2012): items classed B or C in
stage 1 are taken out of the matching θ̂, and every item is analysed again; a studied
item always stays in its own matching variable.

Only right/wrong items are analysed; rated items still count in θ̂.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import chi2, norm

from lang_assess.engine.irt.estimate import DEFAULT_GRID, normal_log_prior, posterior_mean_sd
from lang_assess.engine.irt.models import check_responses, log_likelihood
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.psychometrics.checks.fit import theta_groups

MIN_FOCAL = 100  # responses per item in each group below which no class is given
N_STRATA = 20
MIN_PER_STRATUM = 20  # respondents per θ̂ band, on average, before bands are merged
ALPHA = 0.05  # ETS significance level for B and C
_DELTA = 2.35  # ETS delta scale: 4/1.7 rounded (Holland & Thayer 1988)
_IRLS_STEPS = 30


def mantel_haenszel(
    responses: np.ndarray,
    focal: np.ndarray,
    reference: np.ndarray,
    matching: np.ndarray,
    *,
    n_strata: int = N_STRATA,
    min_focal: int = MIN_FOCAL,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Mantel–Haenszel DIF statistics and ETS classes for every right/wrong item.

    Parameters
    ----------
    responses : (P, n) float
        0/1 scores, NaN where not administered.
    focal, reference : (P,) bool
        Members of the two groups (persons in neither are left out).
    matching : (P,) or (P, n) float
        Matching variable in logits (θ̂); a (P, n) array gives each item its own.
    n_strata : int
        θ̂ bands per item (fewer when the item has fewer than ``MIN_PER_STRATUM`` per band).
    min_focal : int
        Fewest responses per item in *each* group for an ETS class ("too few" below).
    alpha : float
        Significance level of the B and C rules.

    Returns
    -------
    pandas.DataFrame
        One row per item (positions 0..n−1 in column ``item``): ``n_focal, n_reference,
        alpha_mh, delta_mh, se_delta, chi2_mh, p_mh, ets_class, favours``.
        ``favours`` is the group the item is easier for at equal ability.
    """
    x = np.asarray(responses, dtype=float)
    if np.any(np.isfinite(x) & (x != 0) & (x != 1)):
        raise ValueError("Mantel–Haenszel DIF needs right/wrong (0/1) scores")
    focal, reference = np.asarray(focal, dtype=bool), np.asarray(reference, dtype=bool)
    in_study = np.isfinite(x) & (focal | reference)[:, None]  # (P, n)
    n_items = x.shape[1]
    n_resp = in_study.sum(axis=0)
    g_per_item = np.clip(n_resp // MIN_PER_STRATUM, 1, n_strata)
    match = np.broadcast_to(np.asarray(matching, dtype=float).reshape(x.shape[0], -1), x.shape)
    stratum = theta_groups(np.where(in_study, match, np.nan), g_per_item)

    # 2×2 table per item and stratum: A ref right, B ref wrong, C focal right, D focal wrong
    g_max = int(g_per_item.max(initial=1))
    ok = stratum >= 0
    flat = (np.broadcast_to(np.arange(n_items), x.shape) * g_max + stratum)[ok]
    right = (x == 1)[ok]
    is_ref = np.broadcast_to(reference[:, None], x.shape)[ok]

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(flat[mask], minlength=n_items * g_max).reshape(n_items, g_max)

    a, b = count(is_ref & right), count(is_ref & ~right)
    c, d = count(~is_ref & right), count(~is_ref & ~right)
    a, b, c, d = (v.astype(float) for v in (a, b, c, d))
    n = a + b + c + d
    n_ref, n_foc = a + b, c + d
    usable = (n_ref > 0) & (n_foc > 0) & (n > 1)  # a one-group stratum carries no evidence
    nz = np.where(usable, n, 1.0)
    r_k = np.where(usable, a * d / nz, 0.0)
    s_k = np.where(usable, b * c / nz, 0.0)
    r_sum, s_sum = r_k.sum(axis=1), s_k.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha_mh = r_sum / s_sum
        log_alpha = np.log(alpha_mh)
        # Robins, Breslow & Greenland (1986) variance of ln α_MH
        p_k = np.where(usable, (a + d) / nz, 0.0)
        q_k = np.where(usable, (b + c) / nz, 0.0)
        var_log = (
            (p_k * r_k).sum(axis=1) / (2 * r_sum**2)
            + (p_k * s_k + q_k * r_k).sum(axis=1) / (2 * r_sum * s_sum)
            + (q_k * s_k).sum(axis=1) / (2 * s_sum**2)
        )
        m1 = a + c
        e_a = np.where(usable, n_ref * m1 / nz, 0.0)
        v_a = np.where(usable, n_ref * n_foc * m1 * (n - m1) / (nz**2 * np.maximum(n - 1, 1)), 0.0)
        a_sum = np.where(usable, a, 0.0).sum(axis=1)
        chi2_mh = (np.abs(a_sum - e_a.sum(axis=1)) - 0.5).clip(min=0) ** 2 / v_a.sum(axis=1)
    delta = -_DELTA * log_alpha
    se_delta = _DELTA * np.sqrt(var_log)
    p_mh = chi2.sf(chi2_mh, 1)

    n_focal = (in_study & focal[:, None]).sum(axis=0)
    n_reference = (in_study & reference[:, None]).sum(axis=0)
    size = np.abs(delta)
    with np.errstate(invalid="ignore"):
        beyond_one = (size - 1.0) / se_delta > norm.isf(alpha)  # one-sided: |Δ| > 1
    is_c = (size >= 1.5) & beyond_one
    is_b = (size >= 1.0) & (p_mh < alpha) & ~is_c
    ets = np.where(is_c, "C", np.where(is_b, "B", "A")).astype(object)
    ets[(n_focal < min_focal) | (n_reference < min_focal)] = "too few"
    return pd.DataFrame(
        {
            "item": np.arange(n_items),
            "n_focal": n_focal,
            "n_reference": n_reference,
            "alpha_mh": alpha_mh,
            "delta_mh": delta,
            "se_delta": se_delta,
            "chi2_mh": chi2_mh,
            "p_mh": p_mh,
            "ets_class": ets,
            "favours": np.where(delta < 0, "reference", np.where(delta > 0, "focal", "")),
        }
    )


def logistic_dif(
    responses: np.ndarray, focal: np.ndarray, reference: np.ndarray, matching: np.ndarray
) -> pd.DataFrame:
    """Logistic-regression DIF (Swaminathan & Rogers 1990) for every right/wrong item.

    Fits, per item and on the persons of both groups who answered it, the nested models
    M1: θ̂; M2: θ̂ + g; M3: θ̂ + g + θ̂·g (g = 1 for the focal group) by Newton–Raphson,
    all items at once over the list of responses (so sparse data cost what they hold).

    Parameters
    ----------
    responses : (P, n) float, 0/1 with NaN where not administered.
    focal, reference : (P,) bool.
    matching : (P,) or (P, n) float θ̂ in logits.

    Returns
    -------
    pandas.DataFrame
        One row per item position: ``lr_beta_group`` (β₂ of M2: the focal group's log-odds
        difference at equal θ̂, negative = harder for the focal group), ``lr_p_uniform``
        (M2 vs M1, 1 df), ``lr_p_nonuniform`` (M3 vs M2, 1 df), ``lr_p`` (M3 vs M1, 2 df),
        ``lr_delta_r2`` (Nagelkerke R² of M3 minus M1); NaN for an item without responses
        from both groups.
    """
    x = np.asarray(responses, dtype=float)
    focal, reference = np.asarray(focal, dtype=bool), np.asarray(reference, dtype=bool)
    n_items = x.shape[1]
    person, item = np.nonzero(np.isfinite(x) & (focal | reference)[:, None])
    y = x[person, item]
    th = np.broadcast_to(np.asarray(matching, dtype=float).reshape(x.shape[0], -1), x.shape)
    th = th[person, item]
    n = np.bincount(item, minlength=n_items).astype(float)
    # centre θ̂ per item for a well-conditioned Hessian; the tests do not depend on it
    th = th - (np.bincount(item, th, minlength=n_items) / np.maximum(n, 1))[item]
    g = focal[person].astype(float)
    design = np.stack([np.ones_like(th), th, g, th * g], axis=1)  # (m, 4)
    fits = [_logistic_fit(design[:, :k], y, item, n_items) for k in (2, 3, 4)]
    loglik = [ll for _, ll in fits]
    beta_group = fits[1][0][:, 2]

    p_bar = np.bincount(item, y, minlength=n_items) / np.maximum(n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll0 = n * (p_bar * np.log(p_bar) + (1 - p_bar) * np.log1p(-p_bar))
        r2_max = 1.0 - np.exp(2.0 * ll0 / n)
        r2 = [(1.0 - np.exp(2.0 * (ll0 - ll) / n)) / r2_max for ll in loglik]
    uniform = 2.0 * (loglik[1] - loglik[0])
    nonuniform = 2.0 * (loglik[2] - loglik[1])
    n_focal = np.bincount(item, g, minlength=n_items)
    frame = pd.DataFrame(
        {
            "item": np.arange(n_items),
            "lr_beta_group": beta_group,
            "lr_p_uniform": chi2.sf(np.maximum(uniform, 0.0), 1),
            "lr_p_nonuniform": chi2.sf(np.maximum(nonuniform, 0.0), 1),
            "lr_p": chi2.sf(np.maximum(uniform + nonuniform, 0.0), 2),
            "lr_delta_r2": r2[2] - r2[0],
        }
    )
    # no contrast without responses from both groups: report nothing rather than p = 1
    frame.loc[(n_focal == 0) | (n_focal == n), frame.columns[1:]] = np.nan
    return frame


def dif_report(
    params: ItemParameters,
    responses: np.ndarray,
    groupings: Mapping[str, Sequence[object] | np.ndarray],
    *,
    reference: str | Mapping[str, str] = "rest",
    purify: bool = True,
    n_strata: int = N_STRATA,
    min_focal: int = MIN_FOCAL,
    alpha: float = ALPHA,
    grid: np.ndarray = DEFAULT_GRID,
) -> pd.DataFrame:
    """DIF of every right/wrong item for several groupings (L1, gender, track, …).

    Parameters
    ----------
    params : ItemParameters
        The n calibrated items; all of them (rated items too) make up the matching θ̂.
    responses : (P, n) float
        Scores, NaN where not administered.
    groupings : mapping of name → (P,) labels
        E.g. ``{"l1": l1, "gender": gender}``; a missing label (None, NaN, "") leaves the
        person out of that grouping.
    reference : "rest", "majority", or mapping of grouping name → reference label
        ``"rest"``: each group against everyone else in the grouping (a two-group grouping
        gives one comparison, the smaller group as focal); ``"majority"``: each group
        against the largest group; a mapping names the reference group per grouping
        (groupings not named use ``"rest"``).
    purify : bool
        Re-run each comparison with its stage-1 B/C items out of the matching θ̂.
    n_strata, min_focal, alpha : see :func:`mantel_haenszel`.
    grid : (Q,) logits for the EAP θ̂ (prior N(0, 1), the calibration's metric).

    Returns
    -------
    pandas.DataFrame
        One row per grouping × focal group × right/wrong item: ``grouping, focal,
        reference, item, n_focal, n_reference, small`` (fewer than ``min_focal``
        responses), MH columns, LR columns (see :func:`logistic_dif`), ``purified``
        (stage 2 ran) and ``flag`` (ETS B or C).
    """
    resp = check_responses(params, responses)
    x = np.where(resp >= 0, resp, np.nan).astype(float)
    dich = np.flatnonzero(params.n_steps == 1)
    log_prior = normal_log_prior(grid, 0.0, 1.0)
    all_ll = log_likelihood(grid, params, resp)  # (P, Q)
    theta_all = posterior_mean_sd(all_ll, log_prior, grid).theta
    x_dich = x[:, dich]

    frames = []
    for name, labels in groupings.items():
        ref_spec = reference.get(name, "rest") if isinstance(reference, Mapping) else reference
        for focal_label, ref_label, focal, ref in _comparisons(labels, ref_spec, resp.shape[0]):
            theta, purified = theta_all, False
            if purify:  # stage 1 needs only the MH classes
                stage1 = mantel_haenszel(
                    x_dich, focal, ref, theta_all, n_strata=n_strata, min_focal=min_focal,
                    alpha=alpha,
                )
                flagged = np.flatnonzero(stage1["ets_class"].isin(["B", "C"]).to_numpy())
                if flagged.size:
                    theta = _purified_theta(params, resp, all_ll, dich, flagged, grid)
                    purified = True
            frame = _compare(x_dich, focal, ref, theta, n_strata, min_focal, alpha)
            frame["purified"] = purified
            frame.insert(0, "grouping", name)
            frame.insert(1, "focal", focal_label)
            frame.insert(2, "reference", ref_label)
            frames.append(frame)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    out["item"] = params.ids[dich][out["item"].to_numpy()]
    return out


def _purified_theta(
    params: ItemParameters,
    resp: np.ndarray,
    all_ll: np.ndarray,
    dich: np.ndarray,
    flagged: np.ndarray,
    grid: np.ndarray,
) -> np.ndarray:
    """(P, m) matching θ̂ per right/wrong item, the ``flagged`` ones (positions in
    ``dich``) left out of everyone's θ̂ but each kept in its own (Holland & Thayer 1988).

    ``all_ll`` is the (P, Q) log-likelihood of all responses; leaving items out is a
    subtraction of theirs.
    """
    log_prior = normal_log_prior(grid, 0.0, 1.0)
    flagged_ll = [
        log_likelihood(grid, params.subset([i]), resp[:, [i]]) for i in dich[flagged]
    ]
    clean_ll = all_ll - np.sum(flagged_ll, axis=0)
    clean = posterior_mean_sd(clean_ll, log_prior, grid).theta
    theta = np.repeat(clean[:, None], dich.size, axis=1)
    for k, own_ll in zip(flagged, flagged_ll, strict=True):  # the few flagged items
        theta[:, k] = posterior_mean_sd(clean_ll + own_ll, log_prior, grid).theta
    return theta


def _compare(
    x: np.ndarray,
    focal: np.ndarray,
    ref: np.ndarray,
    theta: np.ndarray,
    n_strata: int,
    min_focal: int,
    alpha: float,
) -> pd.DataFrame:
    """MH and LR results for one comparison, joined on item position."""
    mh = mantel_haenszel(
        x, focal, ref, theta, n_strata=n_strata, min_focal=min_focal, alpha=alpha
    )
    lr = logistic_dif(x, focal, ref, theta)
    frame = mh.merge(lr, on="item")
    frame.insert(3, "small", frame["n_focal"] < min_focal)
    frame["flag"] = frame["ets_class"].isin(["B", "C"])
    return frame


def _comparisons(
    labels: Sequence[object] | np.ndarray, reference: str, n_persons: int
) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(focal label, reference label, focal mask, reference mask) of each comparison."""
    lab = pd.Series(np.asarray(labels, dtype=object))
    if lab.size != n_persons:
        raise ValueError(f"a grouping has {lab.size} labels for {n_persons} persons")
    known = lab.notna() & (lab.astype(str).str.strip() != "")
    lab = lab.where(known, None).astype(object)
    counts = lab[known].astype(str).value_counts()  # largest first, ties by label
    values = lab.astype(str).to_numpy()
    groups = counts.index.tolist()
    known_arr = known.to_numpy()
    if len(groups) < 2:
        return []
    if reference == "rest":
        focal_groups = groups[1:] if len(groups) == 2 else groups
        return [
            (g, "rest" if len(groups) > 2 else groups[0], values == g,
             known_arr & (values != g))
            for g in focal_groups
        ]
    ref_label = groups[0] if reference == "majority" else str(reference)
    if ref_label not in groups:
        raise ValueError(f"reference group {ref_label!r} does not occur in the grouping")
    return [
        (g, ref_label, values == g, values == ref_label) for g in groups if g != ref_label
    ]


def _logistic_fit(
    design: np.ndarray, y: np.ndarray, item: np.ndarray, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per item, by Newton–Raphson, all items at once.

    ``design`` is (m, k) over the m responses, ``y`` (m,) 0/1 and ``item`` (m,) the item
    of each response; per-item sums are ``bincount``s.  Returns the (n_items, k)
    coefficients and the (n_items,) maximised log-likelihoods.  A tiny ridge keeps the
    Newton step defined when a group answers an item all right or all wrong.
    """
    k = design.shape[1]
    pairs = [(j, m) for j in range(k) for m in range(j, k)]

    def per_item(values: np.ndarray) -> np.ndarray:
        return np.bincount(item, values, minlength=n_items)

    beta = np.zeros((n_items, k))
    ridge = 1e-8 * np.eye(k)
    for _ in range(_IRLS_STEPS):
        p = expit(np.einsum("mk,mk->m", design, beta[item]))
        resid, w = y - p, p * (1.0 - p)
        grad = np.stack([per_item(design[:, j] * resid) for j in range(k)], axis=1)
        hess = np.zeros((n_items, k, k))
        for j, m in pairs:  # k ≤ 4 columns: at most 10 sums
            hess[:, j, m] = hess[:, m, j] = per_item(design[:, j] * design[:, m] * w)
        step = np.linalg.solve(hess + ridge, grad[..., None])[..., 0]
        beta += step
        if np.max(np.abs(step), initial=0.0) < 1e-8:
            break
    eta = np.einsum("mk,mk->m", design, beta[item])
    # log p = −log(1 + e^{−η}), log(1 − p) = −log(1 + e^{η}), both without overflow
    ll = -(y * np.logaddexp(0.0, -eta) + (1 - y) * np.logaddexp(0.0, eta))
    return beta, per_item(ll)
