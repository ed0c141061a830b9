"""Pure verdicts: probe facts -> host verdict; host verdicts -> SAFE / NOT SAFE / INCONCLUSIVE.

No I/O and no clock reads (`now` is passed in). The rules, in words:
- a host *breaks* when a browser that enforces HSTS on it could no longer reach it;
- a host is *unknown* when the scan could not tell (DNS errors, private addresses, time-outs);
- SAFE needs a complete enumeration, no host that breaks and no host left unknown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hsts_coverage.certs import certificate_findings
from hsts_coverage.distrust import Constraint, distrust_findings, table
from hsts_coverage.models import (
    AddressFindings,
    ApexReport,
    DnsAnswer,
    DnsStatus,
    DomainSummary,
    Enumeration,
    EnumerationStatus,
    Finding,
    HostResult,
    HostVerdict,
    HttpFacts,
    HttpsFacts,
    Outcome,
    Probe,
    RedirectWalk,
    Revocation,
    RevocationStatus,
    Status,
    Verdict,
    WalkEnd,
    WildcardZone,
)
from hsts_coverage.names import in_scope
from hsts_coverage.preload import advice, browser_accepts_include_subdomains
from hsts_coverage.reasons import Reason, Severity

_STATUS_OF = {
    Severity.BREAKS: Status.BREAKS,
    Severity.UNKNOWN: Status.UNKNOWN,
    Severity.WARN: Status.WARN,
    Severity.NOT_AFFECTED: Status.NOT_AFFECTED,
}
_WORST_FIRST = (Status.BREAKS, Status.UNKNOWN, Status.WARN, Status.NOT_AFFECTED)

_WALK_REASON = {
    WalkEnd.TO_HTTP: Reason.REDIRECT_TO_HTTP,
    WalkEnd.LOOP: Reason.REDIRECT_LOOP,
    WalkEnd.TOO_MANY: Reason.REDIRECT_LOOP,
    WalkEnd.TARGET_BREAKS: Reason.REDIRECT_TARGET_BREAKS,
    WalkEnd.INVALID_REDIRECT: Reason.INVALID_REDIRECT,
    WalkEnd.UNVERIFIED: Reason.PRIVATE_ADDRESS,
}

DISTRUST = table()  # the built-in distrust-after rows

EXIT_CODES = {Verdict.SAFE: 0, Verdict.NOT_SAFE: 1, Verdict.INCONCLUSIVE: 3}
EXIT_USAGE = 2
# The run failed (a bug, a report that could not be written): its report is partial and stays
# in the temporary file. Not 1 (NOT SAFE) nor 4 (the cron wrapper's failed notification).
EXIT_FAILED = 5


def verdict_of(
    findings: Iterable[Finding], per_address: tuple[AddressFindings, ...] = ()
) -> HostVerdict:
    """The host's status is the worst severity among its findings (info findings do not count)."""
    found = tuple(findings)
    return HostVerdict(status_of(found), found, per_address)


def status_of(findings: Iterable[Finding]) -> Status:
    statuses = {_STATUS_OF[f.reason.severity] for f in findings if f.reason.severity in _STATUS_OF}
    return next((s for s in _WORST_FIRST if s in statuses), Status.OK)


def judge_dns(dns: DnsAnswer) -> tuple[Finding, ...]:
    """Findings for a name that cannot be probed because of its DNS answer (empty if it can)."""
    if dns.status is DnsStatus.ERROR:
        return (Finding(Reason.DNS_ERROR, dns.error or ""),)
    if dns.status in (DnsStatus.NXDOMAIN, DnsStatus.NO_ADDRESS):
        findings = [Finding(Reason.NO_DNS, dns.status.value)]
        if dns.dangling_target:
            findings.append(Finding(Reason.DANGLING_CNAME, f"CNAME -> {dns.dangling_target}"))
        return tuple(findings)
    return ()


