"""Recorded answers, checked on the server: what the file is and how long it plays.

A browser records Opus in WebM (Chromium, Firefox) or in Ogg (Firefox, Safari may); both
are accepted and nothing else.  The container is read, not trusted: the magic bytes, the
codec (Opus), and the duration from the timestamps inside — the last block's time in a
WebM (MediaRecorder writes no duration header), the last page's granule position in an
Ogg.  A file that cannot be read this way is refused whole.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lang_assess.errors import LangAssessError

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
OGG_MAGIC = b"OggS"
# EBML ids (with their length marker): the ones read, and the masters walked into
_SEGMENT, _CLUSTER, _INFO, _BLOCK_GROUP, _TRACKS, _TRACK_ENTRY = (
    0x18538067, 0x1F43B675, 0x1549A966, 0xA0, 0x1654AE6B, 0xAE)
_TIMECODE_SCALE, _TIMECODE, _SIMPLE_BLOCK, _BLOCK, _CODEC_ID, _DOCTYPE, _EBML = (
    0x2AD7B1, 0xE7, 0xA3, 0xA1, 0x86, 0x4282, 0x1A45DFA3)
_MASTERS = {_SEGMENT, _CLUSTER, _INFO, _BLOCK_GROUP, _TRACKS, _TRACK_ENTRY, _EBML}


class RecordingRejected(LangAssessError):
    """An uploaded recording that is not a readable Opus recording within the limits."""


@dataclass(frozen=True)
class RecordingInfo:
    """What a recording is: ``format`` ("webm" or "ogg"), ``seconds`` it plays."""

    format: str
    seconds: float


def inspect(data: bytes) -> RecordingInfo:
    """The format and duration of a recording; :class:`RecordingRejected` if it is not
    Opus in WebM or Ogg, or cannot be read to its end."""
    if data.startswith(EBML_MAGIC):
        return RecordingInfo("webm", _webm_seconds(data))
    if data.startswith(OGG_MAGIC):
        return RecordingInfo("ogg", _ogg_seconds(data))
    raise RecordingRejected("not a recording: neither WebM nor Ogg")


def check(data: bytes, *, max_bytes: int, max_seconds: float) -> RecordingInfo:
    """:func:`inspect`, and the limits: size in bytes, duration in seconds."""
    if not data:
        raise RecordingRejected("the recording is empty")
    if len(data) > max_bytes:
        raise RecordingRejected(f"the recording has {len(data)} bytes (at most {max_bytes})")
    info = inspect(data)
    if info.seconds > max_seconds:
        raise RecordingRejected(f"the recording plays {info.seconds:.0f} s (at most "
                                f"{max_seconds:.0f} s)")
    return info


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, next position, all value bits set) of an EBML variable-length integer."""
    if pos >= len(data):
        raise RecordingRejected("the WebM file ends inside an element header")
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or pos + length > len(data):
        raise RecordingRejected("the WebM file has a broken element header")
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, pos + length, unknown


def _webm_seconds(data: bytes) -> float:
    pos, scale, cluster_time, last = 0, 1_000_000, 0, None
    doctype, opus = None, False
    while pos < len(data):
        element, pos, _ = _vint(data, pos, keep_marker=True)
        size, pos, unknown = _vint(data, pos, keep_marker=False)
        if element in _MASTERS:
            continue  # walk into it: its children follow
        if unknown or pos + size > len(data):
            raise RecordingRejected("the WebM file is cut off")
        body = data[pos:pos + size]
        if element == _DOCTYPE:
            doctype = body.decode("ascii", "replace")
        elif element == _CODEC_ID:
            opus = opus or body.startswith(b"A_OPUS")
        elif element == _TIMECODE_SCALE:
            scale = int.from_bytes(body, "big")
        elif element == _TIMECODE:
            cluster_time = int.from_bytes(body, "big")
        elif element in (_SIMPLE_BLOCK, _BLOCK):
            _, at, _ = _vint(body, 0, keep_marker=False)  # track number
            relative = struct.unpack(">h", body[at:at + 2])[0]
            last = max(last or 0, cluster_time + relative)
        pos += size
    if doctype != "webm" or not opus:
        raise RecordingRejected("the WebM file holds no Opus sound")
    if last is None:
        raise RecordingRejected("the WebM file holds no sound")
    return last * scale / 1e9


def _ogg_seconds(data: bytes) -> float:
    pos, granule, pre_skip, opus = 0, -1, 0, False
    while pos < len(data):
        if data[pos:pos + 4] != OGG_MAGIC or pos + 27 > len(data):
            raise RecordingRejected("the Ogg file is cut off or broken")
        n_segments = data[pos + 26]
        lacing = data[pos + 27:pos + 27 + n_segments]
        start = pos + 27 + n_segments
        end = start + sum(lacing)
        if end > len(data):
            raise RecordingRejected("the Ogg file is cut off")
        page_granule = struct.unpack("<q", data[pos + 6:pos + 14])[0]
        if data[start:start + 8] == b"OpusHead":
            opus = True
            pre_skip = struct.unpack("<H", data[start + 10:start + 12])[0]
        granule = max(granule, page_granule)
        pos = end
    if not opus:
        raise RecordingRejected("the Ogg file holds no Opus sound")
    return max(granule - pre_skip, 0) / 48_000
