"""A year of adaptive answers, simulated without a dense persons × items matrix.

Used by the slow calibration-at-scale test and ``benchmarks/bench_calibration_scale.py``.
Each person answers 50–100 items over a year (mean ~75), as weekly tests would give: the
first ``routing`` items at random (a routing block), then each next item the unused one
nearest to the person's provisional EAP (from their own answers so far, on a grid) plus
N(0, noise²) — a randomesque exposure control.  Selection uses observed answers and random
numbers only, never the true θ, so the missing answers are ignorable (MAR), as in a real
CAT.  The selector scores with the bank as it stands, which is not the truth: its a and b
carry calibration error (``bank_error``), and with ``guessing`` the answers come from a 3PL
while the selector assumes a 2PL.  Persons are simulated in blocks, so memory is
O(block × items + answers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class AdaptiveYear:
    """Simulated answers in long form and the true parameters.

    ``person``, ``item`` (N,) int32 indices sorted by person, ``score`` (N,) int8 0/1;
    ``a``, ``b``, ``c`` (I,) the true item parameters (c = 0 for 2PL data), ``theta`` (P,).
    """

    person: np.ndarray
    item: np.ndarray
    score: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    theta: np.ndarray

    @property
    def n_answers(self) -> int:
        """Number of answers N."""
        return int(self.score.size)


def true_items(n_items: int, rng: np.random.Generator, *, guessing: bool) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, c): a ~ lognormal(0.2, 0.3), b ~ N(0, 1.2²) clipped to ±3.5, c ~ U(0.15, 0.35)
    for 3PL data (else 0)."""
    a = rng.lognormal(0.2, 0.3, n_items)
    b = np.clip(rng.normal(0.0, 1.2, n_items), -3.5, 3.5)
    c = rng.uniform(0.15, 0.35, n_items) if guessing else np.zeros(n_items)
    return a, b, c


def adaptive_year(
    n_persons: int,
    n_items: int,
    *,
    seed: int,
    guessing: bool = False,
    lengths: tuple[int, int] = (50, 100),
    routing: int = 5,
    noise: float = 0.7,
    bank_error: float = 0.3,
    block: int = 10_000,
) -> AdaptiveYear:
    """Simulate ``n_persons`` × ``n_items`` adaptive answers (2PL, or 3PL with ``guessing``).

    θ ~ N(0, 1); test length per person uniform on ``lengths`` (inclusive).  The selector's
    bank has b + N(0, bank_error²) and a · lognormal(0, (bank_error / 2)²).  Returns the
    answers in long form (about ``n_persons · mean(lengths)`` of them).
    """
    rng = np.random.default_rng(seed)
    a, b, c = true_items(n_items, rng, guessing=guessing)
    theta = rng.standard_normal(n_persons)
    a_bank = a * rng.lognormal(0.0, bank_error / 2, n_items)
    b_bank = b + rng.normal(0.0, bank_error, n_items) if bank_error > 0 else b
    order = np.argsort(b_bank)
    b_sorted = b_bank[order]
    grid = np.linspace(-4.5, 4.5, 46)
    # the selector's provisional EAP: a 2PL with the bank's (erroneous) a, b
    log_p1 = np.log(expit(a_bank[:, None] * (grid - b_bank[:, None])))  # (I, G)
    log_p0 = np.log(expit(-a_bank[:, None] * (grid - b_bank[:, None])))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    window = np.arange(-32, 32)
    for lo in range(0, n_persons, block):
        th = theta[lo : lo + block]
        m = th.size
        length = rng.integers(lengths[0], lengths[1] + 1, m)
        used = np.zeros((m, n_items), dtype=bool)
        loglik = np.tile(-0.5 * grid**2, (m, 1))
        est = np.zeros(m)
        taken = np.empty((m, lengths[1]), dtype=np.int32)
        right = np.empty((m, lengths[1]), dtype=np.int8)
        rows = np.arange(m)
        for step in range(lengths[1]):
            if step < routing:
                item = _random_unused(used, rng)
            else:
                target = est + noise * rng.standard_normal(m)
                item = _nearest_unused(target, b_sorted, order, used, window)
            p = c[item] + (1 - c[item]) * expit(a[item] * (th - b[item]))
            x = rng.random(m) < p
            used[rows, item] = True
            taken[:, step], right[:, step] = item, x
            loglik += np.where(x[:, None], log_p1[item], log_p0[item])
            w = np.exp(loglik - loglik.max(axis=1, keepdims=True))
            est = (w @ grid) / w.sum(axis=1)
        keep = np.arange(lengths[1])[None, :] < length[:, None]
        person = np.broadcast_to((lo + rows)[:, None], keep.shape)[keep].astype(np.int32)
        parts.append((person, taken[keep], right[keep]))
    return AdaptiveYear(
        person=np.concatenate([p[0] for p in parts]),
        item=np.concatenate([p[1] for p in parts]),
        score=np.concatenate([p[2] for p in parts]),
        a=a, b=b, c=c, theta=theta,
    )


def _random_unused(used: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m,) a random item each row has not taken."""
    pick = rng.integers(0, used.shape[1], used.shape[0])
    clash = used[np.arange(used.shape[0]), pick]
    while clash.any():  # few: routing blocks are short
        pick[clash] = rng.integers(0, used.shape[1], int(clash.sum()))
        clash = used[np.arange(used.shape[0]), pick]
    return pick


def _nearest_unused(target: np.ndarray, b_sorted: np.ndarray, order: np.ndarray,
                    used: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(m,) the unused item whose b is nearest to each row's target."""
    n_items = b_sorted.size
    centre = np.searchsorted(b_sorted, target)
    cand = np.clip(centre[:, None] + window, 0, n_items - 1)  # (m, W) positions in b order
    dist = np.abs(b_sorted[cand] - target[:, None])
    rows = np.arange(target.size)
    dist[used[rows[:, None], order[cand]]] = np.inf
    best = dist.argmin(axis=1)
    item = order[cand[rows, best]]
    full = ~np.isfinite(dist[rows, best])
    if full.any():  # the whole window taken (rare): search every item
        d = np.abs(b_sorted[None, :] - target[full, None])
        d[used[full][:, order]] = np.inf
        item[full] = order[d.argmin(axis=1)]
    return item
