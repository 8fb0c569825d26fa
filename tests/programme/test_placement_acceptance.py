"""Issue 13's acceptance simulations on the shipped bank: placement with guessing in the
answers, with calibration error, and for people far from their track's typical level.

Every simulee starts as the service starts a participant of its track
(:func:`lang_assess.programme.simulation.simulate_placement`): the track's prior from
programme.yaml, mixed with the design's wide prior, Track 1 with the routing stage.
Answers come from the bank's v0 parameters, whose multiple-choice items have c = 1/k,
or from those parameters with calibration error.  Fixed seeds; the figures measured are
in docs/decisions.md (issue 13).
"""

import numpy as np
import pytest
from support import REPO

from lang_assess.bank.loader import load_bank
from lang_assess.engine.answers import ResponseModel, with_calibration_error
from lang_assess.programme.rules import load_config
from lang_assess.programme.simulation import simulate_placement

pytestmark = pytest.mark.slow

N = 1000  # simulees per track


@pytest.fixture(scope="module")
def bank():
    return load_bank(REPO / "item_bank" / "nb")


@pytest.fixture(scope="module")
def mixed():
    """Track 1 θ ~ N(-2.6, 0.5), Track 2 N(-1.2, 0.8), Track 3 N(0.2, 0.9)."""
    rng = np.random.default_rng(131)
    tracks = np.repeat([1, 2, 3], N)
    thetas = np.concatenate([rng.normal(-2.6, 0.5, N), rng.normal(-1.2, 0.8, N),
                             rng.normal(0.2, 0.9, N)])
    return thetas, tracks


def test_guessing_in_the_answers(bank, mixed):
    """Acceptance 1: c = 1/k on every multiple-choice item of the answers' model."""
    assert np.all(bank.params.c[bank.params.c > 0] >= 0.2)  # the v0 rule's c = 1/k
    s = simulate_placement(bank, *mixed, seed=132, config=load_config(),
                           oracle=False).summary()
    assert s["cefr_accuracy"] >= 0.75
    assert s["mean_length"] <= 25
    for track in ("1", "2", "3"):
        assert abs(s["by_group"][track]["bias"]) <= 0.15, (track, s["by_group"][track])
    assert s["by_group"]["1"]["placed_too_high"] <= 0.10


def test_answers_from_parameters_with_calibration_error(bank, mixed):
    """Acceptance 2: the answers' a × lognormal(0, 0.25), b + N(0, 0.3)."""
    truth = with_calibration_error(bank.params, np.random.default_rng(133), a_sd=0.25,
                                   b_sd=0.3)
    s = simulate_placement(bank, *mixed, seed=132, config=load_config(), oracle=False,
                           respond=ResponseModel(truth)).summary()
    assert s["cefr_accuracy"] >= 0.70
    assert s["mean_length"] <= 25


@pytest.mark.parametrize(("track", "band", "placed_ok"), [
    (1, (0.0, 1.0), lambda level: level >= 3),    # Track 1 at B1: B1 or higher
    (3, (-2.0, -1.0), lambda level: level <= 1),  # Track 3 at A1: A1 or lower
])
def test_people_far_from_their_track(bank, track, band, placed_ok):
    """Acceptance 3: true θ uniform over the band, two bands from the track's mean."""
    thetas = np.random.default_rng(134 + track).uniform(*band, N)
    result = simulate_placement(bank, thetas, np.full(N, track), seed=136 + track,
                                config=load_config(), oracle=False)
    assert np.mean(placed_ok(bank.cuts.level_index(result.theta))) >= 0.80
    assert abs(np.mean(result.theta - thetas)) <= 0.15  # bias two bands away
