"""Levels per skill with speaking and writing tasks rated by teachers (issue 16).

Run with ``.venv/bin/python benchmarks/bench_skill_levels.py`` (``--quick``: a smoke
run).  Prints the Markdown of docs/benchmarks.md's per-skill section: on the shipped
bank's v0 parameters, each simulee answers 6 items per objective skill near their
overall level (as the adaptive part reaches) and 2 speaking + 2 writing tasks at that
level; each rating is drawn at the answer's ability less a rater severity
N(0, 0.4²) (a quarter of the tasks rated twice), which the scoring does not know.
Exact-level accuracy, bias and RMSE per skill: the per-skill estimate
(:mod:`lang_assess.engine.skills`) against using the overall level for every skill.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
from pathlib import Path

import numpy as np

from lang_assess.bank.loader import load_bank
from lang_assess.engine.skills import simulate_skill_levels

QUICK = "--quick" in sys.argv
N = 200 if QUICK else 1000
SHOWN = ("reading", "listening", "speaking", "writing")


def tests_for(params, overall: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(P, L) bank positions: per objective skill the 6 items nearest the person's
    overall level (with a little noise), 2 speaking and 2 writing tasks likewise."""
    centre = np.nanmean(params.steps, axis=1)
    rows = []
    for theta in overall + rng.normal(0, 0.3, overall.size):
        chosen = []
        for skill, k in (("reading", 6), ("listening", 6), ("vocabulary", 6),
                         ("grammar", 6), ("speaking", 2), ("writing", 2)):
            pos = np.flatnonzero(params.skill == skill)
            order = np.argsort(np.abs(centre[pos] - theta) + rng.random(pos.size) * 0.3)
            chosen += pos[order[:k]].tolist()
        rows.append(chosen)
    return np.array(rows)


def run(name: str, true_theta: np.ndarray, params, cuts, skills, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    items = tests_for(params, true_theta[:, skills.index("grammar")], rng)
    cfg = BANK.config.skill_levels
    sim = simulate_skill_levels(params, items, true_theta, cuts, grid=np.linspace(-6, 6, 121),
                                prior_sd=2.0, spread=cfg.spread, enough_sd=cfg.enough_sd,
                                rater_sd=0.4, double_share=0.25, seed=seed + 1)
    out = [f"**{name}** ({true_theta.shape[0]} simulees)", "",
           "| skill | exact level (per skill / overall) | bias | RMSE | enough evidence |",
           "|---|---|---|---|---|"]
    for s in SHOWN:
        j = sim.skills.index(s)
        out.append(f"| {s} | {sim.accuracy[j]:.2f} / {sim.accuracy_overall[j]:.2f} | "
                   f"{sim.bias[j]:+.2f} / {sim.bias_overall[j]:+.2f} | "
                   f"{sim.rmse[j]:.2f} / {sim.rmse_overall[j]:.2f} | {sim.enough[j]:.0%} |")
    return [*out, ""]


BANK = load_bank(Path(__file__).parents[1] / "item_bank" / "nb")


def main() -> None:
    params, cuts = BANK.params, BANK.cuts
    skills = np.unique(params.skill).tolist()
    rng = np.random.default_rng(16)
    centre = dict(zip(cuts.labels, [cuts.cuts[0] - 0.5,
                                    *((np.array(cuts.cuts[:-1]) + np.array(cuts.cuts[1:])) / 2),
                                    cuts.cuts[-1] + 0.5], strict=True))
    uneven = {s: centre["A2"] for s in skills}
    uneven.update(speaking=centre["B1"], writing=centre["A1"])
    t_uneven = (np.array([uneven[s] for s in skills])[None, :]
                + rng.normal(0, 0.2, (N, 1)))
    t_even = rng.normal(centre["A2"], 1.2, (N, 1)) + rng.normal(0, 0.8, (N, len(skills)))
    lines = [f"Measured {dt.date.today()} on {platform.machine()} "
             f"({platform.python_version()}), bank {BANK.config.params_version}.", ""]
    lines += run("Speaks B1, writes A1, reads and listens A2", t_uneven, params, cuts,
                 skills, 3)
    lines += run("Profiles spread as the model assumes (δ ~ N(0, 0.8²))", t_even, params,
                 cuts, skills, 5)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
