"""Views of a `Diff`: one JSON document, NDJSON records, and text for the terminal."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

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


def diff_json(diff: Diff) -> dict[str, Any]:
    return {
        "old": diff.old,
        "new": diff.new,
        "horizon_days": diff.horizon_days,
        "newly_breaking": len(diff.of(Change.NEWLY_BREAKS)),
        "counts": {kind.value: len(diff.of(kind)) for kind in Change},
        "verdicts": [asdict(v) for v in diff.verdicts],
        "changes": [_change(c) for c in diff.changes],
    }


def diff_records(diff: Diff) -> list[dict[str, Any]]:
    """One `change` record per host change, then one `diff` record with the totals."""
    totals = {k: v for k, v in diff_json(diff).items() if k != "changes"}
    return [{"type": "change", **_change(c)} for c in diff.changes] + [{"type": "diff", **totals}]


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


def _change(change: HostChange) -> dict[str, Any]:
    record = asdict(change)
    record["change"] = change.change.value
    record["old_reasons"] = list(change.old_reasons)
    record["new_reasons"] = list(change.new_reasons)
    return record
