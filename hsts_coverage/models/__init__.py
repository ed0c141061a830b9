"""Frozen data shared by every stage, one module per stage that produces it: `names` (the
sources' names and how far to trust their list), `dns` (resolve's answers), `probe` (a probe's
TLS and HTTP facts, hops and `Failure`s), `verdicts` (findings and the host and domain verdicts
the rules make of them), `header` (a Strict-Transport-Security header as browsers and
hstspreload.org read it) and `apex` (the apex's facts and preload data, with its checks).

Stages hand these to each other; nothing here does I/O. A failed connection is a value (an
`Outcome` with the probe's `Failure`), not an exception; which `Reason` it is, `rules/` says.
Every name is imported from here; the modules import each other directly.
"""

from hsts_coverage.models.apex import (
    INVALID_REDIRECT,
    ApexCheck,
    ApexFacts,
    ApexReport,
    CheckStatus,
    PreloadEntry,
    PreloadStatus,
    Requirement,
    Response,
    ready,
)
from hsts_coverage.models.dns import (
    DnsAnswer,
    DnsStatus,
    WildcardZone,
)
from hsts_coverage.models.header import (
    BrowserView,
    HeaderCheck,
    Issue,
    IssueSeverity,
)
from hsts_coverage.models.names import (
    CtFacts,
    Enumeration,
    EnumerationStatus,
    FoundBy,
    SourceReport,
    ZoneNames,
)
from hsts_coverage.models.probe import (
    Certificate,
    Failure,
    FailureKind,
    Hop,
    HttpFacts,
    HttpsFacts,
    Outcome,
    Probe,
    RedirectWalk,
    Revocation,
    RevocationStatus,
    WalkEnd,
)
from hsts_coverage.models.verdicts import (
    AddressFindings,
    DomainSummary,
    Finding,
    HostResult,
    HostVerdict,
    Judgement,
    Status,
    Verdict,
)

__all__ = [
    "INVALID_REDIRECT",
    "AddressFindings",
    "ApexCheck",
    "ApexFacts",
    "ApexReport",
    "BrowserView",
    "Certificate",
    "CheckStatus",
    "CtFacts",
    "DnsAnswer",
    "DnsStatus",
    "DomainSummary",
    "Enumeration",
    "EnumerationStatus",
    "Failure",
    "FailureKind",
    "Finding",
    "FoundBy",
    "HeaderCheck",
    "Hop",
    "HostResult",
    "HostVerdict",
    "HttpFacts",
    "HttpsFacts",
    "Issue",
    "IssueSeverity",
    "Judgement",
    "Outcome",
    "PreloadEntry",
    "PreloadStatus",
    "Probe",
    "RedirectWalk",
    "Requirement",
    "Response",
    "Revocation",
    "RevocationStatus",
    "SourceReport",
    "Status",
    "Verdict",
    "WalkEnd",
    "WildcardZone",
    "ZoneNames",
    "ready",
]
