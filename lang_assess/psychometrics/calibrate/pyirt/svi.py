"""The stochastic variational inference loop: seeded, private parameter store, antithetic
gradients, stops on convergence (torch and pyro imported inside, on demand)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_RECENTRES = 2  # item centres are re-estimated at most this often during a fit
RECENTRE_MIN = 0.05  # ... and only while they still move by more than this (z units)
MIN_LR_RATIO = 1 / 64  # the learning rate is halved down to this share of its start

# ---- the SVI loop -----------------------------------------------------------------------
@contextmanager
def private_pyro_state(seed: int) -> Iterator[None]:
    """Seed Pyro/torch for one fit; restore the caller's random states and param store.

    ``pyro.set_rng_seed`` seeds Python's, numpy's and torch's global generators; a
    library call should not change those behind the caller's back, nor wipe parameters
    the caller keeps in Pyro's global store.
    """
    import pyro
    import torch

    store = pyro.get_param_store()
    saved_store = store.get_state()
    # the legacy numpy state is what pyro.set_rng_seed reseeds, so it is what to restore
    saved_rng = (random.getstate(), np.random.get_state(), torch.get_rng_state())  # noqa: NPY002
    store.clear()
    pyro.set_rng_seed(seed)
    try:
        yield
    finally:
        store.clear()
        store.set_state(saved_store)
        random.setstate(saved_rng[0])
        np.random.set_state(saved_rng[1])  # noqa: NPY002
        torch.set_rng_state(saved_rng[2])


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads (None: leave as is), restored afterwards.

    An SVI step is a few (persons × items) @ (items × nodes) products, too small to gain
    from threads: on this project's 2-core machine, shared with other work, a 2,000 × 60
    fit took 17–25 s with two threads and 3 s with one, and one step at 10,000 × 300
    3.6–5× longer with two.  The setting is process-wide, hence inside the lock.
    """
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class SviRun:
    """Window-averaged variational parameters and how the loop ended."""

    means: dict[str, np.ndarray]  # name → window mean of the parameter (float64)
    epochs: int
    converged: bool
    elbo: float  # mean ELBO over the last window
    centre: np.ndarray


def run_svi(
    irt: Any,
    triples: tuple[Any, Any, Any],
    *,
    max_epochs: int,
    tol: float,
    param_tol: float,
    patience: int,
    window: int,
    lr: float,
    progress: bool,
    desc: str,
) -> SviRun:
    """Adam on the mean-field ELBO until the convergence rule holds (or ``max_epochs``).

    Every ``window`` steps: the mean loss of the window is compared with the previous
    window's (flat if the change is below ``tol`` relative, or below twice its Monte Carlo
    SE), and the window-averaged means with the previous ones, in units of the posterior
    SD.  A flat ELBO halves the learning rate: what is left is gradient noise, and a
    smaller step averages it out.  The estimates are the averages over the last window
    (Polyak averaging), which also damps that noise.
    """
    import pyro
    from pyro.infer import SVI
    from tqdm.auto import tqdm

    def loss_and_grads(model: Any, guide: Any, *args: Any) -> float:
        loss = irt.antithetic_loss(model, guide, *args)
        loss.backward()
        return float(loss.item())

    def new_svi() -> tuple[Any, Any]:
        optim = pyro.optim.Adam({"lr": lr})
        return optim, SVI(irt.get_model(), irt.get_guide(), optim, loss=irt.antithetic_loss,
                          loss_and_grads=loss_and_grads)

    optim, svi = new_svi()
    watched = irt.watched()
    names = [n for pair in watched for n in pair]
    sums: dict[str, Any] = {}
    losses: list[float] = []
    prev: tuple[float, float, dict[str, np.ndarray]] | None = None
    calm, epoch, rate, converged, recentred = 0, 0, lr, False, 0
    means: dict[str, np.ndarray] = {}
    last_elbo = math.nan
    with tqdm(total=max_epochs, desc=desc, unit="step", disable=not progress) as bar:
        for epoch in range(1, max_epochs + 1):
            losses.append(svi.step(*triples))
            for n in names:
                value = pyro.param(n).detach()
                sums[n] = value.clone() if n not in sums else sums[n] + value
            if len(losses) < window and epoch < max_epochs:
                continue
            count = len(losses)
            means = {n: (sums[n] / count).double().numpy() for n in names}
            loss, loss_var = float(np.mean(losses)), float(np.var(losses)) / count
            last_elbo = -loss
            sums, losses = {}, []
            bar.update(count)
            if prev is None:
                prev = (loss, loss_var, means)
                continue
            change = abs(loss - prev[0])
            flat = change < max(tol * abs(loss), 2.0 * math.sqrt(loss_var + prev[1]))
            moved = max(
                float(np.max(np.abs(means[m] - prev[2][m]) / np.maximum(means[s], 1e-6)))
                for m, s in watched
            )
            bar.set_postfix(elbo=f"{-loss:.1f}", moved=f"{moved:.2f}", refresh=False)
            prev = (loss, loss_var, means)
            if (flat and recentred < MAX_RECENTRES and epoch < max_epochs
                    and irt.recentre(RECENTRE_MIN)):
                # new coordinates: restart the comparison and Adam's moment estimates
                recentred += 1
                optim, svi = new_svi()
                prev, calm, rate = None, 0, lr
                continue
            calm = calm + 1 if flat and moved < param_tol else 0
            if calm >= patience:
                converged = True
                break
            if flat:  # what is left is gradient noise: a smaller step averages it out
                rate = max(rate / 2, lr * MIN_LR_RATIO)
                for opt in optim.optim_objs.values():
                    for group in opt.param_groups:
                        group["lr"] = rate
    return SviRun(means=means, epochs=epoch, converged=converged, elbo=last_elbo,
                centre=irt.centre.double().numpy())


# ---- result -----------------------------------------------------------------------------
