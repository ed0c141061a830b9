"""The terminal report (the only home of rich): verdict first, then what breaks and how to fix it.

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

from hsts_coverage.models import (
    ApexReport,
    CheckStatus,
    DomainSummary,
    EnumerationStatus,
    FoundBy,
    HostResult,
    Requirement,
    SourceReport,
    Status,
    Verdict,
)
from hsts_coverage.reasons import Reason, Severity
from hsts_coverage.report.text import clean
from hsts_coverage.rules.hsts_header import check_header

_VERDICT_STYLE = {
    Verdict.SAFE: "bold green",
    Verdict.NOT_SAFE: "bold red",
    Verdict.INCONCLUSIVE: "bold yellow",
}
_SECTIONS = (
    (Severity.BREAKS, "Would break under includeSubDomains", "red"),
    (Severity.UNKNOWN, "Could not be checked (never counted as safe)", "yellow"),
    (Severity.WARN, "Warnings", "yellow"),
)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich would exit the process; the caller decides (a scan's report file goes on).
        raise BrokenPipeError


@dataclass(slots=True)
class TableReport:
    """Collects the findings of hosts that are not ok, then renders one domain's report."""

    stream: TextIO
    console: Console = field(init=False)
    _found: dict[Reason, list[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.console = _Console(file=self.stream, highlight=False, soft_wrap=True)

    def add(self, result: HostResult) -> None:
        if result.verdict.status in (Status.OK, Status.NOT_AFFECTED):
            return
        name = result.name
        if result.found_by and not set(result.found_by) & _CT:
            # Found through DNS or during the scan: the hosts CT alone would have missed.
            name += f" (found by {', '.join(source.value for source in result.found_by)})"
        for finding in result.verdict.findings:
            self._found.setdefault(finding.reason, []).append((name, finding.detail))

    def render(self, summary: DomainSummary) -> None:
        self.console.print(verdict_line(summary))
        for severity, title, style in _SECTIONS:
            self._section(severity, title, style)
        self.console.print(_counts_line(summary))
        self.console.print(_enumeration_line(summary))
        for zone in summary.wildcard_zones:
            line = f"Wildcard DNS: *.{zone.zone} answers every name under it (probed as "
            self.console.print(Text(clean(f"{line}{zone.probe_name})"), style="yellow"))
        if summary.apex is not None:
            self.render_apex(summary.apex)
        if summary.advice:
            self.console.print(Text("\nWhat to do", style="bold"))
            for line in summary.advice:
                self.console.print(Text(f"  {clean(line)}"))
        self.console.print()
        self._found.clear()

    def render_apex(self, report: ApexReport) -> None:
        """The apex's policy today, its preload-list status and every preload requirement."""
        self.console.print(Text(f"\nApex {clean(report.facts.domain)} today", style="bold"))
        self.console.print(Text(f"  {clean(_policy_line(report))}"))
        self.console.print(Text(f"  Preload list: {clean(_preload_line(report))}"))
        state = "READY" if report.ready else "NOT READY"
        style = "green" if report.ready else "red"
        line = Text("  Preload requirements: ")
        line.append(state, style=f"bold {style}")
        self.console.print(line)
        for requirement in report.requirements:
            self.console.print(_requirement_line(requirement))

    def _section(self, severity: Severity, title: str, style: str) -> None:
        reasons = [r for r in Reason if r.severity is severity and r in self._found]
        if not reasons:
            return
        hosts = {name for r in reasons for name, _ in self._found[r]}
        self.console.print(Text(f"\n{title} ({len(hosts)} hosts)", style=f"bold {style}"))
        for reason in reasons:
            self._reason(reason, sorted(self._found[reason]))

    def _reason(self, reason: Reason, hosts: list[tuple[str, str]]) -> None:
        self.console.print(Text(f"  {reason.value}: {reason.summary}", style="bold"))
        if reason.severity is not Severity.UNKNOWN:
            errors = f"    Chrome: {reason.chrome_error}  |  Firefox: {reason.firefox_error}"
            self.console.print(Text(errors, style="dim"))
        self.console.print(Text(f"    Fix: {reason.fix}", style="cyan"))
        for name, detail in hosts:
            line = Text(f"    - {clean(name)}")
            if detail:
                line.append(f"  {clean(detail)}", style="dim")
            self.console.print(line)


def verdict_line(summary: DomainSummary) -> Text:
    line = Text(f"{clean(summary.domain)}: ")
    line.append(summary.verdict.value, style=_VERDICT_STYLE[summary.verdict])
    line.append(f" ({clean(summary.why)})")
    if summary.interrupted:
        line.append(" [interrupted: partial scan]", style="bold yellow")
    return line


def _counts_line(summary: DomainSummary) -> Text:
    parts = [f"{summary.counts.get(s, 0)} {s.value}" for s in Status]
    return Text(f"\n{summary.hosts} hosts: " + ", ".join(parts))


def _enumeration_line(summary: DomainSummary) -> Text:
    e = summary.enumeration
    if e.status is EnumerationStatus.SKIPPED:
        text = f"Names: {len(e.names)} given by the user (certificate transparency skipped)"
    elif e.status is EnumerationStatus.FAILED:
        text = f"Names: enumeration FAILED: {e.error}"
    else:
        text = f"Names: {len(e.names)} from {', '.join(e.sources)} ({e.rows} rows"
        text += f", {e.attempts} attempt(s)); {e.status.value}"
    if e.wildcards:
        text += f"; wildcards in CT: {', '.join(e.wildcards)}"
    lines = [text]
    if e.per_source:
        lines.append("by source: " + ", ".join(_source_text(report) for report in e.per_source))
        lines.append(
            "authoritative: the domain's zone was read, every name in it was checked"
            if e.authoritative
            else "not authoritative: no zone file or zone transfer (--zone-file, --axfr)"
        )
    lines += e.notes
    style = "yellow" if e.status in (EnumerationStatus.FAILED, EnumerationStatus.TRUNCATED) else ""
    # Each line cleaned on its own: clean() removes the newlines an untrusted note could carry.
    return Text("\n  ".join(clean(line) for line in lines), style=style)


_CT = frozenset({FoundBy.CRTSH, FoundBy.CERTSPOTTER})


def _source_text(report: SourceReport) -> str:
    text = f"{report.source.value} {report.names}"
    if report.status is not EnumerationStatus.COMPLETE:
        text += f" ({report.status.value}{': ' + report.detail if report.detail else ''})"
    elif report.detail:
        text += f" ({report.detail})"
    return text


_CHECK_STYLE = {
    CheckStatus.PASS: ("pass", "green"),
    CheckStatus.FAIL: ("FAIL", "bold red"),
    CheckStatus.WARN: ("warn", "yellow"),
    CheckStatus.NOT_CHECKED: ("----", "dim"),
}


def _requirement_line(requirement: Requirement) -> Text:
    label, style = _CHECK_STYLE[requirement.status]
    line = Text("    [")
    line.append(label, style=style)
    line.append(f"] {requirement.code}: {requirement.title}")
    if requirement.failures:
        line.append(f"  {', '.join(requirement.failures)}", style=style)
    if requirement.detail:
        line.append(f"  ({clean(requirement.detail)})", style="dim")
    return line


def _policy_line(report: ApexReport) -> str:
    if not report.sts:
        return "Strict-Transport-Security: none on https://apex/"
    view = check_header(report.sts[0]).browser
    more = f" (+{len(report.sts) - 1} more field(s), ignored)" if len(report.sts) > 1 else ""
    if not view.accepted:
        return (
            f"Strict-Transport-Security: {report.sts[0]}{more}: IGNORED by browsers: {view.reason}"
        )
    parts = [f"max-age {view.effective_max_age}"]
    parts += ["includeSubDomains"] if view.include_subdomains else []
    parts += ["preload"] if view.preload else []
    return f"Strict-Transport-Security: {report.sts[0]}{more}: browsers apply {', '.join(parts)}"


def _preload_line(report: ApexReport) -> str:
    status = report.preload
    if status.entry is None:
        return f"not listed ({status.source})"
    scope = "with include_subdomains" if status.entry.include_subdomains else "this name only"
    return f"listed as {status.entry.name}, {scope} ({status.source})"


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
