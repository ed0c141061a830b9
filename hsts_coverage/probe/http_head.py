"""The head of an ordinary response, read by httptools (llhttp, a C parser) instead of h11.

h11 is the reference reader of responses (`http1`): it reads them as browsers do, and costs
about 50 us of CPU a response (two a host), where llhttp costs 3. So a head-only request reads
its answer here first, and anything this reader does not take exactly as h11 would is
`Unusual`: `http1` then gives every byte received so far to h11, which decides, as it always
did. What is read here: an HTTP/1.0 or 1.1 status line, header fields, interim 1xx responses
(skipped, as h11 and browsers skip them), then the final head. What is left to h11: whatever
llhttp refuses (obsolete line folding, line ends without CR, a Content-Length twice, a
Content-Length beside Transfer-Encoding, ...: h11 reads some of them as browsers do), an upgrade
(101), another HTTP version, a control character in the reason phrase or a field value (llhttp
takes some that h11 refuses), a Transfer-Encoding other than one `chunked` (h11 refuses it), the
end of the connection before the head, and a head over the size limit (h11 counts it exactly).
Field values lose their surrounding spaces and tabs, and names (and Transfer-Encoding's value)
are lower-cased, as h11 does. Once the final head is read, nothing after it is (h11 does not read
on either).
"""

from __future__ import annotations

import httptools

# Bytes no reason phrase or field value may hold for h11: controls but HTAB, and DEL.
_CONTROLS = bytes(b for b in range(0x20) if b != 0x09) + b"\x7f"
_VERSIONS = frozenset({"1.0", "1.1"})
_WHITESPACE = b" \t"

RawHeaders = tuple[tuple[str, str], ...]


class Unusual(Exception):
    """A response this reader leaves to h11."""


class FastHead:
    """Reads one response's head from the bytes fed to it; see the module's docstring."""

    __slots__ = ("_final", "_headers", "_parser", "_reason")

    def __init__(self) -> None:
        # The parser holds this object's callbacks and this object the parser: a cycle, which
        # only the cyclic collector (kept calm during a scan) would free. `close` breaks it.
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._reason = b""
        self._final: tuple[int, RawHeaders] | None = None

    def feed(self, data: bytes) -> tuple[int, RawHeaders] | None:
        """The final head's status and fields once they are here, else None (more is needed).
        Raises `Unusual` for a response h11 must read."""
        parser = self._parser
        if parser is None:
            raise Unusual("closed")
        if not data:
            self.close()
            raise Unusual("the end of the connection")
        try:
            parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self._final is None:  # past the final head, h11 would not have read on either
                self.close()
                raise Unusual(str(exc)) from None
        if self._final is not None:
            self.close()
        return self._final

    def close(self) -> None:
        """Let the parser go (it goes by reference counting, see `__init__`)."""
        self._parser = None

    # llhttp's callbacks, one message at a time (an interim response is a message of its own)

    def on_message_begin(self) -> None:
        self._headers = []
        self._reason = b""

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None  # called from inside `feed`
        status = parser.get_status_code()
        if self._final is not None or status < 200:
            return  # an interim response, or the bytes after the final head
        if parser.get_http_version() not in _VERSIONS or _has_controls(self._reason):
            raise Unusual("for h11")
        fields = []
        codings = 0
        for raw_name, raw_value in self._headers:
            name, value = raw_name.lower(), raw_value.strip(_WHITESPACE)
            if _has_controls(value):
                raise Unusual("a control character in a field")
            if name == b"transfer-encoding":
                codings += 1
                value = value.lower()  # as h11 gives it
                if codings > 1 or value != b"chunked":
                    raise Unusual("a Transfer-Encoding h11 refuses")
            fields.append((name.decode("latin-1"), value.decode("latin-1")))
        self._final = (status, tuple(fields))


def _has_controls(data: bytes) -> bool:
    return len(data.translate(None, _CONTROLS)) != len(data)
