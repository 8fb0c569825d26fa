"""Synthetic speech for the bank: every ``{file, text}`` audio of every item, made with
Debian's ``espeak-ng`` (Norwegian voice) and compressed with ``opusenc`` (Opus in Ogg).

This is a stand-in so the demo and the tests need no TTS: recorded human audio replaces
it in production (same file names; see docs/bank/item_bank.md).  The output depends only on
the text, the voice and the tool versions; the Ogg stream serial is fixed, so a rerun
with the same tools gives the same bytes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from lang_assess.errors import LangAssessError

VOICE = "nb"  # espeak-ng's Norwegian bokmål voice
SPEED_WPM = 135  # a little slower than espeak's 175: learners, often on phone speakers
BITRATE_KBPS = 16  # speech, mono: small files that still sound clear


def tools_available() -> list[str]:
    """The external programs this module needs that are missing (empty when ready)."""
    return [tool for tool in ("espeak-ng", "opusenc") if shutil.which(tool) is None]


def synthesize(text: str, out: Path, *, voice: str = VOICE) -> None:
    """Speak ``text`` into ``out`` (.ogg, Opus)."""
    missing = tools_available()
    if missing:
        raise LangAssessError(
            f"missing {', '.join(missing)}: run `make audio` (it installs espeak-ng and "
            "opus-tools from Debian)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(SPEED_WPM), "-w", str(wav), text],
                       check=True, capture_output=True)
        subprocess.run(["opusenc", "--quiet", "--serial", "1", "--bitrate", str(BITRATE_KBPS),
                        "--downmix-mono", str(wav), str(out)], check=True, capture_output=True)


def make_audio(bank_root: str | Path, *, force: bool = False) -> list[Path]:
    """Create every missing sound file of a bank (all of them with ``force``)."""
    from lang_assess.bank.loader import load_items

    root = Path(bank_root)
    items, problems = load_items(root)
    if problems:
        from lang_assess.errors import BankError

        raise BankError(problems)
    made = []
    for item in items.values():
        for audio in item.audio():
            target = root / audio.file
            if force or not target.exists():
                synthesize(audio.text, target)
                made.append(target)
    return made
