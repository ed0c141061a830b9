"""A scan as Prometheus text exposition, for node_exporter's textfile collector (`--metrics`).

`ScanMetrics` takes the scan's records as they are written (host records, then each domain's
summary) and keeps only counters and two bounded heaps per domain, so memory does not grow with
the number of hosts. `write` renders them with prometheus_client into its own registry and
`write_to_textfile`, which writes a temporary file and renames it into place: the collector never
reads half a file.

Every label value comes from an untrusted place (CT names, a report file) and is cleaned: lower
case, only `a-z 0-9 . _ - *`, at most 253 characters (a DNS name's length). Cardinality is
bounded: per domain at most `HOST_SERIES` hosts get a series of their own in each per-host
metric (for the expiry: the earliest-expiring ones; for breaking hosts: the first in name order);
`hsts_coverage_host_series_omitted{domain, metric}` counts the hosts left out, and every per-domain
metric counts every host. A domain with 50,000 hosts gives at most 2 x 1,000 per-host series
plus the per-domain ones, whatever the number of hosts.

An interrupted scan is written too, with `hsts_coverage_scan_interrupted 1`; its
`hsts_coverage_last_complete_scan_timestamp_seconds` is carried over from the file it replaces,
so an alert on the age of the last complete scan keeps counting.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

from hsts_coverage.report.shapes import HostRecord, Record, SummaryRecord
from hsts_coverage.report.text import clean

HOST_SERIES = 1000  # per domain and per per-host metric
PREFIX = "hsts_coverage"
STATUSES = ("ok", "warn", "breaks", "not_affected", "unknown")
VERDICT_VALUES = {"SAFE": 0, "NOT SAFE": 1, "INCONCLUSIVE": 3}  # the scan's exit codes
LAST_COMPLETE = f"{PREFIX}_last_complete_scan_timestamp_seconds"
# Source names as the names list and the metrics spell them (the report says "crt.sh").
SOURCE_LABELS = {"crt.sh": "crtsh"}

_UNSAFE = re.compile(r"[^a-z0-9._*-]")


def label(value: object) -> str:
    """An untrusted string as a label value: lower case, a DNS name's characters, bounded."""
    return _UNSAFE.sub("_", clean(value).lower())[:253] or "_"


def source_label(source: object) -> str:
    return label(SOURCE_LABELS.get(str(source), source))


@dataclass(slots=True)
class _Domain:
    statuses: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    breaking_reasons: Counter[str] = field(default_factory=Counter)
    # Bounded heaps: the HOST_SERIES earliest expiries (negated, so the root is the latest kept)
    # and the HOST_SERIES breaking hosts first in name order (root: the last kept name).
    expiries: list[tuple[float, str]] = field(default_factory=list)
    breaking: list[tuple[_Reverse, str]] = field(default_factory=list)
    omitted: Counter[str] = field(default_factory=Counter)
    earliest: float | None = None
    summary: SummaryRecord | None = None


@dataclass(frozen=True, slots=True, order=True)
class _Reverse:
    """A name that sorts backwards, so a min-heap keeps the smallest names."""

    key: tuple[int, ...]

    @classmethod
    def of(cls, name: str) -> _Reverse:
        return cls((*(-ord(c) for c in name), 1))


