"""A calibration written as ``PARAMS.csv``: what ``lang-assess calibrate --out`` gives."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from lang_assess.psychometrics.calibrate.result import Calibration


def write_calibration_csv(path: str | Path, cal: Calibration) -> None:
    """Write ``item,model,a,b,c,steps,se_a,se_b,se_c,n`` on the logistic metric,
    P = c + (1 − c)·logistic(a(θ − b)).

    Right/wrong items have ``b``; rated items have their step difficulties in ``steps``
    (space-separated) and their mean step in ``b``.  The file reads back with
    :func:`lang_assess.bank.params_csv.read_params_csv` and feeds ``lang-assess bank
    publish``; ``se_*`` are the standard errors (empty where a value was fixed), ``n``
    the answers behind each estimate.
    """
    p = cal.params
    rasch = cal.model in ("1pl", "rasch", "pcm")
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["item", "model", "a", "b", "c", "steps", "se_a", "se_b", "se_c", "n"])
        for r in range(p.n_items):
            k = int(p.n_steps[r])
            model = "gpcm" if k > 1 else "3pl" if p.c[r] > 0 else (
                "1pl" if rasch and not cal.fixed[r] else "2pl")
            steps = " ".join(f"{v:.4f}" for v in p.steps[r, :k]) if k > 1 else ""
            w.writerow([p.ids[r], model, f"{p.a[r]:.4f}", f"{p.b[r]:.4f}", f"{p.c[r]:.4f}",
                        steps, _num(cal.se_a[r]), _num(cal.se_b[r]), _num(cal.se_c[r]),
                        int(cal.n_responses[r])])


def _num(x: float) -> str:
    return f"{x:.4f}" if np.isfinite(x) else ""
