"""Views of a `Diff`: one JSON document, NDJSON records, and text for the terminal.

The records of `diff --format ndjson` (`change`, then `diff`) are a format of their own, not report
records: `records` does not read or write them, and they are typed here.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from hsts_coverage.report.diff import Change, Diff, HostChange
from hsts_coverage.report.text import clean

_TITLES = {
    Change.NEWLY_BREAKS: "Newly breaking",
    Change.FIXED: "Fixed",
    Change.EXPIRY_CROSSED: "Certificates now within the warning horizon",
    Change.REASONS_CHANGED: "Reasons changed",
    Change.APPEARED: "New hosts",
    Change.DISAPPEARED: "Hosts gone",
}


class VerdictJson(TypedDict):
    domain: str
    old: str | None
    new: str | None


class ChangeJson(TypedDict):
    change: str
    domain: str
    host: str
    old_status: str | None
    new_status: str | None
    old_reasons: list[str]
    new_reasons: list[str]
    detail: str


class ChangeRecord(ChangeJson):
    type: Literal["change"]


class DiffTotals(TypedDict):
    old: str
    new: str
    horizon_days: int
    newly_breaking: int
    counts: dict[str, int]
    verdicts: list[VerdictJson]


class DiffJson(DiffTotals):
    changes: list[ChangeJson]


class DiffRecord(DiffTotals):
    type: Literal["diff"]


def diff_json(diff: Diff) -> DiffJson:
    return {**_totals(diff), "changes": [_change(c) for c in diff.changes]}


def diff_records(diff: Diff) -> list[ChangeRecord | DiffRecord]:
    """One `change` record per host change, then one `diff` record with the totals."""
    changes: list[ChangeRecord | DiffRecord] = [
        {"type": "change", **_change(c)} for c in diff.changes
    ]
    return [*changes, {"type": "diff", **_totals(diff)}]


def _totals(diff: Diff) -> DiffTotals:
    return {
        "old": diff.old,
        "new": diff.new,
        "horizon_days": diff.horizon_days,
        "newly_breaking": len(diff.of(Change.NEWLY_BREAKS)),
        "counts": {kind.value: len(diff.of(kind)) for kind in Change},
        "verdicts": [{"domain": v.domain, "old": v.old, "new": v.new} for v in diff.verdicts],
    }


def diff_text(diff: Diff) -> str:
    lines = [_headline(diff)]
    for verdict in diff.verdicts:
        if verdict.old != verdict.new:
            lines.append(f"{clean(verdict.domain)}: {clean(verdict.old)} -> {clean(verdict.new)}")
    for kind, title in _TITLES.items():
        changes = diff.of(kind)
        if changes:
            lines.append(f"\n{title} ({len(changes)})")
            lines += [_line(c) for c in changes]
    return "\n".join(lines)


def _headline(diff: Diff) -> str:
    newly = len(diff.of(Change.NEWLY_BREAKS))
    if newly:
        return f"{newly} host(s) newly break since {clean(diff.old)}"
    return f"nothing newly breaks since {clean(diff.old)}"


def _line(change: HostChange) -> str:
    # Every string here comes from a report file, which anyone may have written: all cleaned.
    line = f"  - {clean(change.host)}"
    if change.old_status != change.new_status:
        line += f"  {clean(change.old_status or '(new)')} -> {clean(change.new_status or '(gone)')}"
    if change.change is Change.REASONS_CHANGED:
        old, new = (clean(", ".join(r)) for r in (change.old_reasons, change.new_reasons))
        line += f"  [{old}] -> [{new}]"
    if change.detail:
        line += f"  {clean(change.detail)}"
    return line


def _change(change: HostChange) -> ChangeJson:
    return {
        "change": change.change.value,
        "domain": change.domain,
        "host": change.host,
        "old_status": change.old_status,
        "new_status": change.new_status,
        "old_reasons": list(change.old_reasons),
        "new_reasons": list(change.new_reasons),
        "detail": change.detail,
    }
