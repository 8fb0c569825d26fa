"""py-irt backend: recovery, agreement with MML, seeds, no leakage, convergence, errors.

Each assertion guards one of py-irt 0.7.1's known traps (docs/psychometrics/pyirt.md): tight priors
that shrink the scale, an ignored seed, a fixed epoch count, a global parameter store,
no standard errors.  Simulations have fixed seeds; thresholds are stated in the docs.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import warnings

import numpy as np
import pyro  # a dependency of the project (with torch): a missing one fails, never skips
import pytest
import torch
from scipy.special import expit

from lang_assess.psychometrics.calibrate import CalibrationWarning, DataError, calibrate, fit_mml
from lang_assess.psychometrics.calibrate.pyirt import REGISTRY_NAMES, fit_pyirt, model_class


def sparse_2pl(n_persons, n_items, seed, lengths=(20, 30)):
    """Random-booklet 2PL data: each person answers 20–30 items drawn at random."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.2, 0.3, n_items)
    b = np.clip(rng.normal(0.0, 1.0, n_items), -2.5, 2.5)
    theta = rng.standard_normal(n_persons)
    x = (rng.random((n_persons, n_items)) < expit(a * (theta[:, None] - b))).astype(float)
    keep = np.zeros_like(x, dtype=bool)
    length = rng.integers(lengths[0], lengths[1] + 1, n_persons)
    for p in range(n_persons):
        keep[p, rng.choice(n_items, length[p], replace=False)] = True
    return np.where(keep, x, np.nan), a, b


@pytest.fixture(scope="module")
def shared():
    """2,000 persons × 60 items, 20–30 each; fitted once by py-irt and by MML."""
    x, a, b = sparse_2pl(2000, 60, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalibrationWarning)  # no flags, no non-convergence
        vi = fit_pyirt(x, "2pl", seed=0)
        mml = fit_mml(x, "2pl")
    return x, a, b, vi, mml


# ---- recovery: the scale is the true logistic scale --------------------------------------
@pytest.mark.slow
def test_recovery_on_sparse_data_is_on_the_true_scale(shared):
    _, a, b, vi, mml = shared
    est_a, est_b = vi.params.a, vi.params.b
    assert vi.converged and vi.backend == "pyirt" and vi.model == "2pl"
    assert np.corrcoef(est_b, b)[0, 1] >= 0.98
    assert np.corrcoef(est_a, a)[0, 1] >= 0.90
    # py-irt's own 2PL with its "vague" priors (b ~ N(0, 0.1)) gives a slope of 0.63 on
    # these data (docs/psychometrics/pyirt.md); MML gives 1.06
    slope, intercept = np.polyfit(b, est_b, 1)
    assert abs(slope - 1) <= 0.15 and abs(intercept) <= 0.1
    assert abs(slope - np.polyfit(b, mml.params.b, 1)[0]) <= 0.06
    assert np.mean(np.abs(est_b - b)) <= 0.15
    # posterior means: a few % below the mode (MML), see docs/psychometrics/pyirt.md
    assert abs(np.mean(est_a) / np.mean(a) - 1) <= 0.08
    assert (vi.population_mean, vi.population_sd) == (0.0, 1.0)
    np.testing.assert_array_equal(vi.n_responses, np.sum(~np.isnan(shared[0]), axis=0))


# ---- agreement with the MML backend ------------------------------------------------------
@pytest.mark.slow
def test_agrees_with_mml_within_the_stated_tolerance(shared):
    _, _, _, vi, mml = shared
    enough = mml.n_responses >= 300
    assert enough.all()  # ~830 responses per item here
    d_b = np.abs(vi.params.b - mml.params.b)[enough]
    d_a = np.abs(vi.params.a - mml.params.a)[enough]
    # docs/psychometrics/pyirt.md: tolerance and evidence
    assert d_b.max() <= 0.15 and d_a.max() <= 0.20
    assert np.sqrt(np.mean(d_b**2)) <= 0.06 and np.sqrt(np.mean(d_a**2)) <= 0.06
    # in units of MML's own SE: well inside the sampling error of either estimate
    assert (d_b / mml.se_b[enough]).max() <= 0.75
    assert (d_a / mml.se_a[enough]).max() <= 0.75
    # MML maximises the marginal likelihood; the VI estimates are within a few units of it
    gap = mml.log_likelihood - vi.log_likelihood
    assert 0.0 <= gap <= 5.0


