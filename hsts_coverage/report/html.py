"""The HTML report: one self-contained page rendered from a scan's typed records.

`render_html(records)` is pure: records in (a scan record, host records, summary records; one
section per domain), a page out. The page needs nothing else (no external assets, no network),
so it works offline and as an e-mail attachment: inline CSS, a small inline script for sorting and
filtering, and charts as inline SVG. Without the script it is still a complete, readable report
(the filter box only appears when the script runs).

The markup is in jinja2 templates (`templates/*.html.j2`); this module only arranges the records
into what the templates show (rows in order, bar lengths, reasons grouped by fix). Every string
from a record is untrusted (CT names, certificate subjects, Location and STS headers, error
details): the environment escapes every value it prints (autoescape) after `clean` has taken the
control characters out (`finalize`), so no template can forget it, and values reach the script
only through data attributes, never through script text. A Content-Security-Policy meta allows
the one inline style and the one inline script by their SHA-256 hashes and nothing else: no other
script, style, image, font, frame or connection.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources

from jinja2 import ChainableUndefined, Environment, PackageLoader, Template
from markupsafe import Markup

from hsts_coverage.report.expiry import MARK_DAYS, ExpiryView, expiry_view
from hsts_coverage.report.shapes import (
    CertificateRecord,
    HostRecord,
    ReasonRecord,
    Record,
    ScanRecord,
    SummaryRecord,
)
from hsts_coverage.report.text import clean

# Worst first: the table's initial order and its "status" sort key.
STATUS_ORDER = ("breaks", "unknown", "warn", "ok", "not_affected")
SEVERITY_ORDER = ("breaks", "unknown", "warn", "not_affected", "info")
COLOURS = {
    "breaks": "#c62828",
    "unknown": "#b26a00",
    "warn": "#e0a800",
    "ok": "#2e7d32",
    "not_affected": "#78909c",
    "info": "#5c6bc0",
}
OPEN_HOSTS = 10  # a fix lists its hosts open up to this many, folded beyond
VERDICT_CLASS = {"SAFE": "safe", "NOT SAFE": "not-safe", "INCONCLUSIVE": "inconclusive"}
FIX_SECTIONS = (
    ("breaks", "Would break under includeSubDomains: how to fix"),
    ("unknown", "Could not be checked (never counted as safe)"),
    ("warn", "Warnings"),
)
COLUMNS = (  # (title, data-type)
    ("Host", "text"),
    ("Status", "number"),
    ("Reasons", "text"),
    ("Browser errors", "text"),
    ("Certificate expires", "number"),
    ("Redirect chain (HTTPS, under HSTS)", "number"),
    ("HSTS header sent", "text"),
)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


CSS = _asset("page.css")
SCRIPT = _asset("page.js")


def render_html(records: Iterable[Record]) -> str:
    """The whole page for a scan's records (any number of domains)."""
    scan, domains = _group(records)
    title = "HSTS coverage: " + ", ".join(d.name for d in domains)
    return page("report.html.j2", title, scan=scan, domains=domains)


def page(template: str, title: str, **context: object) -> str:
    """A page of `template` (which extends page.html.j2), its style and script allowed by hash."""
    policy = Markup(  # made here of constants: no value from a record
        f"default-src 'none'; style-src '{_sha256(CSS)}'; script-src '{_sha256(SCRIPT)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    return _template(template).render(
        title=title, policy=policy, css=Markup(CSS), script=Markup(SCRIPT), **context
    )


def domain_views(records: Iterable[Record]) -> tuple[ScanRecord | None, list[DomainView]]:
    """The scan record and a view per domain (also the history page's newest run)."""
    return _group(records)


@cache
def _template(name: str) -> Template:
    return _environment().get_template(name)


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("hsts_coverage.report", "templates"),
        autoescape=True,  # every template, whatever its name
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # A field an older report lacks reads as empty, as do the fields of a missing object.
        undefined=ChainableUndefined,
    )
    environment.filters["csv"] = _csv
    environment.globals.update(
        statuses=STATUS_ORDER,
        columns=COLUMNS,
        verdict_class=lambda verdict: VERDICT_CLASS.get(str(verdict), "none"),
    )
    return environment


def _finalize(value: object) -> object:
    """Every printed value: control characters out (markup the templates made is kept as it
    is; autoescape then escapes the rest)."""
    if isinstance(value, Markup):
        return value
    return clean("" if value is None else value)


def _csv(items: Iterable[object] | None, separator: str = ", ") -> str:
    """A list as one plain string: escaped (and cleaned) as a whole when printed."""
    return separator.join(str(item) for item in items or ())


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


# -- what the templates show -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    colour: str
    y: int
    width: float


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    label_w: int = 200
    bar_w: int = 340
    row_h: int = 22

    @property
    def width(self) -> int:
        return self.label_w + self.bar_w + 60

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * self.row_h + 8


@dataclass(frozen=True, slots=True)
class Fix:
    reason: ReasonRecord  # its texts, from the first host that has it
    names: tuple[str, ...]  # sorted, once each

    @property
    def open(self) -> bool:
        return len(self.names) <= OPEN_HOSTS


@dataclass(frozen=True, slots=True)
class FixSection:
    severity: str
    title: str
    fixes: tuple[Fix, ...]


