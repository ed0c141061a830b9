"""Failures as data: every exception a request raises has its row (probe.failures), every kind
of failure its reason (rules.failures), and the reasons are the browsers'.

As httpx's tests do for its transports' exception table: a new exception or a new kind that
nobody mapped fails here, not in a scan.
"""

from __future__ import annotations

import errno
import ssl

import pytest

from hsts_coverage.models import Failure, FailureKind, Hop, Outcome, WalkEnd
from hsts_coverage.probe.failures import TRANSLATIONS, diagnose, translate
from hsts_coverage.probe.http_messages import ERRORS
from hsts_coverage.probe.reach import ConnectTimeoutError, HandshakeHangError, SharedOutcome
from hsts_coverage.probe.tls import Presented
from hsts_coverage.reasons import Reason
from hsts_coverage.resolve import BlockedAddressError, UnresolvedError
from hsts_coverage.rules.failures import REASONS, hop_reason, reason_of
from hsts_coverage.rules.redirects import cycle_end, failed_hop_end

RAISED = (
    *ERRORS,
    BlockedAddressError,
    UnresolvedError,
    ConnectTimeoutError,
    HandshakeHangError,
    SharedOutcome,
)


def instance(kind: type[BaseException]) -> BaseException:
    if kind is SharedOutcome:
        return SharedOutcome(ConnectionRefusedError("refused"), "a.example", "192.0.2.1:443")
    error = kind("test")
    if isinstance(error, ssl.SSLCertVerificationError):
        error.verify_code, error.verify_message = 10, "certificate has expired"
    return error


@pytest.mark.parametrize("kind", FailureKind, ids=str)
def test_every_failure_kind_has_a_reason_row(kind: FailureKind) -> None:
    assert kind in REASONS, f"{kind} has no row in rules.failures.REASONS"


@pytest.mark.parametrize("exception", RAISED, ids=lambda kind: kind.__name__)
def test_every_exception_a_request_raises_becomes_a_failure(exception: type[BaseException]) -> None:
    assert any(issubclass(exception, row) for row, _ in TRANSLATIONS), exception.__name__
    failure = translate(instance(exception))  # a row that raises is no mapping either
    assert failure.kind in REASONS


def test_every_failure_kind_is_made_by_some_exception() -> None:
    """No dead rows: each kind comes from the table (NO_ROUTE from ENETUNREACH), or from the
    diagnosis of a failed handshake (the two kinds of nothing in common)."""
    made = {translate(instance(kind)).kind for kind in RAISED}
    made.add(translate(OSError(errno.ENETUNREACH, "Network is unreachable")).kind)
    made |= {diagnose(HANDSHAKE, Presented(None, "TLSv1.2", c)).kind for c in (DHE, ECDHE)}
    assert made == set(FailureKind)


def test_a_bug_is_raised_again_not_mapped() -> None:
    with pytest.raises(KeyError):
        translate(KeyError("a bug"))


def test_a_shared_outcome_is_the_outcome_it_shares() -> None:
    failure = translate(instance(SharedOutcome))
    assert failure.kind is FailureKind.REFUSED
    assert failure.outcome is Outcome.REFUSED
    assert "shared with a.example" in failure.detail


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Failure(FailureKind.CERT_VERIFY, "", verify_code=10), Reason.CERT_EXPIRED),
        (Failure(FailureKind.CERT_VERIFY, "", verify_code=62), Reason.CERT_NAME_MISMATCH),
        (Failure(FailureKind.CERT_VERIFY, "", verify_code=68), Reason.CERT_WEAK_SIGNATURE),
        (Failure(FailureKind.CERT_VERIFY, "", verify_code=999), Reason.CERT_UNTRUSTED),
        (
            Failure(FailureKind.TLS_HANDSHAKE, "", tls_error="UNSUPPORTED_PROTOCOL"),
            Reason.TLS_VERSION_UNSUPPORTED,
        ),
        (
            Failure(FailureKind.TLS_HANDSHAKE, "", tls_error="WRONG_VERSION_NUMBER"),
            Reason.TLS_PROTOCOL_ERROR,
        ),
        (Failure(FailureKind.BLOCKED, ""), Reason.PRIVATE_ADDRESS),
        (Failure(FailureKind.HANDSHAKE_HANG, ""), Reason.HTTPS_TIMEOUT),
        (Failure(FailureKind.RESET, ""), Reason.HTTPS_RESET),
        (Failure(FailureKind.NO_ROUTE, ""), Reason.NO_ROUTE),
        (Failure(FailureKind.NO_SHARED_CIPHER, ""), Reason.TLS_CIPHER_MISMATCH),
        (Failure(FailureKind.NO_SHARED_GROUP, ""), Reason.TLS_CIPHER_MISMATCH),
        (Failure(FailureKind.BROKEN, ""), None),  # the context decides
    ],
)
def test_reasons_of_failures(failure: Failure, reason: Reason | None) -> None:
    assert reason_of(failure) is reason


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (FailureKind.BROKEN, Reason.HTTPS_REFUSED),
        (FailureKind.TIMEOUT, Reason.HTTPS_TIMEOUT),
        (FailureKind.CERT_VERIFY, Reason.CERT_UNTRUSTED),
    ],
)
def test_a_failed_hop_always_has_a_reason(kind: FailureKind, reason: Reason) -> None:
    assert hop_reason(Failure(kind, "")) is reason


