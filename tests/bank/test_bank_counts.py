"""Enough items for a year of weekly tests (issue 17, acceptance 4): counts per level and
skill.  The 40-week simulation is in tests/programme/test_bank_simulation.py.

The counts are reached with the new items written alongside this revision (ids 101 and
up).
"""

import pytest
from support import REPO

from lang_assess.bank.loader import load_bank

BANK = REPO / "item_bank" / "nb"
CORE = ("reading", "listening", "vocabulary", "grammar")
#: The issue's numbers: the bank's content_targets may ask for more, never for less.
ISSUE_TARGETS = {"preA1": {"literacy": 60, "vocabulary": 40, "listening": 40},
                 **{lv: dict.fromkeys(CORE, 40) for lv in ("A1", "A2", "B1", "B2")}}


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK)


def count(bank, level, skill):
    return sum(it.level == level and it.skill == skill for it in bank.items.values())


def test_the_bank_targets_are_at_least_the_issues(bank):
    targets = bank.config.content_targets
    for level, skills in ISSUE_TARGETS.items():
        for skill, need in skills.items():
            assert targets[level][skill] >= need, (level, skill)


@pytest.mark.parametrize("level", list(ISSUE_TARGETS))
def test_each_core_skill_has_its_items(bank, level):
    short = {sk: count(bank, level, sk) for sk, need in bank.config.content_targets[level].items()
             if count(bank, level, sk) < need}
    assert not short, f"{level}: {short} against {bank.config.content_targets[level]}"


def test_pre_a1_items_need_no_reading_but_what_they_test(bank):
    """Pre-A1: every stem is spoken, and options are pictures or sounds, or the letters and
    words a literacy item is about (audio and picture only)."""
    for it in bank.items.values():
        if it.level != "preA1":
            continue
        assert it.stem_audio is not None, it.id
        for o in it.options:
            assert o.image or o.audio or it.skill == "literacy", (it.id, o.id)
