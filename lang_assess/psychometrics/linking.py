"""Put a new calibration on the bank's θ scale through anchor (common) items.

A calibration fixes its own scale (usually θ ~ N(0, 1) in its sample), so parameters
from two calibrations differ by a linear change of scale θ* = Aθ + B.  Items present in
both (anchors, matched by id) estimate A and B:

- **mean/sigma** (Marco 1977): A = sd(b_bank)/sd(b_new), B = mean(b_bank) − A·mean(b_new);
- **mean/mean** (Loyd & Hoover 1980): A = mean(a_new)/mean(a_bank), B as above;
- **Stocking–Lord** (1983): A, B minimise Σ_q w_q [T_bank(θ_q) − T_new*(θ_q)]², the
  weighted squared difference of the anchors' test characteristic curves on a θ grid of
  the bank scale (weights: N(0, 1) density by default).  It uses all parameters at once
  and weighs items by where the persons are, so it is the one to use; mean/sigma is its
  starting value.

For rated items every step is one "b" in the moment methods (Kolen & Brennan 2014, ch. 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

from lang_assess.engine.irt.models import expected_score
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.errors import BankError

MIN_ANCHORS = 5
SL_GRID: np.ndarray = np.linspace(-4.0, 4.0, 41)


@dataclass(frozen=True)
class Transform:
    """A linear change of θ scale θ* = A·θ + B (A > 0, logits)."""

    A: float
    B: float

    def theta(self, theta: float | np.ndarray) -> np.ndarray:
        """Abilities (any shape) on the target scale; SEs scale by A alone."""
        return self.A * np.asarray(theta, dtype=float) + self.B

    def apply(self, params: ItemParameters) -> ItemParameters:
        """Item parameters on the target scale: a* = a/A, steps* = A·steps + B, c kept."""
        return ItemParameters(
            ids=params.ids.copy(),
            a=params.a / self.A,
            steps=self.A * params.steps + self.B,
            c=params.c.copy(),
            skill=params.skill.copy(),
        )

    def inverse(self) -> Transform:
        """The transform back: θ = (θ* − B)/A."""
        return Transform(1.0 / self.A, -self.B / self.A)


def common_items(
    first: ItemParameters, second: ItemParameters, *, min_common: int = MIN_ANCHORS
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the items present in both, matched by id, in ``first``'s order.

    Returns two (m,) int arrays (positions in ``first`` and in ``second``).  Raises
    :class:`~lang_assess.errors.BankError` when fewer than ``min_common`` items are
    shared, or when a shared item has a different number of steps in the two.
    """
    pos = {item: k for k, item in enumerate(second.ids.tolist())}
    i_first = np.array([k for k, item in enumerate(first.ids.tolist()) if item in pos], int)
    i_second = np.array([pos[item] for item in first.ids[i_first].tolist()], int)
    if i_first.size < min_common:
        raise BankError(
            f"only {i_first.size} item(s) in common; at least {min_common} anchor items "
            "are needed to link the two calibrations"
        )
    differ = first.n_steps[i_first] != second.n_steps[i_second]
    if np.any(differ):
        raise BankError(
            [f"item '{item}': field 'steps' has a different number of steps in the two "
             "calibrations" for item in first.ids[i_first[differ]].tolist()]
        )
    return i_first, i_second


def mean_sigma(
    new: ItemParameters, bank: ItemParameters, *, min_anchors: int = MIN_ANCHORS
) -> Transform:
    """Mean/sigma transform from ``new``'s scale to ``bank``'s, over the common items."""
    b_new, b_bank = _anchor_steps(new, bank, min_anchors)
    big_a = float(np.std(b_bank) / np.std(b_new))
    return Transform(big_a, float(np.mean(b_bank) - big_a * np.mean(b_new)))


def mean_mean(
    new: ItemParameters, bank: ItemParameters, *, min_anchors: int = MIN_ANCHORS
) -> Transform:
    """Mean/mean transform from ``new``'s scale to ``bank``'s, over the common items."""
    i_new, i_bank = common_items(new, bank, min_common=min_anchors)
    b_new, b_bank = _anchor_steps(new, bank, min_anchors)
    big_a = float(np.mean(new.a[i_new]) / np.mean(bank.a[i_bank]))
    return Transform(big_a, float(np.mean(b_bank) - big_a * np.mean(b_new)))


def stocking_lord(
    new: ItemParameters,
    bank: ItemParameters,
    *,
    grid: np.ndarray = SL_GRID,
    weights: np.ndarray | None = None,
    min_anchors: int = MIN_ANCHORS,
) -> Transform:
    """Stocking–Lord transform from ``new``'s scale to ``bank``'s.

    Parameters
    ----------
    new, bank : ItemParameters
        The new calibration and the bank; anchors are the items in both (by id).
    grid : (Q,) float
        θ points on the bank scale (logits) where the test characteristic curves are
        compared.
    weights : optional (Q,) float
        Weight of each point; default the N(0, 1) density (where the persons are).
    min_anchors : int
        Fewest anchors accepted.

    Returns
    -------
    Transform
        A, B minimising Σ_q w_q (T_bank(θ_q) − T_new*(θ_q))², found by BFGS over
        (ln A, B) from the mean/sigma solution.
    """
    i_new, i_bank = common_items(new, bank, min_common=min_anchors)
    anchors_new, anchors_bank = new.subset(i_new), bank.subset(i_bank)
    w = norm.pdf(grid) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    target = expected_score(grid, anchors_bank).sum(axis=-1)  # (Q,) bank TCC
    start = mean_sigma(new, bank, min_anchors=min_anchors)

    def loss(x: np.ndarray) -> float:
        big_a, big_b = np.exp(x[0]), x[1]
        # (a/A)(θ − (A·b + B)) = a((θ − B)/A − b): the transformed anchors at θ are the
        # new anchors at the back-transformed θ, so no parameters are rebuilt per step
        diff = target - expected_score((grid - big_b) / big_a, anchors_new).sum(axis=-1)
        return float(w @ (diff * diff))

    result = minimize(loss, np.array([np.log(start.A), start.B]), method="BFGS",
                      options={"gtol": 1e-10})
    return Transform(float(np.exp(result.x[0])), float(result.x[1]))


def _anchor_steps(
    new: ItemParameters, bank: ItemParameters, min_anchors: int
) -> tuple[np.ndarray, np.ndarray]:
    """All finite step difficulties of the anchors, paired: (m,) new and (m,) bank."""
    i_new, i_bank = common_items(new, bank, min_common=min_anchors)
    s_new, s_bank = new.steps[i_new], bank.steps[i_bank]
    width = min(s_new.shape[1], s_bank.shape[1])
    s_new, s_bank = s_new[:, :width], s_bank[:, :width]
    keep = np.isfinite(s_new) & np.isfinite(s_bank)
    return s_new[keep], s_bank[keep]
