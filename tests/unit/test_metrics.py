"""The Prometheus metrics of a scan: label values cleaned, per-host series capped, an interrupted
scan keeps the time of the last complete one. Records are built here; the lab's twin is
tests/e2e/test_metrics.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hsts_coverage.report.metrics import HOST_SERIES, ScanMetrics, label

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("www.example.com", "www.example.com"),
        ("WWW.Example.COM", "www.example.com"),
        ('a"b\\c\nd.example.com', "a_b_cd.example.com"),  # the newline is a control: dropped
        ("\x1b[31mred.example.com", "red.example.com"),
        ("*.example.com", "*.example.com"),
        ("ünï.example.com", "_n_.example.com"),
        ("x" * 400, "x" * 253),
        ("", "_"),
        ("NOT SAFE", "not_safe"),
    ],
)
def test_label_values_are_cleaned(value: str, expected: str) -> None:
    assert label(value) == expected


def host(
    name: str, status: str, expires_in_days: float | None, domain: str = "example.com"
) -> dict[str, Any]:
    certificate = None
    if expires_in_days is not None:
        not_after = START + timedelta(days=expires_in_days)
        certificate = {"not_after": not_after.isoformat().replace("+00:00", "Z")}
    reasons = [{"code": "cert_expired", "severity": "breaks"}] if status == "breaks" else []
    return {
        "type": "host",
        "host": name,
        "domain": domain,
        "status": status,
        "reasons": reasons,
        "https": {"certificate": certificate},
        "ct": {"sources": ["crt.sh"]},
    }


def samples(path: Path) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def test_a_domain_of_50000_hosts_gets_bounded_series(tmp_path: Path) -> None:
    metrics = ScanMetrics(START)
    total = 50_000
    for i in range(total):  # every tenth breaks; expiry days count down with i
        metrics.add(host(f"h{i:05d}.example.com", "breaks" if i % 10 == 0 else "ok", total - i))
    metrics.add({"type": "summary", "domain": "example.com", "verdict": "NOT SAFE",
                 "counts": {"breaks": total // 10, "ok": total - total // 10},
                 "enumeration": {"status": "complete"}})  # fmt: skip
    path = tmp_path / "scan.prom"
    metrics.write(path, START + timedelta(minutes=5), interrupted=False)
    found = samples(path)
    expiry = found["hsts_coverage_host_certificate_expiry_timestamp_seconds"]
    assert len(expiry) == HOST_SERIES
    kept = {s[0]["host"] for s in expiry}
    assert kept == {f"h{i:05d}.example.com" for i in range(total - HOST_SERIES, total)}  # earliest
    breaking = found["hsts_coverage_host_breaking"]
    assert len(breaking) == HOST_SERIES
    assert {s[0]["host"] for s in breaking} == {
        f"h{i:05d}.example.com" for i in range(0, 10_000, 10)
    }
    omitted = {s[0]["metric"]: s[1] for s in found["hsts_coverage_host_series_omitted"]}
    assert omitted == {"expiry": total - HOST_SERIES, "breaking": total // 10 - HOST_SERIES}
    hosts = {s[0]["status"]: s[1] for s in found["hsts_coverage_hosts"]}
    assert hosts["breaks"] == total // 10  # the per-domain counts count every host
    [(_, earliest)] = found["hsts_coverage_domain_certificate_expiry_timestamp_seconds"]
    assert earliest == (START + timedelta(days=1)).timestamp()
    assert sum(len(v) for v in found.values()) < 2 * HOST_SERIES + 30


def test_an_interrupted_scan_keeps_the_last_complete_time(tmp_path: Path) -> None:
    path = tmp_path / "scan.prom"
    complete = ScanMetrics(START)
    complete.add(host("a.example.com", "ok", 30))
    complete.write(path, START + timedelta(minutes=1), interrupted=False)
    last = "hsts_coverage_last_complete_scan_timestamp_seconds"
    assert samples(path)[last] == [({}, (START + timedelta(minutes=1)).timestamp())]
    stopped = ScanMetrics(START + timedelta(days=1))
    stopped.add(host("a.example.com", "ok", 29))
    stopped.write(path, START + timedelta(days=1, minutes=1), interrupted=True)
    found = samples(path)
    assert found["hsts_coverage_scan_interrupted"] == [({}, 1.0)]
    assert found[last] == [({}, (START + timedelta(minutes=1)).timestamp())]
    assert found["hsts_coverage_scan_duration_seconds"] == [({}, 60.0)]
    assert list(tmp_path.iterdir()) == [path]  # the temporary file was renamed into place


def test_a_summary_marked_interrupted_counts_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "scan.prom"
    metrics = ScanMetrics(START)
    summary = {"type": "summary", "domain": "example.com", "verdict": "INCONCLUSIVE"}
    metrics.add({**summary, "counts": {}, "interrupted": True, "enumeration": {}})
    metrics.write(path, START, interrupted=False)
    found = samples(path)
    assert found["hsts_coverage_scan_interrupted"] == [({}, 1.0)]
    assert "hsts_coverage_last_complete_scan_timestamp_seconds" not in found  # none before
    assert found["hsts_coverage_verdict"] == [
        ({"domain": "example.com", "verdict": "inconclusive"}, 3.0)
    ]
