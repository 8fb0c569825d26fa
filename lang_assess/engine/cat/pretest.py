"""Pretest (field-test) items seeded into live adaptive tests, for online calibration.

A new item has no calibrated parameters, so it cannot be scored.  A design with
``pretest_items = k`` gives each test k such items at random positions; their answers are
stored but never touch θ̂, the stop rule, the choice of operational items or the level.
Later a calibration with the operational items fixed
(``lang_assess.psychometrics.calibrate.mml.fit_mml(..., fixed=...)``) puts them on the bank's scale.

Where they go (:func:`schedule`): k items drawn from the pool without the person's
excluded items, at k distinct positions drawn uniformly from 2 … ``min_items`` + k of the
whole test.  Never position 1: a newcomer's first question should be one the test
chose for them, not an untried item that may be badly written or far off their level.
Within 2 … ``min_items`` + k every slot is reached before the operational test may stop
(it needs ``min_items`` operational answers, and only pretest slots can lie past them),
so every scheduled item is given; if the bank runs out earlier, the remaining ones are
given at the end.  The draws come from a stream of their own, derived from the session's
seed, so the operational test is the same with or without pretest items.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Spawn key of the pretest stream: independent of the operational stream default_rng(seed).
_STREAM = (1,)


def pretest_rng(seed: int) -> np.random.Generator:
    """Generator for the pretest draws, independent of ``default_rng(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=_STREAM))


def schedule(
    pool: Iterable[str],
    k: int,
    min_items: int,
    rng: np.random.Generator,
    exclude: Iterable[str] = (),
) -> tuple[tuple[int, str], ...]:
    """Choose the pretest items of one test and their positions.

    Parameters
    ----------
    pool : ids of the pretest items available (order and repeats do not matter).
    k : pretest items wanted; fewer when the pool (less ``exclude``) is smaller.
    min_items : the design's minimum number of operational items.
    rng : the pretest stream (:func:`pretest_rng`).
    exclude : ids the person must not get (e.g. seen in recent weeks).

    Returns
    -------
    ((position, id), ...) sorted by position; positions are 1-based over the whole test
    (operational and pretest items together), distinct, in 2 … ``min_items`` + n where n
    is the number of items scheduled.
    """
    # Sorted so that a set passed as the pool gives the same draw in every process.
    candidates = sorted(set(pool) - set(exclude))
    n = min(int(k), len(candidates))
    if n <= 0:
        return ()
    picked = rng.choice(len(candidates), size=n, replace=False)
    slots = np.sort(rng.choice(np.arange(2, int(min_items) + n + 1), size=n, replace=False))
    return tuple(
        (int(pos), candidates[int(i)]) for pos, i in zip(slots, picked, strict=True)
    )
