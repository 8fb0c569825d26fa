"""The picture code: the same access code, written with pictures instead of letters.

An access code is nine symbols of :data:`~lang_assess.programme.service.access.CODE_ALPHABET`
(25 letters and digits: a lookup of four, a secret of five).  Each symbol has one picture
(:data:`PICTURES`, in the same order), so a code is also a row of nine pictures that a
person who cannot read copies from the printed sheet by tapping them on a 5 × 5 pad.
Nothing else changes: the same secret (25⁵ ≈ 2²³·² behind the lookup, stored as a scrypt
hash), the same login call and therefore the same limits per client (docs/privacy.md),
shown once on the sheet.  The taps travel as widget
clicks over the page's websocket, never in a URL, so no server or proxy log sees them.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

from lang_assess.programme.service.access import CODE_ALPHABET, normalise_code

PICTURE_DIR = Path(__file__).parent / "pictures"
# one picture per symbol of CODE_ALPHABET, in its order; things anyone knows by sight,
# no two alike in shape (no bus next to the car, no pear next to the apple)
PICTURES = ("sol", "bil", "fisk", "eple", "banan", "hus", "fly", "sykkel", "stol", "seng",
            "sko", "bok", "nokkel", "paraply", "telefon", "hund", "lampe", "saks", "briller",
            "tomat", "kaffe", "gulrot", "is", "bat", "kake")
assert len(PICTURES) == len(CODE_ALPHABET) == len(set(PICTURES))
SYMBOL = dict(zip(PICTURES, CODE_ALPHABET, strict=True))
PICTURE = dict(zip(CODE_ALPHABET, PICTURES, strict=True))


def code_pictures(code: str) -> list[str]:
    """The pictures of an access code (``"ACDE-FGHJK"`` → nine picture names)."""
    canonical = normalise_code(code)
    try:
        return [PICTURE[ch] for ch in canonical]
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not a code symbol") from None


def pictures_code(names: list[str]) -> str:
    """The access code a row of tapped pictures spells (the inverse of
    :func:`code_pictures`)."""
    return "".join(SYMBOL[n] for n in names)


@cache
def picture_url(name: str) -> str:
    """A picture as a ``data:`` URL (the page has no file server)."""
    data = base64.b64encode((PICTURE_DIR / f"{name}.svg").read_bytes()).decode()
    return f"data:image/svg+xml;base64,{data}"


def picture_css() -> str:
    """CSS giving each picture button (class ``la-pic-<name>``) its picture."""
    return "\n".join(f".la-pic-{n} {{ background-image: url({picture_url(n)}); }}"
                     for n in PICTURES)


def sheet_html(code: str, size: int = 40) -> str:
    """The picture row a code sheet prints next to the typed code."""
    return "".join(f'<img src="{picture_url(n)}" alt="{n}" width="{size}" height="{size}" '
                   f'class="la-sheet-pic">' for n in code_pictures(code))
