"""Version ``v0`` parameters: expert judgement by a documented rule, before field testing.

Every bank starts here: an item's difficulty comes from its target CEFR level (the middle
of the level's band between the bank's cut scores), moved a third of a logit down or up
when the author judged it easy or hard for its level (``within_level``); its
discrimination comes from its type; a multiple-choice item's lower asymptote is its chance
level, c = 1/k for k options (someone who does not know the answer and picks at random
is right that often; ordering and rated items have none).  The first calibration
estimates c with a prior around 1/k.  Rated items and items scored by a mapping (partial
credit, issue 18) get evenly spaced steps around the level's middle, 0.6 logit either
side.  See docs/bank/item_bank.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lang_assess.bank.schema import CHOICE_TYPES, Item
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores

WITHIN_LEVEL = {"low": -0.35, "mid": 0.0, "high": 0.35}
#: Discrimination by item type: picture and gap items are crisp, true/false weak; typed
#: answers (no guessing) crisp; pairing tasks in between (issue 18).
SLOPE = {
    "mc_text": 1.4, "mc_picture": 1.5, "mc_audio": 1.3, "gap_choice": 1.5,
    "true_false": 0.9, "ordering": 1.3, "rated": 1.0,
    "multiple_response": 1.3, "text_entry": 1.6, "match": 1.2, "associate": 1.1,
    "gap_match": 1.4, "hottext": 1.3,
}
RULE = ("expert rule v0: b = level centre + within-level shift; a by item type; "
        "c = 1/k options (multiple choice)")


def expert_parameters(items: Sequence[Item], cuts: CutScores) -> ItemParameters:
    """Parameters for ``items`` by the v0 rule (one row per item, in the given order)."""
    centre = level_centres(cuts)
    k_max = max((it.max_score for it in items), default=1)
    steps = np.full((len(items), k_max), np.nan)
    for r, it in enumerate(items):
        b = centre[it.level] + WITHIN_LEVEL[it.within_level]
        k = it.max_score
        steps[r, :k] = b + (np.linspace(-0.6, 0.6, k) if k > 1 else 0.0)
    return ItemParameters(
        ids=np.array([it.id for it in items], dtype=str),
        a=np.array([SLOPE[it.type] for it in items]),
        steps=steps,
        c=np.array([chance_level(it) for it in items]),
        skill=np.array([it.skill for it in items], dtype=str),
    )


def chance_level(item: Item) -> float:
    """Probability of a right answer by a blind guess: 1/k for a choice item with k
    options, 0 for ordering and rated items (no single option to hit by chance)."""
    return 1.0 / len(item.options) if item.type in CHOICE_TYPES and item.options else 0.0


def model_name(c: float, max_score: int) -> str:
    """The model an item's parameter row names: ``gpcm`` (rated), ``3pl`` (c > 0), ``2pl``."""
    return "gpcm" if max_score > 1 else "3pl" if c > 0 else "2pl"


def level_centres(cuts: CutScores) -> dict[str, float]:
    """Middle of each level's band (logits); the open-ended first and last bands: half a
    logit beyond their cut."""
    c, labels = list(cuts.cuts), cuts.labels
    out = {labels[0]: c[0] - 0.5, labels[-1]: c[-1] + 0.5}
    for k in range(1, len(labels) - 1):
        out[labels[k]] = 0.5 * (c[k - 1] + c[k])
    return out
