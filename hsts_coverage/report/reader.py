"""Read NDJSON reports back as typed records, for `diff`, `merge`, `html` and `--baseline`.

Compatibility rule: a report whose `schema_version` is this tool's or older is read; fields added
in later versions are optional to every reader, and records of unknown types are skipped. A
report from a newer schema version is refused, since its fields may mean something else. A file
that holds several scans (a log written with `--append`) is read as its last scan: records are
grouped by their `scan_id` (records without one, from older versions, belong to the scan record
before them), and lines that are not JSON objects (a line torn by a crash, garbage) are skipped
and counted in `Report.skipped`.

Every record is checked against its TypedDict in `shapes` before it is handed on typed: the
required fields must be there, and every field present must have the declared type (an enum's
value where `Annotated[str, Enum]` says so). Hand-written rather than jsonschema because the
TypedDicts are the one declaration (a schema file would be a second one to keep in step), and
checking a 50,000-host report field by field must stay a matter of seconds; jsonschema is a
test dependency that checks `schema.json` against the records in the tests.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,
    Required,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

import orjson

from hsts_coverage.report import shapes
from hsts_coverage.report.records import SCHEMA_VERSION
from hsts_coverage.report.shapes import HostRecord, Record, ScanRecord, SummaryRecord


class ReportError(ValueError):
    """A file that cannot be read as a report; the message is one line for the user."""


@dataclass(slots=True)
class Report:
    path: str
    scan: ScanRecord
    hosts: list[HostRecord] = field(default_factory=list)
    summaries: list[SummaryRecord] = field(default_factory=list)
    skipped: int = 0  # lines of the file that were not records (torn or garbage)

    @property
    def records(self) -> list[Record]:
        return [self.scan, *self.hosts, *self.summaries]

    @classmethod
    def of(cls, name: str, records: Iterable[Record]) -> Report:
        """The records this process wrote (typed already, so not checked again), as a report."""
        written = list(records)
        scan = next(r for r in written if r["type"] == "scan")
        hosts = [r for r in written if r["type"] == "host"]
        return cls(name, scan, hosts, [r for r in written if r["type"] == "summary"])

    def options(self) -> dict[str, object]:
        """The scan's options ({} in a report without them)."""
        return self.scan.get("options") or {}


def read_report(path: Path) -> Report:
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        raise ReportError(f"report {path} does not exist") from None
    except OSError as exc:
        raise ReportError(f"report {path} cannot be read: {exc.strerror}") from None
    return parse_report(lines, str(path))


def parse_records(records: Iterable[object], name: str) -> Report:
    """A report from records already in memory (the scan that is running, a test's records)."""
    return _collect(((n, r) for n, r in enumerate(records, 1) if isinstance(r, dict)), name)


def parse_report(lines: list[bytes], name: str) -> Report:
    numbered = [(n, _record(line)) for n, line in enumerate(lines, 1) if line.strip()]
    report = _collect(((n, r) for n, r in numbered if r is not None), name)
    report.skipped = sum(1 for _, r in numbered if r is None)
    return report


def _collect(records: Iterable[tuple[int, dict[str, Any]]], name: str) -> Report:
    report: Report | None = None
    scans: dict[str, Report] = {}  # scan_id -> its records, for logs two runs wrote into
    for number, record in records:
        kind = record.get("type")
        if kind == "scan":
            _check_version(record, name)
            scan = cast(ScanRecord, _shaped(record, ScanRecord, name, number))
            report = Report(name, scan)  # a later scan in the same file replaces the earlier
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


def _add(report: Report, record: dict[str, Any], kind: object, name: str, number: int) -> None:
    if kind == "host":
        report.hosts.append(cast(HostRecord, _shaped(record, HostRecord, name, number)))
    elif kind == "summary":
        report.summaries.append(cast(SummaryRecord, _shaped(record, SummaryRecord, name, number)))


def _shaped(record: dict[str, Any], shape: type, name: str, number: int) -> dict[str, Any]:
    problem = _problem(record, shape)
    if problem:
        raise ReportError(
            f"{name} line {number}: a {record.get('type')} record of the wrong shape ({problem})"
        )
    return record


# -- checking a value against its declared type ----------------------------------------------------


def _problem(value: object, kind: Any, where: str = "") -> str:
    """Why `value` is not a `kind` ("" when it is), naming the field."""
    origin = get_origin(kind)
    if origin in (NotRequired, Required):  # kept by include_extras; the keys say what they meant
        return _problem(value, get_args(kind)[0], where)
    if _is_typeddict(kind):
        return _object_problem(value, kind, where)
    if origin is Annotated:
        base, *meta = get_args(kind)
        enums = [m for m in meta if isinstance(m, type) and issubclass(m, Enum)]
        if any(value not in {e.value for e in enum} for enum in enums):
            return f"{where or 'value'}: {str(value)[:40]!r} is not one of its values"
        return _problem(value, base, where)
    if origin in (Union, types.UnionType):
        problems = [_problem(value, option, where) for option in get_args(kind)]
        return "" if "" in problems else problems[0]
    if origin is Literal:
        return "" if value in get_args(kind) else f"{where or 'value'}: not {get_args(kind)}"
    if origin is list:
        if not isinstance(value, list):
            return f"{where or 'value'}: not a list"
        (item,) = get_args(kind)
        return next(
            (p for i, v in enumerate(value) if (p := _problem(v, item, f"{where}[{i}]"))), ""
        )
    if origin is dict:
        if not isinstance(value, dict):
            return f"{where or 'value'}: not an object"
        _, item = get_args(kind)
        found = (_problem(v, item, f"{where}.{k}") for k, v in value.items())
        return next((p for p in found if p), "")
    return "" if _is_a(value, kind) else f"{where or 'value'}: not {_name(kind)}"


def _object_problem(value: object, kind: Any, where: str) -> str:
    if not isinstance(value, dict):
        return f"{where or 'record'}: not an object"
    missing = [key for key in kind.__required_keys__ if key not in value]
    if missing:
        return f"{where}{'.' if where else ''}{missing[0]} missing"
    for key, declared in _hints(kind).items():
        if key in value and (
            problem := _problem(value[key], declared, f"{where}.{key}".lstrip("."))
        ):
            return problem
    return ""


def _is_a(value: object, kind: Any) -> bool:
    if kind is object:
        return True
    if kind is type(None) or kind is None:
        return value is None
    if kind is float:  # JSON has one number type: 3 is a float too
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _is_typeddict(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, dict) and hasattr(kind, "__required_keys__")


@cache
def _hints(kind: Any) -> dict[str, Any]:
    # The records module's names, for any annotation left as a string.
    return get_type_hints(kind, vars(shapes), include_extras=True)


def _name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def _record(line: bytes) -> dict[str, Any] | None:
    """The record on a line, or None for a line that is not a JSON object (skipped)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _check_version(scan: dict[str, Any], name: str) -> None:
    version = scan.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ReportError(f"{name}: the scan record has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise ReportError(
            f"{name} was written with report schema {version}; this hsts-coverage reads up to "
            f"{SCHEMA_VERSION}: update it"
        )
