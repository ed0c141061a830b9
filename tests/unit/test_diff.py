"""The diff rules, on plain records."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hsts_coverage.report.diff import Change, host_changes


def host(status: str, *reasons: str, days_left: int | None = None) -> dict[str, Any]:
    certificate = {"days_left": days_left} if days_left is not None else None
    return {
        "domain": "example.com",
        "host": "a.example.com",
        "status": status,
        "reasons": [{"code": code} for code in reasons],
        "https": {"certificate": certificate},
    }


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        (host("ok"), host("ok"), []),
        (host("ok"), host("breaks", "cert_expired"), [Change.NEWLY_BREAKS, Change.REASONS_CHANGED]),
        (None, host("breaks", "cert_expired"), [Change.APPEARED, Change.NEWLY_BREAKS]),
        (None, host("ok"), [Change.APPEARED]),
        (host("breaks", "cert_expired"), None, [Change.DISAPPEARED]),
        (host("breaks", "cert_expired"), host("ok"), [Change.FIXED, Change.REASONS_CHANGED]),
        (host("breaks", "cert_expired"), host("breaks", "cert_untrusted"),
         [Change.REASONS_CHANGED]),
        (host("ok", days_left=30), host("warn", "cert_expiring_soon", days_left=10),
         [Change.REASONS_CHANGED, Change.EXPIRY_CROSSED]),
        (host("ok", days_left=30), host("ok", days_left=15), []),
        (host("warn", days_left=10), host("warn", days_left=9), []),
    ],
)  # fmt: skip
def test_host_changes(
    old: dict[str, Any] | None, new: dict[str, Any] | None, changes: list[Change]
) -> None:
    assert [c.change for c in host_changes(old, new, horizon=14)] == changes


def test_a_log_of_two_interleaved_runs_is_read_by_scan_id() -> None:
    from hsts_coverage.report.reader import parse_report

    def line(record: dict[str, object]) -> bytes:
        return orjson.dumps(record)

    scan = {"type": "scan", "schema_version": 1}
    host = {"type": "host", "domain": "example.com", "status": "ok", "reasons": []}
    lines = [
        line({**scan, "scan_id": "a"}),
        line({**host, "host": "a1.example.com", "scan_id": "a"}),
        line({**scan, "scan_id": "b"}),
        line({**host, "host": "a2.example.com", "scan_id": "a"}),
        b'{"type": "host", "ho',  # torn
        line({**host, "host": "b1.example.com", "scan_id": "b"}),
        line({"type": "summary", "domain": "example.com", "scan_id": "a"}),
    ]
    report = parse_report(lines, "log")
    assert report.scan["scan_id"] == "b"
    assert [h["host"] for h in report.hosts] == ["b1.example.com"]
    assert report.summaries == []  # run a's summary is not run b's
    assert report.skipped == 1


def test_diff_text_filters_escapes_and_bidi_controls_from_a_crafted_report() -> None:
    from hsts_coverage.report.diff import diff_reports
    from hsts_coverage.report.diffview import diff_text
    from hsts_coverage.report.reader import parse_records

    def report(code: str) -> Any:
        host = {
            "type": "host",
            "host": "a\u202e.example.com",
            "domain": "example.com",
            "status": "breaks",
            "reasons": [{"code": code, "severity": "breaks"}],
        }
        summary = {"type": "summary", "domain": "example.com", "verdict": "NOT SAFE"}
        return parse_records([{"type": "scan", "schema_version": 1}, host, summary], "r")

    text = diff_text(diff_reports(report("cert_expired"), report("x\x1b[2J\u2066y")))
    assert "x" in text
    assert "y" in text
    for control in ("\x1b", "\u202e", "\u2066"):
        assert control not in text
