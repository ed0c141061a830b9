"""What the rules make of the facts: findings (a reason and its detail), a host's verdict
and result, the domain's summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from hsts_coverage.models.apex import ApexReport
from hsts_coverage.models.dns import DnsAnswer, WildcardZone
from hsts_coverage.models.names import CtFacts, Enumeration, FoundBy
from hsts_coverage.models.probe import Probe
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


@dataclass(frozen=True, slots=True)
class Finding:
    reason: Reason
    detail: str = ""


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


# What the probes of one host come to: the host's findings, the probes themselves, and the
# findings address by address (`rules.host.judge_host`).
Judgement = tuple[tuple[Finding, ...], tuple[Probe, ...], tuple[AddressFindings, ...]]
