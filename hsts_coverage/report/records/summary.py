"""The records of a scan and of each domain: `scan` (first), `summary` (one per domain, last)
with the enumeration and the apex's policy (its header check as `rules.preload.judge_apex` made
it), and the readers that turn a summary's parts back into the models `merge` judges again."""

from __future__ import annotations

from datetime import datetime

from hsts_coverage import __version__
from hsts_coverage.config import ScanConfig
from hsts_coverage.models import (
    ApexReport,
    DomainSummary,
    Enumeration,
    EnumerationStatus,
    FoundBy,
    HeaderCheck,
    PreloadEntry,
    PreloadStatus,
    Response,
    SourceReport,
    Verdict,
)
from hsts_coverage.report.records.fields import time_text
from hsts_coverage.report.shapes import (
    EnumerationRecord,
    HeaderCheckRecord,
    PolicyRecord,
    ResponseRecord,
    ScanRecord,
    SummaryRecord,
    WildcardRecord,
)
from hsts_coverage.rules.summary import EXIT_CODES

# 2: `enumeration.sources` lists every source that answered (zone files, transfers, common labels
# and the user's names too), not only certificate transparency.
SCHEMA_VERSION = 2

EXIT_MEANINGS = {
    Verdict.SAFE: "0: safe to enable includeSubDomains for every host found",
    Verdict.NOT_SAFE: "1: at least one host would break",
    Verdict.INCONCLUSIVE: "3: the scan could not prove safety (see why)",
}


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
        "started_at": time_text(started_at),
        "options": options,
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
