"""Frozen data shared by every stage: names, DNS answers, TLS and HTTP facts, hops, verdicts,
the apex's facts and the preload list's entries.

Stages hand these to each other; nothing here does I/O. A failed connection is a value
(an `Outcome` with the probe's `Failure`), not an exception; which `Reason` it is, `rules/` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from hsts_coverage.reasons import Reason


class Status(StrEnum):
    """A host's status; the order of `RANK` is how bad it is."""

    OK = "ok"
    WARN = "warn"
    BREAKS = "breaks"
    NOT_AFFECTED = "not_affected"
    UNKNOWN = "unknown"


class Verdict(StrEnum):
    SAFE = "SAFE"
    NOT_SAFE = "NOT SAFE"
    INCONCLUSIVE = "INCONCLUSIVE"


class EnumerationStatus(StrEnum):
    COMPLETE = "complete"
    TRUNCATED = "truncated"  # the source may have capped its answer
    FAILED = "failed"  # the source could not be read after every retry
    SKIPPED = "skipped"  # --no-ct: only the names the user gave


class FoundBy(StrEnum):
    """How a name came to be scanned: the `found_by` of its host record."""

    USER = "user"  # the domain itself, or a names file
    CRTSH = "crtsh"
    CERTSPOTTER = "certspotter"
    ZONE_FILE = "zone-file"
    AXFR = "axfr"
    GUESS = "guess"  # a common label that resolved
    SAN = "san"  # named by a certificate a host of the scan presented
    REDIRECT = "redirect"  # a redirect of the scan went there
    CNAME = "cname"  # a CNAME chain of the scan passed through it
    WILDCARD_PROBE = "wildcard-probe"  # the random name that stands for a wildcard zone


@dataclass(frozen=True, slots=True)
class SourceReport:
    """How one source of names did: `status` as for the enumeration, `names` it found in scope."""

    source: FoundBy
    status: EnumerationStatus
    names: int = 0
    detail: str = ""  # e.g. "of 5000 labels tried" or why it failed


@dataclass(frozen=True, slots=True)
class CtFacts:
    """What certificate transparency says about one name."""

    certificates: int
    first_not_before: datetime | None
    last_not_after: datetime | None
    issuers: tuple[str, ...]
    sources: tuple[str, ...] = ()  # the CT sources that named it ("crt.sh", "certspotter"), sorted


@dataclass(frozen=True, slots=True)
class Enumeration:
    """The names to scan for one domain and how trustworthy the list is."""

    domain: str
    status: EnumerationStatus
    names: tuple[str, ...]
    ct: Mapping[str, CtFacts] = field(default_factory=dict)
    wildcards: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    rows: int = 0
    attempts: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    notes: tuple[str, ...] = ()  # what was done to complete it (e.g. a capped answer split)
    found_by: Mapping[str, tuple[FoundBy, ...]] = field(default_factory=dict)  # name -> sources
    per_source: tuple[SourceReport, ...] = ()  # every source asked, in the order asked
    # A zone file or a transfer gave the domain's own zone: every name of it is in `names`.
    authoritative: bool = False


class DnsStatus(StrEnum):
    RESOLVED = "resolved"
    NXDOMAIN = "nxdomain"
    NO_ADDRESS = "no_address"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class WildcardZone:
    """A zone with wildcard DNS: a random name under it resolved to `addresses`."""

    zone: str
    probe_name: str  # the random name, probed like any other: the wildcard covers it
    addresses: frozenset[str]


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    name: str
    status: DnsStatus
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()
    dangling_target: str | None = None  # the last CNAME target, when it does not resolve
    error: str | None = None
    # Resolved, but one record type failed after every retry ("AAAA: SERVFAIL"): the addresses
    # it would have given are not known.
    partial_error: str | None = None


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
class Finding:
    reason: Reason
    detail: str = ""


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


class AddressFindings(NamedTuple):
    address: str
    findings: tuple[Finding, ...]
    status: Status  # judged from the findings with the host's own rule (`verdict.status_of`)


@dataclass(frozen=True, slots=True)
class HostVerdict:
    status: Status
    findings: tuple[Finding, ...]
    per_address: tuple[AddressFindings, ...] = ()

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(f.reason for f in self.findings)


