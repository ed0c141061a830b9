"""Scan events -> JSON-ready records: the NDJSON record format (see README, "Report format").

The one writer of every record type and the one definition of their shapes. Every record has a
`type`: `scan` (first), `host` (one per host, in completion order) and `summary` (one per domain,
last). `SCHEMA_VERSION` changes when a field changes meaning or disappears; new fields may appear
without a change.

The records' shapes are the TypedDicts of `shapes`, so that mypy checks every writer and every
reader of a field; the reader checks a file against the same declarations. `enumeration_of` and
friends read a record back into the models the rules take (for `merge`), next to the writers they
invert.
"""

from collections.abc import Iterator
from datetime import datetime

from hsts_coverage import __version__
from hsts_coverage.config import ScanConfig
from hsts_coverage.models import (
    ApexReport,
    Certificate,
    CtFacts,
    DomainSummary,
    Enumeration,
    EnumerationStatus,
    Failure,
    Finding,
    FoundBy,
    HeaderCheck,
    HostResult,
    HttpFacts,
    HttpsFacts,
    PreloadEntry,
    PreloadStatus,
    RedirectWalk,
    Response,
    Revocation,
    RevocationStatus,
    SourceReport,
    Verdict,
)
from hsts_coverage.report.shapes import (
    CertificateRecord,
    CtRecord,
    EnumerationRecord,
    HeaderCheckRecord,
    HostRecord,
    HostTimings,
    HttpRecord,
    HttpsRecord,
    NameListDomainRecord,
    NameRecord,
    NamesRecord,
    PolicyRecord,
    ReasonRecord,
    ResponseRecord,
    RevocationRecord,
    ScanRecord,
    SummaryRecord,
    WalkRecord,
    WildcardRecord,
)
from hsts_coverage.rules.failures import hop_reason
from hsts_coverage.rules.host import crlset_note
from hsts_coverage.rules.summary import EXIT_CODES

# 2: `enumeration.sources` lists every source that answered (zone files, transfers, common labels
# and the user's names too), not only certificate transparency.
SCHEMA_VERSION = 2

EXIT_MEANINGS = {
    Verdict.SAFE: "0: safe to enable includeSubDomains for every host found",
    Verdict.NOT_SAFE: "1: at least one host would break",
    Verdict.INCONCLUSIVE: "3: the scan could not prove safety (see why)",
}

# -- the writers -----------------------------------------------------------------------------------


def scan_record(
    config: ScanConfig, started_at: datetime, *, open_files: int | None = None
) -> ScanRecord:
    options = config.as_record()
    if open_files is not None:
        options["open_files"] = open_files  # the soft limit, raised to the hard one at start
    return {
        "type": "scan",
        "tool": "hsts-coverage",
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "started_at": _time(started_at),
        "options": options,
    }


def host_record(result: HostResult, now: datetime) -> HostRecord:
    probe = result.probe
    return {
        "type": "host",
        "host": result.name,
        "domain": result.domain,
        "status": result.verdict.status.value,
        "reasons": [reason_record(f) for f in result.verdict.findings],
        "addresses": list(result.dns.addresses),
        "probed_address": probe.address if probe else None,
        "dns": {
            "status": result.dns.status.value,
            "cname_chain": list(result.dns.cname_chain),
            "dangling_target": result.dns.dangling_target,
            "error": result.dns.error,
        },
        "https": _https(probe.https, now) if probe else None,
        "http": _http(probe.http) if probe else None,
        "redirects": _walk(probe.walk) if probe and probe.walk else None,
        "per_address": [
            {
                "address": judged.address,
                "status": judged.status.value,
                "reasons": [f.reason.value for f in judged.findings],
            }
            for judged in result.verdict.per_address
        ],
        "ct": _ct(result.ct),
        "found_by": [source.value for source in result.found_by],
        "timings": _timings(result),
    }


def reason_record(finding: Finding) -> ReasonRecord:
    reason = finding.reason
    return {
        "code": reason.value,
        "severity": reason.severity.value,
        "summary": reason.summary,
        "chrome_error": reason.chrome_error,
        "firefox_error": reason.firefox_error,
        "detail": finding.detail,
        "fix": reason.fix,
    }


def summary_record(summary: DomainSummary) -> SummaryRecord:
    return domain_summary(
        summary.domain,
        summary.verdict,
        summary.why,
        hosts=summary.hosts,
        counts={status.value: n for status, n in summary.counts.items()},
        breaking={reason.value: list(h) for reason, h in summary.breaking.items()},
        warnings={reason.value: list(h) for reason, h in summary.warnings.items()},
        unknown={reason.value: list(h) for reason, h in summary.unknown.items()},
        enumeration=enumeration_record(summary.enumeration),
        wildcard_dns=[
            {"zone": z.zone, "probe_name": z.probe_name, "addresses": sorted(z.addresses)}
            for z in summary.wildcard_zones
        ],
        policy=apex_record(summary.apex) if summary.apex else None,
        advice=list(summary.advice),
        timings=dict(summary.timings),
        interrupted=summary.interrupted,
    )


