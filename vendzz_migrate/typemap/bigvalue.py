"""A text too large to load, read from its bytes in pieces: what SQLite's tests and Python's
JSON rules would say of it, without holding it.

- The column profiles (``typemap.profile``): their SQL classes each value with several tests,
  and SQLite loads a copy of the value for each (4 to 6 copies of a 100 MB text). Their
  reader is bound (``pieces.bound``), so a value over ``pieces.LARGE_BYTES`` stops a scan
  before it is loaded; its facts come from here instead: NUL bytes, the length in characters
  as SQLite's ``length()`` counts them (:func:`text_facts`), SQLite's ``json_valid()``
  (:func:`json_valid`) and its double-encoding test (:func:`json_class`).
- The copy (``copy.large``) and verify (``verify.large``): what ``jsonb.unwrap_json`` makes of
  a JSON text (:func:`unwrap_depth`), its content decoded level by level (:func:`levels`),
  and whether it holds a NUL character (:func:`holds_nul`).

JSON is parsed as a stream (ijson's yajl parser, its events dropped as they come), so memory
holds a few pieces (:data:`PIECE`) and the longest string inside the document, which the
parser holds whole; a JSON string itself is decoded piece by piece (``json.loads`` of pieces
cut where no escape is split), never given to the parser whole.

Where the streamed answer could differ from SQLite's, it is made to agree: yajl takes vertical
tab and form feed for white space (SQLite does not: any such byte makes SQLite's answer
"invalid"), and SQLite refuses JSON nested deeper than 2,000 levels. One difference is left:
text that is not valid UTF-8 is never valid JSON here (SQLite does not check), and the copy
rejects such text whatever its class.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import itemgetter

import ijson

_HEAD = 16
_NUL_ESCAPE = b"\\u0000"
# bytes parsed at a time: yajl lexes a string token cut between pieces again from its start
# at each piece (a JSON document that is mostly one long string costs its size squared over
# this), and the events of a piece are held until it is parsed (about 3 MB a MB of dense JSON)
PIECE = 2 << 20
JSON_MAX_DEPTH = 2000  # SQLite's json_valid() refuses deeper nesting
_DEPTH = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}
# continuation bytes of UTF-8 (10xxxxxx): SQLite's length() skips them after a lead byte
_CONTINUATION = bytes(range(0x80, 0xC0))
# continuation bytes after an ASCII byte: no lead byte claims them, each is one character
_STRAY = re.compile(rb"[\x00-\x7f]([\x80-\xbf]+)")
_JSON_SPACE = " \t\n\r"


@dataclass(frozen=True)
class TextFacts:
    """What the profile's class tests and length statistic need of one large text."""

    nul: bool  # holds a NUL byte
    characters: int  # SQLite's length(): characters before the first NUL
    head: bytes  # its first bytes (JSON starts with '{', '[' or '"'; a date with 10 digits)


def text_facts(pieces: Iterable[bytes]) -> TextFacts:
    """NUL bytes, length in characters and first bytes of a UTF-8 text, one pass."""
    nul = False
    characters = 0
    head = b""
    stray = True  # continuation bytes here would be characters: none or ASCII before them
    for whole in pieces:
        if not whole:
            continue
        if len(head) < _HEAD:
            head += whole[: _HEAD - len(head)]
        end = whole.find(b"\x00")
        nul = end >= 0
        counted, stray = _characters(whole[:end] if nul else whole, stray)
        characters += counted
        if nul:  # length() stops at the first NUL; the rest need not be read
            break
    return TextFacts(nul, characters, head)


def _characters(piece: bytes, stray: bool) -> tuple[int, bool]:
    """SQLite's count of characters in ``length()``: every byte, but the continuation bytes
    (10xxxxxx) that follow a lead byte (11xxxxxx) or its continuation bytes; ``stray``: the
    last byte before ``piece`` that is no continuation byte is ASCII (or there is none).
    Returns the count and ``stray`` after the piece."""
    count = len(piece.translate(None, _CONTINUATION))
    body = piece.lstrip(_CONTINUATION)
    if stray:
        count += len(piece) - len(body)
    try:  # valid UTF-8 (its last character maybe cut): no continuation byte after ASCII
        codecs.utf_8_decode(body, "strict", False)
    except UnicodeDecodeError:
        count += sum(len(m.group(1)) for m in _STRAY.finditer(body))
    rest = piece.rstrip(_CONTINUATION)
    return count, (rest[-1] < 0x80 if rest else stray)


