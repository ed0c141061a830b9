"""The fast head reader never takes a response h11 refuses, and reads every head it takes as h11
does; what it leaves, h11 reads (the answers through `fetch` are in test_http1)."""

from __future__ import annotations

import h11
import pytest

from hsts_coverage.probe.http_head import FastHead, Unusual
from hsts_coverage.probe.http_messages import MAX_HEAD

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

# Answers llhttp reads itself: the same status and fields as h11.
ORDINARY = [
    OK,
    b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nLocation: https://a.test/\r\n"
    b"Connection: close\r\nContent-Length: 169\r\n\r\n<html>",
    b"HTTP/1.0 301\r\nLocation: /x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: a\r\nStrict-Transport-Security: b\r\n\r\n",
    b"HTTP/1.1 103 Early Hints\r\nStrict-Transport-Security: max-age=0\r\n\r\n"
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=5\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX:   padded \t \r\nY:\r\n\r\n",  # surrounding blanks go, as in h11
    b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\n\r\n",  # obs-text is a field value's right
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad chunk after the head is not read",
]

# Answers llhttp leaves to h11 (h11 may read them, or refuse them).
LEFT = [
    b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n   two\r\nContent-Length: 0\r\n\r\n",  # obs-fold
    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 302 Found\nLocation: /y\n\n",  # no CR
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    b"HTTP/2.0 200 OK\r\n\r\n",
    b"HTTP/1.1 200 O\x01K\r\n\r\n",  # a control in the reason phrase
    b"HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
    b"HTTP/1.1  200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Length: \xc2\xb2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
]


def by_h11(raw: bytes) -> tuple[int, tuple[tuple[str, str], ...]] | type[Exception]:
    """The final head as `http1` reads it with h11, or the error h11 gives."""
    parser = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
    parser.send(h11.Request(method="GET", target="/", headers=[("Host", "a.test")]))
    parser.send(h11.EndOfMessage())
    parser.receive_data(raw)
    parser.receive_data(b"")
    try:
        while True:
            event = parser.next_event()
            if isinstance(event, h11.Response):
                fields = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in event.headers)
                return event.status_code, fields
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return EOFError
    except h11.RemoteProtocolError:
        return h11.RemoteProtocolError


def by_llhttp(raw: bytes, piece: int | None = None) -> tuple[int, tuple[tuple[str, str], ...]]:
    reader = FastHead()
    step = piece or len(raw)
    for start in range(0, len(raw), step):
        found = reader.feed(raw[start : start + step])
        if found is not None:
            return found
    raise Unusual("more is needed")


@pytest.mark.parametrize("raw", ORDINARY)
@pytest.mark.parametrize("piece", [None, 1, 7])
def test_an_ordinary_head_reads_as_h11_reads_it(raw: bytes, piece: int | None) -> None:
    assert by_llhttp(raw, piece) == by_h11(raw)


@pytest.mark.parametrize("raw", LEFT)
def test_what_it_does_not_read_as_h11_does_goes_to_h11(raw: bytes) -> None:
    with pytest.raises(Unusual):
        by_llhttp(raw)


@pytest.mark.parametrize("raw", ORDINARY + LEFT)
def test_it_never_takes_what_h11_refuses(raw: bytes) -> None:
    if not isinstance(by_h11(raw), tuple):
        with pytest.raises(Unusual):
            by_llhttp(raw)


def test_the_end_of_the_connection_is_left_to_h11() -> None:
    reader = FastHead()
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-") is None
    with pytest.raises(Unusual):
        reader.feed(b"")


def test_a_reader_done_with_its_head_holds_no_cycle() -> None:
    # The scan keeps the cyclic collector calm: a parser and its reader left in a cycle would
    # stay until it ran, thousands of them at once (4 MiB more in a worker at 2,000 hosts).
    import gc
    import weakref

    class Watched(FastHead):  # a subclass of its own takes weak references
        pass

    for raw, final in ((OK, True), (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", False)):
        reader = Watched()
        gone = weakref.ref(reader)
        if final:
            assert reader.feed(raw) is not None
        else:
            with pytest.raises(Unusual):
                reader.feed(raw)
        gc.disable()
        try:
            del reader
            assert gone() is None  # freed at once, by reference counting
        finally:
            gc.enable()
    reader = Watched()
    reader.feed(b"HTTP/1.1 200 OK\r\n")
    gone = weakref.ref(reader)
    reader.close()  # a reader left half-way, when its connection ends
    gc.disable()
    try:
        del reader
        assert gone() is None
    finally:
        gc.enable()