def domain_summary(
    domain: str,
    verdict: Verdict,
    why: str,
    *,
    hosts: int,
    counts: dict[str, int],
    breaking: dict[str, list[str]],
    warnings: dict[str, list[str]],
    unknown: dict[str, list[str]],
    enumeration: EnumerationRecord | None,
    wildcard_dns: list[WildcardRecord],
    policy: PolicyRecord | None,
    advice: list[str],
    timings: dict[str, float],
    interrupted: bool,
) -> SummaryRecord:
    """A summary record from its parts: a scan's own, or the one `merge` computes again."""
    return {
        "type": "summary",
        "domain": domain,
        "verdict": verdict.value,
        "exit_code": EXIT_CODES[verdict],
        "exit_meaning": EXIT_MEANINGS[verdict],
        "why": why,
        "hosts": hosts,
        "counts": counts,
        "breaking": breaking,
        "warnings": warnings,
        "unknown": unknown,
        "enumeration": enumeration,
        "wildcard_dns": wildcard_dns,
        "policy": policy,
        "advice": advice,
        "timings": timings,
        "interrupted": interrupted,
    }


def enumeration_record(enumeration: Enumeration) -> EnumerationRecord:
    """How the names were found and how far the list can be trusted (also the name list's)."""
    return {
        "status": enumeration.status.value,
        "complete": enumeration.status.value in ("complete", "skipped"),
        "sources": list(enumeration.sources),
        "rows": enumeration.rows,
        "attempts": enumeration.attempts,
        "names": len(enumeration.names),
        "wildcards": list(enumeration.wildcards),
        "rejected": dict(enumeration.rejected),
        "error": enumeration.error,
        "notes": list(enumeration.notes),
        "authoritative": enumeration.authoritative,
        "per_source": {
            report.source.value: {
                "status": report.status.value,
                "names": report.names,
                "detail": report.detail,
            }
            for report in enumeration.per_source
        },
    }


def apex_record(report: ApexReport) -> PolicyRecord:
    """The apex's policy today and its preload readiness (also `hsts-coverage policy`)."""
    facts = report.facts
    effective = report.effective
    return {
        "domain": facts.domain,
        "strict_transport_security": list(report.sts),
        "effective": header_check_record(effective) if effective is not None else None,
        "https_chain": [_response(r) for r in facts.https_chain],
        "http_chain": [_response(r) for r in facts.http_chain],
        "preload_list": {
            "source": report.preload.source,
            "preloaded": report.preload.preloaded,
            "entry": report.preload.entry.name if report.preload.entry else None,
            "include_subdomains": report.preload.subdomains_preloaded,
            "policy": report.preload.entry.policy if report.preload.entry else None,
        },
        "requirements": [
            {
                "code": r.code,
                "title": r.title,
                "status": r.status.value,
                "failures": list(r.failures),
                "detail": r.detail or None,
            }
            for r in report.requirements
        ],
        "preload_ready": report.ready,
    }


def header_check_record(check: HeaderCheck) -> HeaderCheckRecord:
    """One Strict-Transport-Security check (the policy's `effective`, `header --format json`)."""
    browser = check.browser
    return {
        "header": check.header,
        "browser": {
            "accepted": browser.accepted,
            "max_age": browser.max_age,
            "effective_max_age": browser.effective_max_age,
            "include_subdomains": browser.include_subdomains,
            "preload": browser.preload,
            "reason": browser.reason,
        },
        "hstspreload": {
            "preloadable": {
                "errors": [{"code": i.code, "message": i.message} for i in check.preload_errors],
                "warnings": [
                    {"code": i.code, "message": i.message} for i in check.preload_warnings
                ],
            }
        },
        "issues": [
            {"code": i.code, "severity": i.severity.value, "message": i.message}
            for i in check.issues
        ],
    }


def _response(response: Response) -> ResponseRecord:
    return {
        "url": response.url,
        "status": response.status,
        "location": response.location,
        "strict_transport_security": list(response.sts),
        "error": response.error or None,
    }


def _https(facts: HttpsFacts, now: datetime) -> HttpsRecord:
    return {
        "outcome": facts.outcome.value,
        "error": _error(facts.failure),
        "verify_code": facts.failure.verify_code if facts.failure else None,
        "tls_version": facts.tls_version,
        "cipher": facts.cipher,
        "alpn": facts.alpn,
        "status": facts.status,
        "location": facts.location,
        "strict_transport_security": list(facts.sts),
        "chain_completed_from": facts.chain_completed_from,
        "revocation": _revocation(facts.revocation),
        "certificate": _certificate(facts.cert, now) if facts.cert else None,
        "elapsed_ms": facts.elapsed_ms,
    }


def _revocation(revocation: Revocation | None) -> RevocationRecord | None:
    if revocation is None:
        return None
    revoked = revocation.status is RevocationStatus.REVOKED
    return {
        "status": revocation.status.value,
        "method": revocation.method or None,
        "url": revocation.url or None,
        "detail": revocation.detail or None,
        "chrome_crlset": crlset_note(revocation) if revoked else None,
    }


