"""Parameter drift: how much the common items moved between two parameter versions.

Both versions must be on the same θ scale (link the new calibration to the bank first,
:mod:`lang_assess.psychometrics.linking`).  Two flags per item:

- **absolute**: |Δb| > 0.3 logits, about the size of the SE of a placement test, so a
  shift this large moves persons near a cut across it;
- **relative**: a robust z of Δb (and of Δ ln a) beyond ±3: (Δ − median Δ) / (1.4826 ·
  MAD), which ignores a common shift of all items (a linking residue) and singles out the
  items that moved differently from the rest.  The MAD is floored at 0.05 logits so that
  differences below calibration precision are never called drift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lang_assess.engine.irt.params import ItemParameters
from lang_assess.psychometrics.linking import common_items

B_LIMIT = 0.3  # logits
Z_LIMIT = 3.0
_MAD_FLOOR = 0.05  # logits (and ln-a units): no drift below calibration precision
_MAD_TO_SD = 1.4826  # MAD of a normal sample × this = its SD


def parameter_drift(
    old: ItemParameters,
    new: ItemParameters,
    *,
    b_limit: float = B_LIMIT,
    z_limit: float = Z_LIMIT,
    min_common: int = 1,
) -> pd.DataFrame:
    """Δb and Δa of the items in both versions, with drift flags.

    Parameters
    ----------
    old, new : ItemParameters
        Two versions on one scale; items are matched by id (others are ignored).
    b_limit : float
        Largest acceptable |Δb| in logits.
    z_limit : float
        Largest acceptable robust z of Δb and of Δ ln a.
    min_common : int
        Fewest common items (raises :class:`~lang_assess.errors.BankError` below).

    Returns
    -------
    pandas.DataFrame
        One row per common item, in ``old``'s order: ``item, skill, a_old, a_new, delta_a,
        b_old, b_new, delta_b, max_step_shift`` (largest |Δ| of a single step; Δb for
        right/wrong items), ``z_b, z_a`` (robust z of Δb and Δ ln a), ``flag`` and
        ``reasons`` ("b", "z_b", "z_a").  b is the item location (mean step).
    """
    i_old, i_new = common_items(old, new, min_common=min_common)
    b_old, b_new = old.b[i_old], new.b[i_new]
    a_old, a_new = old.a[i_old], new.a[i_new]
    steps_old, steps_new = old.steps[i_old], new.steps[i_new]
    width = min(steps_old.shape[1], steps_new.shape[1])
    step_shift = np.nanmax(np.abs(steps_new[:, :width] - steps_old[:, :width]), axis=1)
    delta_b = b_new - b_old
    log_ratio = np.log(a_new / a_old)
    z_b, z_a = _robust_z(delta_b), _robust_z(log_ratio)
    hits = {
        "b": np.abs(delta_b) > b_limit,
        "z_b": np.abs(z_b) > z_limit,
        "z_a": np.abs(z_a) > z_limit,
    }
    reasons = [
        ",".join(name for name, hit in hits.items() if hit[k]) for k in range(delta_b.size)
    ]
    return pd.DataFrame(
        {
            "item": old.ids[i_old],
            "skill": old.skill[i_old],
            "a_old": a_old,
            "a_new": a_new,
            "delta_a": a_new - a_old,
            "b_old": b_old,
            "b_new": b_new,
            "delta_b": delta_b,
            "max_step_shift": step_shift,
            "z_b": z_b,
            "z_a": z_a,
            "flag": hits["b"] | hits["z_b"] | hits["z_a"],
            "reasons": reasons,
        }
    )


def _robust_z(delta: np.ndarray) -> np.ndarray:
    """(Δ − median) / (1.4826 · MAD), the MAD floored at ``_MAD_FLOOR``."""
    centre = np.median(delta)
    scale = max(_MAD_TO_SD * np.median(np.abs(delta - centre)), _MAD_FLOOR)
    return (delta - centre) / scale
