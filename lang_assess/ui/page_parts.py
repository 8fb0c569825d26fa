"""Pieces of the participant page that are plain HTML: the style sheet (with the shipped
fonts and the picture buttons) and the speaker button.

A speaker is a large button and the sounds it plays, one after the other.  On a new screen
the first speaker starts by itself (``autoplay``): the participant has tapped the page
already (their language), so the browser allows it; on the first screen, where nothing
has been tapped yet, each language has its own speaker to tap.  The handlers are inline
attributes because widget HTML runs no scripts; they only play and rewind sounds.
"""

from __future__ import annotations

import base64
import html

from lang_assess.ui.fonts import FAMILY, font_face_css
from lang_assess.ui.picture_code import picture_css

# a speaker drawn in SVG: no emoji font needed
SPEAKER_ICON = ('<svg viewBox="0 0 24 24" width="40" height="40" aria-hidden="true" '
                'focusable="false"><path fill="currentColor" d="M3 9v6h4l5 5V4L7 9H3z'
                'm13.5 3A4.5 4.5 0 0 0 14 7.97v8.05A4.5 4.5 0 0 0 16.5 12zM14 3.23v2.06'
                'a7 7 0 0 1 0 13.42v2.06A9 9 0 0 0 14 3.23z"/></svg>')

_PLAY = ("var s=this.parentNode.querySelectorAll('audio');"
         "document.querySelectorAll('audio').forEach(function(x){x.pause()});"
         "s.forEach(function(x){x.currentTime=0});s[0].play()")
_NEXT = ("var n=this.nextElementSibling;if(n&&n.tagName==='AUDIO'){n.currentTime=0;n.play()}"
         "else if(this.dataset.then){var t=document.querySelector(this.dataset.then);"
         "if(t){t.currentTime=0;t.play()}}")


# every inline handler the speakers use: the pages' CSP admits exactly these
# (``'unsafe-hashes'``, lang_assess.ui.guard), no other inline script
INLINE_HANDLERS = (_PLAY, _NEXT)


def speaker_html(urls: list[str], label: str, *, lang: str, keys: list[str] | tuple = (),
                 autoplay: bool = False, cls: str = "", then: str = "") -> str:
    """A speaker button playing ``urls`` in order; ``label`` is its accessible name (in
    the participant's language ``lang``), ``keys`` name the messages (``data-key``),
    ``then`` a CSS selector of a sound to play after the last one."""
    audios = []
    for i, url in enumerate(urls):
        key = keys[i] if i < len(keys) else ""
        extra = " autoplay" if autoplay and i == 0 else ""
        last = f' data-then="{html.escape(then)}"' if then and i == len(urls) - 1 else ""
        audios.append(f'<audio preload="auto"{extra}{last} data-key="{html.escape(key)}" '
                      f'src="{url}" onended="{_NEXT}"></audio>')
    return (f'<div class="la-say {cls}" data-lang="{lang}">'
            f'<button type="button" class="la-speak" lang="{lang}" '
            f'aria-label="{html.escape(label)}" title="{html.escape(label)}" '
            f'onclick="{_PLAY}">{SPEAKER_ICON}</button>{"".join(audios)}</div>')


