"""The lab's web hosts: what listens on each scenario address, port by port.

`WebHosts.listen(address, port, mode, site, tls)` opens one listener according to `Listen`:

- NOTHING: no socket, so connections are refused;
- HANG: accepts TCP, reads and discards, never sends; the connection stays open until the
  client leaves or the lab stops;
- PLAIN: a minimal HTTP/1.1 server (below);
- TLS / TLS10: the same HTTP server behind TLS (`tls_context` builds the server context);
- TLS_SILENT: completes the TLS handshake, then behaves as HANG (its context issues no TLS 1.3
  session tickets, so not a byte follows the handshake);
- TLS_H2: TLS offering ALPN `h2` only, then HTTP/2 only (h2's server side): one request's
  answer, as the site's route says (status, `location`, `strict-transport-security`, a body),
  then GOAWAY; a client that did not pick `h2` gets its HTTP/1.1 bytes refused as a bad preface;
- TLS_P521: the HTTP server behind TLS whose only key-exchange group is P-521;
- TLS_DHE: the HTTP server behind TLS 1.2 with the DHE-RSA suites only (RFC 7919 ffdhe2048),
  which no browser offers: a browser's handshake fails with handshake_failure;
- TLS_RESET: reads the first TLS record (the ClientHello), then resets the connection: SO_LINGER
  0 and close, so the client gets an RST in the middle of its handshake.

TLS runs on memory BIOs (`TlsChannel`) rather than asyncio's built-in TLS, because asyncio drops
the alert OpenSSL queues when a server-side handshake fails: a TLS 1.2+ client of the TLS10
listener must see the protocol_version alert, as from a real server, not a bare EOF.

The other TLS listeners select `http/1.1` when the client offers it by ALPN.

The HTTP server reads one request head (at most 8 KiB, 10 s), answers the site's route for the
path (status line, `Location` if any, one `Strict-Transport-Security` field per `Reply.sts`
string, in order, the padding fields below, `Content-Type: text/plain`, `Content-Length`,
`Connection: close`, a one-line body; no body for HEAD), then closes. An unknown path is a 404;
anything that is not an HTTP/1.x request head (e.g. a TLS ClientHello on a PLAIN port 443) is a
`400 Bad Request` answered as soon as the first non-text byte arrives. A `Reply` can misbehave:

- `delay`: the answer starts that many seconds after the request head;
- `trickle`: the head goes out one byte a second (the body, if any, follows at once);
- `header_bytes`: `X-Pad-1`, `X-Pad-2`, ... fields of exactly 1 KiB each (CRLF included), as
  many as fit in that many bytes;
- `long_header`: one `X-Long` field whose line (without its CRLF) is that many bytes;
- `endless_body`: no `Content-Length`, and after the head 64 KiB of body every 10 ms until the
  client leaves (a cap, so that an endless body does not take a core);
- `early_hints`: a `103 Early Hints` head (a `Link` field and `Strict-Transport-Security:
  max-age=0`) before the answer;
- `folded_header`: an `X-Folded` field whose value goes on in a second line starting with spaces;
- `length`: "same" sends `Content-Length` twice with the same value, "conflicting" a second one
  larger by 10, "chunked" the body in chunked coding with a bogus `Content-Length` as well;
- `close_without_answer`: nothing at all is sent back.

A wildcard site (its name starts with `*.`) answers as whichever name the client asked for, as a
real wildcard virtual host does: a Location naming the site itself names the request's Host
instead, when that Host is a name under the wildcard's parent.

`WebHosts.stats` counts, per "address:port", the TCP connections accepted and the TLS handshakes
completed. Client misbehaviour and network errors are logged and never stop a listener.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import struct
import warnings
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from http import HTTPStatus
from typing import Any, Protocol, TypeVar

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from hsts_coverage.lab.certs import KeyPair
from hsts_coverage.lab.scenarios import Listen, Reply

log = logging.getLogger(__name__)

_HEAD_LIMIT = 8 * 1024
_HEAD_SECONDS = 10.0
_TLS_HANDSHAKE_SECONDS = 10.0
_READ_SIZE = 16 * 1024
_TLS_RECORD_HEADER = 5  # type, version (2), length (2)
_TLS_HANDSHAKE_RECORD = 0x16
_TRICKLE_SECONDS = 1.0
_PAD_LINE = 1024  # bytes per X-Pad-N field, CRLF included
_ENDLESS_CHUNK = b"x" * (64 * 1024)
_ENDLESS_PAUSE = 0.01  # seconds between chunks: about 6.4 MB/s at most
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends an RST
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}
_DNS_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")

_T = TypeVar("_T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Site:
    """What one port serves: the host's name (for the body) and its routes, path -> reply."""

    name: str
    routes: Mapping[str, Reply]


