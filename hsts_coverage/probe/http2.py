"""One HTTP/2 request on a connection whose TLS handshake chose `h2` by ALPN, read with h2.

Browsers offer `h2` and `http/1.1` in ALPN and speak HTTP/2 whenever the server picks it; a
server that speaks only HTTP/2 is then judged as browsers see it. `Exchange` is sans-I/O (h2,
python-hyper's HTTP/2 state machine): `start()` gives the bytes to send (the connection preface,
SETTINGS, one HEADERS frame for `GET`), `feed(data)` the bytes to send back (SETTINGS and
WINDOW_UPDATE acknowledgements) and, once it has arrived, the answer. As over HTTP/1.1:
interim 1xx responses are skipped, the header list may be at most `MAX_HEAD` bytes (advertised
in SETTINGS_MAX_HEADER_LIST_SIZE and enforced by h2's HPACK decoder), a body is read only when
wanted and at most `MAX_BODY` bytes. Failures are `http1`'s `ResponseError` family: a protocol
violation, a reset stream or a GOAWAY before the answer is an `InvalidResponseError` (Chrome's
ERR_HTTP2_PROTOCOL_ERROR and its kin), an oversized header list a `HeadTooLargeError`.

Only loaded when a server picks `h2`: the scan of an HTTP/1.1-only fleet never imports h2.
"""

from __future__ import annotations

from dataclasses import dataclass

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from hsts_coverage.probe.http_messages import (
    MAX_BODY,
    MAX_HEAD,
    BodyTooLargeError,
    HeadTooLargeError,
    InvalidResponseError,
    Request,
    ResponseError,
)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]  # names lower case (HTTP/2 requires it), Latin-1 values
    body: bytes = b""


class Exchange:
    """The client side of one request/response exchange over HTTP/2."""

    def __init__(self, request: Request, want_body: bool) -> None:
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self._connection = h2.connection.H2Connection(config)
        self._connection.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEAD,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            },
        )
        self._request = request
        self._want_body = want_body
        self._stream = 0
        self._head: Answer | None = None
        self._body = bytearray()

    def start(self) -> bytes:
        connection = self._connection
        connection.initiate_connection()
        connection.decoder.max_header_list_size = MAX_HEAD  # before SETTINGS are acknowledged
        self._stream = connection.get_next_available_stream_id()
        request = self._request
        authority = request.host if request.port == 443 else f"{request.host}:{request.port}"
        headers = [
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", authority),
            (":path", request.path),
            ("user-agent", request.user_agent),
            ("accept", "*/*"),
        ]
        connection.send_headers(self._stream, headers, end_stream=True)
        return connection.data_to_send()

    def feed(self, data: bytes) -> tuple[bytes, Answer | None]:
        """(bytes to send back, the answer once complete); raises a `ResponseError`."""
        if not data:
            raise InvalidResponseError("the connection closed before the HTTP/2 response")
        try:
            events = self._connection.receive_data(data)
        except h2.exceptions.DenialOfServiceError as exc:
            raise HeadTooLargeError(f"HTTP/2 header list over {MAX_HEAD >> 10} KiB") from exc
        except h2.exceptions.ProtocolError as exc:
            raise InvalidResponseError(f"HTTP/2 protocol error: {exc}") from exc
        answer = None
        for event in events:
            answer = self._on(event)
            if answer is not None:
                break
        return self._connection.data_to_send(), answer

    def _on(self, event: h2.events.Event) -> Answer | None:
        if isinstance(event, h2.events.ResponseReceived) and event.stream_id == self._stream:
            self._head = _answer(event.headers or [])
            return None if self._want_body else self._head
        if isinstance(event, h2.events.DataReceived) and event.stream_id == self._stream:
            self._body += event.data
            self._connection.acknowledge_received_data(
                event.flow_controlled_length, event.stream_id
            )
            if len(self._body) > MAX_BODY:
                raise BodyTooLargeError(f"body larger than {MAX_BODY >> 10} KiB")
            return None
        if isinstance(event, h2.events.StreamEnded) and self._head is not None:
            return Answer(self._head.status, self._head.headers, bytes(self._body))
        if isinstance(event, h2.events.StreamReset | h2.events.ConnectionTerminated):
            raise _ended(event)
        return None  # InformationalResponseReceived (1xx) and the rest: skipped


def _answer(fields: list[tuple[bytes, bytes]] | list[tuple[str, str]]) -> Answer:
    status = 0
    headers: list[tuple[str, str]] = []
    for raw_name, raw_value in fields:
        name = raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name
        value = raw_value.decode("latin-1") if isinstance(raw_value, bytes) else raw_value
        if name == ":status":
            status = int(value)
        elif not name.startswith(":"):
            headers.append((name, value))
    if not 100 <= status <= 999:
        raise InvalidResponseError(f"HTTP/2 response without a valid :status ({status})")
    return Answer(status, tuple(headers))


def _ended(event: h2.events.StreamReset | h2.events.ConnectionTerminated) -> ResponseError:
    if isinstance(event, h2.events.StreamReset):
        return InvalidResponseError(f"the server reset the HTTP/2 stream ({event.error_code!r})")
    return InvalidResponseError(f"the server ended the HTTP/2 connection ({event.error_code!r})")
