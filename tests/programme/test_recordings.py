"""Recordings read on the server (issue 16): WebM and Ogg with Opus are measured from
their own timestamps; anything else, or a file cut off, is refused whole."""

from pathlib import Path

import pytest

from lang_assess.programme.recordings import RecordingRejected, check, inspect

ROOT = Path(__file__).parents[2]
WEBM = (ROOT / "tests" / "fixtures" / "recording.webm").read_bytes()  # Chromium, 2.5 s
OGG = (ROOT / "item_bank" / "nb" / "media" / "audio" / "nb-A1-spe-001-stem.ogg").read_bytes()


def test_a_browser_recording_and_an_ogg_file_are_measured():
    webm = inspect(WEBM)
    assert webm.format == "webm" and 2.0 < webm.seconds < 3.0
    ogg = inspect(OGG)
    assert ogg.format == "ogg" and 1.0 < ogg.seconds < 10.0


@pytest.mark.parametrize("data", [WEBM[: len(WEBM) // 2], OGG[: len(OGG) // 2], b"",
                                  b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\x1a\x45\xdf\xa3"])
def test_cut_off_or_foreign_files_are_refused(data):
    with pytest.raises(RecordingRejected):
        check(data, max_bytes=10**7, max_seconds=600)


def test_limits_on_size_and_length():
    with pytest.raises(RecordingRejected, match="bytes"):
        check(WEBM, max_bytes=1000, max_seconds=600)
    with pytest.raises(RecordingRejected, match="plays"):
        check(WEBM, max_bytes=10**7, max_seconds=1.0)
    assert check(WEBM, max_bytes=10**7, max_seconds=60).format == "webm"
