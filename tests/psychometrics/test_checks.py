"""Post-calibration checks: item fit, DIF, drift, precision and classification.

Every check is run on simulated data whose truth is known: items made to misfit must be
flagged, items that follow the model mostly not.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from lang_assess.engine.cat import engine
from lang_assess.engine.cat.design import placement_design
from lang_assess.engine.irt import ItemParameters, category_probabilities
from lang_assess.engine.irt import test_information as total_information
from lang_assess.engine.irt.models import paired_probabilities
from lang_assess.engine.levels import CutScores
from lang_assess.errors import BankError
from lang_assess.psychometrics.checks import (
    classification_indices,
    dif_report,
    information_curve,
    item_fit,
    logistic_dif,
    mantel_haenszel,
    parameter_drift,
    precision_at_cuts,
)
from lang_assess.psychometrics.checks.fit import (
    _rest_score_distributions,
    mean_squares,
    moments_at_theta,
)

CUTS = CutScores((-2.0, -1.0, 0.0, 1.0, 2.0))


def bank_2pl(n: int, seed: int, b_sd: float = 1.0) -> ItemParameters:
    rng = np.random.default_rng(seed)
    return ItemParameters.dichotomous(
        [f"i{k:03d}" for k in range(n)], rng.lognormal(0.1, 0.25, n), rng.normal(0, b_sd, n)
    )


def answer(a: np.ndarray, b: np.ndarray, theta: np.ndarray, rng: np.random.Generator):
    """(P, n) 0/1 responses; ``a``/``b`` are (n,) or (P, n) true parameters."""
    p = expit(a * (theta[:, None] - b))
    return (rng.random(p.shape) < p).astype(float)


def cat_responses(
    params: ItemParameters,
    truth: dict[int, ItemParameters],
    group: np.ndarray,
    theta: np.ndarray,
    length: int,
    seed: int,
) -> np.ndarray:
    """Fixed-length adaptive tests through the engine; answers from each group's truth."""
    design = placement_design(se_target=0.01, min_items=length, max_items=length)
    bank = design.prepare(params)
    rng = np.random.default_rng(seed)
    state = engine.start(bank, design, theta.size)
    x = np.full((theta.size, params.n_items), np.nan)
    active = np.arange(theta.size)
    while active.size:
        items = engine.next_items(bank, design, state, active, rng)
        rows, items = active[items >= 0], items[items >= 0]
        scores = np.empty(rows.size, dtype=int)
        for g, true_params in truth.items():
            m = group[rows] == g
            p = paired_probabilities(theta[rows[m]], true_params, items[m])[:, 1]
            scores[m] = rng.random(m.sum()) < p
        engine.record(bank, design, state, rows, items, scores)
        x[rows, items] = scores
        done = engine.finished(bank, design, state)
        active = active[~done[active]]
    return x


# ---- item fit ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def misfit_data():
    """50 items, 3000 persons: item 0 far flatter than its parameters say, item 1 miskeyed."""
    params = bank_2pl(50, seed=11)
    rng = np.random.default_rng(12)
    true_a = params.a.copy()
    true_a[0] = 0.25
    true_a[1] = -params.a[1]
    x = answer(true_a, params.b, rng.normal(0, 1, 3000), rng)
    return params, x


def test_fit_flags_misfitting_items_on_complete_data(misfit_data):
    params, x = misfit_data
    # the parameters are the generating ones, not estimated from x: no df are lost
    fit = item_fit(params, x, n_item_params=0)
    assert set(fit["method"]) == {"S-X2"}
    assert fit["flag"].iloc[:2].all()
    assert (fit["outfit"].iloc[:2] > 1.3).all() and (fit["p"].iloc[:2] < 1e-6).all()
    clean = fit.iloc[2:]
    assert clean["flag"].mean() <= 0.05
    # rest-posterior mean squares centre on 1 for items that follow the model
    assert clean["infit"].between(0.85, 1.15).all()
    assert abs(clean["outfit"].median() - 1.0) < 0.05


