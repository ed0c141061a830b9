"""Pure: combine the reports of a sharded scan (`--shard K/N`) into one report.

Every host record is kept once; each domain's summary is computed again from them, with the same
rules as a single scan (`verdict.decide`); with shards of whole domains (`shard_by: domain`) each
domain's summary is already complete in its one shard and is kept as it is. The apex's policy
comes from the shard that checked it (the first). All N shards of one scan must be there, each
exactly once and all of the same N (else a usage error): a missing slice would be hosts never
checked, and the merged verdict could claim SAFE without them. A shard that did not end a domain
with a summary, or was interrupted, makes that domain INCONCLUSIVE. Records of the wrong shape
are a `ReportError`, not a crash.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from hsts_coverage.models import FoundBy, Status, Verdict
from hsts_coverage.report.reader import Report, ReportError
from hsts_coverage.report.records import (
    domain_summary,
    enumeration_of,
    preload_status_of,
    subdomains_on,
)
from hsts_coverage.report.shapes import (
    EnumerationRecord,
    HostRecord,
    PolicyRecord,
    Record,
    ScanRecord,
    SourceRecord,
    SummaryRecord,
    WildcardRecord,
)
from hsts_coverage.rules.preload import advice
from hsts_coverage.rules.summary import coverage_advice, decide

_GROUPS = {"breaks": "breaking", "warn": "warnings", "unknown": "unknown"}
_WORST_ENUMERATION = ("failed", "truncated", "complete", "skipped")
MAX_SHARDS = 10_000  # --shard K/N and merge: N at most this
_LABEL = re.compile(r"([1-9][0-9]{0,4})/([1-9][0-9]{0,4})")


@dataclass(frozen=True, slots=True)
class _Part:
    """One shard's account of a domain: its summary, or why it has none."""

    summary: SummaryRecord | None
    unfinished: str = ""


def parse_shard(label: str) -> tuple[int, int] | None:
    """`K/N` with 1 <= K <= N <= MAX_SHARDS, or None."""
    match = _LABEL.fullmatch(label)
    if match is None:
        return None
    k, n = int(match.group(1)), int(match.group(2))
    return (k, n) if k <= n <= MAX_SHARDS else None


def merge_reports(reports: list[Report]) -> list[Record]:
    shards = _check_shards(reports)
    hosts = _unique_hosts(reports)
    scan: ScanRecord = {**reports[0].scan, "merged_from": shards}
    options = {**reports[0].options(), "shard": None}
    scan["options"] = options
    if options.get("shard_by") == "domain":
        options["shard_by"] = None
        return [scan, *hosts, *_gathered(reports)]
    domains = list(dict.fromkeys(s["domain"] for r in reports for s in r.summaries))
    domains += [d for d in dict.fromkeys(h["domain"] for h in hosts) if d not in domains]
    summaries = [_summary(d, hosts, _parts(d, reports)) for d in domains]
    return [scan, *hosts, *summaries]


def _gathered(reports: list[Report]) -> list[SummaryRecord]:
    """Shards of whole domains: each domain's summary is complete in its shard, kept as it is.
    Every domain the scan was given must have one, or its hosts were never checked."""
    found = {s["domain"]: s for r in reports for s in r.summaries}
    given = reports[0].options().get("domains")
    expected = [str(d) for d in given] if isinstance(given, list) and given else list(found)
    missing = [d for d in expected if d not in found]
    if missing:
        raise ReportError(f"no shard has a summary of {', '.join(missing)}: not merging")
    return [found[d] for d in expected]


def _check_shards(reports: list[Report]) -> list[str]:
    labels = [str(r.options().get("shard") or "") for r in reports]
    if not reports or not all(labels):
        raise ReportError("merge takes the reports of one sharded scan (--shard K/N)")
    parsed = [parse_shard(label) for label in labels]
    for label, shard in zip(labels, parsed, strict=True):
        if shard is None:
            raise ReportError(f"shard label {label[:40]!r}: not K/N with 1 <= K <= N <= 10000")
    total = {shard[1] for shard in parsed if shard}
    if len(total) != 1:
        raise ReportError(f"these reports come from different shardings: {', '.join(labels)}")
    count = total.pop()
    seen = [shard[0] for shard in parsed if shard]
    twice = sorted({k for k in seen if seen.count(k) > 1})
    if twice:
        raise ReportError(f"shard(s) {', '.join(f'{k}/{count}' for k in twice)} given twice")
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise ReportError(f"shard(s) {', '.join(f'{m}/{count}' for m in missing)} missing")
    return [f"{k}/{count}" for k in sorted(seen)]


