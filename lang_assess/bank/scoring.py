"""Scoring a participant's answer against an item's key (the key never leaves the bank
layer's side of the service).

Answers arrive as one string: an option id (``"B"``); the ids in order for ordering
(``"CAB"``); ids separated by commas for multiple response and hottext (``"A,C"``); pairs
``"A D"`` separated by commas for match, associate and gap match (``"A D,B E"``; a gap is
its number, ``"A 1"``); the typed words for text entry.  Right/wrong items score 1 when the
answer matches the key; items with a ``mapping`` score its whole points (see
:mod:`lang_assess.bank.interaction_rules`), 0..``item.max_score``.
"""

from __future__ import annotations

from lang_assess.bank.schema import Item
from lang_assess.errors import SessionError


def answer_parts(item: Item, answer: str) -> list[str]:
    """The distinct parts of an answer string, normalised (pairs of associate sorted)."""
    parts: list[str] = []
    for raw in answer.split(","):
        tokens = raw.upper().split()
        if not tokens:
            continue
        if item.type == "associate":
            tokens = sorted(tokens)
        part = " ".join(tokens)
        if part not in parts:
            parts.append(part)
    return parts


def _key_parts(item: Item) -> list[str]:
    if item.type == "associate":
        return [" ".join(sorted(k.split())) for k in item.key]
    return list(item.key)


def _typed(item: Item, answer: str) -> str:
    text = " ".join(answer.split())
    sensitive = item.mapping.case_sensitive if item.mapping else False
    return text if sensitive else text.casefold()


def score_answer(item: Item, answer: str) -> int:
    """Score of an answer (whole points, 0..``item.max_score``); see the module docstring."""
    if item.type == "rated":
        raise SessionError(f"item '{item.id}' is scored by a teacher, not in the test")
    if item.type == "ordering":
        return int("".join(ch for ch in answer.upper() if ch.isalnum()) == "".join(item.key))
    if item.type == "text_entry":
        typed = _typed(item, answer)
        if item.mapping is None:
            return int(any(typed == _typed(item, k) for k in item.key))
        entries = {_typed(item, k): v for k, v in item.mapping.entries.items()}
        return _clip(item, entries.get(typed, item.mapping.default))
    if item.type in ("multiple_response", "hottext", "match", "associate", "gap_match"):
        parts = answer_parts(item, answer)
        limit = item.max_choices or None
        if limit is not None and len(parts) > limit:
            parts = parts[:limit]  # the page lets no more through; a forged answer gains nothing
        if item.mapping is None:
            return int(sorted(parts) == sorted(_key_parts(item)))
        m = item.mapping
        values = {(" ".join(sorted(k.split())) if item.type == "associate" else k): v
                  for k, v in m.entries.items()}
        return _clip(item, sum(values.get(p, m.default) for p in parts))
    return int(answer.strip().upper() == item.key[0])


def _clip(item: Item, total: int) -> int:
    m = item.mapping
    assert m is not None
    low = 0 if m.lower is None else max(0, m.lower)
    return int(min(max(total, low), item.max_score))