@dataclass(frozen=True, slots=True)
class HostRow:
    host: HostRecord
    rank: int
    search: str
    errors: tuple[tuple[str, str], ...]  # (Chrome, Firefox) error pairs, once each
    certificate: CertificateRecord | None
    days_sort: object
    days_text: str
    sts: tuple[str, ...]


@dataclass(slots=True)
class DomainView:
    name: str
    summary: SummaryRecord | None = None
    records: dict[str, HostRecord] = field(default_factory=dict)  # name -> record (the last)
    now: datetime | None = None

    @property
    def hosts(self) -> list[HostRow]:
        return [_row(h) for h in sorted(self.records.values(), key=_row_order)]

    @property
    def status_chart(self) -> BarChart:
        statuses = Counter(h["status"] for h in self.records.values())
        return bar_chart("Hosts by status", [(s, statuses.get(s, 0), s) for s in STATUS_ORDER])

    @property
    def reason_chart(self) -> BarChart:
        return bar_chart("Hosts by reason", _reason_bars(list(self.records.values())))

    @property
    def expiry(self) -> ExpiryView | None:
        return expiry_view(list(self.records.values()), self.now) if self.now else None

    @property
    def marks(self) -> str:
        return ", ".join(f"{d} days" for d in MARK_DAYS)

    @property
    def fixes(self) -> list[FixSection]:
        hosts = sorted(self.records.values(), key=_row_order)
        sections = [(severity, title, _fixes(hosts, severity)) for severity, title in FIX_SECTIONS]
        return [FixSection(s, t, fixes) for s, t, fixes in sections if fixes]


def _group(records: Iterable[Record]) -> tuple[ScanRecord | None, list[DomainView]]:
    scan: ScanRecord | None = None
    domains: dict[str, DomainView] = {}
    for record in records:
        if record["type"] == "scan":
            scan = scan or record
            continue
        domain = domains.setdefault(record["domain"], DomainView(record["domain"]))
        if record["type"] == "summary":
            domain.summary = record
        else:
            domain.records[record["host"]] = record
    now = _started_at(scan)
    for domain in domains.values():
        domain.now = now
    return scan, list(domains.values())


def _started_at(scan: ScanRecord | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(scan.get("started_at", "") if scan else "")
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _row_order(host: HostRecord) -> tuple[int, str]:
    return (_rank(host["status"]), host["host"])


def _rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def bar_chart(title: str, bars: Sequence[tuple[str, int, str]]) -> BarChart:
    """A horizontal bar chart: (label, value, status or severity) per bar."""
    chart = BarChart(title, ())
    top = max((value for _, value, _ in bars), default=0) or 1
    drawn = tuple(
        Bar(
            label,
            value,
            COLOURS.get(kind, "#57606a"),
            4 + i * chart.row_h,
            round(chart.bar_w * value / top, 1),
        )
        for i, (label, value, kind) in enumerate(bars)
    )
    return BarChart(title, drawn)


def _reason_bars(hosts: list[HostRecord]) -> list[tuple[str, int, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for host in hosts:
        counts.update({(r["code"], str(r.get("severity"))) for r in host["reasons"]})
    order = sorted(counts, key=lambda k: (_severity_rank(k[1]), -counts[k], k[0]))
    return [(code, counts[(code, severity)], severity) for code, severity in order]


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _fixes(hosts: list[HostRecord], severity: str) -> tuple[Fix, ...]:
    """Each reason of this severity once (its texts from the first record), with its hosts,
    the reasons with the most hosts first."""
    found: dict[str, tuple[ReasonRecord, list[str]]] = {}
    for host in hosts:
        for reason in host["reasons"]:
            if reason.get("severity") == severity:
                found.setdefault(reason["code"], (reason, []))[1].append(host["host"])
    order = sorted(found, key=lambda c: (-len(found[c][1]), c))
    return tuple(Fix(found[c][0], tuple(sorted(set(found[c][1])))) for c in order)


def _row(host: HostRecord) -> HostRow:
    https = host.get("https") or {}
    certificate = https.get("certificate") or None
    days = certificate.get("days_left") if certificate else None
    return HostRow(
        host,
        _rank(host["status"]),
        _search_text(host),
        _errors(host["reasons"]),
        certificate,
        days if days is not None else "",
        _days(days),
        tuple(https.get("strict_transport_security") or ()),
    )


def _errors(reasons: list[ReasonRecord]) -> tuple[tuple[str, str], ...]:
    pairs = {
        (str(r.get("chrome_error")), str(r.get("firefox_error"))): None
        for r in reasons
        if r.get("severity") in ("breaks", "warn", "unknown")
    }
    return tuple(pairs)


def _days(days: int | None) -> str:
    if days is None:
        return ""
    return f"expired {-days} days ago" if days < 0 else f"in {days} days"


def _search_text(host: HostRecord) -> str:
    """What the filter box matches: every visible fact of the row, lower-cased."""
    https = host.get("https") or {}
    certificate = https.get("certificate") or {}
    words: list[object] = [host["host"], host["status"], *(host.get("found_by") or [])]
    for reason in host["reasons"]:
        words += [reason.get(k) for k in ("code", "detail", "chrome_error", "firefox_error")]
    words += [certificate.get("subject"), certificate.get("issuer")]
    words += [hop.get("url") for hop in (host.get("redirects") or {}).get("hops") or []]
    words += https.get("strict_transport_security") or []
    return " ".join(str(w) for w in words if w).lower()
