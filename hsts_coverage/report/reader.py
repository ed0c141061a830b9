"""Read NDJSON reports back, for `diff`, `merge` and `--baseline`.

Compatibility rule: a report whose `schema_version` is this tool's or older is read; fields added
in later versions are optional to every reader, and records of unknown types are skipped. A
report from a newer schema version is refused, since its fields may mean something else. A file
that holds several scans (a log written with `--append`) is read as its last scan: records are
grouped by their `scan_id` (records without one, from older versions, belong to the scan record
before them), and lines that are not JSON objects (a line torn by a crash, garbage) are skipped
and counted in `Report.skipped`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hsts_coverage.report.records import SCHEMA_VERSION

Record = dict[str, Any]


class ReportError(ValueError):
    """A file that cannot be read as a report; the message is one line for the user."""


@dataclass(slots=True)
class Report:
    path: str
    scan: Record
    hosts: list[Record] = field(default_factory=list)
    summaries: list[Record] = field(default_factory=list)
    skipped: int = 0  # lines of the file that were not records (torn or garbage)

    @property
    def records(self) -> list[Record]:
        return [self.scan, *self.hosts, *self.summaries]


def read_report(path: Path) -> Report:
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        raise ReportError(f"report {path} does not exist") from None
    except OSError as exc:
        raise ReportError(f"report {path} cannot be read: {exc.strerror}") from None
    return parse_report(lines, str(path))


def parse_records(records: list[Record], name: str) -> Report:
    """A report from records already in memory (the scan that is running)."""
    return _collect(enumerate(records, 1), name)


def parse_report(lines: list[bytes], name: str) -> Report:
    numbered = [(n, _record(line)) for n, line in enumerate(lines, 1) if line.strip()]
    report = _collect(((n, r) for n, r in numbered if r is not None), name)
    report.skipped = sum(1 for _, r in numbered if r is None)
    return report


def _collect(records: Iterable[tuple[int, Record]], name: str) -> Report:
    report: Report | None = None
    scans: dict[str, Report] = {}  # scan_id -> its records, for logs two runs wrote into
    for number, record in records:
        kind = record.get("type")
        if kind == "scan":
            _check_version(record, name)
            report = Report(name, record)  # a later scan in the same file replaces the earlier
            scans[str(record.get("scan_id", ""))] = report
            continue
        if report is None:
            raise ReportError(f"{name} line {number}: a {kind!r} record before any scan record")
        owner = scans.get(str(record["scan_id"])) if "scan_id" in record else report
        if owner is not None:  # else: a run whose scan record is not in the file
            _add(owner, record, kind, name, number)
    if report is None:
        raise ReportError(f"{name} is not an hsts-coverage report (no scan record)")
    return report


def _add(report: Report, record: Record, kind: object, name: str, number: int) -> None:
    if kind == "host":
        report.hosts.append(_shaped(record, _HOST_SHAPE, name, number))
    elif kind == "summary":
        report.summaries.append(_shaped(record, _SUMMARY_SHAPE, name, number))


def _statuses() -> frozenset[str]:
    from hsts_coverage.models import Status

    return frozenset(Status)


def _reasons(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(r, dict) and isinstance(r.get("code"), str) for r in value
    )


# field -> test of its value, for the fields the readers (diff, merge) rely on; absent optional
# fields are fine (older reports), present ones must have their type.
_HOST_SHAPE: dict[str, tuple[bool, Any]] = {
    "host": (True, lambda v: isinstance(v, str)),
    "domain": (True, lambda v: isinstance(v, str)),
    "status": (True, lambda v: v in _statuses()),
    "reasons": (True, _reasons),
}
_SUMMARY_SHAPE: dict[str, tuple[bool, Any]] = {
    "domain": (True, lambda v: isinstance(v, str)),
    "verdict": (False, lambda v: v in ("SAFE", "NOT SAFE", "INCONCLUSIVE")),
    "interrupted": (False, lambda v: isinstance(v, bool)),
    "enumeration": (False, lambda v: v is None or isinstance(v, dict)),
    "wildcard_dns": (
        False,
        lambda v: isinstance(v, list) and all(isinstance(z, dict) and "zone" in z for z in v),
    ),
    "policy": (False, lambda v: v is None or isinstance(v, dict)),
}


def _shaped(record: Record, shape: dict[str, tuple[bool, Any]], name: str, number: int) -> Record:
    for key, (required, valid) in shape.items():
        if (key in record and not valid(record[key])) or (required and key not in record):
            raise ReportError(f"{name} line {number}: a {record['type']} record of the wrong shape")
    return record


def _record(line: bytes) -> Record | None:
    """The record on a line, or None for a line that is not a JSON object (skipped)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _check_version(scan: Record, name: str) -> None:
    version = scan.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ReportError(f"{name}: the scan record has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise ReportError(
            f"{name} was written with report schema {version}; this hsts-coverage reads up to "
            f"{SCHEMA_VERSION}: update it"
        )
