"""Failures -> reasons: what a failed request means to a browser, in one table.

`REASONS` maps every `FailureKind` (a test fails when one is missing); a certificate failure is
read further by its OpenSSL verify code, a handshake failure by OpenSSL's reason. `None` means
the context decides: a connection that broke in some other way is a TLS protocol error on the
host's own HTTPS port (`rules.host`) and a target that cannot be reached in a redirect walk.

The probe records each `Failure` in its facts and chooses no reason (an import-linter contract
keeps `reasons` and this module out of its reach): every failed request becomes a reason here,
called by `rules.host` for a host's own ports and by `rules.redirects` for a walk's target.
"""

from __future__ import annotations

from collections.abc import Callable

from hsts_coverage.models import Failure, FailureKind, Outcome
from hsts_coverage.reasons import Reason

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h) -> the browser's reason.
VERIFY_REASONS: dict[int, Reason] = {
    9: Reason.CERT_NOT_YET_VALID,
    10: Reason.CERT_EXPIRED,
    18: Reason.CERT_SELF_SIGNED,
    19: Reason.CERT_UNTRUSTED,  # self-signed root in the chain that is not in the store
    2: Reason.CERT_UNTRUSTED,
    20: Reason.CERT_UNTRUSTED,
    21: Reason.CERT_UNTRUSTED,
    24: Reason.CERT_UNTRUSTED,
    27: Reason.CERT_UNTRUSTED,
    62: Reason.CERT_NAME_MISMATCH,
    64: Reason.CERT_NAME_MISMATCH,
    66: Reason.CERT_WEAK_KEY,  # EE_KEY_TOO_SMALL
    67: Reason.CERT_WEAK_KEY,  # CA_KEY_TOO_SMALL
    68: Reason.CERT_WEAK_SIGNATURE,  # CA_MD_TOO_WEAK: SHA-1 or MD5 below the root
}

# ssl.SSLError.reason values meaning "no TLS version in common" rather than "not TLS at all".
VERSION_FAILURES = frozenset(
    {
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "UNSUPPORTED_PROTOCOL",
        "NO_PROTOCOLS_AVAILABLE",
        "VERSION_TOO_LOW",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    }
)


def verify_reason(failure: Failure) -> Reason:
    """A certificate failure's reason, by its OpenSSL verify code (CERT_UNTRUSTED if unknown)."""
    return VERIFY_REASONS.get(failure.verify_code or 0, Reason.CERT_UNTRUSTED)


def _handshake(failure: Failure) -> Reason:
    if failure.tls_error in VERSION_FAILURES:
        return Reason.TLS_VERSION_UNSUPPORTED
    return Reason.TLS_PROTOCOL_ERROR


REASONS: dict[FailureKind, Reason | Callable[[Failure], Reason] | None] = {
    FailureKind.CERT_VERIFY: verify_reason,
    FailureKind.TLS_HANDSHAKE: _handshake,
    FailureKind.NO_SHARED_CIPHER: Reason.TLS_CIPHER_MISMATCH,
    FailureKind.NO_SHARED_GROUP: Reason.TLS_CIPHER_MISMATCH,
    FailureKind.REFUSED: Reason.HTTPS_REFUSED,
    FailureKind.BLOCKED: Reason.PRIVATE_ADDRESS,
    FailureKind.UNRESOLVED: Reason.NO_DNS,
    FailureKind.CONNECT_TIMEOUT: Reason.HTTPS_TIMEOUT,
    FailureKind.HANDSHAKE_HANG: Reason.HTTPS_TIMEOUT,
    FailureKind.TIMEOUT: Reason.HTTPS_TIMEOUT,
    FailureKind.INVALID_RESPONSE: Reason.HTTPS_INVALID_RESPONSE,
    FailureKind.CONFLICTING_LENGTH: Reason.HTTPS_CONFLICTING_LENGTH,
    FailureKind.EMPTY_RESPONSE: Reason.HTTPS_EMPTY_RESPONSE,
    FailureKind.RESET: Reason.HTTPS_RESET,
    FailureKind.NO_ROUTE: Reason.NO_ROUTE,
    FailureKind.BROKEN: None,
}


def reason_of(failure: Failure) -> Reason | None:
    """The reason a failure stands for, None where the context decides (see the docstring)."""
    rule = REASONS[failure.kind]
    return rule(failure) if callable(rule) else rule


def hop_reason(failure: Failure) -> Reason:
    """A redirect walk's target that failed: what a browser sees there."""
    reason = reason_of(failure)
    if reason is not None:
        return reason
    return Reason.HTTPS_TIMEOUT if failure.outcome is Outcome.TIMEOUT else Reason.HTTPS_REFUSED