def partial_dns(dns: DnsAnswer) -> tuple[Finding, ...]:
    """An address family that failed beside one that answered: what it holds is not known, so
    the host is unknown unless the addresses it has already make it break."""
    return (Finding(Reason.DNS_ERROR, dns.partial_error),) if dns.partial_error else ()


def wildcard_finding(dns: DnsAnswer, zones: Iterable[WildcardZone]) -> tuple[Finding, ...]:
    """A name whose addresses are exactly a wildcard's is (most likely) answered by it."""
    for zone in zones:
        under = dns.name != zone.zone and in_scope(dns.name, zone.zone)
        if under and dns.addresses and frozenset(dns.addresses) == zone.addresses:
            return (Finding(Reason.WILDCARD_DNS, f"answered by *.{zone.zone}"),)
    return ()


def _address(address: str, findings: tuple[Finding, ...]) -> AddressFindings:
    return AddressFindings(address, findings, status_of(findings))


def judge_probes(
    probes: Iterable[Probe],
    host: str,
    *,
    now: datetime,
    expiry_days: int,
    distrust: Mapping[str, Constraint] = DISTRUST,
) -> tuple[tuple[Finding, ...], tuple[AddressFindings, ...]]:
    """Findings over every address of a host (it breaks if any address breaks), and per address."""
    per_address = tuple(
        _address(
            p.address, judge_probe(p, host, now=now, expiry_days=expiry_days, distrust=distrust)
        )
        for p in probes
    )
    if len(per_address) == 1:
        return per_address[0].findings, per_address
    merged: dict[Reason, Finding] = {}
    for address, findings, _ in per_address:
        for finding in findings:
            detail = f"{address}: {finding.detail}" if finding.detail else address
            merged.setdefault(finding.reason, Finding(finding.reason, detail))
    return tuple(merged.values()), per_address


def judge_probe(
    probe: Probe,
    host: str,
    *,
    now: datetime,
    expiry_days: int,
    distrust: Mapping[str, Constraint] = DISTRUST,
) -> tuple[Finding, ...]:
    """Findings for one address of a host from what its HTTPS and HTTP ports did."""
    https, http = probe.https, probe.http
    if https.outcome in (Outcome.REFUSED, Outcome.TIMEOUT):
        return _no_https(https, http)
    if https.outcome is Outcome.CERT_INVALID:
        primary = Finding(https.reason or Reason.CERT_UNTRUSTED, https.detail)
        return certificate_findings(
            primary, https.cert, host, now, https.hidden_failures, https.verify_code
        )
    if https.outcome is not Outcome.OK:
        return (_tls_failure(https),)
    findings = [*distrust_findings(https.cert, distrust), *_revocation_findings(https)]
    findings += _walk_findings(probe.walk)
    findings += _status_findings(https, http)
    findings += _warnings(https, http, now=now, expiry_days=expiry_days)
    return tuple(findings)


# Failures the probe itself has told apart (the response, a reset, no cipher suite in common,
# no route from the scanner).
_PROBE_DECIDED = frozenset(
    {
        Reason.HTTPS_INVALID_RESPONSE,
        Reason.HTTPS_CONFLICTING_LENGTH,
        Reason.HTTPS_EMPTY_RESPONSE,
        Reason.HTTPS_RESET,
        Reason.TLS_CIPHER_MISMATCH,
        Reason.NO_ROUTE,
    }
)


def _revocation_findings(https: HttpsFacts) -> list[Finding]:
    revocation = https.revocation
    if revocation is None or revocation.status is RevocationStatus.GOOD:
        return []
    if revocation.status is RevocationStatus.UNCHECKED:
        return [Finding(Reason.REVOCATION_UNCHECKED, revocation.detail)]
    return [Finding(Reason.CERT_REVOKED, f"{revocation.detail}; Chrome: {crlset_note(revocation)}")]