@dataclass(slots=True)
class PortStats:
    accepted: int = 0
    handshakes: int = 0
    open: int = 0  # connections open right now
    peak: int = 0  # the most open at once (since the start, or the last `reset_peaks`)


def tls_context(pair: KeyPair, mode: Listen) -> ssl.SSLContext:
    """The server context for a TLS, TLS10, TLS_SILENT or TLS_DHE listener presenting `pair`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if mode is Listen.TLS_DHE:
        if pair.dh_params is None:
            raise ValueError(f"{pair.cert}: a DHE listener needs DH parameters")
        context.load_dh_params(str(pair.dh_params))
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 has no DHE-only suites
        context.set_ciphers("DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384")
    if mode is Listen.TLS10 or pair.low_security:
        # OpenSSL 3 allows TLS 1.0 (SHA-1 handshake signatures) and loads a SHA-1-signed
        # certificate or an RSA-1024 key only at security level 0; the client's own level
        # still judges them.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_cert_chain(pair.cert, pair.key)
    if mode is Listen.TLS10:
        # Python deprecates TLS 1.0, and serving it is the whole point of this listener.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode is Listen.TLS_SILENT:
        # TLS 1.3 servers send session tickets after the handshake; silent means not a byte.
        context.num_tickets = 0
    if mode is Listen.TLS_P521:
        context.set_ecdh_curve("secp521r1")  # OpenSSL 3: the one group, TLS 1.3 included
    context.set_alpn_protocols(["h2"] if mode is Listen.TLS_H2 else ["http/1.1"])
    return context


class Channel(Protocol):
    """A byte stream the HTTP server talks over: plain TCP or TLS."""

    async def read(self) -> bytes: ...  # b"" at the end of the stream

    async def send(self, data: bytes) -> None: ...


class PlainChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        return await self._reader.read(_READ_SIZE)

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()


class TlsChannel:
    """Server-side TLS over a TCP stream, on memory BIOs: every record OpenSSL produces is
    sent, including the alert of a failed handshake."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)

    async def handshake(self) -> None:
        await self._run(self._tls.do_handshake)

    async def read(self) -> bytes:
        try:
            return await self._run(lambda: self._tls.read(_READ_SIZE))
        except ssl.SSLZeroReturnError:  # the client's close_notify
            return b""
        except ssl.SSLEOFError:  # a close without close_notify: common, and harmless here
            return b""

    async def send(self, data: bytes) -> None:
        await self._run(lambda: self._tls.write(data))

    async def close_notify(self) -> None:
        # unwrap() queues our close_notify, then wants the client's, which we do not wait for.
        # Best effort: a client that already left gets nothing.
        if self._reader.at_eof():
            return
        with suppress(ssl.SSLError):
            self._tls.unwrap()
        await self._flush()

    async def _run(self, operation: Callable[[], _T]) -> _T:
        """Run a TLS operation, feeding it from the socket until it has the bytes it needs."""
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                await self._flush()
                data = await self._reader.read(_READ_SIZE)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()  # the next attempt raises SSLEOFError
                continue
            except ssl.SSLError:
                if not self._reader.at_eof():
                    await self._flush()  # the alert telling the client why
                raise
            await self._flush()
            return result

    async def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._writer.write(data)
            await self._writer.drain()


