"""The HTTP/2 read, sans I/O: the probe's `Exchange` against h2's own server side, in memory."""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
import pytest

from hsts_coverage.probe import http_messages as messages
from hsts_coverage.probe.http2 import Answer, Exchange
from hsts_coverage.probe.http_messages import Request

REQUEST = Request(address="127.0.0.1", port=443, host="example.test", path="/x?y")
Headers = list[tuple[str, str]]


def _server(client_bytes: bytes) -> tuple[h2.connection.H2Connection, int, Headers]:
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding="latin-1")
    )
    server.initiate_connection()
    events = server.receive_data(client_bytes)
    [request] = [e for e in events if isinstance(e, h2.events.RequestReceived)]
    assert request.stream_id is not None
    return server, request.stream_id, [(str(k), str(v)) for k, v in request.headers or []]


def _exchange(answer: list[tuple[Headers, bool]], *, body: bytes = b"", want_body: bool = False):
    """Run one exchange: the server sends each (headers, end_stream), then `body`."""
    exchange = Exchange(REQUEST, want_body)
    server, stream, headers = _server(exchange.start())
    for fields, end in answer:
        server.send_headers(stream, fields, end_stream=end)
    if body:
        server.send_data(stream, body, end_stream=True)
    return headers, exchange.feed(server.data_to_send())


def test_the_request_is_a_browsers_get() -> None:
    headers, _ = _exchange([([(":status", "200")], True)])
    assert dict(headers)[":method"] == "GET"
    assert dict(headers)[":authority"] == "example.test"
    assert dict(headers)[":path"] == "/x?y"
    assert dict(headers)[":scheme"] == "https"


def test_interim_answers_are_skipped() -> None:
    fields = [(":status", "200"), ("strict-transport-security", "max-age=5")]
    _, (_, answer) = _exchange([([(":status", "103"), ("link", "</a>")], False), (fields, True)])
    assert answer == Answer(200, (("strict-transport-security", "max-age=5"),))


def test_a_body_is_read_when_wanted() -> None:
    _, (_, answer) = _exchange([([(":status", "200")], False)], body=b"der", want_body=True)
    assert answer is not None
    assert answer.body == b"der"


def test_a_reset_stream_is_an_invalid_response() -> None:
    exchange = Exchange(REQUEST, False)
    server, stream, _ = _server(exchange.start())
    server.reset_stream(stream)
    with pytest.raises(messages.InvalidResponseError, match="reset"):
        exchange.feed(server.data_to_send())


def test_an_oversized_header_list_is_refused() -> None:
    exchange = Exchange(REQUEST, False)
    server, stream, _ = _server(exchange.start())
    big = [(":status", "200"), *((f"x-pad-{i}", "x" * 1000) for i in range(300))]
    server.send_headers(stream, big, end_stream=True)
    with pytest.raises(messages.HeadTooLargeError):
        exchange.feed(server.data_to_send())


def test_a_closed_connection_before_the_answer() -> None:
    exchange = Exchange(REQUEST, False)
    exchange.start()
    with pytest.raises(messages.InvalidResponseError):
        exchange.feed(b"")
