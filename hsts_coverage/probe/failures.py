"""Exceptions -> `Failure`s, at the edge: the one table of what a request can raise.

Every exception `http1.fetch` raises (`http_messages.ERRORS`), the address book's, and the table of
dead addresses' `SharedOutcome` has a row here, most specific first (the first isinstance match
wins), as httpx maps its transports' exceptions. A row records what happened and no more;
`rules.failures` says what it means to a browser. Anything else is a bug and is raised again.
`diagnose` reads a failed handshake again with what a permissive second one showed: the server
that completes it only with what browsers do not offer has a failure of its own kind.
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
from hsts_coverage.probe.tls import Presented
from hsts_coverage.resolve import BlockedAddressError, UnresolvedError

# OpenSSL verify codes (include/openssl/x509_vfy.h) that change what the prober does next:
# security-level failures (weak key or signature) are reported before the rest of the chain is
# looked at, so the chain is verified once more at level 0; a missing issuer is fetched from the
# leaf's AIA URL, as browsers do.
SECURITY_LEVEL_CODES = frozenset({66, 67, 68})
MISSING_ISSUER = frozenset({2, 20, 21})

# ssl.SSLError.reason values of a server that found nothing it accepts in the ClientHello.
NOTHING_IN_COMMON = frozenset(
    {"SSLV3_ALERT_HANDSHAKE_FAILURE", "NO_SHARED_CIPHER", "NO_SUITABLE_KEY_SHARE"}
)


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


def diagnose(failure: Failure, presented: Presented) -> Failure:
    """A host's failed HTTPS request, given what a permissive second handshake showed: a
    certificate it presents that does not decode is said so, and a handshake that fails only for
    what browsers offer becomes NO_SHARED_CIPHER or NO_SHARED_GROUP."""
    detail = failure.detail
    if presented.cert is None and presented.version is not None:
        # The handshake worked, the DER did not decode.
        detail += "; the certificate it presents could not be decoded"
    if failure.kind is not FailureKind.TLS_HANDSHAKE:
        return replace(failure, detail=detail)
    if presented.cipher_refused:
        return replace(
            failure,
            kind=FailureKind.NO_SHARED_CIPHER,
            detail=f"no cipher suite in common: the server accepts {presented.cipher} "
            f"({presented.version}), which browsers do not offer ({detail})",
        )
    if presented.modern and any(refusal in detail for refusal in NOTHING_IN_COMMON):
        # A browser's suites are fine, yet the handshake fails: its groups or signature
        # algorithms (see probe.tls) are what the server does not take.
        return replace(
            failure,
            kind=FailureKind.NO_SHARED_GROUP,
            detail="no key-exchange group or signature algorithm in common: the server completes "
            f"{presented.version} only with ones browsers do not offer ({detail})",
        )
    return replace(failure, detail=detail)
