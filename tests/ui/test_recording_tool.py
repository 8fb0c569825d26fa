"""Saving a recording from the teachers' recording tool (issue 14)."""

import base64

import pytest

from lang_assess.ui.recording_tool import save_recording
from lang_assess.ui.speech import AUDIO, find_clip


def test_save_recording_rejects_what_is_not_a_recording(tmp_path):
    ogg = (AUDIO / "en" / "item.next.ogg").read_bytes()
    good = "data:audio/ogg;base64," + base64.b64encode(ogg).decode()
    with pytest.raises(ValueError, match="no participant language 'xx'"):
        save_recording(tmp_path, "xx", "item.next", good)
    with pytest.raises(ValueError, match="no participant message 'nope'"):
        save_recording(tmp_path, "ti", "nope", good)
    with pytest.raises(ValueError, match="not Opus audio"):
        save_recording(tmp_path, "ti", "item.next", "data:text/html;base64,PHA+")
    with pytest.raises(ValueError, match="not a audio/webm file"):
        save_recording(tmp_path, "ti", "item.next",
                       "data:audio/webm;base64," + base64.b64encode(ogg).decode())
    assert not (tmp_path / "ti").exists() or not any((tmp_path / "ti").iterdir())
    path = save_recording(tmp_path, "ti", "item.next", good)
    assert path.read_bytes() == ogg and find_clip("ti", "item.next", tmp_path).kind == "recorded"
