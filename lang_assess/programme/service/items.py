"""What a participant sees of an item: never the key, never a parameter."""

from __future__ import annotations

import random
from dataclasses import dataclass

from lang_assess.bank.schema import Item, Option


@dataclass(frozen=True)
class OptionView:
    """One answer option as shown: no key, no parameter."""

    id: str
    text: str | None
    image: str | None
    alt: str | None
    audio: str | None


@dataclass(frozen=True)
class ItemView:
    """What a participant sees of the item on screen; never the key or parameters."""

    session_id: int
    position: int
    kind: str
    item_id: str
    type: str
    skill: str
    stem: str
    passage: str | None
    image: str | None
    image_alt: str | None
    stem_audio: str | None
    transcript_audio: str | None
    options: tuple[OptionView, ...]
    # issue 18: imported content and the other interactions (markup: docs/bank/qti.md)
    body: str | None = None  # markup around the interaction; ___ is where it goes
    text: str | None = None  # gap_match / hottext: the text with its ___ slots
    targets: tuple[OptionView, ...] = ()  # match: the second set
    max_choices: int | None = None  # how many options (pairs) may be chosen; None: any


def _view(o: Option) -> OptionView:
    return OptionView(o.id, o.text, o.image.file if o.image else None,
                      o.image.alt if o.image else None, o.audio.file if o.audio else None)


def shown_order(item: Item, session_id: int) -> list[Option]:
    """The options in the order shown: as written, or shuffled (the same for a test and
    item every time, so a reload shows the same order) with the ``fixed`` ones in place.
    Hottext options are never moved: they are words in a text."""
    options = list(item.options)
    if not item.shuffle or item.type == "hottext":
        return options
    free = [o for o in options if o.id not in item.fixed]
    random.Random(f"{session_id}:{item.id}").shuffle(free)
    it = iter(free)
    return [o if o.id in item.fixed else next(it) for o in options]


def item_view(item: Item, session_id: int, position: int, kind: str) -> ItemView:
    """The participant's view of an item (key and parameters stay in the service)."""
    return ItemView(
        session_id=session_id, position=position, kind=kind, item_id=item.id, type=item.type,
        skill=item.skill, stem=item.stem, passage=item.passage,
        image=item.image.file if item.image else None,
        image_alt=item.image.alt if item.image else None,
        stem_audio=item.stem_audio.file if item.stem_audio else None,
        transcript_audio=item.transcript.file if item.transcript else None,
        options=tuple(_view(o) for o in shown_order(item, session_id)),
        body=item.body, text=item.text, targets=tuple(_view(o) for o in item.targets),
        max_choices=item.max_choices,
    )