def json_valid(pieces: Iterable[bytes]) -> bool:
    """SQLite's ``json_valid()`` of a UTF-8 text, parsed as a stream."""
    return _parse(pieces) is not None


def json_class(read: Read) -> str:
    """The profile's class of a large text that starts with '"': ``text`` (not valid JSON),
    ``json_d`` (a JSON string whose content is a JSON object, array or string again: double
    encoded) or ``json_s`` (a JSON string)."""
    if top_kind(read) != "string":
        return "text"
    return "json_d" if top_kind(lambda: levels(read, 1)) in _WRAPS else "json_s"


Read = Callable[[], Iterator[bytes]]  # the pieces of a value, from its start, at each call
_WRAPS = ("object", "array", "string")
_KINDS = {"start_map": "object", "start_array": "array"}


def top_kind(read: Read) -> str | None:
    """The kind of the top value of a JSON text (``object``, ``array``, ``string`` or
    ``scalar``); None when the text is not valid JSON (as SQLite's ``json_valid()``). A
    string is checked by decoding it a piece at a time: the parser never holds it whole."""
    first, pieces = _peek(read())
    if first == b'"':
        checked: list[bool] = []
        for _ in _string_content(pieces, checked):
            pass
        return "string" if checked else None
    top = _parse(pieces)
    return None if top is None else _KINDS.get(top, "scalar")


def levels(read: Read, depth: int) -> Iterator[bytes]:
    """The content of a text that is a JSON string holding a JSON string... ``depth`` times
    (0: the text itself), decoded a piece at a time (each level checked by the caller)."""
    pieces: Iterator[bytes] = read()
    for _ in range(depth):
        pieces = _string_content(pieces, [])
    return pieces


def unwrap_depth(read: Read) -> int:
    """What ``jsonb.unwrap_json`` does to a JSON text, without holding it: the number of JSON
    string encodings around a JSON object or array (the copy sends :func:`levels` of that
    depth), or 0 when it is no such thing (the text goes as it is). Raises ``ValueError``
    when the text is not valid JSON."""
    kind = top_kind(read)
    if kind is None:
        raise ValueError("invalid JSON")
    depth = 0
    while kind == "string":
        inner = top_kind(lambda d=depth + 1: levels(read, d))  # type: ignore[misc]
        if inner not in _WRAPS:
            break
        depth, kind = depth + 1, inner
    return depth if kind in ("object", "array") else 0


def holds_nul(read: Read) -> bool:
    """Whether a valid JSON text holds a NUL character (the escape \\u0000 in a string or a
    key, which jsonb cannot store); parsed only when the escape's six bytes appear."""
    tail = b""
    for piece in read():
        if _NUL_ESCAPE in tail + piece:
            return _parse(read(), nul=True) == "nul"
        tail = piece[-len(_NUL_ESCAPE) :]
    return False


def first_byte(read: Read) -> bytes:
    """The first byte of a text that is not JSON white space (b"" for none)."""
    return _peek(read())[0]