@dataclass(frozen=True, slots=True)
class HostResult:
    name: str
    domain: str
    dns: DnsAnswer
    probes: tuple[Probe, ...]  # one per address probed (none when DNS or policy stopped it)
    verdict: HostVerdict
    ct: CtFacts | None
    elapsed_ms: float
    found_by: tuple[FoundBy, ...] = ()

    @property
    def probe(self) -> Probe | None:
        """The first address's probe: the one a browser would most likely use."""
        return self.probes[0] if self.probes else None


@dataclass(frozen=True, slots=True)
class DomainSummary:
    domain: str
    verdict: Verdict
    counts: Mapping[Status, int]
    breaking: Mapping[Reason, tuple[str, ...]]  # reason -> hosts, for hosts that break
    warnings: Mapping[Reason, tuple[str, ...]]
    unknown: Mapping[Reason, tuple[str, ...]]
    enumeration: Enumeration
    hosts: int
    wildcard_zones: tuple[WildcardZone, ...] = ()
    apex: ApexReport | None = None  # the apex's policy and preload readiness
    advice: tuple[str, ...] = ()  # what to do next, in plain words
    interrupted: bool = False
    why: str = ""  # one sentence: why this verdict
    timings: Mapping[str, float] = field(default_factory=dict)  # stage -> seconds from start


@dataclass(frozen=True, slots=True)
class ZoneNames:
    """What one zone gives a scan (names without the trailing dot, lower case)."""

    origin: str
    names: tuple[str, ...]  # owners and in-domain targets, wildcards as `*.x`
    delegations: tuple[str, ...] = ()  # sub-zones delegated to other name servers
    records: int = 0  # resource records read

    def covers(self, domain: str) -> bool:
        """Whether this is the domain's own zone (so every name of the domain is in it, but for
        `delegations`)."""
        return self.origin == domain


# -- the apex and the preload list: facts gathered by `apex`, judged by `preload` ----------------


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    NOT_CHECKED = "not_checked"  # an earlier requirement failed in a way that hides this one


@dataclass(frozen=True, slots=True)
class Requirement:
    code: str  # the check's area, e.g. "redirects.http"; a failure carries its own code
    title: str
    status: CheckStatus
    failures: tuple[str, ...] = ()  # hstspreload-style codes of what failed or warned
    detail: str = ""


INVALID_REDIRECT = "ERR_INVALID_REDIRECT"  # the error of a Location no browser follows


@dataclass(frozen=True, slots=True)
class Response:
    """One response on the way from a start URL (redirects are not followed by the server)."""

    url: str
    status: int | None  # None: the request failed (see `error`)
    location: str | None = None
    sts: tuple[str, ...] = ()
    error: str = ""
    cert_invalid: bool = False
    refused: bool = False


@dataclass(frozen=True, slots=True)
class ApexFacts:
    domain: str
    https_chain: tuple[Response, ...]  # from https://domain/, following redirects as given
    http_chain: tuple[Response, ...]  # from http://domain/ (empty: port 80 is closed)
    www_resolves: bool
    www_https_error: str = ""  # why https://www.domain/ failed ('' if it works or no DNS)


def ready(checks: Iterable[Requirement]) -> bool:
    """Ready for the preload list: no requirement fails (a warning does not stop it)."""
    return all(check.status is not CheckStatus.FAIL for check in checks)


@dataclass(frozen=True, slots=True)
class ApexReport:
    facts: ApexFacts
    requirements: tuple[Requirement, ...]
    preload: PreloadStatus

    @property
    def ready(self) -> bool:
        return ready(self.requirements)

    @property
    def sts(self) -> tuple[str, ...]:
        """Every STS field of the apex's own HTTPS answer to / (the first one counts)."""
        return self.facts.https_chain[0].sts


@dataclass(frozen=True, slots=True)
class PreloadEntry:
    name: str
    include_subdomains: bool
    policy: str = ""
    mode: str = "force-https"


@dataclass(frozen=True, slots=True)
class PreloadStatus:
    source: str  # which list answered, with its version
    entry: PreloadEntry | None  # the entry that applies to the domain, if any

    @property
    def preloaded(self) -> bool:
        return self.entry is not None and self.entry.mode == "force-https"

    @property
    def subdomains_preloaded(self) -> bool:
        return self.preloaded and self.entry is not None and self.entry.include_subdomains


# What the probes of one host come to: the host's findings, the probes themselves, and the
# findings address by address (`rules.host.judge_host`).
Judgement = tuple[tuple[Finding, ...], tuple[Probe, ...], tuple[AddressFindings, ...]]
