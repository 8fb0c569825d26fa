"""Participant instructions in their own language."""

import pytest

from lang_assess.ui.messages import (
    LANGUAGES,
    catalogue,
    catalogue_problems,
    template_entries,
)

REQUIRED = ("nb", "en", "ar", "ti", "prs", "so", "uk")


def test_required_languages_are_there_and_arabic_and_dari_are_rtl():
    assert set(REQUIRED) <= set(LANGUAGES)
    assert LANGUAGES["ar"].direction == "rtl" and LANGUAGES["prs"].direction == "rtl"
    assert LANGUAGES["nb"].direction == "ltr"


@pytest.mark.parametrize("code", REQUIRED)
def test_catalogue_is_complete_and_keeps_placeholders(code):
    assert catalogue_problems(code) == []
    cat = catalogue(code)
    assert len(cat.messages) == len(template_entries()) >= 30
    assert "{" not in cat.text("end.level", level="A2").replace("{level}", "")
    assert "7" in cat.text("login.rate_limited", minutes=7)


@pytest.mark.parametrize("code", [c for c in REQUIRED if c != "en"])
def test_translations_are_marked_for_native_review(code):
    assert "review" in catalogue(code).review_status.lower()


def test_translations_differ_from_english():
    english = catalogue("en").messages
    for code in ("nb", "ar", "ti", "prs", "so", "uk"):
        same = [k for k, v in catalogue(code).messages.items() if v == english[k]]
        assert len(same) <= 2, (code, same)  # a word like "Start" may be the same


def test_unknown_language_and_message():
    with pytest.raises(KeyError, match="no participant language 'xx'"):
        catalogue("xx")
    with pytest.raises(KeyError, match="no participant message"):
        catalogue("en").text("nope")


@pytest.mark.parametrize("code", ["nb", "en"])
def test_teacher_catalogues_are_complete(code):
    assert catalogue_problems(code, "teacher") == []
    assert catalogue(code, "teacher").text("teacher.login") in ("Logg inn", "Log in")
    with pytest.raises(KeyError, match="no teacher language 'ar'"):
        catalogue("ar", "teacher")
