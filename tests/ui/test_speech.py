"""Spoken participant messages (issue 14): a clip for every message in every language,
made from the current catalogue; a recording replaces the synthetic clip."""

import base64
import shutil

import pytest

from lang_assess.ui.messages import LANGUAGES
from lang_assess.ui.participant_page import ParticipantTestApp
from lang_assess.ui.speech import (
    AUDIO,
    NAME,
    STAND_IN,
    audio_report,
    find_clip,
    manifest,
    spoken_keys,
    spoken_text,
)


def test_no_language_has_a_message_without_audio():
    report = audio_report()
    assert set(report) == set(LANGUAGES)
    for code, counts in report.items():
        assert counts["none"] == 0, (code, counts)
        assert counts["recorded"] + counts["synthetic"] == len(spoken_keys()), code
    assert {c for c, n in report.items() if n["stand_in"]} == set(STAND_IN) == {"ti", "so"}


def test_every_instruction_and_error_is_spoken():
    keys = set(spoken_keys())
    for key in ("login.title", "login.picture_help", "login.wrong_code", "login.rate_limited",
                "intro.placement", "practice.task", "item.next", "item.play_again",
                "instruction.mc_picture", "end.title", "error.saving", NAME,
                "end.level.preA1", "end.level.C1"):
        assert key in keys, key
    assert "item.progress" not in keys  # the bar shows it; documented in docs/ui


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_clips_are_made_from_the_current_catalogue(code):
    """A changed message without a new clip fails here: `make message-audio`."""
    made_from = manifest(code)
    stale = [k for k in spoken_keys() if made_from.get(k) != spoken_text(code, k)]
    assert stale == []
    for key in spoken_keys():
        data = (AUDIO / code / f"{key}.ogg").read_bytes()
        assert data[:4] == b"OggS" and b"OpusHead" in data[:64] and len(data) > 1500, key


def test_spoken_text_fills_placeholders():
    assert "10" in spoken_text("en", "login.rate_limited")
    assert spoken_text("en", "end.level.A2").endswith("A2")
    assert spoken_text("ti", NAME).startswith("ትግርኛ")


def test_a_recording_replaces_the_synthetic_clip_on_the_page(tmp_path):
    synthetic = find_clip("ti", NAME)
    assert synthetic is not None and synthetic.kind == "synthetic"
    folder = tmp_path / "recordings" / "ti"
    folder.mkdir(parents=True)
    recorded = folder / f"{NAME}.ogg"
    shutil.copy(AUDIO / "en" / f"{NAME}.ogg", recorded)  # any other sound will do
    clip = find_clip("ti", NAME, tmp_path / "recordings")
    assert clip is not None and clip.kind == "recorded" and clip.path == recorded
    assert audio_report(tmp_path / "recordings")["ti"]["recorded"] == 1
    app = ParticipantTestApp(None, tmp_path, recordings=tmp_path / "recordings")  # type: ignore[arg-type]
    rows = [w for w in app.root.children if "la-lang-row" in w._dom_classes]
    row = next(r for r in rows if "la-lang-ti" in r.children[1]._dom_classes)
    html = row.children[0].value
    assert base64.b64encode(recorded.read_bytes()).decode() in html
    assert base64.b64encode(synthetic.path.read_bytes()).decode() not in html
