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
from typing import Any

from hsts_coverage.models import (
    Enumeration,
    EnumerationStatus,
    FoundBy,
    PreloadEntry,
    PreloadStatus,
    SourceReport,
    Status,
    Verdict,
)
from hsts_coverage.preload import advice
from hsts_coverage.report.reader import Report, ReportError
from hsts_coverage.report.records import EXIT_MEANINGS
from hsts_coverage.verdict import EXIT_CODES, coverage_advice, decide

Record = dict[str, Any]
_GROUPS = {"breaks": "breaking", "warn": "warnings", "unknown": "unknown"}
_WORST_ENUMERATION = ("failed", "truncated", "complete", "skipped")
MAX_SHARDS = 10_000  # --shard K/N and merge: N at most this
_LABEL = re.compile(r"([1-9][0-9]{0,4})/([1-9][0-9]{0,4})")


def parse_shard(label: str) -> tuple[int, int] | None:
    """`K/N` with 1 <= K <= N <= MAX_SHARDS, or None."""
    match = _LABEL.fullmatch(label)
    if match is None:
        return None
    k, n = int(match.group(1)), int(match.group(2))
    return (k, n) if k <= n <= MAX_SHARDS else None


def merge_reports(reports: list[Report]) -> list[Record]:
    shards = _check_shards(reports)
    try:
        return _merge(reports, shards)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ReportError(f"a report has records of the wrong shape ({exc!r})") from None


def _merge(reports: list[Report], shards: list[str]) -> list[Record]:
    hosts = _unique_hosts(reports)
    scan = {**reports[0].scan, "merged_from": shards}
    scan["options"] = {**(scan.get("options") or {}), "shard": None}
    if (scan["options"].get("shard_by")) == "domain":
        scan["options"]["shard_by"] = None
        return [scan, *hosts, *_gathered(reports)]
    domains = list(dict.fromkeys(str(s["domain"]) for r in reports for s in r.summaries))
    domains += [d for d in dict.fromkeys(str(h["domain"]) for h in hosts) if d not in domains]
    summaries = [_summary(d, hosts, _parts(d, reports, shards)) for d in domains]
    return [scan, *hosts, *summaries]


def _gathered(reports: list[Report]) -> list[Record]:
    """Shards of whole domains: each domain's summary is complete in its shard, kept as it is.
    Every domain the scan was given must have one, or its hosts were never checked."""
    found = {s.get("domain"): s for r in reports for s in r.summaries}
    expected = list((reports[0].scan.get("options") or {}).get("domains") or found)
    missing = [str(d) for d in expected if d not in found]
    if missing:
        raise ReportError(f"no shard has a summary of {', '.join(missing)}: not merging")
    return [found[d] for d in expected]


def _check_shards(reports: list[Report]) -> list[str]:
    options = [r.scan.get("options") for r in reports]
    labels = [str(o.get("shard") or "") if isinstance(o, dict) else "" for o in options]
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


def _parts(domain: str, reports: list[Report], shards: list[str]) -> list[Record]:
    """Each shard's summary of `domain`; a shard without one gets an interrupted stand-in."""
    parts = []
    for report in reports:
        label = str(report.scan["options"]["shard"])
        found = [s for s in report.summaries if s.get("domain") == domain]
        if found:
            parts.append(found[-1])
        else:
            error = f"shard {label} has no summary for {domain} (it did not finish)"
            parts.append({"domain": domain, "interrupted": True, "unfinished": error})
    return parts


def _unique_hosts(reports: list[Report]) -> list[Record]:
    hosts: dict[tuple[str, str], Record] = {}
    for report in reports:
        for host in report.hosts:
            hosts[(str(host.get("domain")), str(host.get("host")))] = host
    return list(hosts.values())


