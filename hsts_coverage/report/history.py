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

from hsts_coverage.report.html import COLOURS, STATUS_ORDER, domain_views, page
from hsts_coverage.report.reader import Report
from hsts_coverage.report.shapes import HostRecord, SummaryRecord

_LEFT, _COLUMN, _PLOT_H, _TOP = 50, 64, 220, 16


@dataclass(frozen=True, slots=True)
class Run:
    label: str  # the scan's started_at
    summary: SummaryRecord | None
    hosts: dict[str, HostRecord]


@dataclass(frozen=True, slots=True)
class Segment:
    status: str
    count: int
    y: float
    height: float
    colour: str


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    x: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class StatusChart:
    """Stacked columns, one per run (oldest left), worst status at the bottom."""

    columns: tuple[Column, ...]
    tallest: int
    left: int = _LEFT
    top: int = _TOP
    base: int = _TOP + _PLOT_H
    column_w: int = _COLUMN - 24
    statuses: tuple[str, ...] = STATUS_ORDER

    @property
    def width(self) -> int:
        return _LEFT + max(len(self.columns), 1) * _COLUMN + 10

    @property
    def height(self) -> int:
        return _TOP + _PLOT_H + 24


@dataclass(frozen=True, slots=True)
class DomainHistory:
    name: str
    runs: list[Run]
    chart: StatusChart
    broke: list[tuple[str, str, str]]  # (host, the run where it first broke, its reasons now)


def render_history(reports: Sequence[Report]) -> str:
    ordered = sorted(reports, key=lambda r: r.scan.get("started_at", ""))
    domains = list(dict.fromkeys(s["domain"] for r in ordered for s in r.summaries))
    domains += [d for r in ordered for d in _host_domains(r) if d not in domains]
    scan, latest = domain_views(ordered[-1].records)
    return page(
        "history.html.j2",
        "HSTS coverage history: " + ", ".join(domains),
        runs=len(ordered),
        first=ordered[0].scan.get("started_at"),
        last=ordered[-1].scan.get("started_at"),
        domains=[_history(domain, [_run(r, domain) for r in ordered]) for domain in domains],
        scan=scan,
        latest=latest,
    )


def _history(domain: str, runs: list[Run]) -> DomainHistory:
    broke = first_broke(runs)
    order = sorted(broke.items(), key=lambda item: (item[1], item[0]), reverse=True)
    rows = [(name, since, _codes(runs[-1].hosts[name])) for name, since in order]
    return DomainHistory(domain, runs, status_chart(runs), rows)


def _host_domains(report: Report) -> list[str]:
    return list(dict.fromkeys(h["domain"] for h in report.hosts))


def _run(report: Report, domain: str) -> Run:
    summary = next((s for s in report.summaries if s["domain"] == domain), None)
    hosts = {h["host"]: h for h in report.hosts if h["domain"] == domain}
    return Run(report.scan.get("started_at", ""), summary, hosts)


def _counts(run: Run) -> dict[str, int]:
    counts = run.summary.get("counts") if run.summary else None
    if counts is not None:
        return {s: counts.get(s, 0) for s in STATUS_ORDER}
    found = dict.fromkeys(STATUS_ORDER, 0)
    for host in run.hosts.values():
        if host["status"] in found:
            found[host["status"]] += 1
    return found


def status_chart(runs: list[Run]) -> StatusChart:
    tallest = max((sum(_counts(run).values()) for run in runs), default=0) or 1
    columns = []
    for i, run in enumerate(runs):
        x, y = _LEFT + i * _COLUMN + 12, float(_TOP + _PLOT_H)
        segments = []
        for status, count in _counts(run).items():
            height = round(_PLOT_H * count / tallest, 1)
            y -= height
            segments.append(Segment(status, count, round(y, 1), height, COLOURS[status]))
        columns.append(Column(run.label, x, tuple(segments)))
    return StatusChart(tuple(columns), tallest)


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


def _breaks(host: HostRecord | None) -> bool:
    return host is not None and host["status"] == "breaks"


def _codes(host: HostRecord) -> str:
    return ", ".join(r["code"] for r in host["reasons"] if r.get("severity") == "breaks")
