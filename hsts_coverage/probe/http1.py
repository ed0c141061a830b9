"""A minimal HTTP/1.1 client for probes: one request on a fresh connection, headers only.

(HTTP/2, when a server picks `h2` by ALPN, is read by `http2.Exchange` on the same connection
and handed back as the same `Head`, with `alpn` saying which was spoken.)

A probe needs the status line and the headers of one response, on a connection to an address
the caller chose, with SNI and Host set to a name, plus what the TLS handshake showed. A general
client's machinery (pools, redirects, cookies, body handling) costs more CPU per host than the
handshake itself, so this module does only that: connect (TLS when given a context), send one
`GET` with `Connection: close`, read until the end of the head, abort the connection.

The response is parsed by h11, a well-kept HTTP/1.1 parser, as browsers parse it (an ordinary
head is read by llhttp first, about fifteen times cheaper, and anything it does not read exactly
as h11 would goes to h11: `http_head`):
- interim 1xx responses (`100 Continue`, `103 Early Hints`) are skipped: browsers take neither
  their status nor their Strict-Transport-Security (Chrome uses a 103 only for preload hints);
- obsolete line folding (a header line starting with a space) is joined to the previous value
  with a space, as Chrome and Firefox do;
- identical repeated `Content-Length` fields are one; differing ones are an error
  (`ConflictingLengthError`, Chrome's ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH); with
  `Transfer-Encoding: chunked` the length is ignored (RFC 9112 section 6.3);
- bodies, for the few requests that want one (an AIA intermediate), are decoded: chunked,
  length-delimited or until the connection closes.
One known difference: h11 refuses a transfer coding other than `chunked` (e.g. `gzip, chunked`),
which browsers decode; such a response is an `InvalidResponseError` here.

Limits are the browsers': the head may be at most 256 KiB (Chrome's limit for response
headers); a larger head is a `HeadTooLargeError`. Every failure is an exception for the caller
to translate, one of `ERRORS` (or a subclass): `ssl.SSLCertVerificationError`, `ssl.SSLError`,
`ConnectionRefusedError`, `ConnectionResetError`, `TimeoutError`, the `ResponseError` family,
other `OSError`s.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import h11

from hsts_coverage.models import Certificate
from hsts_coverage.probe.connecting import Deadline, Handshake, connect, start_tls
from hsts_coverage.probe.http_head import FastHead, Unusual
from hsts_coverage.probe.http_messages import (
    MAX_BODY,
    MAX_HEAD,
    BodyTooLargeError,
    ConflictingLengthError,
    EmptyResponseError,
    Head,
    HeadTooLargeError,
    InvalidResponseError,
    Request,
    ResponseError,
)
from hsts_coverage.probe.reach import HandshakeHangError

if TYPE_CHECKING:
    from hsts_coverage.probe.http2 import Exchange

# What h11 is told was sent, built once (h11 validates every event it is given, at a cost of
# tens of microseconds: twice a host). Events are immutable.
_SENT = h11.Request(method="GET", target="/", headers=[("Host", "-")])
_SENT_END = h11.EndOfMessage()
# What a verified connection's certificate means to the caller, read once the handshake is done.
PeerReader = Callable[[ssl.SSLObject], Certificate | None]
# (TLS version, peer certificate, ALPN protocol) of a connection; all None over plain TCP.
_TlsFacts = tuple[str | None, Certificate | None, str | None]


async def fetch(
    request: Request,
    *,
    tls: ssl.SSLContext | None,
    deadline: float,
    want_body: bool = False,
    read_peer: PeerReader | None = None,
    connect_timeout: float | None = None,
    established: Callable[[], Awaitable[None]] | None = None,
    max_body: int = MAX_BODY,
) -> Head:
    """One request; `deadline` bounds connecting, the handshake and the answer together, and
    `connect_timeout` the TCP connect alone. A connect that runs out of time is a
    `ConnectTimeoutError`, a TLS handshake that does a `HandshakeHangError`. `established` is
    awaited once the connection (and handshake) is up, before the request is sent, outside the
    deadline (it may wait for a `--per-ip` slot); nothing is read meanwhile. A wait for a free
    file descriptor is outside the deadline too. The phases: `connecting`."""
    loop = asyncio.get_running_loop()
    protocol = _OneResponse(
        request, loop.create_future(), want_body, read_peer, max_body, held=bool(established)
    )
    with Deadline(loop, deadline) as phase:
        first = protocol if tls is None else Handshake()
        transport = await connect(loop, request, first, phase, connect_timeout)
        try:
            phase.error = HandshakeHangError if tls else TimeoutError
            if tls is not None:
                transport = await start_tls(loop, transport, tls, request.host, protocol)
            phase.error = TimeoutError
            if established is not None:
                with phase.paused():
                    await established()
                protocol.release()
            return await protocol.answer
        finally:
            transport.abort()  # all we need has arrived: no close_notify round trip


class _OneResponse(asyncio.Protocol):
    def __init__(
        self,
        request: Request,
        answer: asyncio.Future[Head],
        want_body: bool,
        read_peer: PeerReader | None,
        max_body: int = MAX_BODY,
        *,
        held: bool = False,
    ) -> None:
        self.answer = answer
        self._held = held  # connected, but the request waits for `release()`
        self._max_body = max_body
        self._request = request
        self._want_body = want_body
        self._read_peer = read_peer
        # A head-only answer is read by llhttp first; h11 gets what it leaves (`http_head`).
        # Both readers are made only once a byte comes: a connection that hangs (a tarpit, a
        # slow host) holds neither (about 4 KiB; thousands of them wait at once in a real scan).
        self._parser: h11.Connection | None = None
        self._fast: FastHead | None = None
        self._seen = bytearray()  # what the fast reader has read so far, for h11 if it gives up
        self._tls: _TlsFacts = (None, None, None)
        self._head: Head | None = None
        self._body = bytearray()
        self._received = 0
        self._h2: Exchange | None = None
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            peer = self._read_peer(tls) if self._read_peer else None
            self._tls = (tls.version(), peer, tls.selected_alpn_protocol())
        # uvloop's transports do not subclass asyncio's classes: a cast, not an isinstance check
        self._transport = cast(asyncio.WriteTransport, transport)
        if self._held:  # nothing read, nothing sent, until the caller releases the request
            cast(asyncio.ReadTransport, transport).pause_reading()
            return
        self._start()

    def release(self) -> None:
        """Send the request a held connection was keeping back, and read the answer."""
        transport = self._transport
        if not self._held or transport is None or transport.is_closing():
            return
        self._held = False
        cast(asyncio.ReadTransport, transport).resume_reading()
        self._start()

    def _start(self) -> None:
        assert self._transport is not None
        if self._tls[2] == "h2":  # the server chose HTTP/2, as it may with a browser
            from hsts_coverage.probe.http2 import (
                Exchange,  # loads h2: only servers that pick it
            )

            self._h2 = Exchange(self._request, self._want_body)
            self._transport.write(self._h2.start())
            return
        self._transport.write(self._request.encode())

    def _h11(self) -> h11.Connection:
        if self._parser is None:
            self._parser = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
            # The request went out as bytes of its own; h11 is told it was sent, to parse the
            # answer.
            self._parser.send(_SENT)
            self._parser.send(_SENT_END)
        return self._parser

    def data_received(self, data: bytes) -> None:
        self._feed(data)

    def eof_received(self) -> bool | None:
        self._feed(b"")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.answer.done():
            self.answer.set_exception(exc)
        self._feed(b"")
        if self._fast is not None:  # an answer that came another way: the reader goes too
            self._fast.close()
            self._fast = None
        self._transport = None  # it holds this protocol: no cycle left for the collector

    def _feed(self, data: bytes) -> None:
        if self.answer.done():
            return
        self._received += len(data)
        if not data and not self._received:
            self.answer.set_exception(EmptyResponseError("the connection closed without a byte"))
            return
        if self._h2 is not None:
            self._feed_h2(self._h2, data)
            return
        if self._parser is None and not self._want_body:  # h11 not needed so far
            self._fast = self._fast or FastHead()
            if self._read_fast(self._fast, data):
                return
        try:
            parser = self._h11()
            if self._seen:  # what the fast reader left: h11 reads it all, from the first byte
                parser.receive_data(bytes(self._seen))
                self._seen = bytearray()
            parser.receive_data(data)
            self._advance(parser)
        except ResponseError as exc:
            self.answer.set_exception(exc)
        except h11.RemoteProtocolError as exc:
            self.answer.set_exception(_parser_error(exc))

    def _read_fast(self, fast: FastHead, data: bytes) -> bool:
        """Whether llhttp read `data` (the head is answered, or more is needed); if not, h11
        reads every byte from now on, those it saw first."""
        try:
            found = fast.feed(data)
        except Unusual:
            found = None
        else:
            if self._received <= MAX_HEAD:
                if found is None:
                    self._seen += data
                else:
                    self.answer.set_result(Head(found[0], found[1], *self._tls))
                return True
        self._fast = None
        return False

    def _feed_h2(self, exchange: Exchange, data: bytes) -> None:
        try:
            reply, answer = exchange.feed(data)
        except ResponseError as exc:
            self.answer.set_exception(exc)
            return
        if reply and self._transport is not None and not self._transport.is_closing():
            self._transport.write(reply)
        if answer is not None:
            version, peer, alpn = self._tls
            head = Head(answer.status, answer.headers, version, peer, alpn, answer.body)
            self.answer.set_result(head)

    def _advance(self, parser: h11.Connection) -> None:
        while not self.answer.done():
            event = parser.next_event()
            if event is h11.NEED_DATA:
                return
            self._on(event, parser)

    def _on(self, event: object, parser: h11.Connection) -> None:
        if isinstance(event, h11.Response):
            # h11 checks its limit only while a head is incomplete; one that came whole counts too.
            if self._received - len(parser.trailing_data[0]) > MAX_HEAD:
                raise HeadTooLargeError(f"response headers larger than {MAX_HEAD >> 10} KiB")
            self._head = _head(event, self._tls)
            if not self._want_body:
                self.answer.set_result(self._head)
        elif isinstance(event, h11.Data):
            self._body += event.data
            if len(self._body) > self._max_body:
                raise BodyTooLargeError(f"body larger than {self._max_body >> 10} KiB")
        elif isinstance(event, h11.EndOfMessage) and self._head is not None:
            self.answer.set_result(_with_body(self._head, bytes(self._body)))
        elif isinstance(event, h11.ConnectionClosed):
            raise InvalidResponseError("the connection closed before the response ended")
        # h11.InformationalResponse (1xx): skipped, as browsers skip it


def _head(event: h11.Response, tls: _TlsFacts) -> Head:
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers
    )
    return Head(event.status_code, headers, *tls)


def _parser_error(exc: h11.RemoteProtocolError) -> ResponseError:
    message = str(exc)
    if message.startswith("conflicting Content-Length"):  # h11's words for two lengths
        return ConflictingLengthError(message)
    # "bad Content-Length" (not digits, or more of them than h11 takes) is no length at all.
    if message.startswith("Receive buffer too long") or "exceeds maximum size" in message:
        return HeadTooLargeError(f"response headers larger than {MAX_HEAD >> 10} KiB")
    return InvalidResponseError(message)


def _with_body(head: Head, body: bytes) -> Head:
    return replace(head, body=body)
