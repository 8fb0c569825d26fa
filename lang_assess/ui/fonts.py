"""Fonts shipped with the participant page, so Tigrinya (Ethiopic) and Arabic/Dari text
never shows as empty boxes on a phone or PC that lacks those scripts.

The files are subsets of Debian's free Noto fonts (``fonts-noto-core``, SIL Open Font
License) holding exactly the characters of the participant catalogues, made at build time
by ``make fonts`` (``pyftsubset`` from Debian's ``fonttools``) and committed, so serving
the page needs neither package.  Each face carries a ``unicode-range``: the browser uses
it only for its own script, and Latin and Cyrillic come from the system's sans-serif
(every phone has them).  The page inlines them as ``data:`` URLs once per page load.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lang_assess.ui.messages import HERE, LANGUAGES, catalogue

FONTS_DIR = HERE.parent / "fonts"
NOTO = Path("/usr/share/fonts/truetype/noto")


@dataclass(frozen=True)
class Face:
    """One shipped font: CSS family, Noto source file, the languages whose text it
    covers and the Unicode ranges it serves."""

    family: str
    source: str
    languages: tuple[str, ...]
    unicode_range: str

    @property
    def path(self) -> Path:
        """The committed subset file."""
        return FONTS_DIR / f"{Path(self.source).stem}-subset.woff"


FACES = (
    Face("LA Ethiopic", "NotoSansEthiopic-Regular.ttf", ("ti",),
         "U+1200-139F, U+2D80-2DDF, U+AB00-AB2F"),
    Face("LA Arabic", "NotoNaskhArabic-Regular.ttf", ("ar", "prs"),
         "U+0600-06FF, U+0750-077F, U+08A0-08FF, U+FB50-FDFF, U+FE70-FEFF, U+200C-200F"),
)
FAMILY = ", ".join(f'"{f.family}"' for f in FACES) + ", system-ui, sans-serif"


def characters(face: Face) -> str:
    """Every character the face must draw: its languages' catalogues and endonyms (and
    every endonym, which the language screen shows together)."""
    text = "".join(LANGUAGES[c].endonym for c in LANGUAGES)
    for code in face.languages:
        text += "".join(catalogue(code).messages.values())
    return "".join(sorted(set(text)))


def make_fonts() -> list[Path]:
    """Subset each Noto source to :func:`characters` (needs Debian's fonts-noto-core and
    fonttools); returns the files written."""
    FONTS_DIR.mkdir(exist_ok=True)
    for face in FACES:
        subprocess.run(["pyftsubset", str(NOTO / face.source), f"--text={characters(face)}",
                        "--layout-features=*", "--flavor=woff", "--no-hinting",
                        f"--output-file={face.path}"], check=True, capture_output=True)
    return [f.path for f in FACES]


@cache
def font_face_css() -> str:
    """``@font-face`` rules for the shipped fonts, inline (a few kB each)."""
    rules = []
    for f in FACES:
        data = base64.b64encode(f.path.read_bytes()).decode()
        rules.append(f'@font-face {{ font-family: "{f.family}"; font-display: block; '
                     f"src: url(data:font/woff;base64,{data}) format('woff'); "
                     f"unicode-range: {f.unicode_range}; }}")
    return "\n".join(rules)


if __name__ == "__main__":  # `make fonts`
    for path in make_fonts():
        print(path, path.stat().st_size, "bytes")