def _parts(domain: str, reports: list[Report]) -> list[_Part]:
    """Each shard's summary of `domain`; a shard without one is unfinished (interrupted)."""
    parts = []
    for report in reports:
        found = [s for s in report.summaries if s["domain"] == domain]
        if found:
            parts.append(_Part(found[-1]))
        else:
            label = str(report.options().get("shard"))
            parts.append(
                _Part(None, f"shard {label} has no summary for {domain} (it did not finish)")
            )
    return parts


def _unique_hosts(reports: list[Report]) -> list[HostRecord]:
    hosts: dict[tuple[str, str], HostRecord] = {}
    for report in reports:
        for host in report.hosts:
            hosts[(host["domain"], host["host"])] = host
    return list(hosts.values())


def _summary(domain: str, hosts: list[HostRecord], parts: list[_Part]) -> SummaryRecord:
    mine = [h for h in hosts if h["domain"] == domain]
    counts = {status.value: 0 for status in Status}
    groups: dict[str, dict[str, list[str]]] = {name: defaultdict(list) for name in _GROUPS.values()}
    for host in mine:
        counts[host["status"]] += 1
        _group(host, groups)
    enumeration = _enumeration(parts, mine)
    summaries = [p.summary for p in parts if p.summary is not None]
    interrupted = any(p.summary is None or p.summary.get("interrupted", False) for p in parts)
    typed = enumeration_of(domain, enumeration)
    verdict, why = decide({Status(k): v for k, v in counts.items()}, typed, interrupted=interrupted)
    unfinished = [p.unfinished for p in parts if p.unfinished]
    if unfinished and verdict is Verdict.INCONCLUSIVE:
        why = "; ".join(unfinished)
    policy = next((s["policy"] for s in summaries if s.get("policy")), None)
    return domain_summary(
        domain,
        verdict,
        why,
        hosts=len(mine),
        counts=counts,
        breaking={k: sorted(v) for k, v in groups["breaking"].items()},
        warnings={k: sorted(v) for k, v in groups["warnings"].items()},
        unknown={k: sorted(v) for k, v in groups["unknown"].items()},
        enumeration=enumeration,
        wildcard_dns=_wildcards(summaries),
        policy=policy,
        advice=[*_advice(verdict, counts["breaks"], policy), *coverage_advice(typed)],
        timings={},
        interrupted=interrupted,
    )


def _group(host: HostRecord, groups: dict[str, dict[str, list[str]]]) -> None:
    group = _GROUPS.get(host["status"])
    if group is None:
        return
    for reason in host["reasons"]:
        if reason.get("severity") == host["status"]:
            groups[group][reason["code"]].append(host["host"])


def _enumeration(parts: list[_Part], hosts: list[HostRecord]) -> EnumerationRecord:
    enumerations: list[EnumerationRecord] = [
        dict(p.summary.get("enumeration") or {})  # type: ignore[misc]  # a copy of the record
        for p in parts
        if p.summary is not None
    ] or [{"status": "failed"}]
    statuses = [e.get("status") for e in enumerations]
    worst = next((s for s in _WORST_ENUMERATION if s in statuses), "failed")
    merged: EnumerationRecord = {**enumerations[0], "status": worst}
    merged["complete"] = worst in ("complete", "skipped")
    merged["error"] = next((e.get("error") for e in enumerations if e.get("error")), None)
    # Every shard enumerates the same way; only the names met while checking differ by shard.
    merged["authoritative"] = all(e.get("authoritative") for e in enumerations)
    sources = {k: v for k, v in (merged.get("per_source") or {}).items() if k not in _MET}
    for kind in _MET:
        met = sum(host.get("found_by") == [kind] for host in hosts)
        if met:
            sources[kind] = SourceRecord(status="complete", names=met, detail="")
    merged["per_source"] = sources
    return merged


_MET = (FoundBy.SAN.value, FoundBy.REDIRECT.value, FoundBy.CNAME.value)


def _wildcards(summaries: list[SummaryRecord]) -> list[WildcardRecord]:
    zones = {z["zone"]: z for s in summaries for z in s.get("wildcard_dns", [])}
    return [zones[zone] for zone in sorted(zones)]


def _advice(verdict: Verdict, breaking: int, policy: PolicyRecord | None) -> tuple[str, ...]:
    if policy is None:
        return advice(verdict, breaking, None, False)
    return advice(verdict, breaking, preload_status_of(policy), subdomains_on(policy))
