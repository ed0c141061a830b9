"""JUnit XML from records built here: control characters from hostile servers never make the
file invalid, and a domain without a summary or with an interrupted one gets an error case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml

from hsts_coverage.report.junit import SCAN_CASE, write_junit

BREAKS = {
    "code": "cert_expired",
    "severity": "breaks",
    "summary": "the certificate has expired",
    "detail": "not after 2020\x1b[31m\x00\x07",
    "chrome_error": "NET::ERR_CERT_DATE_INVALID",
    "firefox_error": "SEC_ERROR_EXPIRED_CERTIFICATE",
    "fix": "renew it",
}


def host(name: str, status: str, reasons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "host", "host": name, "domain": "example.com", "status": status,
            "reasons": reasons, "timings": {"total_ms": 1500.0}}  # fmt: skip


def summary(**fields: Any) -> dict[str, Any]:
    return {"type": "summary", "domain": "example.com", "verdict": "NOT SAFE", "why": "1 breaks",
            "interrupted": False, "enumeration": {"status": "complete"}, **fields}  # fmt: skip


def read(tmp_path: Path, records: list[dict[str, Any]]) -> JUnitXml:
    path = tmp_path / "junit.xml"
    write_junit(path, records)
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]
    return JUnitXml.fromfile(str(path))


def test_control_characters_are_dropped(tmp_path: Path) -> None:
    xml = read(tmp_path, [host("a\x01.example.com", "breaks", [BREAKS]), summary()])
    [suite] = list(xml)
    [case] = list(suite)
    assert case.name == "a.example.com"
    assert case.time == 1.5
    [failure] = case.result
    assert isinstance(failure, Failure)
    assert "detail: not after 2020\n" in str(failure.text)


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([], "no summary"),
        ([summary(interrupted=True)], "interrupted"),
        ([summary(enumeration={"status": "truncated"})], "the name enumeration is truncated"),
    ],
)
def test_a_partial_domain_gets_an_error_case(
    tmp_path: Path, records: list[dict[str, Any]], message: str
) -> None:
    xml = read(tmp_path, [host("a.example.com", "ok", []), *records])
    [suite] = list(xml)
    scan = next(case for case in suite if case.name == SCAN_CASE)
    [error] = scan.result
    assert isinstance(error, Error)
    assert message in error.message
    assert suite.errors == 1


def test_a_whole_scan_has_no_error_case(tmp_path: Path) -> None:
    [suite] = list(read(tmp_path, [host("a.example.com", "ok", []), summary()]))
    assert [case.name for case in suite] == ["a.example.com"]
    assert (suite.tests, suite.errors, suite.failures) == (1, 0, 0)
