"""The name list: what `hsts-coverage enumerate` writes and `scan --names-from` reads (NDJSON).

One `names` record first (tool, version, `format_version`), then per domain one `domain` record
(the enumeration: status, sources, rows, attempts, wildcards, rejected, error, notes and the
number of names) followed by one `name` record per name: `{"type": "name", "domain", "name",
"found_by": ["crtsh", "certspotter", "user", ...], "ct": {...} or null}`. `found_by` lists the
sources that found the name (`user`: the apex and `--names-file`).

Reading it back is strict, since a list cut short would be hosts never checked and a scan of the
rest could claim SAFE: every name must sit under its domain, and each domain must hold as many
names as its `domain` record says. The enumeration's status travels with the list, so a failed
enumeration stays failed (never SAFE) in every shard that scans it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from hsts_coverage.models import CtFacts, Enumeration, EnumerationStatus, FoundBy, SourceReport
from hsts_coverage.report.records import FORMAT_VERSION
from hsts_coverage.rules.names import Rejected, scope

_Raw = dict[str, Any]  # a line of the file, not yet checked


class NameListError(ValueError):
    """A file that cannot be used as a name list; the message is one line for the user."""


# -- reading ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Domain:
    record: _Raw
    names: list[str] = field(default_factory=list)
    ct: dict[str, CtFacts] = field(default_factory=dict)
    found_by: dict[str, tuple[FoundBy, ...]] = field(default_factory=dict)


def read_name_list(path: Path) -> dict[str, Enumeration]:
    """Domain -> its enumeration, as `enumerate` wrote it; NameListError for anything else."""
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        raise NameListError(f"name list {path} does not exist") from None
    except OSError as exc:
        raise NameListError(f"name list {path} cannot be read: {exc.strerror}") from None
    domains: dict[str, _Domain] = {}
    for number, line in enumerate(lines, 1):
        if line.strip():
            _take(_record(line, path, number), domains, path, number)
    if not domains:
        raise NameListError(f"{path} is not a name list of hsts-coverage enumerate (no domain)")
    return {name: _enumeration(name, d, path) for name, d in domains.items()}


def _record(line: bytes, path: Path, number: int) -> _Raw:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise NameListError(f"{path} line {number} is not JSON") from None
    if not isinstance(record, dict):
        raise NameListError(f"{path} line {number} is not a JSON object")
    return record


def _take(record: _Raw, domains: dict[str, _Domain], path: Path, number: int) -> None:
    kind = record.get("type")
    where = f"{path} line {number}"
    if kind == "names":
        version = record.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise NameListError(f"{where}: name list format {version!r}; this reads up to 1")
    elif kind == "domain":
        domains[str(record.get("domain"))] = _Domain(record)
    elif kind == "name":
        domain = domains.get(str(record.get("domain")))
        if domain is None:
            raise NameListError(f"{where}: a name before its domain record")
        name = _scoped(record.get("name"), str(record.get("domain")), where)
        domain.names.append(name)
        sources = [FoundBy(s) for s in record.get("found_by") or () if s in _KNOWN]
        if sources:
            domain.found_by[name] = tuple(sources)
        if record.get("ct"):
            domain.ct[name] = _facts(record["ct"], where)


def _scoped(raw: object, domain: str, where: str) -> str:
    scoped = scope(str(raw), domain)
    if isinstance(scoped, Rejected) or scoped.wildcard:
        raise NameListError(f"{where}: {str(raw)!r} is not a name under {domain}")
    return scoped.name


def _facts(record: _Raw, where: str) -> CtFacts:
    try:
        return CtFacts(
            int(record.get("certificates") or 0),
            _moment(record.get("first_not_before")),
            _moment(record.get("last_not_after")),
            tuple(str(i) for i in record.get("issuers") or ()),
            sources=tuple(str(s) for s in record.get("sources") or ()),
        )
    except (TypeError, ValueError):
        raise NameListError(f"{where}: its ct facts cannot be read") from None


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _enumeration(name: str, domain: _Domain, path: Path) -> Enumeration:
    record = domain.record
    expected = record.get("names")
    if expected != len(domain.names):
        raise NameListError(
            f"{path}: {name} should have {expected} names and has {len(domain.names)}: "
            "the list is cut short; enumerate again"
        )
    try:
        status = EnumerationStatus(str(record.get("status")))
    except ValueError:
        raise NameListError(f"{path}: {name} has no valid enumeration status") from None
    return Enumeration(
        domain=name,
        status=status,
        names=tuple(dict.fromkeys(domain.names)),
        ct=domain.ct,
        wildcards=tuple(str(w) for w in record.get("wildcards") or ()),
        sources=tuple(str(s) for s in record.get("sources") or ()),
        rows=int(record.get("rows") or 0),
        attempts=int(record.get("attempts") or 0),
        rejected={str(k): int(v) for k, v in (record.get("rejected") or {}).items()},
        error=record.get("error"),
        notes=(*(str(n) for n in record.get("notes") or ()), f"names read from {path.name}"),
        found_by=domain.found_by,
        per_source=_per_source(record.get("per_source"), path, name),
        authoritative=record.get("authoritative") is True,
    )


_KNOWN = frozenset(source.value for source in FoundBy)


def _per_source(value: object, path: Path, domain: str) -> tuple[SourceReport, ...]:
    if not isinstance(value, dict):
        return ()
    try:
        return tuple(
            SourceReport(
                FoundBy(name),
                EnumerationStatus(str(report.get("status"))),
                int(report.get("names") or 0),
                str(report.get("detail") or ""),
            )
            for name, report in value.items()
            if name in _KNOWN and isinstance(report, dict)
        )
    except ValueError:
        raise NameListError(f"{path}: {domain} has a source with no valid status") from None
