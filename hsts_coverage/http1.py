"""A minimal HTTP/1.1 client for probes: one request on a fresh connection, headers only.

A probe needs the status line and the headers of one response, on a connection to an address
the caller chose, with SNI and Host set to a name, plus what the TLS handshake showed. A general
client's machinery (pools, redirects, cookies, body handling) costs more CPU per host than the
handshake itself, so this module does only that: connect (TLS when given a context), send one
`GET` with `Connection: close`, read until the end of the head, abort the connection.

Limits are the browsers': the head may be at most 256 KiB (Chrome's limit for response
headers); a larger or malformed head is a `ResponseError`. Every failure is an exception for the
caller to translate: `ssl.SSLCertVerificationError`, `ssl.SSLError`, `ConnectionRefusedError`,
`TimeoutError`, `ResponseError`, other `OSError`s.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import cast

from hsts_coverage.models import Certificate
from hsts_coverage.reach import ConnectTimeoutError, HandshakeHangError, open_socket

# What a verified connection's certificate means to the caller, read once the handshake is done.
PeerReader = Callable[[ssl.SSLObject], Certificate | None]

MAX_HEAD = 256 * 1024
MAX_BODY = 64 * 1024  # for the few requests that need a body (an AIA intermediate)

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9][0-9]{2})(?:[ \t][^\r\n]*)?")
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class ResponseError(Exception):
    """What came back is not an HTTP/1.x response a browser accepts."""


@dataclass(frozen=True, slots=True)
class Head:
    status: int
    headers: tuple[tuple[str, str], ...]  # names lower-cased, values as sent (Latin-1)
    tls_version: str | None = None
    peer_certificate: Certificate | None = field(default=None, repr=False)
    body: bytes = b""  # only with `want_body`

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    def get_all(self, name: str) -> tuple[str, ...]:
        return tuple(value for key, value in self.headers if key == name)


@dataclass(frozen=True, slots=True)
class Request:
    address: str
    port: int
    host: str  # the Host header and, over TLS, the SNI name
    path: str = "/"
    user_agent: str = "hsts-coverage"

    def encode(self) -> bytes:
        host = self.host if self.port in (80, 443) else f"{self.host}:{self.port}"
        lines = (
            f"GET {self.path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: {self.user_agent}",
            "Accept: */*",
            "Connection: close",
        )
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def fetch(
    request: Request,
    *,
    tls: ssl.SSLContext | None,
    deadline: float,
    want_body: bool = False,
    read_peer: PeerReader | None = None,
    connect_timeout: float | None = None,
    established: Callable[[], None] | None = None,
) -> Head:
    """One request; `deadline` bounds connecting, the handshake and the answer together, and
    `connect_timeout` the TCP connect alone. A connect that runs out of time is a
    `ConnectTimeoutError`, a TLS handshake that does a `HandshakeHangError`; `established` is
    called once the connection (and handshake) is up. The socket is opened before the deadline
    starts (`reach.open_socket` waits for a free file descriptor)."""
    loop = asyncio.get_running_loop()
    sock = await open_socket(request.address)
    with _Deadline(loop, deadline) as phase:
        try:
            await _connect(loop, sock, request, connect_timeout)
        except BaseException:
            sock.close()  # not yet handed to a transport
            raise
        phase.error = HandshakeHangError if tls else TimeoutError
        transport, protocol = await loop.create_connection(
            lambda: _OneResponse(request.encode(), loop.create_future(), want_body, read_peer),
            sock=sock,
            ssl=tls,
            server_hostname=request.host if tls else None,
        )
        phase.error = TimeoutError
        if established is not None:
            established()
        try:
            return await protocol.answer
        finally:
            transport.abort()  # all we need has arrived: no close_notify round trip


async def _connect(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, request: Request, seconds: float | None
) -> None:
    if seconds is None:  # the deadline alone bounds it
        await loop.sock_connect(sock, (request.address, request.port))
        return
    try:
        async with asyncio.timeout(seconds):
            await loop.sock_connect(sock, (request.address, request.port))
    except TimeoutError:
        raise ConnectTimeoutError(f"connect timed out after {seconds:g} s") from None


class _Deadline:
    """`asyncio.timeout` cut to what one request needs (one timer, no reschedule): it runs twice
    for every host. On expiry the task is cancelled, and the cancellation turned into
    TimeoutError, unless someone else cancelled the task too."""

    __slots__ = ("_expired", "_task", "_timer", "error")

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        task = asyncio.current_task(loop)
        assert task is not None
        self._task = task
        self._expired = False
        self.error: type[TimeoutError] = ConnectTimeoutError  # what an expiry now means
        self._timer = loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __enter__(self) -> _Deadline:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        if kind is asyncio.CancelledError and self._expired and self._task.uncancel() == 0:
            raise self.error from exc


class _OneResponse(asyncio.Protocol):
    def __init__(
        self,
        request: bytes,
        answer: asyncio.Future[Head],
        want_body: bool,
        read_peer: PeerReader | None,
    ) -> None:
        self.answer = answer
        self._request = request
        self._want_body = want_body
        self._read_peer = read_peer
        self._buffer = bytearray()
        self._tls: tuple[str | None, Certificate | None] = (None, None)
        self._head: Head | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self._tls = (tls.version(), self._read_peer(tls) if self._read_peer else None)
        # uvloop's transports do not subclass asyncio's classes: a cast, not an isinstance check
        cast(asyncio.WriteTransport, transport).write(self._request)

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self._buffer += data
        try:
            self._advance()
        except ResponseError as exc:
            self.answer.set_exception(exc)

    def eof_received(self) -> bool | None:
        self._finish()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and not self.answer.done():
            self.answer.set_exception(exc)
        self._finish()

    def _advance(self) -> None:
        if self._head is None:
            end = _HEAD_END.search(self._buffer)
            if end is None:
                if len(self._buffer) > MAX_HEAD:
                    raise ResponseError(f"response headers larger than {MAX_HEAD >> 10} KiB")
                return
            self._head = parse_head(bytes(self._buffer[: end.start()]), self._tls)
            del self._buffer[: end.end()]
        if not self._want_body:
            self.answer.set_result(self._head)
        elif len(self._buffer) > MAX_BODY:
            raise ResponseError(f"body larger than {MAX_BODY >> 10} KiB")
        elif len(self._buffer) >= _content_length(self._head):
            self._finish()

    def _finish(self) -> None:
        if self.answer.done():
            return
        if self._head is None:
            self.answer.set_exception(ResponseError("the connection closed without a response"))
            return
        body = bytes(self._buffer[: _content_length(self._head)])
        self.answer.set_result(_with_body(self._head, body))


def parse_head(head: bytes, tls: tuple[str | None, Certificate | None] = (None, None)) -> Head:
    """Status line and header fields of a response head (without its blank line)."""
    lines = re.split(rb"\r?\n", head)
    status = _STATUS_LINE.fullmatch(lines[0])
    if status is None:
        raise ResponseError(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name:
            raise ResponseError(f"malformed header line: {line[:60]!r}")
        headers.append((name.decode("latin-1").lower(), value.strip(b" \t").decode("latin-1")))
    return Head(int(status.group(1)), tuple(headers), *tls)


def _content_length(head: Head) -> int:
    value = head.get("content-length") or ""
    # ASCII digits only (`²` is a digit to str.isdigit), and few enough for int() to take.
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return MAX_BODY + 1  # none, or not a number: until EOF, within MAX_BODY


def _with_body(head: Head, body: bytes) -> Head:
    return Head(head.status, head.headers, head.tls_version, head.peer_certificate, body)
