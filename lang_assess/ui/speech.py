"""Spoken participant messages: one sound file per message and language.

Everything a participant must understand reaches them by ear as well as in writing
(issue 14).  Each message of ``messages/participant.pot`` has, per language, either a
**recording** (a person reading it; ``audio/<code>/recorded/<context>.ogg`` in the
package, or ``<data>/recordings/<code>/<context>.ogg|.webm`` where staff save theirs with
the teachers' recording tool, :mod:`lang_assess.ui.recording_tool`) or a
**synthetic** clip made at build time by Debian's ``espeak-ng`` (``make message-audio``,
committed: ``audio/<code>/<context>.ogg``).  A recording always wins.

espeak-ng has no Tigrinya and no Somali voice.  Tigrinya is written in the Ethiopic
script, which espeak-ng's Amharic voice reads syllable by syllable; Somali is written in
Latin letters that espeak-ng's Oromo voice (a Cushitic neighbour with the same vowel
system) reads.  Both are stand-ins, marked as such in :func:`audio_report`; the decision
(docs/decisions.md, issue 14) is that they are replaced by recordings before use with
participants, and that a participant never meets a screen without sound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lang_assess.bank.audio import synthesize
from lang_assess.ui.messages import HERE, LANGUAGES, catalogue, template_entries

AUDIO = HERE / "audio"
# espeak-ng voice per language; ``STAND_IN`` marks voices of another language
VOICES = {"nb": "nb", "en": "en-gb", "ar": "ar", "prs": "fa", "uk": "uk", "ti": "am",
          "so": "om"}
STAND_IN = {"ti": "am", "so": "om"}
# values spoken for placeholders: the programme's default lock-out; every CEFR label;
# the privacy notice's default retention (365 days) and the pilot's organisation (the
# notice names the organisation; another one records its own: recordings win)
LOCKOUT_SPOKEN = 10
RETENTION_MONTHS_SPOKEN = 12
ORGANISATION_SPOKEN = "Kristiansand kommune"
LEVELS = ("preA1", "A1", "A2", "B1", "B2", "C1")
# shown, not spoken: the progress bar says where one is; "Question 7" read aloud before
# every item would only delay the instruction
NOT_SPOKEN = frozenset({"item.progress"})
NAME = "language.name"  # the language's name in itself, then "choose your language"
RECORDED_SUFFIXES = (".ogg", ".webm")  # Opus in Ogg or in WebM (what browsers record)


def spoken_keys() -> list[str]:
    """Every clip a language needs: each message (``end.level`` once per level) and the
    language's own name."""
    keys = [NAME]
    for ctx, _ in template_entries():
        if ctx == "end.level":
            keys += [f"end.level.{lv}" for lv in LEVELS]
        elif ctx not in NOT_SPOKEN:
            keys.append(ctx)
    return keys


def spoken_text(code: str, key: str) -> str:
    """The words of clip ``key`` in language ``code``."""
    cat = catalogue(code)
    if key == NAME:
        return f"{LANGUAGES[code].endonym}. {cat.text('language.choose')}"
    if key.startswith("end.level."):
        return cat.text("end.level", level=key.rsplit(".", 1)[1].replace("preA1", "pre A1"))
    if key == "login.rate_limited":
        return cat.text(key, minutes=LOCKOUT_SPOKEN)
    if key == "privacy.text":
        return cat.text(key, months=RETENTION_MONTHS_SPOKEN, organisation=ORGANISATION_SPOKEN)
    return cat.text(key)


@dataclass(frozen=True)
class Clip:
    """Where a clip's sound is and what kind it is (``"recorded"`` or ``"synthetic"``)."""

    path: Path
    kind: str


def find_clip(code: str, key: str, recordings: Path | None = None) -> Clip | None:
    """The sound for ``key`` in ``code``: a recording if there is one (``recordings``
    folder first, then the package's), else the synthetic clip, else None."""
    for folder in (recordings / code if recordings else None, AUDIO / code / "recorded"):
        for suffix in RECORDED_SUFFIXES:
            if folder is not None and (folder / f"{key}{suffix}").is_file():
                return Clip(folder / f"{key}{suffix}", "recorded")
    synthetic = AUDIO / code / f"{key}.ogg"
    return Clip(synthetic, "synthetic") if synthetic.is_file() else None


def audio_report(recordings: Path | None = None) -> dict[str, dict[str, int]]:
    """Per language: how many clips are recorded, synthetic (``stand_in`` says whether
    the synthetic voice is another language's: 1 or 0) or missing (``none``)."""
    out = {}
    keys = spoken_keys()
    for code in LANGUAGES:
        clips = [find_clip(code, k, recordings) for k in keys]
        out[code] = {"recorded": sum(c is not None and c.kind == "recorded" for c in clips),
                     "synthetic": sum(c is not None and c.kind == "synthetic" for c in clips),
                     "none": sum(c is None for c in clips),
                     "stand_in": int(code in STAND_IN)}
    return out


def manifest(code: str) -> dict[str, str]:
    """The words each synthetic clip of ``code`` was made from (``audio/<code>/index.json``):
    a catalogue changed since shows as a difference."""
    path = AUDIO / code / "index.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def make_message_audio(*, force: bool = False, languages: tuple[str, ...] = ()) -> list[Path]:
    """Synthesize every clip that is missing or whose words changed (all with ``force``)
    for ``languages`` (default all); returns the files written.  Needs espeak-ng and
    opusenc."""
    made = []
    for code in languages or tuple(LANGUAGES):
        made_from = manifest(code)
        for key in spoken_keys():
            out, text = AUDIO / code / f"{key}.ogg", spoken_text(code, key)
            if force or not out.exists() or made_from.get(key) != text:
                synthesize(text, out, voice=VOICES[code])
                made.append(out)
            made_from[key] = text
        (AUDIO / code / "index.json").write_text(
            json.dumps(made_from, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
            encoding="utf-8")
    return made


if __name__ == "__main__":  # `make message-audio`
    import sys

    written = make_message_audio(force="--force" in sys.argv)
    print(f"{len(written)} clips written under {AUDIO}")
    for code, counts in audio_report().items():
        print(code, counts)
