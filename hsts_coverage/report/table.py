"""The terminal report (the only home of rich): verdict first, then what breaks and how to fix it.

It renders the records the scan writes (`records`), as the HTML page does: one model for every
view, so the terminal shows what the report file says.

Everything shown comes from untrusted places (CT names, certificate subjects, Location headers),
so it is printed as plain `Text` (no markup) through `clean`. The CLI imports this module only
when it draws a table or a progress bar: quiet runs (cron) do without rich.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from hsts_coverage.reasons import Reason, Severity
from hsts_coverage.report.shapes import (
    HostRecord,
    PolicyRecord,
    ReasonRecord,
    RequirementRecord,
    SourceRecord,
    SummaryRecord,
)
from hsts_coverage.report.text import clean

_VERDICT_STYLE = {"SAFE": "bold green", "NOT SAFE": "bold red", "INCONCLUSIVE": "bold yellow"}
_SECTIONS = (
    (Severity.BREAKS, "Would break under includeSubDomains", "red"),
    (Severity.UNKNOWN, "Could not be checked (never counted as safe)", "yellow"),
    (Severity.WARN, "Warnings", "yellow"),
)
_STATUSES = ("ok", "warn", "breaks", "not_affected", "unknown")  # the order of the counts line
_CATALOGUE = {reason.value: i for i, reason in enumerate(Reason)}  # the sections' order


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich would exit the process; the caller decides (a scan's report file goes on).
        raise BrokenPipeError


@dataclass(slots=True)
class TableReport:
    """Collects the host records that are not ok, then renders one domain's summary record."""

    stream: TextIO
    console: Console = field(init=False)
    # reason code -> (its texts, from the first host record; [(host, detail)])
    _found: dict[str, tuple[ReasonRecord, list[tuple[str, str]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.console = _Console(file=self.stream, highlight=False, soft_wrap=True)

    def add(self, host: HostRecord) -> None:
        if host["status"] in ("ok", "not_affected"):
            return
        name = host["host"]
        found_by = host.get("found_by") or []
        if found_by and not set(found_by) & _CT:
            # Found through DNS or during the scan: the hosts CT alone would have missed.
            name += f" (found by {', '.join(found_by)})"
        for reason in host["reasons"]:
            entry = self._found.setdefault(reason["code"], (reason, []))
            entry[1].append((name, reason.get("detail", "")))

    def render(self, summary: SummaryRecord) -> None:
        self.console.print(verdict_line(summary))
        for severity, title, style in _SECTIONS:
            self._section(severity, title, style)
        self.console.print(_counts_line(summary))
        self.console.print(_enumeration_line(summary))
        for zone in summary.get("wildcard_dns", []):
            line = f"Wildcard DNS: *.{zone['zone']} answers every name under it (probed as "
            self.console.print(Text(clean(f"{line}{zone.get('probe_name')})"), style="yellow"))
        policy = summary.get("policy")
        if policy:
            self.render_apex(policy)
        if summary.get("advice"):
            self.console.print(Text("\nWhat to do", style="bold"))
            for line in summary.get("advice", []):
                self.console.print(Text(f"  {clean(line)}"))
        self.console.print()
        self._found.clear()

    def render_apex(self, policy: PolicyRecord) -> None:
        """The apex's policy today, its preload-list status and every preload requirement."""
        self.console.print(Text(f"\nApex {clean(policy.get('domain'))} today", style="bold"))
        self.console.print(Text(f"  {clean(_policy_line(policy))}"))
        self.console.print(Text(f"  Preload list: {clean(_preload_line(policy))}"))
        ready = policy.get("preload_ready", False)
        line = Text("  Preload requirements: ")
        line.append("READY" if ready else "NOT READY", style=f"bold {'green' if ready else 'red'}")
        self.console.print(line)
        for requirement in policy.get("requirements", []):
            self.console.print(_requirement_line(requirement))

    def _section(self, severity: Severity, title: str, style: str) -> None:
        codes = sorted(
            (c for c, (r, _) in self._found.items() if r.get("severity") == severity.value),
            key=lambda code: _CATALOGUE.get(code, len(_CATALOGUE)),
        )
        if not codes:
            return
        hosts = {name for code in codes for name, _ in self._found[code][1]}
        self.console.print(Text(f"\n{title} ({len(hosts)} hosts)", style=f"bold {style}"))
        for code in codes:
            reason, found = self._found[code]
            self._reason(reason, sorted(found))

    def _reason(self, reason: ReasonRecord, hosts: list[tuple[str, str]]) -> None:
        self.console.print(Text(f"  {reason['code']}: {reason.get('summary')}", style="bold"))
        if reason.get("severity") != Severity.UNKNOWN.value:
            errors = f"    Chrome: {reason.get('chrome_error')}  |  "
            errors += f"Firefox: {reason.get('firefox_error')}"
            self.console.print(Text(errors, style="dim"))
        self.console.print(Text(f"    Fix: {reason.get('fix')}", style="cyan"))
        for name, detail in hosts:
            line = Text(f"    - {clean(name)}")
            if detail:
                line.append(f"  {clean(detail)}", style="dim")
            self.console.print(line)


def verdict_line(summary: SummaryRecord) -> Text:
    verdict = summary.get("verdict", "INCONCLUSIVE")
    line = Text(f"{clean(summary['domain'])}: ")
    line.append(verdict, style=_VERDICT_STYLE.get(verdict, "bold yellow"))
    line.append(f" ({clean(summary.get('why', ''))})")
    if summary.get("interrupted"):
        line.append(" [interrupted: partial scan]", style="bold yellow")
    return line


def _counts_line(summary: SummaryRecord) -> Text:
    counts = summary.get("counts", {})
    parts = [f"{counts.get(s, 0)} {s}" for s in _STATUSES]
    return Text(f"\n{summary.get('hosts', 0)} hosts: " + ", ".join(parts))


def _enumeration_line(summary: SummaryRecord) -> Text:
    e = summary.get("enumeration") or {}
    status = e.get("status", "failed")
    if status == "skipped":
        text = f"Names: {e.get('names', 0)} given by the user (certificate transparency skipped)"
    elif status == "failed":
        text = f"Names: enumeration FAILED: {e.get('error')}"
    else:
        text = f"Names: {e.get('names', 0)} from {', '.join(e.get('sources', []))} "
        text += f"({e.get('rows', 0)} rows, {e.get('attempts', 0)} attempt(s)); {status}"
    if e.get("wildcards"):
        text += f"; wildcards in CT: {', '.join(e.get('wildcards', []))}"
    lines = [text]
    per_source = e.get("per_source") or {}
    if per_source:
        lines.append("by source: " + ", ".join(_source_text(n, r) for n, r in per_source.items()))
        lines.append(
            "authoritative: the domain's zone was read, every name in it was checked"
            if e.get("authoritative")
            else "not authoritative: no zone file or zone transfer (--zone-file, --axfr)"
        )
    lines += e.get("notes", [])
    style = "yellow" if status in ("failed", "truncated") else ""
    # Each line cleaned on its own: clean() removes the newlines an untrusted note could carry.
    return Text("\n  ".join(clean(line) for line in lines), style=style)


_CT = frozenset({"crtsh", "certspotter"})


def _source_text(name: str, report: SourceRecord) -> str:
    text = f"{name} {report.get('names', 0)}"
    status, detail = report.get("status", "failed"), report.get("detail", "")
    if status != "complete":
        text += f" ({status}{': ' + detail if detail else ''})"
    elif detail:
        text += f" ({detail})"
    return text


_CHECK_STYLE = {
    "pass": ("pass", "green"),
    "fail": ("FAIL", "bold red"),
    "warn": ("warn", "yellow"),
    "not_checked": ("----", "dim"),
}


def _requirement_line(requirement: RequirementRecord) -> Text:
    label, style = _CHECK_STYLE.get(requirement.get("status", ""), ("?", "dim"))
    line = Text("    [")
    line.append(label, style=style)
    line.append(f"] {requirement.get('code')}: {requirement.get('title')}")
    if requirement.get("failures"):
        line.append(f"  {', '.join(requirement.get('failures', []))}", style=style)
    if requirement.get("detail"):
        line.append(f"  ({clean(requirement.get('detail'))})", style="dim")
    return line


def _policy_line(policy: PolicyRecord) -> str:
    """The browsers' view of the apex's first STS field, as the record's `effective` says."""
    sts = policy.get("strict_transport_security", [])
    view = (policy.get("effective") or {}).get("browser") or {}
    if not sts:
        return "Strict-Transport-Security: none on https://apex/"
    more = f" (+{len(sts) - 1} more field(s), ignored)" if len(sts) > 1 else ""
    if not view.get("accepted"):
        return (
            f"Strict-Transport-Security: {sts[0]}{more}: IGNORED by browsers: {view.get('reason')}"
        )
    parts = [f"max-age {view.get('effective_max_age')}"]
    parts += ["includeSubDomains"] if view.get("include_subdomains") else []
    parts += ["preload"] if view.get("preload") else []
    return f"Strict-Transport-Security: {sts[0]}{more}: browsers apply {', '.join(parts)}"


def _preload_line(policy: PolicyRecord) -> str:
    listed = policy.get("preload_list") or {}
    source = listed.get("source", "")
    if not listed.get("entry"):
        return f"not listed ({source})"
    scope = "with include_subdomains" if listed.get("include_subdomains") else "this name only"
    return f"listed as {listed.get('entry')}, {scope} ({source})"


class ProgressView:
    """A progress bar on stderr while a domain's hosts are checked; shown only on a terminal."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._console = Console(file=stream)
        self._enabled = enabled and self._console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start_domain(self, domain: str, total: int) -> None:
        self.end_domain()
        if not self._enabled:
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        self._task = self._progress.add_task(clean(domain), total=total)
        self._progress.start()

    def advance(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def end_domain(self) -> None:
        """Remove the bar, so that the report that follows is not interleaved with it."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
