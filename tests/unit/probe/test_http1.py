"""The probe's HTTP/1.1 read, byte by byte: a loopback server sends exactly the bytes of a case.

Every answer is parsed by h11 as browsers parse it (interim responses skipped, folded lines
joined, one Content-Length) and every failure is one of `messages.ERRORS`, which the probe's one
translation table maps to a reason: a new error type left out of the table fails here.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from hsts_coverage.probe import http_messages as messages
from hsts_coverage.probe.failures import TRANSLATIONS, translate
from hsts_coverage.probe.http1 import fetch
from hsts_coverage.probe.http_messages import Head, Request
from hsts_coverage.reasons import Reason
from hsts_coverage.rules.failures import reason_of

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Serve = Callable[[bytes], Awaitable[int]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a server on 127.0.0.1 that answers any connection with the given bytes, then closes."""
    servers: list[asyncio.Server] = []

    async def start(answer: bytes) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def get(serve: Serve, answer: bytes, *, want_body: bool = False) -> Head:
    port = await serve(answer)
    request = Request(address="127.0.0.1", port=port, host="example.test")
    return await fetch(request, tls=None, deadline=2.0, want_body=want_body)


# answer -> (status, header name -> every value)
PARSED = [
    (OK, 200, {"content-length": ("2",)}),
    # interim responses are skipped, their fields with them (a 103's HSTS is not the answer's)
    (
        b"HTTP/1.1 103 Early Hints\r\nStrict-Transport-Security: max-age=0\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=5\r\nContent-Length: 0\r\n\r\n",
        200,
        {"strict-transport-security": ("max-age=5",)},
    ),
    # obs-fold: the continuation joins the value with one space
    (
        b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n   two\r\nContent-Length: 0\r\n\r\n",
        200,
        {"x-folded": ("one two",)},
    ),
    # the same length twice is one length
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 204, {}),
    # no reason phrase, HTTP/1.0, LF-only line ends
    (b"HTTP/1.0 301\r\nLocation: /x\r\n\r\n", 301, {"location": ("/x",)}),
    (b"HTTP/1.1 302 Found\nLocation: /y\n\n", 302, {"location": ("/y",)}),
    # every Strict-Transport-Security field, in order
    (
        b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: a\r\nStrict-Transport-Security: b\r\n"
        b"Content-Length: 0\r\n\r\n",
        200,
        {"strict-transport-security": ("a", "b")},
    ),
]


@pytest.mark.parametrize(("answer", "status", "fields"), PARSED)
async def test_answers_are_read_as_browsers_read_them(
    serve: Serve, answer: bytes, status: int, fields: dict[str, tuple[str, ...]]
) -> None:
    head = await get(serve, answer)
    assert head.status == status
    for name, values in fields.items():
        assert head.get_all(name) == values


BODIES = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
        b"hello",
    ),
    # chunked wins over a Content-Length (RFC 9112 section 6.3), as in browsers
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        b"hello",
    ),
    (b"HTTP/1.0 200 OK\r\n\r\nuntil the close", b"until the close"),
]


@pytest.mark.parametrize(("answer", "body"), BODIES)
async def test_bodies_are_decoded(serve: Serve, answer: bytes, body: bytes) -> None:
    assert (await get(serve, answer, want_body=True)).body == body


FAILURES = [
    (b"", messages.EmptyResponseError, Reason.HTTPS_EMPTY_RESPONSE),
    (
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        messages.InvalidResponseError,
        Reason.HTTPS_INVALID_RESPONSE,
    ),
    (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", messages.InvalidResponseError, None),
    (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", messages.InvalidResponseError, None),
    (b"HTTP/1.1 200 OK\r\nContent", messages.InvalidResponseError, None),  # cut in the head
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        messages.ConflictingLengthError,
        Reason.HTTPS_CONFLICTING_LENGTH,
    ),
    # hostile lengths: "²" (a digit to str.isdigit, not to int), more digits than int() takes, < 0
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: \xc2\xb2\r\n\r\n",
        messages.InvalidResponseError,
        None,
    ),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
        messages.InvalidResponseError,
        None,
    ),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", messages.InvalidResponseError, None),
    (
        b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"x" * (300 * 1024) + b"\r\n\r\n",
        messages.HeadTooLargeError,
        Reason.HTTPS_INVALID_RESPONSE,
    ),
]


@pytest.mark.parametrize(("answer", "error", "reason"), FAILURES)
async def test_failures_are_typed_and_mapped(
    serve: Serve, answer: bytes, error: type[Exception], reason: Reason | None
) -> None:
    with pytest.raises(error) as failure:
        await get(serve, answer)
    assert reason_of(translate(failure.value)) is (reason or Reason.HTTPS_INVALID_RESPONSE)


async def test_a_body_past_the_cap_is_refused(serve: Serve) -> None:
    answer = b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * (messages.MAX_BODY + 1)
    with pytest.raises(messages.BodyTooLargeError):
        await get(serve, answer, want_body=True)


