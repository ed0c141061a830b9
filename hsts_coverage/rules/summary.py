"""Pure domain verdicts: host verdicts -> SAFE / NOT SAFE / INCONCLUSIVE, and the exit codes.

SAFE needs a complete enumeration, no host that breaks and no host left unknown; one host that
breaks is enough for NOT SAFE.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hsts_coverage.models import (
    ApexReport,
    DomainSummary,
    Enumeration,
    EnumerationStatus,
    HostResult,
    Status,
    Verdict,
    WildcardZone,
)
from hsts_coverage.reasons import Reason
from hsts_coverage.rules.host import STATUS_OF
from hsts_coverage.rules.preload import advice, browser_accepts_include_subdomains

EXIT_CODES = {Verdict.SAFE: 0, Verdict.NOT_SAFE: 1, Verdict.INCONCLUSIVE: 3}
EXIT_USAGE = 2
# The run failed (a bug, a report that could not be written): its report is partial and stays
# in the temporary file. Not 1 (NOT SAFE) nor 4 (the cron wrapper's failed notification).
EXIT_FAILED = 5


@dataclass(slots=True)
class Tally:
    """Accumulates host results into a domain summary without keeping the results themselves."""

    domain: str
    counts: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    by_reason: dict[Status, dict[Reason, list[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )

    def add(self, result: HostResult) -> None:
        status = result.verdict.status
        self.counts[status] += 1
        if status in (Status.BREAKS, Status.WARN, Status.UNKNOWN):
            for finding in result.verdict.findings:
                if STATUS_OF.get(finding.reason.severity) is status:
                    self.by_reason[status][finding.reason].append(result.name)

    @property
    def hosts(self) -> int:
        return sum(self.counts.values())

    def summary(
        self,
        enumeration: Enumeration,
        *,
        wildcard_zones: tuple[WildcardZone, ...] = (),
        apex: ApexReport | None = None,
        interrupted: bool = False,
        timings: Mapping[str, float] | None = None,
        shard: tuple[int, int] | None = None,
    ) -> DomainSummary:
        verdict, why = decide(self.counts, enumeration, interrupted=interrupted, shard=shard)
        include_subdomains = apex is not None and browser_accepts_include_subdomains(apex.effective)
        preload = apex.preload if apex else None
        todo = advice(verdict, self.counts[Status.BREAKS], preload, include_subdomains)
        todo += coverage_advice(enumeration)
        return DomainSummary(
            domain=self.domain,
            verdict=verdict,
            counts=dict(self.counts),
            breaking=self._sorted(Status.BREAKS),
            warnings=self._sorted(Status.WARN),
            unknown=self._sorted(Status.UNKNOWN),
            enumeration=enumeration,
            hosts=self.hosts,
            wildcard_zones=wildcard_zones,
            apex=apex,
            advice=todo,
            interrupted=interrupted,
            timings=dict(timings or {}),
            why=why,
        )

    def _sorted(self, status: Status) -> dict[Reason, tuple[str, ...]]:
        groups = self.by_reason.get(status, {})
        return {reason: tuple(sorted(groups[reason])) for reason in Reason if reason in groups}


def decide(
    counts: dict[Status, int],
    enumeration: Enumeration,
    *,
    interrupted: bool = False,
    shard: tuple[int, int] | None = None,
) -> tuple[Verdict, str]:
    """SAFE only with proof; one host that breaks is enough for NOT SAFE."""
    if counts.get(Status.BREAKS, 0):
        return Verdict.NOT_SAFE, f"{counts[Status.BREAKS]} host(s) would break"
    if shard is not None and not sum(counts.values()):
        k, n = shard
        return Verdict.INCONCLUSIVE, f"shard {k}/{n} holds none of the names: merge the {n} reports"
    if interrupted:
        return Verdict.INCONCLUSIVE, "the scan was interrupted before every host was checked"
    if enumeration.status is EnumerationStatus.FAILED:
        return Verdict.INCONCLUSIVE, f"subdomains could not be enumerated: {enumeration.error}"
    if enumeration.status is EnumerationStatus.TRUNCATED:
        return Verdict.INCONCLUSIVE, "the certificate-transparency answer may be truncated"
    if counts.get(Status.UNKNOWN, 0):
        return Verdict.INCONCLUSIVE, f"{counts[Status.UNKNOWN]} host(s) could not be checked"
    if enumeration.authoritative:
        return Verdict.SAFE, "every name in the zone keeps working under includeSubDomains"
    return Verdict.SAFE, (
        "every host found keeps working under includeSubDomains; without the zone (--zone-file "
        "or --axfr), hosts that never had a certificate may be missing"
    )


_MAX_WILDCARDS_NAMED = 5


def coverage_advice(enumeration: Enumeration) -> tuple[str, ...]:
    """What the list of names covered, and, without the zone, what it cannot have covered."""
    counts = ", ".join(f"{report.source.value} {report.names}" for report in enumeration.per_source)
    found = f"Names came from: {counts}." if counts else ""
    if enumeration.authoritative:
        return (f"{found} The zone was read: every name in it was checked.".strip(),)
    lines = [
        f"{found} Hosts that never had a certificate (HTTP-only ones) are found only through "
        "DNS: give the zone (--zone-file, an export from your DNS host) or allow a zone "
        "transfer (--axfr) for a complete answer.".strip()
    ]
    wildcards = enumeration.wildcards[:_MAX_WILDCARDS_NAMED]
    if wildcards:
        more = len(enumeration.wildcards) - len(wildcards)
        named = ", ".join(wildcards) + (f" and {more} more" if more > 0 else "")
        lines.append(
            f"{named} in CT: the hosts under a wildcard certificate are listed nowhere but in DNS."
        )
    return tuple(lines)


def exit_code(verdicts: Iterable[Verdict]) -> int:
    """One exit code for several domains: NOT SAFE wins over INCONCLUSIVE, which wins over SAFE."""
    found = set(verdicts)
    for verdict in (Verdict.NOT_SAFE, Verdict.INCONCLUSIVE):
        if verdict in found:
            return EXIT_CODES[verdict]
    return EXIT_CODES[Verdict.SAFE]