class ScanMetrics:
    """Folds a scan's records into the metrics; `write` puts them in a textfile."""

    def __init__(self, started_at: datetime) -> None:
        self._started_at = started_at
        self._domains: dict[str, _Domain] = defaultdict(_Domain)

    def add(self, record: Record) -> None:
        if record["type"] == "host":
            self._host(record)
        elif record["type"] == "summary":
            self._domains[label(record["domain"])].summary = record

    def add_all(self, records: Iterable[Record]) -> None:
        for record in records:
            self.add(record)

    def _host(self, record: HostRecord) -> None:
        domain = self._domains[label(record["domain"])]
        host = label(record["host"])
        status = record["status"]
        domain.statuses[status] += 1
        for source in found_by(record):
            domain.sources[source_label(source)] += 1
        if status == "breaks":
            codes = {r["code"] for r in record["reasons"] if r.get("severity") == status}
            domain.breaking_reasons.update(label(code) for code in codes)
            _keep(domain, "breaking", domain.breaking, (_Reverse.of(host), host))
        expires = expiry_of(record)
        if expires is not None:
            domain.earliest = expires if domain.earliest is None else min(domain.earliest, expires)
            _keep(domain, "expiry", domain.expiries, (-expires, host))

    def write(self, path: Path, finished_at: datetime, *, interrupted: bool) -> None:
        """The textfile, replaced atomically. `interrupted`: the scan was stopped early."""
        interrupted = interrupted or any(
            bool(d.summary and d.summary.get("interrupted")) for d in self._domains.values()
        )
        registry = CollectorRegistry(auto_describe=True)
        self._per_domain(registry)
        self._per_run(registry, finished_at, interrupted, _previous_complete(path))
        write_to_textfile(str(path), registry)

    def _per_domain(self, registry: CollectorRegistry) -> None:
        g = _Gauges(registry)
        for name, domain in self._domains.items():
            summary = domain.summary
            counts = (summary.get("counts") if summary else None) or domain.statuses
            for status in STATUSES:
                g.hosts.labels(name, status).set(counts.get(status, 0))
            verdict = (summary.get("verdict") if summary else None) or "INCONCLUSIVE"
            g.verdict.labels(name, label(verdict)).set(VERDICT_VALUES.get(verdict, 3))
            for reason, hosts in domain.breaking_reasons.items():
                g.breaking.labels(name, reason).set(hosts)
            for _, host in sorted(domain.breaking, reverse=True):
                g.host_breaking.labels(name, host).set(1)
            if domain.earliest is not None:
                g.domain_expiry.labels(name).set(domain.earliest)
            for negated, host in sorted(domain.expiries, reverse=True):
                g.host_expiry.labels(name, host).set(-negated)
            for metric in ("breaking", "expiry"):
                g.omitted.labels(name, metric).set(domain.omitted[metric])
            enumeration = (summary.get("enumeration") if summary else None) or {}
            status = label(enumeration.get("status") or "failed")
            g.enumeration.labels(name, status).set(1)
            for source, names in domain.sources.items():
                g.names.labels(name, source).set(names)

    def _per_run(
        self,
        registry: CollectorRegistry,
        finished_at: datetime,
        interrupted: bool,
        previous_complete: float | None,
    ) -> None:
        duration = (finished_at - self._started_at).total_seconds()
        _gauge(registry, "scan_duration_seconds", "Seconds the scan took.").set(duration)
        finished = finished_at.timestamp()
        _gauge(
            registry, "scan_finished_timestamp_seconds", "When the scan ended (or was stopped)."
        ).set(finished)
        _gauge(registry, "scan_interrupted", "1 if the scan was stopped before its end.").set(
            int(interrupted)
        )
        last = previous_complete if interrupted else finished
        if last is not None:
            _gauge(
                registry,
                LAST_COMPLETE.removeprefix(f"{PREFIX}_"),
                "When the last scan that ran to its end finished.",
            ).set(last)


def _keep(domain: _Domain, metric: str, heap: list[Any], item: tuple[Any, str]) -> None:
    """Push onto a bounded heap; what falls off (or never gets on) is counted as omitted."""
    if len(heap) < HOST_SERIES:
        heapq.heappush(heap, item)
        return
    domain.omitted[metric] += 1
    if item > heap[0]:
        heapq.heapreplace(heap, item)


class _Gauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, text: str, *labels: str) -> Gauge:
            return _gauge(registry, name, text, ("domain", *labels))

        self.hosts = gauge("hosts", "Hosts of the domain per status.", "status")
        self.verdict = gauge(
            "verdict",
            "The verdict, as its exit code: 0 SAFE, 1 NOT SAFE, 3 INCONCLUSIVE.",
            "verdict",
        )
        self.breaking = gauge("breaking_hosts", "Hosts that would break, per reason.", "reason")
        self.host_breaking = gauge(
            "host_breaking", f"1 for a host that would break (at most {HOST_SERIES}).", "host"
        )
        self.domain_expiry = gauge(
            "domain_certificate_expiry_timestamp_seconds",
            "The earliest not_after of the domain's hosts' certificates.",
        )
        self.host_expiry = gauge(
            "host_certificate_expiry_timestamp_seconds",
            f"A host's certificate not_after (the {HOST_SERIES} earliest per domain).",
            "host",
        )
        self.omitted = gauge(
            "host_series_omitted", "Hosts left out of a per-host metric by its cap.", "metric"
        )
        self.enumeration = gauge(
            "enumeration_status", "1 for the status of the domain's name enumeration.", "status"
        )
        self.names = gauge("enumeration_names", "Scanned names found by each source.", "source")


def _gauge(
    registry: CollectorRegistry, name: str, text: str, labels: tuple[str, ...] = ()
) -> Gauge:
    return Gauge(f"{PREFIX}_{name}", text, labels, registry=registry)


def found_by(record: HostRecord) -> list[str]:
    """Where a host's name came from: its `found_by`, else its CT sources, else the user."""
    sources = record.get("found_by") or (record.get("ct") or {}).get("sources") or ["user"]
    return [str(s) for s in sources]


def expiry_of(record: HostRecord) -> float | None:
    """The host's certificate not_after as a Unix time, None without a certificate."""
    certificate = (record.get("https") or {}).get("certificate") or {}
    not_after = certificate.get("not_after")
    try:
        return datetime.fromisoformat(str(not_after)).timestamp() if not_after else None
    except ValueError:
        return None


def _previous_complete(path: Path) -> float | None:
    """The last complete scan's time from the textfile about to be replaced, if any."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == LAST_COMPLETE:
                    return float(sample.value)
    except ValueError:
        return None
    return None