class ConnectionTasks:
    """The handler tasks of a server's open connections, so that a stop can end them.

    Python 3.11's Server.close() leaves accepted connections running, and a handler task that
    ends cancelled makes StreamReaderProtocol log a bogus error; so `track` closes the
    connection and ends the handler normally when `cancel_all` cancels it.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def track(self, handler: Handler) -> Handler:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                pass  # only cancel_all cancels these tasks: the server is stopping
            finally:
                writer.close()

        return tracked

    async def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class WebHosts:
    """Every web listener of the lab, with per-port connection statistics."""

    def __init__(self) -> None:
        self.stats: dict[str, PortStats] = {}
        self._servers: list[asyncio.Server] = []
        self._connections = ConnectionTasks()

    def stats_json(self) -> dict[str, dict[str, int]]:
        return {key: asdict(value) for key, value in self.stats.items()}

    async def listen(
        self, address: str, port: int, mode: Listen, site: Site, tls: ssl.SSLContext | None
    ) -> None:
        if mode is Listen.NOTHING:
            return
        where = f"{address}:{port}"
        stats = self.stats.setdefault(where, PortStats())
        handler = self._tracked(where, stats, _handler(mode, site, tls, stats))
        server = await asyncio.start_server(handler, address, port)
        self._servers.append(server)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        await self._connections.cancel_all()
        for server in self._servers:
            await server.wait_closed()

    def _tracked(self, where: str, stats: PortStats, handler: Handler) -> Handler:
        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stats.accepted += 1
            stats.open += 1
            stats.peak = max(stats.peak, stats.open)
            try:
                await handler(reader, writer)
            except (ConnectionResetError, BrokenPipeError):
                pass  # the client left first, e.g. right after its handshake: its right
            except OSError as exc:  # failed handshakes, timeouts (TimeoutError too), ...
                log.info("web %s: %s", where, exc or type(exc).__name__)
            finally:
                stats.open -= 1

        return self._connections.track(connected)


def _handler(mode: Listen, site: Site, tls: ssl.SSLContext | None, stats: PortStats) -> Handler:
    if mode is Listen.HANG:
        return _hang
    if mode is Listen.TLS_RESET:
        return _reset

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_http(site, PlainChannel(reader, writer))

    async def secure(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert tls is not None
        channel = TlsChannel(reader, writer, tls)
        async with asyncio.timeout(_TLS_HANDSHAKE_SECONDS):
            await channel.handshake()
        stats.handshakes += 1
        if mode is Listen.TLS_SILENT:
            await _hang(reader, writer)
            return
        if mode is Listen.TLS_H2:
            await _serve_h2(site, channel)
            return
        await _serve_http(site, channel)
        await channel.close_notify()

    if mode is Listen.PLAIN:
        return plain
    if tls is None:
        raise ValueError(f"{site.name}: a {mode} listener needs a TLS context")
    return secure


async def _hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Drain what the client sends so it never blocks on a full window; answer nothing.
    while await reader.read(_READ_SIZE):
        pass


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the first TLS record (the ClientHello), then reset the connection."""
    try:
        async with asyncio.timeout(_TLS_HANDSHAKE_SECONDS):
            header = await reader.readexactly(_TLS_RECORD_HEADER)
            # The whole ClientHello, so the RST comes while the client waits for an answer;
            # anything else than a handshake record is reset at once.
            if header[0] == _TLS_HANDSHAKE_RECORD:
                await reader.readexactly(int.from_bytes(header[3:5], "big"))
    except asyncio.IncompleteReadError:
        return  # the client left first
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


async def _serve_http(site: Site, channel: Channel) -> None:
    try:
        async with asyncio.timeout(_HEAD_SECONDS):
            head = await _read_head(channel)
    except TimeoutError:
        return
    if head is None:
        return
    request = _parse_request_line(head)
    if request is None:
        await _send_reply(channel, site.name, Reply(HTTPStatus.BAD_REQUEST), with_body=True)
        return
    method, path = request
    name = _answering_name(site, _host_header(head))
    reply = _as_name(site.routes.get(path, Reply(HTTPStatus.NOT_FOUND)), site.name, name)
    if reply.delay:
        await asyncio.sleep(reply.delay)
    await _send_reply(channel, name, reply, with_body=method != "HEAD")


async def _serve_h2(site: Site, channel: Channel) -> None:
    """Answer the first HTTP/2 request as the route says, then GOAWAY."""
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    connection.initiate_connection()
    await channel.send(connection.data_to_send())
    async with asyncio.timeout(_HEAD_SECONDS):
        while data := await channel.read():
            try:
                events = connection.receive_data(data)
            except h2.exceptions.ProtocolError:
                await channel.send(connection.data_to_send())  # the GOAWAY, if any
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    _answer_h2(connection, site, event)
                    connection.close_connection()
            await channel.send(connection.data_to_send())
            if connection.state_machine.state is h2.connection.ConnectionState.CLOSED:
                return


def _answer_h2(
    connection: h2.connection.H2Connection, site: Site, event: h2.events.RequestReceived
) -> None:
    # h2 gives header fields as bytes (no header_encoding configured)
    fields = {bytes(name): bytes(value) for name, value in event.headers or []}
    path = fields.get(b":path", b"/").decode("latin-1")
    reply = site.routes.get(path.split("?", 1)[0], Reply(HTTPStatus.NOT_FOUND))
    body = _body(site.name, reply)
    headers = [(":status", str(reply.status))]
    if reply.location is not None:
        headers.append(("location", reply.location))
    headers += [("strict-transport-security", value) for value in reply.sts]
    headers += [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body)))]
    assert event.stream_id is not None
    connection.send_headers(event.stream_id, headers)
    connection.send_data(event.stream_id, body, end_stream=True)


