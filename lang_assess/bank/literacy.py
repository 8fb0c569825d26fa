"""Items a person who cannot read yet can answer, and the placement test's routing stage.

The routing stage (:mod:`lang_assess.engine.cat.routing`) needs three sets of item ids;
which item belongs where follows from its content, so the bank decides it here:

- **routing items**: a spoken question with pictures (or sounds) to choose from, at pre-A1
  or A1: what Cito's Alfa intake and Norskprøven's pre-test use to see who can go on;
- **no reading needed**: those, any other picture or sound item under a spoken question,
  and the pre-A1 literacy tasks (spoken, they test the first steps of reading itself);
- **literacy tasks**: given to non-readers only; a reader learns nothing from them.
"""

from __future__ import annotations

from collections.abc import Iterable

from lang_assess.bank.schema import Item, RoutingConfig
from lang_assess.engine.cat.routing import Routing
from lang_assess.engine.levels import CutScores

AUDIO_PICTURE = ("mc_picture", "mc_audio")
ROUTING_LEVELS = ("preA1", "A1")


def needs_reading(item: Item) -> bool:
    """False when someone who cannot read can answer: a literacy task (read aloud), or
    picture or sound options under a spoken question with no text to read."""
    if item.skill == "literacy":
        return False
    spoken = item.stem_audio is not None and not item.passage
    return not (item.type in AUDIO_PICTURE and spoken)


def is_routing_item(item: Item) -> bool:
    """An audio-and-picture item at pre-A1 or A1 (the routing stage's pool)."""
    return (item.type in AUDIO_PICTURE and not needs_reading(item)
            and item.level in ROUTING_LEVELS)


def routing_stage(items: Iterable[Item], config: RoutingConfig, cuts: CutScores) -> Routing:
    """The :class:`Routing` of a bank's operational ``items`` (those with parameters) as
    ``config`` sets it; the reading threshold defaults to the first CEFR cut (pre-A1|A1)."""
    items = list(items)
    steps = CutScores(tuple(config.literacy_steps), tuple(config.literacy_labels))
    return Routing(
        route=tuple(it.id for it in items if is_routing_item(it)),
        no_reading=tuple(it.id for it in items if not needs_reading(it)),
        readers_skip=tuple(it.id for it in items if it.skill == "literacy"),
        n_items=config.items,
        cut=cuts.cuts[0] if config.cut is None else config.cut,
        literacy_steps=steps,
    )
