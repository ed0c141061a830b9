"""The `host` record: one per host, in completion order. Its sections (DNS, HTTPS with the
certificate and revocation, HTTP, the redirect walk, per address, CT, timings) render the
probe's facts and the host's verdict as they are; each failed request's reason comes from the
one table of `rules.failures`."""

from __future__ import annotations

from datetime import datetime

from hsts_coverage.models import (
    Certificate,
    Failure,
    Finding,
    HostResult,
    HttpFacts,
    HttpsFacts,
    RedirectWalk,
    Revocation,
    RevocationStatus,
)
from hsts_coverage.report.records.fields import ct_record, time_text
from hsts_coverage.report.shapes import (
    CertificateRecord,
    HostRecord,
    HostTimings,
    HttpRecord,
    HttpsRecord,
    ReasonRecord,
    RevocationRecord,
    WalkRecord,
)
from hsts_coverage.rules.failures import hop_reason
from hsts_coverage.rules.host import crlset_note


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
        "ct": ct_record(result.ct),
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
        "not_before": time_text(cert.not_before),
        "not_after": time_text(cert.not_after),
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


def _timings(result: HostResult) -> HostTimings:
    probe = result.probe
    return {
        "total_ms": result.elapsed_ms,
        "https_ms": probe.https.elapsed_ms if probe else None,
        "http_ms": probe.http.elapsed_ms if probe else None,
    }