def _certificate(cert: Certificate, now: datetime) -> CertificateRecord:
    return {
        "subject": cert.subject,
        "sans": list(cert.sans),
        "issuer": cert.issuer,
        "not_before": _time(cert.not_before),
        "not_after": _time(cert.not_after),
        "days_left": (cert.not_after - now).days,
        "serial": cert.serial,
        "signature_algorithm": cert.signature_algorithm,
        "self_signed": cert.self_signed,
        "key_type": cert.key_type,
        "key_bits": cert.key_bits,
        "ca_issuers": list(cert.ca_issuers),
    }


def _http(facts: HttpFacts) -> HttpRecord:
    return {
        "outcome": facts.outcome.value,
        "error": facts.detail or None,
        "status": facts.status,
        "location": facts.location,
        "elapsed_ms": facts.elapsed_ms,
    }


def _walk(walk: RedirectWalk) -> WalkRecord:
    return {
        "end": walk.end.value,
        "detail": walk.detail or None,
        "hops": [
            {
                "url": hop.url,
                "status": hop.status,
                "location": hop.location,
                "upgraded_by_hsts": hop.upgraded,
                "failure": hop_reason(hop.failure).value if hop.failure else None,
                "detail": _error(hop.failure),
            }
            for hop in walk.hops
        ],
    }


def _error(failure: Failure | None) -> str | None:
    return failure.detail or None if failure is not None else None


def _ct(facts: CtFacts | None) -> CtRecord | None:
    if facts is None:
        return None
    return {
        "certificates": facts.certificates,
        "first_not_before": _time(facts.first_not_before) if facts.first_not_before else None,
        "last_not_after": _time(facts.last_not_after) if facts.last_not_after else None,
        "issuers": list(facts.issuers),
        "sources": list(facts.sources),
    }


def _timings(result: HostResult) -> HostTimings:
    probe = result.probe
    return {
        "total_ms": result.elapsed_ms,
        "https_ms": probe.https.elapsed_ms if probe else None,
        "http_ms": probe.http.elapsed_ms if probe else None,
    }


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# -- the name list of `hsts-coverage enumerate` ---------------------------------------------------

FORMAT_VERSION = 1  # of the name list
_USER = "user"
# Source names as the list spells them (the report's `ct.sources` says "crt.sh").
_SOURCE_NAMES = {"crt.sh": "crtsh"}


def header_record() -> NamesRecord:
    return {
        "type": "names",
        "tool": "hsts-coverage",
        "version": __version__,
        "format_version": FORMAT_VERSION,
    }


def domain_records(enumeration: Enumeration) -> Iterator[NameListDomainRecord | NameRecord]:
    """The `domain` record, then a `name` record per name."""
    yield {"type": "domain", "domain": enumeration.domain, **enumeration_record(enumeration)}
    for name in enumeration.names:
        facts = enumeration.ct.get(name)
        yield {
            "type": "name",
            "domain": enumeration.domain,
            "name": name,
            "found_by": name_found_by(facts, enumeration.found_by.get(name, ())),
            "ct": _ct(facts),
        }


def name_found_by(facts: CtFacts | None, sources: tuple[FoundBy, ...] = ()) -> list[str]:
    """The sources that found it (the enumeration's own account; from a list written before it
    kept one, the CT sources), `user` for a name only the user (or the apex) gave."""
    if sources:
        return [source.value for source in sources]
    named = [_SOURCE_NAMES.get(s, s) for s in facts.sources] if facts else []
    return named or [_USER]


# -- records read back as the models they were written from (merge's inputs) ----------------------


def enumeration_of(domain: str, record: EnumerationRecord) -> Enumeration:
    """What the verdict rules need of an enumeration record: status, wildcards, error, sources."""
    reports = tuple(
        SourceReport(
            FoundBy(name),
            EnumerationStatus(report.get("status", "failed")),
            report.get("names", 0),
            report.get("detail", ""),
        )
        for name, report in (record.get("per_source") or {}).items()
        if name in FoundBy._value2member_map_
        and report.get("status", "failed") in EnumerationStatus._value2member_map_
    )
    status = record.get("status", "failed")
    return Enumeration(
        domain,
        EnumerationStatus(status if status in EnumerationStatus._value2member_map_ else "failed"),
        (),
        wildcards=tuple(record.get("wildcards") or ()),
        error=record.get("error"),
        per_source=reports,
        authoritative=bool(record.get("authoritative")),
    )


def preload_status_of(policy: PolicyRecord) -> PreloadStatus:
    listed = policy.get("preload_list") or {}
    entry = listed.get("entry")
    return PreloadStatus(
        listed.get("source", ""),
        PreloadEntry(entry, bool(listed.get("include_subdomains"))) if entry else None,
    )


def subdomains_on(policy: PolicyRecord) -> bool:
    """Browsers apply includeSubDomains with a positive max-age from the apex's header."""
    browser = (policy.get("effective") or {}).get("browser") or {}
    on = bool(browser.get("accepted") and browser.get("include_subdomains"))
    return on and (browser.get("max_age") or 0) > 0
