"""Pure: what changed between two reports (a nightly scan against the one before).

Hosts are matched by (domain, host). A host newly breaks when it breaks now and did not before
(a new host that breaks newly breaks too); it is fixed when it broke before and is present and
does not break now. Certificates cross the warning horizon when they had more than
`horizon_days` left before and have at most that many now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from hsts_coverage.report.reader import Report
from hsts_coverage.report.shapes import HostRecord

DEFAULT_HORIZON = 14


class Change(StrEnum):
    NEWLY_BREAKS = "newly_breaks"
    FIXED = "fixed"
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"
    REASONS_CHANGED = "reasons_changed"
    EXPIRY_CROSSED = "expiry_crossed"


@dataclass(frozen=True, slots=True)
class HostChange:
    change: Change
    domain: str
    host: str
    old_status: str | None
    new_status: str | None
    old_reasons: tuple[str, ...]
    new_reasons: tuple[str, ...]
    detail: str = ""


@dataclass(frozen=True, slots=True)
class VerdictChange:
    domain: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class Diff:
    old: str
    new: str
    changes: tuple[HostChange, ...]
    verdicts: tuple[VerdictChange, ...]
    horizon_days: int

    def of(self, change: Change) -> tuple[HostChange, ...]:
        return tuple(c for c in self.changes if c.change is change)

    @property
    def newly_breaking(self) -> bool:
        return bool(self.of(Change.NEWLY_BREAKS))


def diff_reports(old: Report, new: Report, horizon_days: int | None = None) -> Diff:
    horizon = horizon_days if horizon_days is not None else _horizon(new)
    before, after = _by_host(old.hosts), _by_host(new.hosts)
    asked, now = _sources_asked(old), _sources_asked(new)
    changes: list[HostChange] = []
    for key in sorted(before.keys() | after.keys()):
        host = after.get(key)
        old_sources = asked.get(key[0], set())
        added = now.get(key[0], set()) - old_sources
        unseen = host is not None and _found_only_by_new_sources(host, old_sources, added)
        changes += host_changes(before.get(key), host, horizon, new_source=unseen)
    return Diff(old.path, new.path, tuple(changes), _verdicts(old, new), horizon)


def host_changes(
    old: HostRecord | None, new: HostRecord | None, horizon: int, *, new_source: bool = False
) -> list[HostChange]:
    """Every change of one host, in a stable order. `new_source`: the host appeared through a
    source the earlier scan did not use (a zone file given for the first time): it is new, and
    it may have been broken all along, so it does not count as newly breaking."""
    found: list[tuple[Change, str]] = []
    if old is None:
        detail = ""
        if new_source and new is not None:
            detail = f"found by {', '.join(new.get('found_by') or [])}, a source the earlier "
            detail += f"scan did not use; status {new['status']}"
            if _reasons(new):
                detail += f" ({', '.join(_reasons(new))})"
        found.append((Change.APPEARED, detail))
    if new is None:
        found.append((Change.DISAPPEARED, ""))
    else:
        if _breaks(new) and not new_source and (old is None or not _breaks(old)):
            found.append((Change.NEWLY_BREAKS, ", ".join(_reasons(new))))
        if old is not None and _breaks(old) and not _breaks(new):
            found.append((Change.FIXED, ""))
        if old is not None and _reasons(old) != _reasons(new):
            found.append((Change.REASONS_CHANGED, ""))
        if old is not None and (crossed := _expiry_crossed(old, new, horizon)):
            found.append((Change.EXPIRY_CROSSED, crossed))
    return [_change(kind, old, new, detail) for kind, detail in found]


def _change(
    kind: Change, old: HostRecord | None, new: HostRecord | None, detail: str
) -> HostChange:
    either = new or old
    assert either is not None
    return HostChange(
        change=kind,
        domain=either["domain"],
        host=either["host"],
        old_status=old["status"] if old else None,
        new_status=new["status"] if new else None,
        old_reasons=_reasons(old) if old else (),
        new_reasons=_reasons(new) if new else (),
        detail=detail,
    )


_ALWAYS_ON = {"san", "redirect", "cname"}
_LEGACY_SOURCES = {"crt.sh": "crtsh", "certspotter": "certspotter", "user": "user"}


def _sources_asked(report: Report) -> dict[str, set[str]]:
    """Domain -> the sources of names its scan used (reports before `per_source`: CT and the
    user's names)."""
    asked: dict[str, set[str]] = {}
    for summary in report.summaries:
        enumeration = summary.get("enumeration") or {}
        sources = set(enumeration.get("per_source") or ())
        if sources:
            sources |= _ALWAYS_ON  # on in every scan that writes per_source, names met or not
        else:
            sources = {
                _LEGACY_SOURCES.get(str(s), str(s)) for s in enumeration.get("sources") or ()
            }
            sources |= {"user"}
        asked[summary["domain"]] = sources
    return asked


def _found_only_by_new_sources(host: HostRecord, asked: set[str], added: set[str]) -> bool:
    found_by = set(host.get("found_by") or ())
    if found_by == {"wildcard-probe"}:
        # The random name of a wildcard zone: new when the zone may come from a new source.
        return bool(added)
    return bool(found_by) and not found_by & asked


def _by_host(hosts: Iterable[HostRecord]) -> dict[tuple[str, str], HostRecord]:
    return {(h["domain"], h["host"]): h for h in hosts}


def _breaks(host: HostRecord) -> bool:
    return host["status"] == "breaks"


def _reasons(host: HostRecord) -> tuple[str, ...]:
    return tuple(sorted(r["code"] for r in host["reasons"]))


def _days_left(host: HostRecord) -> int | None:
    certificate = (host.get("https") or {}).get("certificate") or {}
    return certificate.get("days_left")


def _expiry_crossed(old: HostRecord, new: HostRecord, horizon: int) -> str:
    before, now = _days_left(old), _days_left(new)
    if before is None or now is None or not (before > horizon >= now):
        return ""
    return f"certificate has {now} days left (was {before}; warning horizon {horizon} days)"


def _horizon(report: Report) -> int:
    days = report.options().get("expiry_days")
    return days if isinstance(days, int) else DEFAULT_HORIZON


def _verdicts(old: Report, new: Report) -> tuple[VerdictChange, ...]:
    before = {s["domain"]: s.get("verdict") for s in old.summaries}
    after = {s["domain"]: s.get("verdict") for s in new.summaries}
    domains = sorted(before.keys() | after.keys())
    return tuple(VerdictChange(d, before.get(d), after.get(d)) for d in domains)