@pytest.mark.slow
def test_standard_errors_are_close_to_mml(shared):
    _, _, _, vi, mml = shared
    ratio_b = vi.se_b / mml.se_b
    ratio_a = vi.se_a / mml.se_a
    # the centred parametrisation keeps mean-field SDs near MML's SEs (docs/psychometrics/pyirt.md)
    assert 0.85 <= np.median(ratio_b) <= 1.15
    assert 0.85 <= np.median(ratio_a) <= 1.10
    assert ratio_b.min() >= 0.7 and ratio_a.min() >= 0.7
    np.testing.assert_array_equal(vi.se_steps[:, 0], vi.se_b)
    assert "variational" in vi.se_method


# ---- seed, independence, thread safety ---------------------------------------------------
def small(seed, n_persons=400, n_items=15):
    lengths = (min(8, n_items // 2), min(12, n_items))
    x, _, _ = sparse_2pl(n_persons, n_items, seed=seed, lengths=lengths)
    return x


def fit_small(x, **kw):
    return fit_pyirt(x, "2pl", max_epochs=1000, **kw)  # these converge in 280–320 steps


def same(c1, c2):
    return (np.array_equal(c1.params.a, c2.params.a)
            and np.array_equal(c1.params.b, c2.params.b)
            and np.array_equal(c1.se_b, c2.se_b) and c1.iterations == c2.iterations)


@pytest.mark.slow
def test_same_seed_gives_identical_parameters_and_leaves_caller_state_alone():
    x = small(1)
    random.seed(5)
    np.random.seed(5)  # noqa: NPY002  (the legacy global state pyro.set_rng_seed touches)
    torch.manual_seed(5)
    pyro.get_param_store().clear()
    mine = pyro.param("callers_own", torch.tensor([1.0, 2.0]))
    before = (random.random(), np.random.random(), torch.rand(1).item())  # noqa: NPY002
    random.seed(5)
    np.random.seed(5)  # noqa: NPY002
    torch.manual_seed(5)

    first = fit_small(x, seed=3)
    second = fit_small(x, seed=3)
    assert same(first, second) and first.converged
    assert not same(first, fit_small(x, seed=4))  # the seed is used, not ignored
    # the caller's random streams continue as if no fit had run; their params are back
    after = (random.random(), np.random.random(), torch.rand(1).item())  # noqa: NPY002
    assert after == before
    assert torch.equal(pyro.param("callers_own"), mine)
    assert list(pyro.get_param_store().keys()) == ["callers_own"]
    pyro.get_param_store().clear()


@pytest.mark.slow
def test_consecutive_fits_of_different_data_do_not_leak():
    x1, x2 = small(11), small(12, n_persons=300, n_items=25)  # other shapes as well
    alone = fit_small(x1, seed=0)
    other = fit_small(x2, seed=0)
    again = fit_small(x1, seed=0)
    assert same(alone, again)  # nothing of the x2 fit carried over
    assert other.n_items == 25 and np.isfinite(other.params.b).all()


@pytest.mark.slow
def test_fits_in_two_threads_match_sequential_fits():
    xs = [small(21), small(22, n_items=20)]
    sequential = [fit_small(x, seed=1) for x in xs]
    results: list = [None, None]

    def work(k):
        results[k] = fit_small(xs[k], seed=1)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(same(r, s) for r, s in zip(results, sequential, strict=True))


# ---- convergence rule --------------------------------------------------------------------
@pytest.mark.slow
def test_stops_on_convergence_and_reports_a_cap():
    x, _, _ = sparse_2pl(1500, 20, seed=31, lengths=(10, 20))
    easy = fit_pyirt(x, "2pl", max_epochs=3000)
    assert easy.converged and easy.iterations < 1000
    with pytest.warns(CalibrationWarning, match="not converged"):
        capped = fit_pyirt(x, "2pl", max_epochs=30)
    assert not capped.converged and capped.iterations == 30


# ---- 1PL, the front door, py-irt's registry -----------------------------------------------
def test_1pl_estimates_the_population_sd_like_mml():
    rng = np.random.default_rng(41)
    b = rng.normal(0, 1, 25)
    theta = rng.normal(0, 1.4, 1500)
    x = (rng.random((1500, 25)) < expit(theta[:, None] - b)).astype(float)
    x[rng.random(x.shape) < 0.4] = np.nan
    vi = calibrate(x, "rasch", backend="pyirt")
    mml = fit_mml(x, "rasch")
    assert vi.converged and np.all(vi.params.a == 1) and np.isnan(vi.se_a).all()
    assert abs(vi.population_sd - mml.population_sd) <= 0.05
    assert abs(vi.population_sd - 1.4) <= 0.1
    assert np.abs(vi.params.b - mml.params.b).max() <= 0.03  # one slope: VI ≈ MML
    assert 0.8 <= np.median(vi.se_b / mml.se_b) <= 1.2
    assert 0.6 <= vi.se_population_sd / mml.se_population_sd <= 1.2


def test_model_is_registered_and_runs_under_py_irts_own_trainer():
    import pandas as pd
    from py_irt.config import IrtConfig
    from py_irt.dataset import Dataset
    from py_irt.models.abstract_model import IrtModel
    from py_irt.training import IrtModelTrainer

    cls = model_class(True)  # defines and registers the classes on first use
    assert IrtModel.from_name(REGISTRY_NAMES[True]) is cls
    x = small(51, n_persons=200, n_items=8)
    frame = pd.DataFrame(x, columns=[f"i{k}" for k in range(8)])
    data = Dataset.from_pandas(frame)
    assert len(data.observations) == np.sum(~np.isnan(x))  # missing cells are dropped
    config = IrtConfig(model_type=REGISTRY_NAMES[True], priors="weak", epochs=20)
    trainer = IrtModelTrainer(data_path=None, dataset=data, config=config, verbose=False)
    with warnings.catch_warnings():  # py-irt's trainer runs the model once outside SVI
        warnings.filterwarnings("ignore", "trying to observe a value outside of inference")
        trainer.train()
    out = trainer.last_params
    assert len(out["diff"]) == 8 and len(out["disc"]) == 8 and len(out["ability"]) == 200
    assert np.isfinite(out["diff"]).all() and (np.asarray(out["disc"]) > 0).all()
    with pytest.raises(ValueError, match="weak"):
        model_class(True)(num_items=3, num_subjects=4, priors="vague")
    pyro.get_param_store().clear()


# ---- errors and light import -------------------------------------------------------------
def test_bad_inputs_are_reported():
    x = small(61, n_items=6)
    x[:, 2] = np.nan  # nobody answered item 3
    x[~np.isnan(x[:, 4]), 4] = 1.0  # all right on item 5
    with pytest.raises(DataError) as err:
        fit_pyirt(x)
    text = str(err.value)
    assert "'i3': nobody answered it" in text and "'i5': all" in text
    rated = small(62, n_items=6)
    rated[0, np.flatnonzero(~np.isnan(rated[0]))[0]] = 2.0
    with pytest.raises(DataError, match="right/wrong"):
        fit_pyirt(rated)
    with pytest.raises(ValueError, match="backend='mml'"):
        fit_pyirt(small(63), "gpcm")
    with pytest.raises(ValueError, match="max_epochs"):
        fit_pyirt(small(63), max_epochs=0)


def test_progress_bar_is_shown_on_request(capsys):
    fit_small(small(71), seed=0, progress=True)
    assert "py-irt 2pl" in capsys.readouterr().err


def test_importing_the_backend_does_not_import_torch():
    code = ("import sys, lang_assess.psychometrics.calibrate, "
            "lang_assess.psychometrics.calibrate.pyirt; "
            "bad = [m for m in ('torch', 'pyro', 'py_irt') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_acceptance_recovery_on_the_sparse_10000_by_300_set():
    """Issue 7, acceptance 1, for this backend: the MML test's adaptive data set."""
    from test_calibrate_mml import acceptance_data

    a, b, x = acceptance_data()
    cal = fit_pyirt(x, "2pl", seed=1)
    assert cal.converged
    assert np.corrcoef(cal.params.b, b)[0, 1] >= 0.98
    assert np.corrcoef(cal.params.a, a)[0, 1] >= 0.90