HANDSHAKE = Failure(FailureKind.TLS_HANDSHAKE, "TLS handshake failed: NO_SHARED_CIPHER", None, "x")
DHE = "DHE-RSA-AES128-GCM-SHA256"
ECDHE = "ECDHE-RSA-AES128-GCM-SHA256"


@pytest.mark.parametrize(
    ("version", "cipher", "kind", "reason", "says"),
    [
        # TLS 1.2 only with a suite browsers do not offer (DHE)
        ("TLSv1.2", DHE, FailureKind.NO_SHARED_CIPHER, Reason.TLS_CIPHER_MISMATCH,
         "no cipher suite in common"),
        # browsers' suites work, the handshake does not: groups or signature algorithms
        ("TLSv1.2", ECDHE, FailureKind.NO_SHARED_GROUP, Reason.TLS_CIPHER_MISMATCH,
         "no key-exchange group"),
        # its twin: a server that speaks only TLS 1.0 is no mismatch
        ("TLSv1", "AES128-SHA", FailureKind.TLS_HANDSHAKE, Reason.TLS_PROTOCOL_ERROR,
         "NO_SHARED_CIPHER"),
    ],
)  # fmt: skip
def test_a_failed_handshake_is_read_with_what_a_permissive_one_showed(
    version: str, cipher: str, kind: FailureKind, reason: Reason, says: str
) -> None:
    """The probe diagnoses the failure (a kind of its own), the table gives its reason."""
    found = diagnose(HANDSHAKE, Presented(None, version, cipher))
    assert found.kind is kind
    assert found.outcome is Outcome.TLS_FAILED
    assert reason_of(found) is reason
    assert says in found.detail


@pytest.mark.parametrize(
    ("presented", "detail"),
    [
        (Presented(None, "TLSv1.3"), "expired; the certificate it presents could not be decoded"),
        (Presented(None, None), "expired"),  # no handshake at all: nothing to decode
    ],
)
def test_an_undecodable_certificate_is_said_so(presented: Presented, detail: str) -> None:
    failure = Failure(FailureKind.CERT_VERIFY, "expired", verify_code=10)
    found = diagnose(failure, presented)
    assert (found.kind, found.verify_code, found.detail) == (FailureKind.CERT_VERIFY, 10, detail)


@pytest.mark.parametrize(
    ("hop", "end"),
    [
        (Hop("https://x.example/", failure=Failure(FailureKind.BLOCKED, "")), WalkEnd.UNVERIFIED),
        (
            Hop("https://x.example/", failure=Failure(FailureKind.CERT_VERIFY, "", 10)),
            WalkEnd.TARGET_BREAKS,
        ),
    ],
)
def test_a_failed_target_ends_the_walk(hop: Hop, end: WalkEnd) -> None:
    assert failed_hop_end((hop,), hop).end is end


def test_a_cycle_through_an_hsts_upgrade_is_a_redirect_to_http() -> None:
    url = "https://a.example/"
    assert cycle_end((), "http://a.example/", url, upgraded=True).end is WalkEnd.TO_HTTP
    assert cycle_end((), url, url, upgraded=False).end is WalkEnd.LOOP
