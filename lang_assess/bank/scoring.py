"""Scoring a participant's answer against an item's key (the key never leaves the bank
layer's side of the service)."""

from __future__ import annotations

from lang_assess.bank.schema import Item
from lang_assess.errors import SessionError


def score_answer(item: Item, answer: str) -> int:
    """Score of an answer: the chosen option id, or the option ids in order for ordering."""
    if item.type == "ordering":
        return int("".join(ch for ch in answer.upper() if ch.isalnum()) == "".join(item.key))
    if item.type == "rated":
        raise SessionError(f"item '{item.id}' is scored by a teacher, not in the test")
    return int(answer.strip().upper() == item.key[0])