def test_fit_on_sparse_data_uses_grouped_chi_square(misfit_data):
    params, x = misfit_data
    rng = np.random.default_rng(13)
    sparse = np.where(rng.random(x.shape) < 0.6, np.nan, x)  # 40 % of items each
    fit = item_fit(params, sparse, n_item_params=0)
    assert set(fit["method"]) == {"grouped"}
    assert fit["flag"].iloc[:2].all()
    assert fit["flag"].iloc[2:].mean() <= 0.05
    assert (fit["n"] == (~np.isnan(sparse)).sum(axis=0)).all()
    with pytest.raises(ValueError, match="complete data"):
        item_fit(params, sparse, method="sx2")


def test_fit_on_adaptive_data_rarely_flags_items_that_fit():
    params = bank_2pl(80, seed=21, b_sd=1.3)
    rng = np.random.default_rng(22)
    theta = rng.normal(0, 1, 3000)
    x = cat_responses(params, {0: params}, np.zeros(theta.size, int), theta, 20, seed=23)
    fit = item_fit(params, x, n_item_params=0)
    assert set(fit["method"]) == {"grouped"}
    used = fit[fit["n"] >= 100]
    assert len(used) >= 40
    assert used["flag"].mean() <= 0.05
    assert (fit.loc[fit["n"] < 100, "reasons"] == "too few").all()


def test_few_responses_are_reported_but_not_flagged(misfit_data):
    params, x = misfit_data
    fit = item_fit(params, x[:60])
    assert (fit["reasons"] == "too few").all() and not fit["flag"].any()
    assert fit["infit"].notna().all()


def test_classic_mean_squares_match_the_formula(mixed_bank, rng):
    theta = rng.normal(0, 1, 7)
    probs = category_probabilities(theta, mixed_bank)
    x = np.array([rng.choice(probs.shape[-1], p=probs[p, i]) for p in range(7)
                  for i in range(mixed_bank.n_items)]).reshape(7, -1)
    x[rng.random(x.shape) < 0.3] = -1
    ms = mean_squares(x, *moments_at_theta(mixed_bank, theta))
    for i in (0, 13):  # a 3PL item and a rated item, by hand
        z2, sq, w_sum = [], 0.0, 0.0
        for p in np.flatnonzero(x[:, i] >= 0):
            cats = np.arange(probs.shape[-1])
            e = probs[p, i] @ cats
            w = probs[p, i] @ (cats - e) ** 2
            z2.append((x[p, i] - e) ** 2 / w)
            sq += (x[p, i] - e) ** 2
            w_sum += w
        assert ms["outfit"][i] == pytest.approx(np.mean(z2))
        assert ms["infit"][i] == pytest.approx(sq / w_sum)


def test_rest_score_distributions_match_enumeration(mixed_bank):
    bank = mixed_bank.subset([0, 3, 5, 12, 13])  # 3PL, 2PL items and a 3-step rated item
    grid = np.array([-1.3, 0.4])
    probs = category_probabilities(grid, bank)
    rest = _rest_score_distributions(probs, bank.n_steps)
    for i in range(bank.n_items):
        others = [j for j in range(bank.n_items) if j != i]
        want = np.zeros_like(rest[i])
        for pattern in itertools.product(*[range(bank.n_steps[j] + 1) for j in others]):
            p = np.prod([probs[:, j, k] for j, k in zip(others, pattern, strict=True)], axis=0)
            want[:, sum(pattern)] += p
        np.testing.assert_allclose(rest[i], want, atol=1e-12)


# ---- DIF --------------------------------------------------------------------------------
DIF_ITEMS = np.array([0, 8, 16, 24, 32])


@pytest.fixture(scope="module")
def dif_data():
    """40 items; reference 3000 ~ N(0, 1), focal 1000 ~ N(−0.5, 1); 5 items 0.6 logits
    harder for the focal group."""
    params = bank_2pl(40, seed=31)
    rng = np.random.default_rng(32)
    focal = np.r_[np.zeros(3000, bool), np.ones(1000, bool)]
    theta = np.where(focal, rng.normal(-0.5, 1, focal.size), rng.normal(0, 1, focal.size))
    b = np.broadcast_to(params.b, (focal.size, params.n_items)).copy()
    b[np.ix_(focal, DIF_ITEMS)] += 0.6
    x = answer(params.a, b, theta, rng)
    return params, x, np.where(focal, "tir", "ara")


