"""The names a scan finds and how far their list can be trusted: the sources' facts
(certificate transparency, zone files and transfers, common labels, the user's own)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


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
