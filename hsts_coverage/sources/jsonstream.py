"""Pure: split a stream of bytes holding JSON objects into one object at a time.

crt.sh answers with a JSON array of flat objects (older versions: objects back to back, with no
array). The answer for a large domain runs to hundreds of megabytes, so it is read in chunks
and each top-level object is handed on as soon as it is complete: memory holds one object, not
the answer. A regular expression finds strings and brackets at C speed; an unterminated string at
the end of the buffer means "wait for more", never a boundary.
"""

from __future__ import annotations

import re

# Possessive quantifiers (`++`, `*+`): the regex engine keeps no backtracking state, which for an
# ordinary `*` over a long unfinished row costs about a hundred bytes per byte of input.
_STRING = rb'"(?:[^"\\]++|\\.)*+"'
_TOKENS = re.compile(_STRING + rb'|"|[{}\[\]]', re.DOTALL)
# A whole flat object (no nested object or array) in one match, at C speed: crt.sh's rows.
_FLAT_OBJECT = re.compile(rb'\{(?:[^"{}\[\]]++|' + _STRING + rb")*+\}", re.DOTALL)
_BETWEEN = b" \t\r\n,"


class StreamError(ValueError):
    """The bytes are not a JSON array of objects (or objects back to back)."""


class TruncatedError(StreamError):
    """The stream ended inside an object or before the array closed."""


class ObjectStream:
    """Feed chunks, get back the bytes of every top-level object completed so far."""

    def __init__(self, max_object: int = 4 << 20) -> None:
        self._buffer = b""
        self._max_object = max_object
        self._in_array = False
        self._closed_array = False
        self._objects = 0
        self._rescan_at = 0  # buffer length at which an incomplete object is scanned again

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        if len(self._buffer) > self._max_object:
            raise StreamError(f"an object larger than {self._max_object >> 20} MiB")
        if len(self._buffer) < self._rescan_at:
            return []  # a server dripping small chunks must not make every chunk a rescan
        found: list[bytes] = []
        position = 0
        while (start := self._next_object(position)) is not None:
            end = _object_end(self._buffer, start)
            if end is None:
                position = start
                self._rescan_at = 2 * (len(self._buffer) - start)
                break
            found.append(self._buffer[start:end])
            position = end
        else:
            position = len(self._buffer)
            self._rescan_at = 0
        self._buffer = self._buffer[position:]
        self._objects += len(found)
        return found

    def close(self) -> list[bytes]:
        """The objects still waiting in the buffer; raise if the stream did not end cleanly (an
        open object or array, or nothing at all)."""
        self._rescan_at = 0
        last = self.feed(b"")
        if self._buffer.strip(_BETWEEN):
            raise TruncatedError("the answer ends in the middle of a row")
        if self._in_array and not self._closed_array:
            raise TruncatedError("the answer ends before its JSON array closes")
        if not self._in_array and not self._objects:
            raise StreamError("the answer is empty")
        return last

    def _next_object(self, position: int) -> int | None:
        """Skip what may stand between objects; None when the buffer needs more bytes."""
        buffer = self._buffer
        while position < len(buffer):
            byte = buffer[position : position + 1]
            if byte in (b" ", b"\t", b"\r", b"\n", b","):
                position += 1
            elif byte == b"[" and not self._in_array and not self._objects:
                self._in_array = True
                position += 1
            elif byte == b"]" and self._in_array and not self._closed_array:
                self._closed_array = True
                position += 1
            elif byte == b"{" and not self._closed_array:
                return position
            else:
                raise StreamError(f"unexpected: {describe_body(bytes(buffer[position:]))}")
        return None


def _object_end(buffer: bytes, start: int) -> int | None:
    """The end of the object starting at `start`, or None if the buffer holds only part of it."""
    flat = _FLAT_OBJECT.match(buffer, start)
    if flat is not None:
        return flat.end()
    depth = 0
    for match in _TOKENS.finditer(buffer, start):
        token = match.group()
        if token == b'"':
            return None  # a string that continues in the next chunk
        if token in (b"{", b"["):
            depth += 1
        elif token in (b"}", b"]"):
            depth -= 1
            if depth == 0:
                return match.end()
    return None


def describe_body(data: bytes) -> str:
    """What a body that is not the JSON expected looks like, without a byte of it: a report
    must never carry what an untrusted server sent in place of its answer."""
    head = data.lstrip()[:64].lower()
    if not head:
        return "an empty answer"
    if head.startswith((b"<!doctype html", b"<html", b"<")):
        return f"an HTML page ({len(data)} bytes)"
    return f"{len(data)} bytes that are not JSON"
