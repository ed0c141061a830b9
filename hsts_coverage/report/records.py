"""Scan events -> plain JSON-ready dicts: the NDJSON record format (see README, "Report format").

Every record has a `type`: `scan` (first), `host` (one per host, in completion order) and `summary`
(one per domain, last). `SCHEMA_VERSION` changes when a field changes meaning or disappears;
new fields may appear without a change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hsts_coverage import __version__
from hsts_coverage.config import ScanConfig
from hsts_coverage.models import (
    ApexReport,
    Certificate,
    CtFacts,
    DomainSummary,
    Enumeration,
    Finding,
    HostResult,
    HttpFacts,
    HttpsFacts,
    RedirectWalk,
    Response,
    Revocation,
    RevocationStatus,
    Verdict,
)
from hsts_coverage.report.header import header_json
from hsts_coverage.rules.host import crlset_note, status_of
from hsts_coverage.rules.hsts_header import check_header
from hsts_coverage.rules.summary import EXIT_CODES

# 2: `enumeration.sources` lists every source that answered (zone files, transfers, common labels
# and the user's names too), not only certificate transparency.
SCHEMA_VERSION = 2

EXIT_MEANINGS = {
    Verdict.SAFE: "0: safe to enable includeSubDomains for every host found",
    Verdict.NOT_SAFE: "1: at least one host would break",
    Verdict.INCONCLUSIVE: "3: the scan could not prove safety (see why)",
}

Record = dict[str, Any]


def scan_record(
    config: ScanConfig, started_at: datetime, *, open_files: int | None = None
) -> Record:
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


def host_record(result: HostResult, now: datetime) -> Record:
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
                "address": address,
                "status": status_of(findings).value,
                "reasons": [f.reason.value for f in findings],
            }
            for address, findings in result.verdict.per_address
        ],
        "ct": _ct(result.ct),
        "found_by": [source.value for source in result.found_by],
        "timings": _timings(result),
    }


def reason_record(finding: Finding) -> Record:
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


def summary_record(summary: DomainSummary) -> Record:
    enumeration = summary.enumeration
    return {
        "type": "summary",
        "domain": summary.domain,
        "verdict": summary.verdict.value,
        "exit_code": EXIT_CODES[summary.verdict],
        "exit_meaning": EXIT_MEANINGS[summary.verdict],
        "why": summary.why,
        "hosts": summary.hosts,
        "counts": {status.value: n for status, n in summary.counts.items()},
        "breaking": {reason.value: list(h) for reason, h in summary.breaking.items()},
        "warnings": {reason.value: list(h) for reason, h in summary.warnings.items()},
        "unknown": {reason.value: list(h) for reason, h in summary.unknown.items()},
        "enumeration": enumeration_record(enumeration),
        "wildcard_dns": [
            {"zone": z.zone, "probe_name": z.probe_name, "addresses": sorted(z.addresses)}
            for z in summary.wildcard_zones
        ],
        "policy": apex_record(summary.apex) if summary.apex else None,
        "advice": list(summary.advice),
        "timings": dict(summary.timings),
        "interrupted": summary.interrupted,
    }


def enumeration_record(enumeration: Enumeration) -> Record:
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


def apex_record(report: ApexReport) -> Record:
    """The apex's policy today and its preload readiness (also `hsts-coverage policy`)."""
    facts = report.facts
    first = report.sts[0] if report.sts else None
    return {
        "domain": facts.domain,
        "strict_transport_security": list(report.sts),
        "effective": header_json(check_header(first)) if first is not None else None,
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


def _response(response: Response) -> Record:
    return {
        "url": response.url,
        "status": response.status,
        "location": response.location,
        "strict_transport_security": list(response.sts),
        "error": response.error or None,
    }


def _https(facts: HttpsFacts, now: datetime) -> Record:
    return {
        "outcome": facts.outcome.value,
        "error": facts.detail or None,
        "verify_code": facts.verify_code,
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


def _revocation(revocation: Revocation | None) -> Record | None:
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


def _certificate(cert: Certificate, now: datetime) -> Record:
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


def _http(facts: HttpFacts) -> Record:
    return {
        "outcome": facts.outcome.value,
        "error": facts.detail or None,
        "status": facts.status,
        "location": facts.location,
        "elapsed_ms": facts.elapsed_ms,
    }


def _walk(walk: RedirectWalk) -> Record:
    return {
        "end": walk.end.value,
        "detail": walk.detail or None,
        "hops": [
            {
                "url": hop.url,
                "status": hop.status,
                "location": hop.location,
                "upgraded_by_hsts": hop.upgraded,
                "failure": hop.failure.value if hop.failure else None,
                "detail": hop.detail or None,
            }
            for hop in walk.hops
        ],
    }


def _ct(facts: CtFacts | None) -> Record | None:
    if facts is None:
        return None
    return {
        "certificates": facts.certificates,
        "first_not_before": _time(facts.first_not_before) if facts.first_not_before else None,
        "last_not_after": _time(facts.last_not_after) if facts.last_not_after else None,
        "issuers": list(facts.issuers),
        "sources": list(facts.sources),
    }


def _timings(result: HostResult) -> Record:
    probe = result.probe
    return {
        "total_ms": result.elapsed_ms,
        "https_ms": probe.https.elapsed_ms if probe else None,
        "http_ms": probe.http.elapsed_ms if probe else None,
    }


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