def test_mantel_haenszel_finds_the_dif_items(dif_data):
    """Acceptance: ≥ 4 of the 5 DIF items classed B or C, ≤ 5 % of the clean items."""
    params, x, l1 = dif_data
    out = dif_report(params, x, {"l1": l1})
    assert len(out) == params.n_items
    assert (out["focal"] == "tir").all() and (out["reference"] == "ara").all()
    is_dif = out["item"].isin(params.ids[DIF_ITEMS])
    hits = out.loc[is_dif]
    assert hits["flag"].sum() >= 4
    assert (hits["favours"] == "reference").all() and (hits["delta_mh"] < -0.5).all()
    assert out.loc[~is_dif, "flag"].mean() <= 0.05
    # purification takes the DIF items out of θ̂: clean items are no longer pushed the
    # other way (without it they lean towards the focal group)
    plain = dif_report(params, x, {"l1": l1}, purify=False)
    assert out["purified"].all() and not plain["purified"].any()
    assert abs(out.loc[~is_dif, "delta_mh"].mean()) < 0.1
    assert plain.loc[~is_dif, "delta_mh"].mean() > out.loc[~is_dif, "delta_mh"].mean()
    # the logistic regression sees the same uniform DIF
    assert (hits["lr_p_uniform"] < 0.01).sum() >= 4
    assert (hits["lr_beta_group"] < 0).all()


def test_dif_on_adaptive_data():
    """Sparse CAT data: DIF items with enough focal responses are found, few false flags."""
    rng = np.random.default_rng(41)
    n = 100
    params = ItemParameters.dichotomous(
        [f"i{k:03d}" for k in range(n)], rng.lognormal(0.1, 0.25, n), rng.uniform(-2.5, 2.5, n)
    )
    dif_items = np.argsort(np.abs(params.b + 0.3))[:5]
    b_focal = params.b.copy()
    b_focal[dif_items] += 0.6
    focal_truth = ItemParameters.dichotomous(params.ids, params.a, b_focal)
    group = np.r_[np.zeros(3000, int), np.ones(1000, int)]
    theta = np.where(group == 1, rng.normal(-0.5, 1, group.size), rng.normal(0, 1, group.size))
    x = cat_responses(params, {0: params, 1: focal_truth}, group, theta, 25, seed=42)
    out = dif_report(params, x, {"l1": np.where(group == 1, "tir", "ara")})
    enough = ~out["small"] & (out["n_reference"] >= 100)
    is_dif = out["item"].isin(params.ids[dif_items])
    assert (out.loc[~enough, "ets_class"] == "too few").all()
    assert enough[is_dif].sum() >= 3
    assert out.loc[is_dif & enough, "flag"].all()
    assert out.loc[~is_dif & enough, "flag"].mean() <= 0.05


def test_mantel_haenszel_matches_the_textbook_formulas():
    # two θ̂ bands of 100 persons; counts chosen by hand: (A, B, C, D) per band
    tables = [(30, 20, 20, 30), (40, 10, 30, 20)]
    x, focal, theta = [], [], []
    for level, (a, b, c, d) in zip((-1.0, 1.0), tables, strict=True):
        x += [1] * a + [0] * b + [1] * c + [0] * d
        focal += [False] * (a + b) + [True] * (c + d)
        theta += [level] * (a + b + c + d)
    x, focal = np.array(x, float)[:, None], np.array(focal)
    out = mantel_haenszel(x, focal, ~focal, np.array(theta), n_strata=2, min_focal=10)
    r = sum(a * d / 100 for a, b, c, d in tables)
    s = sum(b * c / 100 for a, b, c, d in tables)
    e_a = sum((a + b) * (a + c) / 100 for a, b, c, d in tables)
    v_a = sum((a + b) * (c + d) * (a + c) * (b + d) / (100**2 * 99) for a, b, c, d in tables)
    chi = (abs(70 - e_a) - 0.5) ** 2 / v_a
    row = out.iloc[0]
    assert row["alpha_mh"] == pytest.approx(r / s)
    assert row["delta_mh"] == pytest.approx(-2.35 * np.log(r / s))
    assert row["chi2_mh"] == pytest.approx(chi)
    assert row["favours"] == "reference" and row["n_focal"] == 100


