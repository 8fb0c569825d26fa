"""What a participant sees of an item: never the key, never a parameter."""

from __future__ import annotations

from dataclasses import dataclass

from lang_assess.bank.schema import Item


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


def item_view(item: Item, session_id: int, position: int, kind: str) -> ItemView:
    """The participant's view of an item (key and parameters stay in the service)."""
    return ItemView(
        session_id=session_id, position=position, kind=kind, item_id=item.id, type=item.type,
        skill=item.skill, stem=item.stem, passage=item.passage,
        image=item.image.file if item.image else None,
        image_alt=item.image.alt if item.image else None,
        stem_audio=item.stem_audio.file if item.stem_audio else None,
        transcript_audio=item.transcript.file if item.transcript else None,
        options=tuple(OptionView(o.id, o.text, o.image.file if o.image else None,
                                 o.image.alt if o.image else None,
                                 o.audio.file if o.audio else None) for o in item.options),
    )