async def test_the_body_cap_is_the_callers(serve: Serve) -> None:
    # A CRL may be megabytes: the revocation check raises the cap for its own requests only.
    answer = b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * (messages.MAX_BODY + 1)
    port = await serve(answer)
    request = Request(address="127.0.0.1", port=port, host="example.test")
    head = await fetch(
        request, tls=None, deadline=2.0, want_body=True, max_body=2 * messages.MAX_BODY
    )
    assert len(head.body) == messages.MAX_BODY + 1
    port = await serve(answer)
    request = Request(address="127.0.0.1", port=port, host="example.test")
    with pytest.raises(messages.BodyTooLargeError):
        await fetch(request, tls=None, deadline=2.0, want_body=True, max_body=messages.MAX_BODY)


def _instance(kind: type[BaseException]) -> BaseException:
    error = kind("test")
    if isinstance(error, ssl.SSLCertVerificationError):
        error.verify_code, error.verify_message = 10, "certificate has expired"
    return error


@pytest.mark.parametrize("kind", messages.ERRORS, ids=lambda kind: kind.__name__)
def test_every_error_fetch_raises_has_its_own_row_in_the_table(kind: type[BaseException]) -> None:
    assert kind in {row for row, _ in TRANSLATIONS}, f"{kind.__name__} is not mapped"
    translate(_instance(kind))  # a row that raises is no mapping either


def test_every_response_error_is_listed() -> None:
    def subclasses(kind: type[BaseException]) -> set[type[BaseException]]:
        found = set(kind.__subclasses__())
        return found.union(*(subclasses(sub) for sub in found))

    assert subclasses(messages.ResponseError) <= set(messages.ERRORS)


@pytest.mark.parametrize("url", ["http://ca.example:99999/i.der", "http://[::1/i.der", "ftp://x/"])
async def test_a_certificate_url_no_client_can_fetch_gives_no_body(url: str) -> None:
    from hsts_coverage.probe.prober import Prober
    from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolver

    resolver = Resolver((), timeout=0.1, attempts=1)
    try:
        book = AddressBook(resolver, AddressPolicy(False, ()))
        prober = Prober(
            ca_bundle=None, addresses=book, timeout=0.1, max_redirects=20, user_agent="t"
        )
        assert await prober._fetch_body(url) is None
    finally:
        await resolver.close()


async def test_the_request_waits_for_established_outside_the_deadline(serve: Serve) -> None:
    # `established` (the wait for a --per-ip slot) outlasts the whole deadline: the request goes
    # out after it, the answer comes, and no time-out is counted against the host.
    port = await serve(OK)
    request = Request(address="127.0.0.1", port=port, host="example.test")
    sent_before: list[bool] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def established() -> None:
        await asyncio.sleep(0.5)
        sent_before.append(False)

    head = await fetch(request, tls=None, deadline=0.3, established=established)
    assert head.status == 200
    assert sent_before == [False]
    assert loop.time() - started >= 0.5


async def test_the_deadline_runs_again_after_established() -> None:
    # The clock stops only while waiting: a server that never answers still times out.
    silent = socket.create_server(("127.0.0.1", 0))  # connections wait in a backlog, unread
    port = int(silent.getsockname()[1])
    request = Request(address="127.0.0.1", port=port, host="example.test")

    async def established() -> None:
        await asyncio.sleep(0.2)

    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2):
                await fetch(request, tls=None, deadline=0.3, established=established)
    finally:
        silent.close()


async def test_a_connection_that_hangs_holds_no_reader(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Thousands of connections wait at once in a real scan (tarpits, slow hosts): the readers
    # (llhttp's and h11's, about 4 KiB) are made once a byte comes, not with the connection.
    from hsts_coverage.probe import http1

    made: list[str] = []

    class Counted(http1.FastHead):
        def __init__(self) -> None:
            made.append("llhttp")
            super().__init__()

    def counted_h11(*args: object, **kwargs: object) -> object:
        made.append("h11")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    original = http1.h11.Connection
    monkeypatch.setattr(http1, "FastHead", Counted)
    monkeypatch.setattr(http1.h11, "Connection", counted_h11)
    with pytest.raises(messages.EmptyResponseError):
        await get(serve, b"")  # the server closes without a byte
    assert made == []
    assert (await get(serve, OK)).status == 200
    assert made == ["llhttp"]  # an ordinary head: h11 is never made


async def test_what_tls_passes_on_before_the_hand_over_reaches_the_response() -> None:
    # Between the end of the handshake and the moment the response's protocol takes the
    # connection over, TLS may pass on a first byte or the connection's end: neither is lost.
    from hsts_coverage.probe import http1
    from hsts_coverage.probe.connecting import Handshake

    loop = asyncio.get_running_loop()
    request = Request(address="127.0.0.1", port=443, host="example.test")
    for early, expected in (
        ([("lost", None)], messages.EmptyResponseError),
        ([("data", OK[:10]), ("data", OK[10:]), ("eof", None)], None),
    ):
        handshake = Handshake()
        for kind, value in early:
            if kind == "data":
                handshake.data_received(value)  # type: ignore[arg-type]
            elif kind == "eof":
                handshake.eof_received()
            else:
                handshake.connection_lost(None)
        protocol = http1._OneResponse(request, loop.create_future(), False, None)
        protocol._transport = None  # never connected here: only what was kept reaches it
        handshake.hand_over(protocol)
        assert protocol.answer.done()
        if expected is None:
            assert protocol.answer.result().status == 200
        else:
            with pytest.raises(expected):
                protocol.answer.result()