def crlset_note(revocation: Revocation) -> str:
    """What can be said of Chrome's CRLSet for a revoked certificate (the scan cannot read it)."""
    if revocation.crl_reason in ("key_compromise", "ca_compromise"):
        return (
            "may be in its CRLSet, which carries key-compromise revocations of the CRLs Google "
            "crawls (not read by the scanner)"
        )
    return (
        "probably not in its CRLSet, which carries few revocations beyond key compromise "
        "(not read by the scanner)"
    )


def _tls_failure(https: HttpsFacts) -> Finding:
    if https.reason in _PROBE_DECIDED:
        return Finding(https.reason, https.detail)
    # The version is the one a permissive retry negotiated: only a server that really speaks
    # nothing newer than TLS 1.1 gets the version reason (browsers removed 1.0/1.1 in 2020).
    if https.tls_version in OLD_TLS_VERSIONS:
        return Finding(
            Reason.TLS_VERSION_UNSUPPORTED, f"the server speaks only {https.tls_version}"
        )
    return Finding(Reason.TLS_PROTOCOL_ERROR, https.detail)


OLD_TLS_VERSIONS = frozenset({"SSLv3", "TLSv1", "TLSv1.1"})


def _no_https(https: HttpsFacts, http: HttpFacts) -> tuple[Finding, ...]:
    if http.outcome is Outcome.OK:
        return (Finding(https.reason or Reason.HTTPS_REFUSED, https.detail),)
    if https.outcome is Outcome.REFUSED and http.outcome is Outcome.REFUSED:
        return (Finding(Reason.NO_WEB_SERVICE),)
    detail = f"443: {https.detail or https.outcome}; 80: {http.detail or http.outcome}"
    return (Finding(Reason.UNREACHABLE, detail),)


def _walk_findings(walk: RedirectWalk | None) -> list[Finding]:
    if walk is None or walk.end not in _WALK_REASON:
        return []
    return [Finding(_WALK_REASON[walk.end], walk.detail)]


def _status_findings(https: HttpsFacts, http: HttpFacts) -> list[Finding]:
    # Only an error that HSTS causes counts: HTTP served the site, HTTPS (where users will land
    # once the browser upgrades every request) does not.
    if https.status is None or https.status < 400 or not serves_content(http):
        return []
    detail = (
        f"HTTPS answers {https.status} where HTTP answers {http.status}: HTTPS serves a different "
        "site (often the server's default virtual host)"
    )
    return [Finding(Reason.HTTPS_ERROR_STATUS, detail)]


def _warnings(
    https: HttpsFacts, http: HttpFacts, *, now: datetime, expiry_days: int
) -> list[Finding]:
    findings = []
    # Advice to redirect to HTTPS only makes sense once HTTPS itself serves the site.
    if serves_content(http) and https.status is not None and https.status < 400:
        findings.append(Finding(Reason.NO_HTTP_REDIRECT, f"HTTP answers {http.status}"))
    if https.chain_completed_from:
        detail = f"intermediate fetched from {https.chain_completed_from}"
        findings.append(Finding(Reason.INCOMPLETE_CHAIN, detail))
    cert = https.cert
    if cert is not None and cert.not_after - now < timedelta(days=expiry_days):
        days = (cert.not_after - now).days
        detail = f"expires {cert.not_after:%Y-%m-%d %H:%M} UTC ({days} days left)"
        findings.append(Finding(Reason.CERT_EXPIRING_SOON, detail))
    return findings


def serves_content(http: HttpFacts) -> bool:
    """HTTP answered with something other than an error or a redirect to HTTPS."""
    if http.outcome is not Outcome.OK or http.status is None or http.status >= 400:
        return False
    return not redirects_to_https(http)


def redirects_to_https(http: HttpFacts) -> bool:
    return (
        http.status is not None
        and 300 <= http.status < 400
        and (http.location or "").lower().startswith("https://")
    )


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
                if _STATUS_OF.get(finding.reason.severity) is status:
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
        include_subdomains = apex is not None and browser_accepts_include_subdomains(apex.sts)
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