def _summary(domain: str, hosts: list[Record], shard_summaries: list[Record]) -> Record:
    mine = [h for h in hosts if h.get("domain") == domain]
    parts = [s for s in shard_summaries if s.get("domain") == domain]
    counts = {status.value: 0 for status in Status}
    groups: dict[str, dict[str, list[str]]] = {name: defaultdict(list) for name in _GROUPS.values()}
    for host in mine:
        counts[host["status"]] = counts.get(host["status"], 0) + 1
        _group(host, groups)
    enumeration = _enumeration(parts, mine)
    interrupted = any(bool(p.get("interrupted")) for p in parts)
    typed = _as_enumeration(domain, enumeration)
    verdict, why = decide(
        {Status(k): v for k, v in counts.items() if k in Status._value2member_map_},
        typed,
        interrupted=interrupted,
    )
    unfinished = [str(p["unfinished"]) for p in parts if "unfinished" in p]
    if unfinished and verdict is Verdict.INCONCLUSIVE:
        why = "; ".join(unfinished)
    policy = next((p["policy"] for p in parts if p.get("policy")), None)
    return {
        "type": "summary",
        "domain": domain,
        "verdict": verdict.value,
        "exit_code": EXIT_CODES[verdict],
        "exit_meaning": EXIT_MEANINGS[verdict],
        "why": why,
        "hosts": len(mine),
        "counts": counts,
        **{name: {k: sorted(v) for k, v in groups[name].items()} for name in _GROUPS.values()},
        "enumeration": enumeration,
        "wildcard_dns": _wildcards(parts),
        "policy": policy,
        "advice": [*_advice(verdict, counts.get("breaks", 0), policy), *coverage_advice(typed)],
        "timings": {},
        "interrupted": interrupted,
    }


def _group(host: Record, groups: dict[str, dict[str, list[str]]]) -> None:
    group = _GROUPS.get(str(host.get("status")))
    if group is None:
        return
    for reason in host.get("reasons", []):
        if reason.get("severity") == host["status"]:
            groups[group][reason["code"]].append(str(host["host"]))


def _enumeration(parts: list[Record], hosts: list[Record]) -> Record:
    enumerations = [dict(p.get("enumeration") or {}) for p in parts if "unfinished" not in p]
    enumerations = enumerations or [{"status": "failed"}]
    statuses = [e.get("status") for e in enumerations]
    worst = next((s for s in _WORST_ENUMERATION if s in statuses), "failed")
    merged = {**enumerations[0], "status": worst}
    merged["complete"] = worst in ("complete", "skipped")
    merged["error"] = next((e.get("error") for e in enumerations if e.get("error")), None)
    # Every shard enumerates the same way; only the names met while checking differ by shard.
    merged["authoritative"] = all(e.get("authoritative") for e in enumerations)
    sources = {k: v for k, v in (merged.get("per_source") or {}).items() if k not in _MET}
    for kind in _MET:
        met = sum(host.get("found_by") == [kind] for host in hosts)
        if met:
            sources[kind] = {"status": "complete", "names": met, "detail": ""}
    merged["per_source"] = sources
    return merged


_MET = (FoundBy.SAN.value, FoundBy.REDIRECT.value, FoundBy.CNAME.value)


def _as_enumeration(domain: str, record: Record) -> Enumeration:
    status = EnumerationStatus(record.get("status", "failed"))
    reports = tuple(
        SourceReport(
            FoundBy(name),
            EnumerationStatus(report.get("status", "failed")),
            int(report.get("names", 0)),
            str(report.get("detail", "")),
        )
        for name, report in (record.get("per_source") or {}).items()
        if name in FoundBy._value2member_map_
    )
    return Enumeration(
        domain,
        status,
        (),
        wildcards=tuple(record.get("wildcards") or ()),
        error=record.get("error"),
        per_source=reports,
        authoritative=bool(record.get("authoritative")),
    )


def _wildcards(parts: list[Record]) -> list[Record]:
    zones = {z["zone"]: z for p in parts for z in p.get("wildcard_dns", [])}
    return [zones[zone] for zone in sorted(zones)]


def _advice(verdict: Verdict, breaking: int, policy: Record | None) -> tuple[str, ...]:
    if policy is None:
        return advice(verdict, breaking, None, False)
    listed = policy.get("preload_list") or {}
    entry = listed.get("entry")
    preload = PreloadStatus(
        str(listed.get("source", "")),
        PreloadEntry(entry, bool(listed.get("include_subdomains"))) if entry else None,
    )
    browser = ((policy.get("effective") or {}).get("browser")) or {}
    on = bool(browser.get("accepted") and browser.get("include_subdomains"))
    return advice(verdict, breaking, preload, on and (browser.get("max_age") or 0) > 0)