def test_non_uniform_dif_is_seen_by_logistic_regression_not_by_mh():
    rng = np.random.default_rng(51)
    n_p = 6000
    focal = rng.random(n_p) < 0.5
    theta = rng.normal(0, 1, n_p)
    a = np.full(20, 1.2)
    a_person = np.broadcast_to(a, (n_p, 20)).copy()
    a_person[focal, 0] = 0.4  # item 0: same difficulty, much flatter for the focal group
    b = np.linspace(-1.5, 1.5, 20)
    b[0] = 0.0
    x = answer(a_person, b, theta, rng)
    lr = logistic_dif(x, focal, ~focal, theta)
    mh = mantel_haenszel(x, focal, ~focal, theta)
    assert lr["lr_p_nonuniform"].iloc[0] < 1e-6
    assert mh["ets_class"].iloc[0] == "A"  # crossing curves: the odds ratios cancel
    assert (lr["lr_p_nonuniform"].iloc[1:] < 0.01).mean() <= 0.1


def test_many_groups_small_groups_and_reference_choices(dif_data):
    params, x, _ = dif_data
    rng = np.random.default_rng(61)
    l1 = rng.choice(["ara", "tir", "dari", "som"], size=x.shape[0], p=[0.5, 0.3, 0.185, 0.015])
    l1 = l1.astype(object)
    l1[:10] = None  # unknown L1: left out
    gender = np.where(rng.random(x.shape[0]) < 0.4, "f", "m")
    out = dif_report(params, x, {"l1": l1, "gender": gender}, purify=False)
    comparisons = out[["grouping", "focal", "reference"]].drop_duplicates()
    assert sorted(map(tuple, comparisons.to_numpy())) == [
        ("gender", "f", "m"),
        ("l1", "ara", "rest"), ("l1", "dari", "rest"), ("l1", "som", "rest"),
        ("l1", "tir", "rest"),
    ]
    som = out[out["focal"] == "som"]
    assert som["small"].all() and (som["ets_class"] == "too few").all()
    assert (som["n_focal"] < 100).all()
    majority = dif_report(params, x, {"l1": l1}, reference="majority", purify=False)
    assert set(majority["reference"]) == {"ara"}
    assert set(majority["focal"]) == {"tir", "dari", "som"}
    named = dif_report(params, x, {"l1": l1}, reference={"l1": "tir"}, purify=False)
    assert set(named["reference"]) == {"tir"}
    with pytest.raises(ValueError, match="does not occur"):
        dif_report(params, x, {"l1": l1}, reference={"l1": "fin"})


# ---- drift ------------------------------------------------------------------------------
def test_drift_flags_items_that_moved():
    old = bank_2pl(30, seed=71)
    rng = np.random.default_rng(72)
    b_new = old.b + 0.1 + rng.normal(0, 0.05, 30)  # a common shift is not drift by z
    b_new[3] += 0.5
    a_new = old.a * np.exp(rng.normal(0, 0.03, 30))
    a_new[7] *= 1.8
    new = ItemParameters.dichotomous(old.ids[::-1], a_new[::-1], b_new[::-1])  # any order
    drift = parameter_drift(old, new)
    assert drift["item"].tolist() == old.ids.tolist()
    np.testing.assert_allclose(drift["delta_b"], b_new - old.b)
    assert set(drift.loc[drift["flag"], "item"]) == {old.ids[3], old.ids[7]}
    assert drift.loc[3, "reasons"] == "b,z_b"
    assert drift.loc[7, "reasons"] == "z_a"
    with pytest.raises(BankError, match="only 0 item"):
        parameter_drift(old, ItemParameters.rasch(["x1"], [0.0]))


