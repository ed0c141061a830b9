"""Reading a report back: every field present has its declared type, or one line says which."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hsts_coverage.report.reader import ReportError, parse_report

SCAN = {"type": "scan", "schema_version": 2}
HOST = {"type": "host", "host": "a.example.com", "domain": "example.com", "status": "ok"}


def lines(*records: dict[str, Any]) -> list[bytes]:
    return [orjson.dumps(record) for record in records]


@pytest.mark.parametrize(
    ("record", "where"),
    [
        ({**HOST, "reasons": [{"code": 7}]}, "reasons[0].code"),
        ({**HOST, "reasons": [], "https": {"certificate": {"days_left": "60"}}},
         "https.certificate.days_left"),
        ({**HOST, "reasons": [], "https": {"certificate": {"days_left": True}}},
         "https.certificate.days_left"),
        ({**HOST, "reasons": [], "redirects": {"hops": [{"upgraded_by_hsts": "yes"}]}},
         "redirects.hops[0].upgraded_by_hsts"),
        ({**HOST, "reasons": [], "per_address": [{"status": "fine"}]}, "per_address[0].status"),
        ({**HOST, "reasons": [], "found_by": "crtsh"}, "found_by"),
        ({**HOST}, "reasons missing"),
        ({"type": "summary", "domain": "example.com", "counts": {"ok": "3"}}, "counts.ok"),
        ({"type": "summary", "domain": "example.com", "policy": {"preload_list": []}},
         "policy.preload_list"),
        ({"type": "summary", "domain": "example.com", "verdict": "MAYBE"}, "verdict"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_one_line_naming_it(
    record: dict[str, Any], where: str
) -> None:
    with pytest.raises(ReportError) as refused:
        parse_report(lines(SCAN, record), "r.ndjson")
    message = str(refused.value)
    assert message.startswith("r.ndjson line 2: a ")
    assert f"({where}" in message
    assert "\n" not in message


def test_a_hostile_value_is_quoted_in_the_message_not_printed() -> None:
    record = {**HOST, "status": "\x1b[2J\u202eok\n" + "x" * 500}
    with pytest.raises(ReportError) as refused:
        parse_report(lines(SCAN, record), "r.ndjson")
    message = str(refused.value)
    assert "\x1b" not in message
    assert "\u202e" not in message
    assert "\n" not in message
    assert len(message) < 200


def test_fields_an_older_report_lacks_are_fine_and_unknown_fields_kept() -> None:
    report = parse_report(lines(SCAN, {**HOST, "reasons": [], "new_field": [1]}), "r.ndjson")
    assert report.hosts[0].get("https") is None
    assert report.hosts[0]["new_field"] == [1]  # type: ignore[typeddict-item]