CSS = """
.la-app { max-width: 760px; margin: 0 auto; padding: 8px; box-sizing: border-box;
          font-size: 20px; color: #1a1a1a; background: #ffffff; font-family: FAMILY; }
.la-app * { box-sizing: border-box; }
.la-rtl { direction: rtl; }
.la-app .widget-button, .la-app button { min-height: 56px; font-size: 20px;
          white-space: normal; height: auto; font-family: FAMILY; }
.la-app .widget-text input { font-size: 28px; min-height: 56px; letter-spacing: 0.12em;
          text-transform: uppercase; }
.la-app :focus-visible { outline: 4px solid #0b57d0 !important; outline-offset: 2px; }
.la-nb { direction: ltr; unicode-bidi: isolate; text-align: left; }
.la-stem { font-size: 24px; font-weight: 600; margin: 8px 0; }
.la-passage { border-left: 4px solid #555; padding: 8px 12px; background: #f4f4f4;
          overflow-wrap: break-word; }
.la-passage p { margin: 0 0 0.8em 0; }
.la-bar { height: 12px; background: #e3e3e3; border-radius: 6px; overflow: hidden; }
.la-bar > div { height: 100%; background: #0b57d0; }
.la-choice.mod-info, .la-choice.mod-info:focus { background-color: #0b57d0; color: #ffffff; }
.la-app img { max-width: 100%; height: auto; }
.la-message { color: #8a1c1c; font-weight: 600; min-height: 1.5em; }
.la-gap { letter-spacing: 0.1em; }
.la-slot { border: 2px solid #0b57d0; border-radius: 4px; padding: 0 6px; font-weight: 700; }
.la-body figure { margin: 8px 0; }
.la-app .widget-dropdown select { font-size: 20px; min-height: 48px; }
.la-app .la-typed input { text-transform: none; letter-spacing: normal; }
.la-app .widget-html-content { font-size: 20px; line-height: 1.45; }
.la-said { display: flex; align-items: center; gap: 12px; }
.la-said > div:last-child { flex: 1; }
.la-message-box { display: flex; align-items: center; gap: 12px; }
.la-say { display: flex; align-items: center; gap: 8px; margin: 6px 0; }
.la-say .la-speak { width: 72px; min-width: 72px; height: 72px; border-radius: 36px;
          border: 3px solid #0b57d0; background: #e8f0fe; color: #0b57d0; padding: 0;
          display: inline-flex; align-items: center; justify-content: center; cursor: pointer; }
.la-say.la-item-sound .la-speak { width: 96px; height: 96px; border-radius: 48px; }
.la-lang-row { align-items: center; }
.la-lang-row .la-say { margin: 0 6px; }
.la-app .la-lang { font-size: 28px; min-height: 72px; }
.la-app .la-pic { background-color: #ffffff; background-repeat: no-repeat;
          background-position: center; background-size: 80% 80%; border: 3px solid #777;
          border-radius: 10px; min-height: 64px; padding: 0; }
.la-app .la-pic.la-big { height: 120px; min-height: 120px; }
.la-app .la-pic.mod-info { background-color: #cfe0fc; border: 6px solid #0b57d0;
          box-shadow: 0 0 0 3px #0b57d0; }
.la-pad { grid-template-columns: repeat(5, 1fr); grid-gap: 6px; width: 100%; }
.la-pad .la-pic { height: 60px; width: 100%; margin: 0; }
.la-slots { display: flex; gap: 3px; direction: ltr; }
.la-slots span { width: 26px; height: 26px; border: 2px dashed #555; border-radius: 6px;
          display: inline-flex; }
.la-slots span img { width: 100%; height: 100%; }
.la-pad-row { align-items: center; }
""".replace("FAMILY", FAMILY)


# the erase button's picture: an arrow pointing back into a key
ERASE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><path d="M18 10h22a4 '
             '4 0 0 1 4 4v20a4 4 0 0 1-4 4H18L4 24z" fill="#fde2e2" stroke="#8a1c1c" '
             'stroke-width="3" stroke-linejoin="round"/><path d="M22 18l12 12M34 18L22 30" '
             'stroke="#8a1c1c" stroke-width="4" stroke-linecap="round"/></svg>')


def style_html() -> str:
    """The page's ``<style>``: layout, the shipped fonts, the picture buttons."""
    erase = base64.b64encode(ERASE_SVG.encode()).decode()
    return (f"<style>\n{font_face_css()}\n{CSS}\n{picture_css()}\n"
            f".la-erase {{ background-image: url(data:image/svg+xml;base64,{erase}); }}\n"
            f"</style>")
