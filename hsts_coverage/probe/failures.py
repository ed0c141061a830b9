"""Exceptions -> `Failure`s, at the edge: the one table of what a request can raise.

Every exception `http1.fetch` raises (`http_messages.ERRORS`), the address book's, and the table of
dead addresses' `SharedOutcome` has a row here, most specific first (the first isinstance match
wins), as httpx maps its transports' exceptions. A row records what happened and no more;
`rules.failures` says what it means to a browser. Anything else is a bug and is raised again.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Callable
from dataclasses import replace

from hsts_coverage.models import Failure, FailureKind
from hsts_coverage.probe.http_messages import (
    BodyTooLargeError,
    ConflictingLengthError,
    EmptyResponseError,
    HeadTooLargeError,
    InvalidResponseError,
)
from hsts_coverage.probe.reach import ConnectTimeoutError, HandshakeHangError, SharedOutcome
from hsts_coverage.resolve import BlockedAddressError, UnresolvedError


def _certificate(exc: BaseException) -> Failure:
    assert isinstance(exc, ssl.SSLCertVerificationError)
    detail = f"{exc.verify_message} (OpenSSL verify code {exc.verify_code})"
    return Failure(FailureKind.CERT_VERIFY, detail, verify_code=exc.verify_code)


def _handshake(exc: BaseException) -> Failure:
    assert isinstance(exc, ssl.SSLError)
    reason = getattr(exc, "reason", None)
    detail = f"TLS handshake failed: {reason or exc}"
    return Failure(FailureKind.TLS_HANDSHAKE, detail, tls_error=reason)


def _fixed(kind: FailureKind, detail: str) -> Callable[[BaseException], Failure]:
    return lambda exc: Failure(kind, detail)


def _described(kind: FailureKind, prefix: str = "") -> Callable[[BaseException], Failure]:
    return lambda exc: Failure(kind, f"{prefix}{exc}")


def _shared(exc: BaseException) -> Failure:
    # Not tried: an earlier name's attempt on the same address and port ended this way.
    assert isinstance(exc, SharedOutcome)
    return replace(translate(exc.outcome), detail=str(exc))


def _broken(exc: BaseException) -> Failure:
    detail = f"connection failed: {exc or type(exc).__name__}"
    if isinstance(exc, OSError) and exc.errno == errno.ENETUNREACH:
        return Failure(FailureKind.NO_ROUTE, detail)
    return Failure(FailureKind.BROKEN, detail)


_INVALID = "invalid response: "

TRANSLATIONS: tuple[tuple[type[BaseException], Callable[[BaseException], Failure]], ...] = (
    (SharedOutcome, _shared),
    (ssl.SSLCertVerificationError, _certificate),
    (ssl.SSLError, _handshake),
    (ConnectionRefusedError, _fixed(FailureKind.REFUSED, "connection refused")),
    (BlockedAddressError, _described(FailureKind.BLOCKED)),
    (UnresolvedError, _described(FailureKind.UNRESOLVED)),
    (ConnectTimeoutError, _fixed(FailureKind.CONNECT_TIMEOUT, "connect timed out")),
    (
        HandshakeHangError,
        _fixed(FailureKind.HANDSHAKE_HANG, "TLS handshake timed out without an answer"),
    ),
    (TimeoutError, _fixed(FailureKind.TIMEOUT, "timed out")),
    # The connection (and TLS) worked; what came back is not a response a browser accepts.
    (InvalidResponseError, _described(FailureKind.INVALID_RESPONSE, _INVALID)),
    (HeadTooLargeError, _described(FailureKind.INVALID_RESPONSE, _INVALID)),
    (BodyTooLargeError, _described(FailureKind.INVALID_RESPONSE, _INVALID)),
    (ConflictingLengthError, _described(FailureKind.CONFLICTING_LENGTH, _INVALID)),
    (EmptyResponseError, _described(FailureKind.EMPTY_RESPONSE)),
    (ConnectionResetError, _fixed(FailureKind.RESET, "connection reset by the server")),
    (OSError, _broken),  # unreachable networks, and what else the kernel says
)


def translate(exc: BaseException) -> Failure:
    """The failure `exc` stands for; raises `exc` again if it is no network failure (a bug)."""
    for kind, handler in TRANSLATIONS:
        if isinstance(exc, kind):
            return handler(exc)
    raise exc