# ---- precision and classification -------------------------------------------------------
def test_information_curve_and_precision_at_cuts(mixed_bank):
    curve = information_curve(mixed_bank, max_items=5, cuts=CUTS)
    pool = curve[curve["curve"] == "pool"]
    best = curve[curve["curve"] == "best 5"]
    np.testing.assert_allclose(pool["information"], total_information(pool["theta"], mixed_bank))
    np.testing.assert_allclose(pool["sem"], 1 / np.sqrt(pool["information"]))
    assert (best["information"].to_numpy() <= pool["information"].to_numpy()).all()
    assert (pool["level"] == CUTS.level_label(pool["theta"].to_numpy())).all()
    at_cuts = precision_at_cuts(mixed_bank, CUTS)
    assert at_cuts["cut"].tolist() == ["preA1|A1", "A1|A2", "A2|B1", "B1|B2", "B2|C1"]
    np.testing.assert_allclose(at_cuts["information"], total_information(CUTS.array, mixed_bank))


def test_design_pool_leaves_out_unbalanced_skills():
    skills = ["reading", "listening", "vocabulary", "grammar", "literacy"]
    params = ItemParameters.dichotomous(
        [f"i{k}" for k in range(50)], np.ones(50), np.linspace(-2, 2, 50), skill=skills * 10
    )
    design = placement_design(skill_targets=dict.fromkeys(skills[:4], 0.25), max_items=12)
    curve = information_curve(params, grid=np.array([0.0]), design=design)
    assert set(curve["curve"]) == {"pool", "best 12"}
    no_literacy = params.subset(np.flatnonzero(params.skill != "literacy"))
    assert curve["information"].iloc[0] == pytest.approx(total_information(0.0, no_literacy))


def test_classification_indices_agree_with_simulation():
    rng = np.random.default_rng(81)
    theta_hat = rng.normal(0, 1.2, 4000)
    se = rng.uniform(0.25, 0.45, 4000)
    table = classification_indices(theta_hat, se, CUTS).set_index("cut")
    # Rudner's model: true θ ~ N(θ̂, SE²); two independent draws for consistency
    draws = theta_hat + se * rng.standard_normal((2, 50, 4000))
    level_hat = CUTS.level_index(theta_hat)
    levels = CUTS.level_index(draws)
    assert table.loc["overall", "accuracy"] == pytest.approx(
        np.mean(levels[0] == level_hat), abs=0.005
    )
    assert table.loc["overall", "consistency"] == pytest.approx(
        np.mean(levels[0] == levels[1]), abs=0.005
    )
    up = (theta_hat >= 0.0)
    below = draws[0] < 0.0
    row = table.loc["A2|B1"]
    assert row["accuracy"] == pytest.approx(np.mean(up == ~below), abs=0.005)
    assert row["false_up"] == pytest.approx(np.mean(up & below), abs=0.005)
    assert row["false_up"] + row["false_down"] == pytest.approx(1 - row["accuracy"])
    assert (table["accuracy"].iloc[1:] > table.loc["overall", "accuracy"]).all()
    assert isinstance(table, pd.DataFrame)


def test_lords_test_sees_the_same_dif_items(dif_data):
    """Lord's chi-square on separate group calibrations linked through MH-clean items."""
    from lang_assess.psychometrics.checks.lord import lord_test

    params, x, l1 = dif_data
    clean = [i for k, i in enumerate(params.ids) if k not in set(DIF_ITEMS)][:20]
    out = lord_test(x, params.ids, l1 == "tir", l1 == "ara", anchors=clean)
    is_dif = out["item"].isin(params.ids[DIF_ITEMS])
    assert (out.loc[is_dif, "lord_p"] < 0.01).sum() >= 4
    assert (out.loc[is_dif, "lord_delta_b"] > 0).all()  # harder for the focal group
    assert (out.loc[~is_dif, "lord_p"] < 0.01).mean() <= 0.05
    few = lord_test(x[:, :3], params.ids[:3], l1 == "tir", l1 == "ara", anchors=clean,
                    min_focal=5000)
    assert few["lord_small"].all() and few["lord_p"].isna().all()
