"""A scan as JUnit XML (`--junit`), written with junitparser, for CI test reports.

One test suite per domain, one test case per host (classname: the domain). A host that would
break is a failure whose message is its reason and fix (every breaking reason, with its detail
and the browsers' errors, in the text); an unknown host is skipped with its reason, so it never
shows as passed; warnings go to the case's system-out. A domain whose scan cannot be trusted
(no summary, interrupted, or names missing from the enumeration) gets one more case, `(scan)`,
with an error: a partial scan never looks green. Untrusted strings lose their control characters
(XML cannot hold them). The file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from hsts_coverage.report.shapes import HostRecord, ReasonRecord, Record, SummaryRecord
from hsts_coverage.report.text import clean

SCAN_CASE = "(scan)"


def junit_xml(records: Iterable[Record]) -> JUnitXml:
    hosts: dict[str, list[HostRecord]] = {}
    summaries: dict[str, SummaryRecord] = {}
    for record in records:
        if record["type"] == "host":
            hosts.setdefault(record["domain"], []).append(record)
        elif record["type"] == "summary":
            summaries[record["domain"]] = record
    xml = JUnitXml("hsts-coverage")
    for domain in dict.fromkeys([*hosts, *summaries]):
        xml.add_testsuite(_suite(domain, hosts.get(domain, []), summaries.get(domain)))
    return xml


def write_junit(path: Path, records: Iterable[Record]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        junit_xml(records).write(str(temporary), pretty=True)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _suite(domain: str, hosts: list[HostRecord], summary: SummaryRecord | None) -> TestSuite:
    suite = TestSuite(_t(domain))
    if summary is not None:
        suite.add_property("verdict", _t(summary.get("verdict")))
        suite.add_property("why", _t(summary.get("why")))
    for host in sorted(hosts, key=lambda h: h["host"]):
        suite.add_testcase(_case(domain, host))
    problem = _untrusted(summary)
    if problem:
        case = TestCase(SCAN_CASE, classname=_t(domain))
        case.result = [Error(message=problem, type_="inconclusive")]
        suite.add_testcase(case)
    suite.update_statistics()  # type: ignore[no-untyped-call]  # junitparser: untyped
    return suite


def _case(domain: str, host: HostRecord) -> TestCase:
    case = TestCase(_t(host["host"]), classname=_t(domain))
    total_ms = (host.get("timings") or {}).get("total_ms")
    if isinstance(total_ms, int | float):
        case.time = round(total_ms / 1000, 3)
    status = host["status"]
    reasons = [r for r in host["reasons"] if r.get("severity") == status]
    if status == "breaks":
        failure = Failure(
            message=_message(reasons), type_=_t(reasons[0]["code"]) if reasons else "breaks"
        )
        failure.text = "\n\n".join(_explained(r) for r in reasons)
        case.result = [failure]
    elif status == "unknown":
        case.result = [Skipped(message=_message(reasons))]
    warnings = [r for r in host["reasons"] if r.get("severity") == "warn"]
    if warnings:
        case.system_out = "\n\n".join(_explained(r) for r in warnings)
    return case


def _message(reasons: list[ReasonRecord]) -> str:
    """`code: summary. Fix: ...` for each reason, one after the other."""
    return " | ".join(
        f"{_t(r.get('code'))}: {_t(r.get('summary'))}. Fix: {_t(r.get('fix'))}" for r in reasons
    )


def _explained(reason: ReasonRecord) -> str:
    lines = [f"{_t(reason.get('code'))}: {_t(reason.get('summary'))}"]
    if reason.get("detail"):
        lines.append(f"detail: {_t(reason['detail'])}")
    lines.append(
        f"Chrome: {_t(reason.get('chrome_error'))}; Firefox: {_t(reason.get('firefox_error'))}"
    )
    lines.append(f"fix: {_t(reason.get('fix'))}")
    return "\n".join(lines)


def _untrusted(summary: SummaryRecord | None) -> str:
    """Why the domain's list of cases cannot be trusted to be whole, or ""."""
    if summary is None:
        return "no summary: the scan ended before this domain's end"
    if summary.get("interrupted"):
        return "the scan was interrupted: a partial scan"
    enumeration = summary.get("enumeration") or {}
    if enumeration.get("status") in ("failed", "truncated"):
        error = enumeration.get("error")
        return f"the name enumeration is {_t(enumeration['status'])}" + (
            f": {_t(error)}" if error else ""
        )
    return ""


def _t(value: object) -> str:
    return clean("" if value is None else value)
