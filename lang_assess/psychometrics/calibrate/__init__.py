"""Item calibration: estimate item parameters from response data.

``calibrate(responses, model, backend)`` is the one front door; ``backend="mml"`` is the
numpy Bock–Aitkin EM in :mod:`lang_assess.psychometrics.calibrate.mml`, ``backend="pyirt"``
the py-irt (Pyro/torch) backend, imported only when asked for so that nothing else pulls in torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lang_assess.psychometrics.calibrate.data import DataError, Responses
from lang_assess.psychometrics.calibrate.mml import fit_mml
from lang_assess.psychometrics.calibrate.readers import read_answer_blocks, read_responses_csv
from lang_assess.psychometrics.calibrate.result import Calibration, CalibrationWarning

BACKENDS = ("mml", "pyirt")

__all__ = [
    "BACKENDS",
    "Calibration",
    "CalibrationWarning",
    "DataError",
    "Responses",
    "calibrate",
    "fit_mml",
    "read_answer_blocks",
    "read_responses_csv",
]


def calibrate(
    responses: Responses | np.ndarray,
    model: str = "2pl",
    backend: str = "mml",
    **options: Any,
) -> Calibration:
    """Estimate item parameters with the chosen backend.

    Parameters
    ----------
    responses : Responses or (P, I) float array
        Scores 0..k, NaN = not administered.
    model : str
        ``"2pl"``/``"gpcm"`` (free slopes) or ``"1pl"``/``"rasch"``/``"pcm"`` (a = 1); what
        each backend supports is listed in its own docstring.
    backend : {"mml", "pyirt"}
        ``"mml"``: :func:`lang_assess.psychometrics.calibrate.mml.fit_mml`; ``"pyirt"``:
        ``lang_assess.psychometrics.calibrate.pyirt.fit_pyirt`` (imports torch).
    **options
        Passed to the backend (e.g. ``fixed=``, ``max_iter=``, ``progress=True``).

    Returns
    -------
    Calibration
    """
    if backend == "mml":
        return fit_mml(responses, model, **options)
    if backend == "pyirt":
        if options.get("fixed") is not None:
            raise ValueError("the py-irt backend takes no anchors: use backend='mml' for "
                             "fixed-item calibration")
        options.pop("fixed", None)
        from lang_assess.psychometrics.calibrate.pyirt import (
            fit_pyirt,  # torch: only on demand
        )

        return fit_pyirt(responses, model=model, **options)
    raise ValueError(f"backend {backend!r}: use one of {', '.join(BACKENDS)}")
