"""The messages and failures both HTTP readers share (`http1` for HTTP/1.1, `http2` for a server
that picks h2): the request a probe sends, the response head it reads, the browsers' limits and
the errors a read can end in. Apart from the readers so that neither imports the other.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from hsts_coverage.models import Certificate

MAX_HEAD = 256 * 1024
MAX_BODY = 64 * 1024  # for the few requests that need a body (an AIA intermediate)


class ResponseError(Exception):
    """What came back is not an HTTP/1.x response a browser accepts."""


class InvalidResponseError(ResponseError):
    """Not HTTP/1.x syntax (h11's RemoteProtocolError): Chrome's ERR_INVALID_HTTP_RESPONSE."""


class ConflictingLengthError(ResponseError):
    """Differing Content-Length values: ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH."""


class HeadTooLargeError(ResponseError):
    """More than MAX_HEAD bytes of head: Chrome's ERR_RESPONSE_HEADERS_TOO_BIG."""


class BodyTooLargeError(ResponseError):
    """A body longer than MAX_BODY where one was wanted."""


class EmptyResponseError(ResponseError):
    """The connection closed before a response head: Chrome's ERR_EMPTY_RESPONSE."""


# Every exception `fetch` raises is one of these (or a subclass): the caller's table maps each.
ERRORS: tuple[type[BaseException], ...] = (
    ssl.SSLCertVerificationError,
    ssl.SSLError,
    ConnectionRefusedError,
    ConnectionResetError,
    TimeoutError,
    InvalidResponseError,
    ConflictingLengthError,
    HeadTooLargeError,
    BodyTooLargeError,
    EmptyResponseError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class Head:
    status: int
    headers: tuple[tuple[str, str], ...]  # names lower-cased, values as sent (Latin-1)
    tls_version: str | None = None
    peer_certificate: Certificate | None = field(default=None, repr=False)
    alpn: str | None = None  # the protocol ALPN chose ("h2", "http/1.1"), None without ALPN
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