async def _send_reply(channel: Channel, name: str, reply: Reply, *, with_body: bool) -> None:
    """The response to one request, with the misbehaviour `reply` asks for."""
    if reply.close_without_answer:
        return
    if reply.early_hints:
        await channel.send(_EARLY_HINTS)
    if reply.length == "chunked":
        body = _body(name, reply)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        await channel.send(_head(reply, content_length=len(body) + 7) + chunked)
        return
    if reply.endless_body:
        await channel.send(_head(reply, content_length=None))
        if with_body:
            await _send_endlessly(channel)
        return
    body = _body(name, reply)
    head = _head(reply, content_length=len(body))  # HEAD too: the length GET would get
    if not with_body:
        body = b""
    if reply.trickle:
        await _trickle(channel, head)
        head = b""
    if head or body:
        await channel.send(head + body)


async def _trickle(channel: Channel, data: bytes) -> None:
    for index in range(len(data)):
        await channel.send(data[index : index + 1])
        await asyncio.sleep(_TRICKLE_SECONDS)


async def _send_endlessly(channel: Channel) -> None:
    # Ends when the client leaves: a send then raises ConnectionResetError or BrokenPipeError.
    while True:
        await channel.send(_ENDLESS_CHUNK)
        await asyncio.sleep(_ENDLESS_PAUSE)


async def _read_head(channel: Channel) -> bytes | None:
    """Bytes up to the end of the head, or fewer once they cannot be one; None on EOF."""
    head = b""
    while b"\r\n\r\n" not in head and len(head) <= _HEAD_LIMIT and _is_text(head):
        chunk = await channel.read()
        if not chunk:
            return None
        head += chunk
    return head


def _parse_request_line(head: bytes) -> tuple[str, str] | None:
    """(method, path without query) of an HTTP/1.x origin-form request head, else None."""
    if b"\r\n\r\n" not in head or len(head) > _HEAD_LIMIT or not _is_text(head):
        return None
    parts = head.split(b"\r\n", 1)[0].decode("ascii").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        return None
    return parts[0], parts[1].split("?", 1)[0]


def _host_header(head: bytes) -> str:
    """The request's Host, lower case and without a port; "" if absent."""
    for line in head.split(b"\r\n")[1:]:
        field, _, value = line.decode("ascii").partition(":")
        if field.strip().lower() == "host":
            return value.strip().lower().rsplit(":", 1)[0].rstrip(".")
    return ""


def _answering_name(site: Site, host: str) -> str:
    """The name a site answers as: its own, or for a wildcard site the Host it covers."""
    if not site.name.startswith("*."):
        return site.name
    parent = site.name[1:]  # ".wild.example"
    # Only a plain DNS name under the parent, so a client cannot inject text into headers.
    if host.endswith(parent) and _DNS_NAME.fullmatch(host):
        return host
    return site.name


def _as_name(reply: Reply, own: str, name: str) -> Reply:
    if name == own or reply.location is None:
        return reply
    return replace(reply, location=reply.location.replace(f"//{own}/", f"//{name}/"))


def _is_text(data: bytes) -> bool:
    return all(byte in _TEXT_BYTES for byte in data)


def _body(name: str, reply: Reply) -> bytes:
    status = HTTPStatus(reply.status)
    return f"{name}: {status.value} {status.phrase}\n".encode()


_EARLY_HINTS = (
    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n"
    b"Strict-Transport-Security: max-age=0\r\n\r\n"
)


def _head(reply: Reply, *, content_length: int | None) -> bytes:
    """The response head; without a Content-Length when `content_length` is None."""
    status = HTTPStatus(reply.status)
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    if reply.location is not None:
        lines.append(f"Location: {reply.location}")
    # Separate fields, never joined with commas: how a client treats repeats is under test.
    lines += [f"Strict-Transport-Security: {value}" for value in reply.sts]
    lines += _padding(reply)
    lines.append("Content-Type: text/plain; charset=utf-8")
    if reply.folded_header:
        lines += ["X-Folded: the first line", "  and its continuation"]
    if reply.length == "chunked":
        lines.append("Transfer-Encoding: chunked")
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
        if reply.length in ("same", "conflicting"):
            extra = content_length + (10 if reply.length == "conflicting" else 0)
            lines.append(f"Content-Length: {extra}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _padding(reply: Reply) -> list[str]:
    """The X-Pad-N fields for `header_bytes` and the X-Long field for `long_header`."""
    count = reply.header_bytes // _PAD_LINE
    lines = [_filled(f"X-Pad-{n}: ", _PAD_LINE - 2) for n in range(1, count + 1)]
    if reply.long_header:
        lines.append(_filled("X-Long: ", reply.long_header))
    return lines


def _filled(prefix: str, length: int) -> str:
    """`prefix` followed by filler up to `length` characters."""
    return prefix + "x" * max(length - len(prefix), 0)
