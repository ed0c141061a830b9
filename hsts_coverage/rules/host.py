"""Pure host verdicts: a host's DNS answer and probe facts -> its findings and status.

No I/O and no clock reads (`now` is passed in). The rules, in words:
- a host *breaks* when a browser that enforces HSTS on it could no longer reach it;
- a host is *unknown* when the scan could not tell (DNS errors, private addresses, time-outs).
`rules.summary` turns the host verdicts into the domain's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from hsts_coverage.models import (
    AddressFindings,
    DnsAnswer,
    DnsStatus,
    Failure,
    Finding,
    HostVerdict,
    HttpFacts,
    HttpsFacts,
    Judgement,
    Outcome,
    Probe,
    RedirectWalk,
    Revocation,
    RevocationStatus,
    Status,
    WalkEnd,
    WildcardZone,
)
from hsts_coverage.reasons import Reason, Severity
from hsts_coverage.rules.certificates import certificate_findings
from hsts_coverage.rules.distrust import Constraint, distrust_findings, table
from hsts_coverage.rules.failures import reason_of, verify_reason
from hsts_coverage.rules.names import in_scope

STATUS_OF = {
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


def verdict_of(
    findings: Iterable[Finding], per_address: tuple[AddressFindings, ...] = ()
) -> HostVerdict:
    """The host's status is the worst severity among its findings (info findings do not count)."""
    found = tuple(findings)
    return HostVerdict(status_of(found), found, per_address)


def internal_error(detail: str) -> HostVerdict:
    """A host whose check raised (a bug): unknown, never fine."""
    return verdict_of((Finding(Reason.INTERNAL_ERROR, detail),))


def status_of(findings: Iterable[Finding]) -> Status:
    statuses = {STATUS_OF[f.reason.severity] for f in findings if f.reason.severity in STATUS_OF}
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


def no_public_address(dns: DnsAnswer) -> Judgement:
    """A host whose every address is private: not probed, unknown."""
    detail = f"{', '.join(dns.addresses)}: not a public address"
    return (Finding(Reason.PRIVATE_ADDRESS, detail),), (), ()


def out_of_time(budget: float) -> Judgement:
    """A host whose probes did not finish within its budget: unknown, never fine."""
    return (
        (Finding(Reason.CHECK_TIMEOUT, f"not finished within {budget:g} s (see --timeout)"),),
        (),
        (),
    )


def judge_host(
    dns: DnsAnswer,
    permitted: tuple[str, ...],
    probes: tuple[Probe, ...],
    *,
    now: datetime,
    expiry_days: int,
    distrust: Mapping[str, Constraint] = DISTRUST,
) -> Judgement:
    """A probed host's findings: its probes' (`probes` of the first addresses of `permitted`,
    the ones the address policy allows), and what was left out."""
    findings, per_address = judge_probes(
        probes, dns.name, now=now, expiry_days=expiry_days, distrust=distrust
    )
    chosen = [p.address for p in probes]
    return findings + _left_out(dns.addresses, permitted, chosen), probes, per_address


def _left_out(
    addresses: tuple[str, ...], permitted: tuple[str, ...], chosen: list[str]
) -> tuple[Finding, ...]:
    """What was not checked is never counted as fine: a private address beside public ones, and
    the addresses past the limit, each make the host unknown (unless a probed one breaks)."""
    found = []
    private = [a for a in addresses if a not in permitted]
    if private:
        detail = f"{', '.join(private)}: not a public address, not probed"
        found.append(Finding(Reason.PRIVATE_ADDRESS, detail))
    skipped = permitted[len(chosen) :]
    if skipped:
        detail = f"{len(skipped)} address(es) not probed: {', '.join(skipped[:8])}"
        found.append(Finding(Reason.ADDRESSES_NOT_PROBED, detail))
    return tuple(found)


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
        reason, detail = _failure(https.failure)
        primary = Finding(reason or Reason.CERT_UNTRUSTED, detail)
        hidden = tuple(Finding(verify_reason(f), f.detail) for f in https.hidden_failures)
        verify_code = https.failure.verify_code if https.failure else None
        return certificate_findings(primary, https.cert, host, now, hidden, verify_code)
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


def _failure(failure: Failure | None) -> tuple[Reason | None, str]:
    """The reason of the probe's failure (`rules.failures`) and its detail."""
    return (reason_of(failure), failure.detail) if failure else (None, "")


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
    reason, detail = _failure(https.failure)
    if reason in _PROBE_DECIDED:
        return Finding(reason, detail)
    # The version is the one a permissive retry negotiated: only a server that really speaks
    # nothing newer than TLS 1.1 gets the version reason (browsers removed 1.0/1.1 in 2020).
    if https.tls_version in OLD_TLS_VERSIONS:
        return Finding(
            Reason.TLS_VERSION_UNSUPPORTED, f"the server speaks only {https.tls_version}"
        )
    return Finding(Reason.TLS_PROTOCOL_ERROR, detail)


OLD_TLS_VERSIONS = frozenset({"SSLv3", "TLSv1", "TLSv1.1"})


def _no_https(https: HttpsFacts, http: HttpFacts) -> tuple[Finding, ...]:
    reason, detail = _failure(https.failure)
    if http.outcome is Outcome.OK:
        return (Finding(reason or Reason.HTTPS_REFUSED, detail),)
    if https.outcome is Outcome.REFUSED and http.outcome is Outcome.REFUSED:
        return (Finding(Reason.NO_WEB_SERVICE),)
    detail = f"443: {detail or https.outcome}; 80: {http.detail or http.outcome}"
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
