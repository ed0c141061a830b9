"""Pure: the history page, `hsts-coverage html` over several reports (e.g. a cron directory).

Runs are ordered by their scan's `started_at`. Per domain: the verdict of every run, the hosts per
status of every run as a stacked bar chart (inline SVG, one column a run), and every host that
breaks in the newest run with the run where it first broke (the start of its unbroken streak of
`breaks` up to the newest run; a host fixed in between and broken again counts from the later
break). Below: the newest run's full report. Same page, style and Content-Security-Policy as the
single report (`html.py`), so it needs nothing from the network either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hsts_coverage.report.html import COLOURS, STATUS_ORDER, VERDICT_CLASS, _e, _page, report_body
from hsts_coverage.report.reader import Report
from hsts_coverage.report.records import HostRecord, SummaryRecord

_LEFT, _COLUMN, _PLOT_H, _TOP = 50, 64, 220, 16


@dataclass(frozen=True, slots=True)
class Run:
    label: str  # the scan's started_at
    summary: SummaryRecord | None
    hosts: dict[str, HostRecord]


def render_history(reports: Sequence[Report]) -> str:
    ordered = sorted(reports, key=lambda r: str(r.scan.get("started_at", "")))
    domains = list(dict.fromkeys(s["domain"] for r in ordered for s in r.summaries))
    domains += [d for r in ordered for d in _host_domains(r) if d not in domains]
    sections = "".join(_section(domain, [_run(r, domain) for r in ordered]) for domain in domains)
    head = (
        '<header class="page"><h1>HSTS includeSubDomains coverage: history</h1>'
        f'<div class="meta">{len(ordered)} runs, {_e(ordered[0].scan.get("started_at"))} to '
        f"{_e(ordered[-1].scan.get('started_at'))}</div></header>\n"
    )
    latest = '<h2 class="latest">The newest run</h2>' + report_body(ordered[-1].records)
    return _page("HSTS coverage history: " + ", ".join(domains), head + sections + latest)


def _host_domains(report: Report) -> list[str]:
    return list(dict.fromkeys(h["domain"] for h in report.hosts))


def _run(report: Report, domain: str) -> Run:
    summary = next((s for s in report.summaries if s["domain"] == domain), None)
    hosts = {h["host"]: h for h in report.hosts if h["domain"] == domain}
    return Run(str(report.scan.get("started_at", "")), summary, hosts)


def _section(domain: str, runs: list[Run]) -> str:
    return (
        f'<section class="domain history"><h2>{_e(domain)}</h2>'
        f"<h3>Verdict per run</h3>{_verdicts(runs)}"
        f"<h3>Hosts per status per run</h3>{status_chart(runs)}"
        f"<h3>Hosts that break in the newest run</h3>{_first_broke(runs)}</section>\n"
    )


def _verdicts(runs: list[Run]) -> str:
    cells = "".join(
        f'<tr data-run="{_e(run.label)}"><td>{_e(run.label)}</td><td>{_badge(run.summary)}</td>'
        f"<td>{_e(run.summary.get('why') if run.summary else 'no summary: a partial report')}"
        "</td></tr>"
        for run in runs
    )
    return f'<table class="verdicts"><tbody>{cells}</tbody></table>'


def _badge(summary: SummaryRecord | None) -> str:
    verdict = summary.get("verdict", "NO SUMMARY") if summary else "NO SUMMARY"
    interrupted = " (interrupted)" if summary and summary.get("interrupted") else ""
    css = VERDICT_CLASS.get(verdict, "none")
    return f'<span class="verdict {css}">{_e(verdict)}</span>{interrupted}'


def _counts(run: Run) -> dict[str, int]:
    counts = run.summary.get("counts") if run.summary else None
    if counts is not None:
        return {s: counts.get(s, 0) for s in STATUS_ORDER}
    found = dict.fromkeys(STATUS_ORDER, 0)
    for host in run.hosts.values():
        if host["status"] in found:
            found[host["status"]] += 1
    return found


def status_chart(runs: list[Run]) -> str:
    """Stacked columns, one per run (oldest left), worst status at the bottom."""
    tallest = max((sum(_counts(run).values()) for run in runs), default=0) or 1
    columns = []
    for i, run in enumerate(runs):
        x, y = _LEFT + i * _COLUMN + 12, float(_TOP + _PLOT_H)
        segments = []
        for status, count in _counts(run).items():
            height = round(_PLOT_H * count / tallest, 1)
            y -= height
            segments.append(
                f'<rect class="segment" data-status="{status}" data-count="{count}" x="{x}" '
                f'y="{round(y, 1)}" width="{_COLUMN - 24}" height="{height}" '
                f'fill="{COLOURS[status]}"><title>{status}: {count}</title></rect>'
            )
        columns.append(
            f'<g class="run" data-run="{_e(run.label)}">{"".join(segments)}'
            f'<text x="{x + (_COLUMN - 24) / 2}" y="{_TOP + _PLOT_H + 14}" text-anchor="middle">'
            f"{_e(run.label[5:10])}</text></g>"
        )
    width = _LEFT + max(len(runs), 1) * _COLUMN + 10
    axis = (
        f'<text x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end">{tallest}</text>'
        f'<text x="{_LEFT - 6}" y="{_TOP + _PLOT_H}" text-anchor="end">0</text>'
        f'<line x1="{_LEFT}" x2="{width}" y1="{_TOP + _PLOT_H}" y2="{_TOP + _PLOT_H}" '
        'stroke="#57606a"></line>'
    )
    legend = "".join(f'<span class="pill s-{s}">{s}</span> ' for s in STATUS_ORDER)
    return (
        '<div class="card chart history">'
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Hosts per status per run" '
        f'viewBox="0 0 {width} {_TOP + _PLOT_H + 24}" font-size="11" '
        f'font-family="system-ui, sans-serif" fill="#1f2328">{axis}{"".join(columns)}</svg>'
        f"<p>{legend}</p></div>"
    )


def first_broke(runs: list[Run]) -> dict[str, str]:
    """Host -> the run where it first broke, for every host that breaks in the newest run."""
    if not runs:
        return {}
    found = {}
    for name, host in runs[-1].hosts.items():
        if host["status"] != "breaks":
            continue
        start = len(runs) - 1
        while start > 0 and _breaks(runs[start - 1].hosts.get(name)):
            start -= 1
        found[name] = runs[start].label
    return found


def _first_broke(runs: list[Run]) -> str:
    broke = first_broke(runs)
    if not broke:
        return '<p class="muted">None.</p>'
    rows = "".join(
        f'<tr data-host="{_e(name)}" data-first-broke="{_e(since)}"><td><code>{_e(name)}</code>'
        f"</td><td>{_e(since)}</td><td>{_e(_codes(runs[-1].hosts[name]))}</td></tr>"
        for name, since in sorted(broke.items(), key=lambda item: (item[1], item[0]), reverse=True)
    )
    return (
        '<table class="first-broke"><thead><tr><th>Host</th><th>First broke (run)</th>'
        f"<th>Reasons now</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _breaks(host: HostRecord | None) -> bool:
    return host is not None and host["status"] == "breaks"


def _codes(host: HostRecord) -> str:
    return ", ".join(r["code"] for r in host["reasons"] if r.get("severity") == "breaks")
