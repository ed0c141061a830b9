"""What the probe of one address found: the HTTPS and HTTP answers, the certificate, the
redirect walk, and each failed request as a `Failure` (what ended it, never which reason it is:
`rules.failures` says that)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    """How one connection attempt ended."""

    OK = "ok"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS_FAILED = "tls_failed"  # protocol or version failure before certificates mattered
    CERT_INVALID = "cert_invalid"
    BLOCKED = "blocked"  # a private address we may not connect to
    ERROR = "error"


class FailureKind(StrEnum):
    """What ended one request, as the prober saw it (`probe.failures` tells them apart from the
    exceptions; `rules.failures` maps each to a reason, in one table)."""

    CERT_VERIFY = "cert_verify"  # OpenSSL rejected the chain; `verify_code` says why
    TLS_HANDSHAKE = "tls_handshake"  # `tls_error`: OpenSSL's reason, e.g. NO_SHARED_CIPHER
    # A failed handshake read again with what a permissive one showed (`probe.failures.diagnose`):
    NO_SHARED_CIPHER = "no_shared_cipher"  # the server completes it only with a suite browsers lack
    NO_SHARED_GROUP = "no_shared_group"  # browsers' suites do, their groups or signatures do not
    REFUSED = "refused"
    BLOCKED = "blocked"  # the address policy forbids every address of the name
    UNRESOLVED = "unresolved"  # a name met in the redirect walk has no address
    CONNECT_TIMEOUT = "connect_timeout"
    HANDSHAKE_HANG = "handshake_hang"  # connected, and the TLS handshake never answered
    TIMEOUT = "timeout"
    INVALID_RESPONSE = "invalid_response"  # not HTTP a browser reads, or a head or body too large
    CONFLICTING_LENGTH = "conflicting_length"
    EMPTY_RESPONSE = "empty_response"
    RESET = "reset"
    NO_ROUTE = "no_route"  # the scanner's own network (an IPv6 address without IPv6)
    BROKEN = "broken"  # any other OSError


_OUTCOME_OF = {
    FailureKind.CERT_VERIFY: Outcome.CERT_INVALID,
    FailureKind.TLS_HANDSHAKE: Outcome.TLS_FAILED,
    FailureKind.NO_SHARED_CIPHER: Outcome.TLS_FAILED,
    FailureKind.NO_SHARED_GROUP: Outcome.TLS_FAILED,
    FailureKind.REFUSED: Outcome.REFUSED,
    FailureKind.BLOCKED: Outcome.BLOCKED,
    FailureKind.CONNECT_TIMEOUT: Outcome.TIMEOUT,
    FailureKind.HANDSHAKE_HANG: Outcome.TIMEOUT,
    FailureKind.TIMEOUT: Outcome.TIMEOUT,
}


@dataclass(frozen=True, slots=True)
class Failure:
    """A request that failed, as data: the probe's answer instead of an exception."""

    kind: FailureKind
    detail: str
    verify_code: int | None = None  # OpenSSL's X509_V_ERR_* code, for CERT_VERIFY
    tls_error: str | None = None  # OpenSSL's reason string, for TLS_HANDSHAKE

    @property
    def outcome(self) -> Outcome:
        return _OUTCOME_OF.get(self.kind, Outcome.ERROR)


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str
    sans: tuple[str, ...]  # DNS names and IP addresses of the subjectAltName
    issuer: str
    not_before: datetime
    not_after: datetime
    serial: str
    signature_algorithm: str | None  # the hash, e.g. "sha256"
    self_signed: bool
    key_type: str = ""  # "RSA", "EC", "Ed25519", ...
    key_bits: int = 0
    ca_issuers: tuple[str, ...] = ()  # AIA caIssuers URLs: where browsers fetch the issuer
    is_ca: bool = False  # basicConstraints CA:TRUE (only read for failing certificates)
    root_sha256: str = ""  # the verified chain's root (SHA-256, hex); "" when not verified
    crl_urls: tuple[str, ...] = ()  # CRL distribution points (verified certificates only)
    ocsp_urls: tuple[str, ...] = ()  # AIA OCSP responders (verified certificates only)
    # (leaf, issuer) DER of a verified chain, kept only when there is revocation to check
    chain_der: tuple[bytes, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class HttpsFacts:
    outcome: Outcome
    failure: Failure | None = None  # what ended the request, when outcome is not OK
    tls_version: str | None = None
    cipher: str | None = None  # the suite negotiated (by the permissive retry after a failure)
    alpn: str | None = None  # the protocol ALPN chose: "h2", "http/1.1", or None without ALPN
    cert: Certificate | None = None
    # Chain failures that OpenSSL's security-level check (weak key or signature, reported first)
    # hid, found by verifying once more at security level 0 (each a CERT_VERIFY failure).
    hidden_failures: tuple[Failure, ...] = ()
    status: int | None = None
    location: str | None = None
    sts: tuple[str, ...] = ()  # every Strict-Transport-Security field, in order
    # Set when the server omits an intermediate and it was fetched from this AIA URL, as
    # browsers do: the chain then verifies.
    chain_completed_from: str | None = None
    revocation: Revocation | None = None  # None: the certificate names no CRL or OCSP URL
    elapsed_ms: float = 0.0


class RevocationStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNCHECKED = "unchecked"  # no CRL or OCSP answer could be read, or OCSP said "unknown"


@dataclass(frozen=True, slots=True)
class Revocation:
    """What the leaf's CRL and OCSP responder say of it."""

    status: RevocationStatus
    method: str  # "crl", "ocsp", or "" when unchecked
    url: str
    detail: str = ""
    crl_reason: str | None = None  # the CRL entry's or OCSP answer's reason code, if revoked


@dataclass(frozen=True, slots=True)
class HttpFacts:
    outcome: Outcome
    detail: str = ""
    status: int | None = None
    location: str | None = None
    elapsed_ms: float = 0.0


class WalkEnd(StrEnum):
    """Where following the HTTPS redirects under HSTS ended."""

    PAGE = "page"  # a non-redirect answer
    LEFT_SCOPE = "left_scope"  # a host outside the domain: HSTS no longer applies
    TO_HTTP = "to_http"
    LOOP = "loop"
    TOO_MANY = "too_many"
    TARGET_BREAKS = "target_breaks"
    INVALID_REDIRECT = "invalid_redirect"  # a Location no browser follows (ERR_INVALID_REDIRECT)
    UNVERIFIED = "unverified"  # a target on a private address: not followed


@dataclass(frozen=True, slots=True)
class Hop:
    url: str
    status: int | None = None
    location: str | None = None
    upgraded: bool = False  # reached by HSTS rewriting http:// to https://
    failure: Failure | None = None  # the request to it failed (`rules.failures.hop_reason`)


@dataclass(frozen=True, slots=True)
class RedirectWalk:
    end: WalkEnd
    hops: tuple[Hop, ...]
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Probe:
    address: str
    https: HttpsFacts
    http: HttpFacts
    walk: RedirectWalk | None