def _peek(pieces: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first byte that is not JSON white space, and the pieces, whole again."""
    seen: list[bytes] = []
    for piece in pieces:
        seen.append(piece)
        rest = piece.lstrip(b" \t\n\r")
        if rest:
            return rest[:1], itertools.chain(seen, pieces)
    return b"", iter(seen)


def _parse(pieces: Iterable[bytes], *, nul: bool = False) -> str | None:
    """The first event of a valid JSON text (its top value's kind); None when not valid.
    With ``nul``: ``"nul"`` when a string or key of it holds a NUL character."""
    events = ijson.sendable_list()
    parser = ijson.basic_parse_coro(events)
    depth = 0
    top: str | None = None
    try:
        for piece in pieces:
            if b"\x0b" in piece or b"\x0c" in piece:  # white space to yajl, not to SQLite
                return None
            parser.send(piece)
            if events:
                top = top or events[0][0]
                if nul and any("\x00" in v for e, v in events if e in ("string", "map_key")):
                    return "nul"
                # the deepest nesting in these events (C iterators: no Python per event)
                steps = map(_DEPTH.get, map(itemgetter(0), events), repeat(0))
                levels = accumulate(steps, initial=depth)
                if max(levels) > JSON_MAX_DEPTH:
                    return None
                depth += sum(map(_DEPTH.get, map(itemgetter(0), events), repeat(0)))
                events.clear()
        parser.close()
        top = top or next((event for event, _ in events), None)
        if nul and any("\x00" in v for e, v in events if e in ("string", "map_key")):
            return "nul"
    except ijson.JSONError:
        return None
    return top


class _NotOneString(Exception):
    """The outer text is not one valid JSON string."""


def _string_content(pieces: Iterable[bytes], checked: list[bool]) -> Iterator[bytes]:
    """The decoded content (UTF-8) of a text that is one JSON string (with white space after
    it), a piece at a time. Each piece of the escaped text is decoded by ``json.loads``
    (strict, as SQLite: no control character, only JSON's escapes), cut where no escape is
    split; a surrogate pair split between two pieces is joined. ``checked`` gets an item
    once the whole text is known to be one string; the content stops early (and nothing is
    added) when it is not."""
    try:
        yield from _string_pieces(pieces)
    except _NotOneString:
        return
    checked.append(True)


def _string_pieces(pieces: Iterable[bytes]) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    buf, high = "", ""
    started = ended = False
    chunks = iter(pieces)
    final = False
    while not final:
        chunk = next(chunks, None)
        final = chunk is None
        try:
            buf += decoder.decode(chunk or b"", final=final)
        except UnicodeDecodeError:
            raise _NotOneString from None
        if not started:
            buf = buf.lstrip(_JSON_SPACE)
            if not buf:
                continue
            if buf[0] != '"':
                raise _NotOneString
            buf, started = buf[1:], True
        if ended:  # after the closing quote: white space only
            if buf.strip(_JSON_SPACE):
                raise _NotOneString
            buf = ""
            continue
        cut = len(buf) if final else _safe_cut(buf)
        piece, buf = buf[:cut], buf[cut:]
        try:
            text = json.loads('"' + piece + '"')
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":  # a bad escape or control character
                raise _NotOneString from None
            try:  # a closing quote inside: the string ends there
                text, end = json.decoder.scanstring('"' + piece, 1, True)  # type: ignore[attr-defined]
            except ValueError:
                raise _NotOneString from None
            ended = True
            if (piece[end - 1 :] + buf).strip(_JSON_SPACE):
                raise _NotOneString from None
            buf = ""
        text, high = _join(high, text)
        if text:
            yield text.encode("utf-8", "surrogatepass")
    if not ended:
        raise _NotOneString
    if high:
        yield high.encode("utf-8", "surrogatepass")


def _join(high: str, text: str) -> tuple[str, str]:
    """``text`` after a pending high surrogate, a pair split between two pieces joined; and
    the high surrogate it ends with, if any (its pair may start the next piece)."""
    if high:
        text = high + text
        if len(text) > 1 and "\udc00" <= text[1] <= "\udfff":
            text = text[:2].encode("utf-16", "surrogatepass").decode("utf-16") + text[2:]
    if text and "\ud800" <= text[-1] <= "\udbff":
        return text[:-1], text[-1]
    return text, ""


def _safe_cut(buf: str) -> int:
    """Where to cut escaped JSON string text so that no escape is split: before the escape
    that may start in the last 6 characters (the longest escape, \\uXXXX, is 6 long). In a
    run of backslashes (escaped backslashes, maybe the start of an escape after them) the cut
    falls after the run's whole pairs: a long run is consumed, never carried over."""
    cut = len(buf)
    k = buf.find("\\", max(0, cut - 6))
    if k < 0:
        return cut
    start = len(buf[:k].rstrip("\\"))  # where the run of backslashes through k starts
    return start + (k - start) // 2 * 2
