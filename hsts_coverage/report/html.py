"""The HTML report: one self-contained page rendered from a scan's NDJSON records.

`render_html(records)` is pure: records in (a scan record, host records, summary records; one
section per domain), a page out. The page needs nothing else (no external assets, no network),
so it works offline and as an e-mail attachment: inline CSS, a small inline script for sorting and
filtering, and charts as inline SVG drawn here. Without the script it is still a complete,
readable report (the filter box only appears when the script runs).

Every string from a record is untrusted (CT names, certificate subjects, Location and STS
headers, error details): it goes through `clean` (control characters out) and `html.escape`,
and reaches the script only through data attributes, never through script text. A
Content-Security-Policy meta allows the one inline style and the one inline script by their
SHA-256 hashes and nothing else: no other script, style, image, font, frame or connection.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hsts_coverage.report.expiry import MARK_DAYS, expiry_chart
from hsts_coverage.report.text import clean

Record = Mapping[str, Any]

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

CSS = """
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; --bg2: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1f2328; background: #fff; }
header.page, section.domain { padding: 16px 24px; }
header.page { border-bottom: 1px solid var(--line); background: var(--bg2); }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 8px 0; }
h3 { font-size: 15px; margin: 20px 0 8px; }
.muted, .meta { color: var(--muted); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; overflow-wrap: anywhere; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff;
  font-weight: 700; letter-spacing: .02em; }
.verdict.safe { background: #2e7d32; } .verdict.not-safe { background: #c62828; }
.verdict.inconclusive { background: #b26a00; } .verdict.none { background: #57606a; }
.interrupted { color: #b26a00; font-weight: 700; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
.chart svg { width: 100%; height: auto; max-width: 640px; }
.expiry { margin-top: 16px; } .expiry svg { width: 100%; height: auto; max-width: 1000px; }
.history svg { width: 100%; height: auto; max-width: 1000px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left;
  vertical-align: top; }
thead th { background: var(--bg2); position: sticky; top: 0; }
th button { font: inherit; font-weight: 700; background: none; border: 0; padding: 0;
  cursor: pointer; color: inherit; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
.tools { display: flex; gap: 12px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
.tools[hidden] { display: none; }
.tools input { min-width: 320px; padding: 4px 8px; }
.pill { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff;
  font-size: 12px; font-weight: 600; white-space: nowrap; }
.s-breaks { background: #c62828; } .s-unknown { background: #b26a00; }
.s-warn { background: #e0a800; color: #1f2328; } .s-ok { background: #2e7d32; }
.s-not_affected { background: #78909c; } .s-info { background: #5c6bc0; }
.s-pass { background: #2e7d32; } .s-fail { background: #c62828; }
.s-not_checked { background: #78909c; }
td.host { min-width: 14em; } td.errors { min-width: 17em; } td.cert { min-width: 12em; }
td.errors code { overflow-wrap: break-word; font-size: 12px; }
.reason { margin-bottom: 4px; } .detail { color: var(--muted); overflow-wrap: anywhere; }
ol.chain { margin: 0; padding-left: 18px; } ol.chain li { overflow-wrap: anywhere; }
.fix h4 { margin: 12px 0 2px; font-size: 14px; }
.fix p { margin: 2px 0; }
details summary { cursor: pointer; color: var(--muted); }
@media print { .tools { display: none; } thead th { position: static; } }
"""

SCRIPT = """
"use strict";
for (const box of document.querySelectorAll("div.hosts")) {
  const table = box.querySelector("table");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const tools = box.querySelector(".tools");
  const filter = tools.querySelector("input");
  const status = tools.querySelector("select");
  const shown = tools.querySelector("output");
  const headers = Array.from(table.tHead.rows[0].cells);

  function apply() {
    const terms = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    let count = 0;
    for (const row of rows) {
      const text = row.dataset.search;
      const visible = terms.every((t) => text.includes(t)) &&
        (!status.value || row.dataset.status === status.value);
      row.hidden = !visible;
      count += visible ? 1 : 0;
    }
    shown.value = count + " of " + rows.length + " hosts";
  }

  function key(row, column) {
    const cell = row.cells[column];
    return cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
  }

  function sortBy(column) {
    const th = headers[column];
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    const numeric = th.dataset.type === "number";
    for (const other of headers) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const order = ascending ? 1 : -1;
    const sorted = rows.slice().sort((a, b) => {
      const x = key(a, column), y = key(b, column);
      if (x === "" || y === "") return (x === "") - (y === "");  // blanks last
      const diff = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return diff * order;
    });
    const fragment = document.createDocumentFragment();
    for (const row of sorted) fragment.appendChild(row);
    body.appendChild(fragment);
  }

  headers.forEach((th, column) => {
    th.querySelector("button").addEventListener("click", () => sortBy(column));
  });
  filter.addEventListener("input", apply);
  status.addEventListener("change", apply);
  tools.hidden = false;
  apply();
}
"""


def render_html(records: Sequence[Record]) -> str:
    """The whole page for a scan's records (any number of domains)."""
    title = "HSTS coverage: " + ", ".join(d.name for d in _group(records)[1])
    return _page(title, report_body(records))


def report_body(records: Sequence[Record]) -> str:
    """The page's content for one scan: the masthead and a section per domain."""
    scan, domains = _group(records)
    now = _started_at(scan)
    return _masthead(scan, domains) + "".join(_section(domain, now) for domain in domains)


def _started_at(scan: Record | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str((scan or {}).get("started_at")))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# -- grouping the records --------------------------------------------------------------------------


@dataclass(slots=True)
class _Domain:
    name: str
    summary: Record | None = None
    hosts: dict[str, Record] = field(default_factory=dict)  # name -> record (the last one wins)


def _group(records: Iterable[Record]) -> tuple[Record | None, list[_Domain]]:
    scan: Record | None = None
    domains: dict[str, _Domain] = {}
    for record in records:
        kind = record.get("type")
        if kind == "scan":
            scan = scan or record
        elif kind in ("host", "summary"):
            name = str(record.get("domain", ""))
            domain = domains.setdefault(name, _Domain(name))
            if kind == "summary":
                domain.summary = record
            else:
                domain.hosts[str(record.get("host", ""))] = record
    return scan, list(domains.values())


# -- the page --------------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    policy = (
        f"default-src 'none'; style-src '{_sha256(CSS)}'; script-src '{_sha256(SCRIPT)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _e(value: object) -> str:
    """An untrusted value as HTML text or a double-quoted attribute value."""
    return html.escape(clean("" if value is None else value), quote=True)


def _masthead(scan: Record | None, domains: list[_Domain]) -> str:
    meta = "no scan record"
    if scan is not None:
        meta = f"{_e(scan.get('tool'))} {_e(scan.get('version'))}, scan started "
        meta += f"{_e(scan.get('started_at'))}{_sharding(scan)}"
    verdicts = " ".join(f"{_e(d.name)} {_verdict_badge(d.summary)}" for d in domains)
    return (
        '<header class="page"><h1>HSTS includeSubDomains coverage</h1>'
        f'<div class="meta">{meta}</div><div>{verdicts}</div></header>\n'
    )


def _sharding(scan: Record) -> str:
    if scan.get("merged_from"):
        return f"; merged from shards {_e(', '.join(map(str, scan['merged_from'])))}"
    shard = (scan.get("options") or {}).get("shard")
    return f"; <strong>shard {_e(shard)} only</strong>: a part of the hosts" if shard else ""


def _verdict_badge(summary: Record | None) -> str:
    if summary is None:
        return '<span class="verdict none">NO SUMMARY</span>'
    verdict = str(summary.get("verdict"))
    css = VERDICT_CLASS.get(verdict, "none")
    return f'<span class="verdict {css}">{_e(verdict)}</span>'


def _section(domain: _Domain, now: datetime | None) -> str:
    hosts = sorted(domain.hosts.values(), key=_row_order)
    parts = [
        f'<section class="domain"><h2>{_e(domain.name)} {_verdict_badge(domain.summary)}</h2>',
        _verdict_details(domain.summary),
        '<div class="grid">',
        _policy(domain.summary.get("policy") if domain.summary else None, domain.name),
        _charts(hosts),
        "</div>",
        _expiry(hosts, now),
        _fixes(hosts),
        _host_table(hosts),
        "</section>\n",
    ]
    return "".join(parts)


def _row_order(host: Record) -> tuple[int, str]:
    return (_rank(host.get("status")), str(host.get("host", "")))


def _rank(status: object) -> int:
    return STATUS_ORDER.index(str(status)) if status in STATUS_ORDER else len(STATUS_ORDER)


# -- verdict and policy ----------------------------------------------------------------------------


def _verdict_details(summary: Record | None) -> str:
    if summary is None:
        return '<p class="interrupted">No summary record: the report is partial.</p>'
    lines = [f"<p><strong>{_e(summary.get('why'))}</strong>"]
    lines.append(f' <span class="muted">(exit code {_e(summary.get("exit_meaning"))})</span></p>')
    if summary.get("interrupted"):
        lines.append('<p class="interrupted">Interrupted: a partial scan.</p>')
    counts = summary.get("counts") or {}
    parts = [f"{_e(counts.get(s, 0))} {_e(s)}" for s in STATUS_ORDER]
    lines.append(f"<p>{_e(summary.get('hosts'))} hosts: {', '.join(parts)}.")
    lines.append(f" {_enumeration(summary.get('enumeration') or {})}</p>")
    lines += [_wildcards(summary.get("wildcard_dns") or [])]
    advice = "".join(f"<li>{_e(line)}</li>" for line in summary.get("advice") or [])
    lines.append(f"<h3>What to do</h3><ul>{advice}</ul>" if advice else "")
    return "".join(lines)


def _enumeration(enumeration: Record) -> str:
    status = enumeration.get("status")
    text = f"Names: {_e(enumeration.get('names'))} ({_e(status)}"
    if enumeration.get("sources"):
        text += f" from {_e(', '.join(map(str, enumeration['sources'])))}"
    if enumeration.get("error"):
        text += f": {_e(enumeration['error'])}"
    notes = "".join(f"; {_e(note)}" for note in enumeration.get("notes") or [])
    per_source = enumeration.get("per_source") or {}
    counts = ", ".join(
        f"{_e(name)} {_e((report or {}).get('names'))}" for name, report in per_source.items()
    )
    coverage = ""
    if per_source:
        coverage = (
            " The domain's zone was read: every name in it was checked."
            if enumeration.get("authoritative")
            else " Without the zone (--zone-file or --axfr), hosts that never had a certificate "
            "may be missing."
        )
    return f"{text}{notes}).{f' By source: {counts}.' if counts else ''}{coverage}"


def _wildcards(zones: list[Record]) -> str:
    items = [
        f"<li>Wildcard DNS: <code>*.{_e(z.get('zone'))}</code> answers every name under it "
        f"(probed as <code>{_e(z.get('probe_name'))}</code>)</li>"
        for z in zones
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _policy(policy: Record | None, domain: str) -> str:
    head = f'<div class="card policy"><h3>Policy today on {_e(domain)}</h3>'
    if policy is None:
        return head + '<p class="muted">Apex check skipped (--no-apex-check).</p></div>'
    fields = policy.get("strict_transport_security") or []
    sent = "".join(f"<li><code>{_e(v)}</code></li>" for v in fields)
    parts = [
        head,
        f"<p>Strict-Transport-Security sent by https://{_e(policy.get('domain'))}/:</p>",
        f"<ol>{sent}</ol>" if sent else '<p class="muted">no header</p>',
        _browser_view(policy.get("effective")),
        _preload_list(policy.get("preload_list") or {}),
        _requirements(policy),
        "</div>",
    ]
    return "".join(parts)


def _browser_view(effective: Record | None) -> str:
    if effective is None:
        return "<p>Browsers: no HSTS policy for this domain.</p>"
    browser = effective.get("browser") or {}
    if not browser.get("accepted"):
        return f"<p>Browsers: <strong>ignore the header</strong>: {_e(browser.get('reason'))}</p>"
    flags = [
        f"max-age {_e(browser.get('max_age'))} s",
        "includeSubDomains" if browser.get("include_subdomains") else "no includeSubDomains",
        "preload" if browser.get("preload") else "no preload",
    ]
    return f"<p>Browsers: accepted, {', '.join(flags)}.</p>"


def _preload_list(preload: Record) -> str:
    source = f' <span class="muted">({_e(preload.get("source"))})</span>'
    if not preload.get("preloaded"):
        return f"<p>Preload list: not preloaded.{source}</p>"
    scope = "with" if preload.get("include_subdomains") else "without"
    entry = _e(preload.get("entry"))
    return f"<p>Preload list: preloaded as <code>{entry}</code>, {scope} subdomains.{source}</p>"


def _requirements(policy: Record) -> str:
    ready = "READY" if policy.get("preload_ready") else "NOT READY"
    rows = "".join(
        f'<tr><td><span class="pill s-{_e(r.get("status"))}">{_e(r.get("status"))}</span></td>'
        f"<td><code>{_e(r.get('code'))}</code> {_e(r.get('title'))}"
        f"{_failures(r)}</td></tr>"
        for r in policy.get("requirements") or []
    )
    return f"<p>Preload requirements: <strong>{ready}</strong></p><table>{rows}</table>"


def _failures(requirement: Record) -> str:
    codes = ", ".join(str(code) for code in requirement.get("failures") or [])
    parts = [_e(codes)] if codes else []
    parts += [_e(requirement["detail"])] if requirement.get("detail") else []
    return f'<div class="detail">{"; ".join(parts)}</div>' if parts else ""


# -- charts ----------------------------------------------------------------------------------------


def _charts(hosts: list[Record]) -> str:
    statuses = Counter(str(h.get("status")) for h in hosts)
    by_status = [(s, statuses.get(s, 0), s) for s in STATUS_ORDER]
    return (
        '<div class="card chart"><h3>Hosts by status</h3>'
        f"{bar_chart('Hosts by status', by_status)}"
        f"<h3>Hosts by reason</h3>{bar_chart('Hosts by reason', _reason_bars(hosts))}</div>"
    )


def _reason_bars(hosts: list[Record]) -> list[tuple[str, int, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for host in hosts:
        seen = {(str(r.get("code")), str(r.get("severity"))) for r in host.get("reasons") or []}
        counts.update(seen)
    order = sorted(counts, key=lambda k: (_severity_rank(k[1]), -counts[k], k[0]))
    return [(code, counts[(code, severity)], severity) for code, severity in order]


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def bar_chart(title: str, bars: Sequence[tuple[str, int, str]]) -> str:
    """A horizontal bar chart as inline SVG: (label, value, status or severity) per bar."""
    label_w, bar_w, row_h = 200, 340, 22
    top = max((value for _, value, _ in bars), default=0) or 1
    height = max(len(bars), 1) * row_h + 8
    rows = []
    for i, (label, value, kind) in enumerate(bars):
        y = 4 + i * row_h
        width = round(bar_w * value / top, 1)
        rows.append(
            f'<g class="bar" data-label="{_e(label)}" data-value="{value}">'
            f"<title>{_e(label)}: {value} host(s)</title>"
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{width}" height="{row_h - 6}" '
            f'fill="{COLOURS.get(kind, "#57606a")}"></rect>'
            f'<text x="{label_w + width + 6}" y="{y + 15}">{value}</text></g>'
        )
    if not bars:
        rows.append(f'<text x="{label_w}" y="18">no hosts</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(title)}" '
        f'viewBox="0 0 {label_w + bar_w + 60} {height}" font-size="12" '
        f'font-family="system-ui, sans-serif" fill="#1f2328">{"".join(rows)}</svg>'
    )


# -- certificate expiry ----------------------------------------------------------------------------


def _expiry(hosts: list[Record], now: datetime | None) -> str:
    if now is None:
        return ""
    marks = ", ".join(f"{d} days" for d in MARK_DAYS)
    return (
        '<div class="card expiry"><h3>Certificate expiry</h3>'
        f"<p class=\"muted\">Each host's certificate on one time axis, from the scan's start "
        f"({_e(now.isoformat())}), with marks at {marks}; expired first.</p>"
        f"{expiry_chart(hosts, now)}</div>"
    )


# -- fixes -----------------------------------------------------------------------------------------


def _fixes(hosts: list[Record]) -> str:
    parts = []
    for severity, title in FIX_SECTIONS:
        reasons = _reasons_of(hosts, severity)
        if reasons:
            items = "".join(_fix(reason, names) for reason, names in reasons)
            parts.append(f'<div class="fix sev-{severity}"><h3>{_e(title)}</h3>{items}</div>')
    return "".join(parts)


def _reasons_of(hosts: list[Record], severity: str) -> list[tuple[Record, list[str]]]:
    """Each reason of this severity once (its texts from the first record), with its hosts."""
    found: dict[str, tuple[Record, list[str]]] = {}
    for host in hosts:
        for reason in host.get("reasons") or []:
            if reason.get("severity") == severity:
                entry = found.setdefault(str(reason.get("code")), (reason, []))
                entry[1].append(str(host.get("host")))
    return [found[code] for code in sorted(found, key=lambda c: (-len(found[c][1]), c))]


def _fix(reason: Record, names: list[str]) -> str:
    listed = "".join(f"<li><code>{_e(name)}</code></li>" for name in sorted(set(names)))
    count = len(set(names))
    return (
        f'<h4><span class="pill s-{_e(reason.get("severity"))}">{_e(reason.get("code"))}</span> '
        f"{_e(reason.get('summary'))}</h4>"
        f"<p>Chrome: <code>{_e(reason.get('chrome_error'))}</code> &middot; "
        f"Firefox: <code>{_e(reason.get('firefox_error'))}</code></p>"
        f"<p><strong>Fix:</strong> {_e(reason.get('fix'))}</p>"
        f"<details{' open' if count <= OPEN_HOSTS else ''}><summary>{count} host(s)</summary>"
        f"<ul>{listed}</ul></details>"
    )


# -- the hosts table -------------------------------------------------------------------------------

COLUMNS = (  # (title, data-type)
    ("Host", "text"),
    ("Status", "number"),
    ("Reasons", "text"),
    ("Browser errors", "text"),
    ("Certificate expires", "number"),
    ("Redirect chain (HTTPS, under HSTS)", "number"),
    ("HSTS header sent", "text"),
)


def _host_table(hosts: list[Record]) -> str:
    head = "".join(
        f'<th scope="col" data-type="{kind}"><button type="button">{_e(title)}</button></th>'
        for title, kind in COLUMNS
    )
    rows = "".join(_host_row(host) for host in hosts)
    return (
        f'<div class="hosts"><h3>Hosts ({len(hosts)})</h3>{_tools()}'
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _tools() -> str:
    options = "".join(f'<option value="{s}">{s}</option>' for s in STATUS_ORDER)
    return (
        '<div class="tools" hidden><label>Filter <input type="search" '
        'placeholder="host, reason code, error, issuer..." autocomplete="off"></label>'
        f'<label>Status <select><option value="">any</option>{options}</select></label>'
        "<output></output></div>"
    )


def _host_row(host: Record) -> str:
    https = host.get("https") or {}
    certificate = https.get("certificate")
    cells = [
        _host_cell(host),
        _status_cell(host.get("status")),
        _reasons_cell(host.get("reasons") or []),
        _errors_cell(host.get("reasons") or []),
        _certificate_cell(certificate),
        _chain_cell(host.get("redirects")),
        _cell(_sts(https.get("strict_transport_security") or [])),
    ]
    return (
        f'<tr data-status="{_e(host.get("status"))}" data-search="{_e(_search_text(host))}">'
        f"{''.join(cells)}</tr>"
    )


def _cell(content: str, sort: object = None, css: str = "") -> str:
    key = "" if sort is None else f' data-sort="{_e(sort)}"'
    kind = f' class="{css}"' if css else ""
    return f"<td{kind}{key}>{content}</td>"


def _host_cell(host: Record) -> str:
    addresses = ", ".join(str(a) for a in host.get("addresses") or [])
    content = f"<code>{_e(host.get('host'))}</code>"
    content += f'<div class="detail">{_e(addresses)}</div>' if addresses else ""
    found_by = ", ".join(str(source) for source in host.get("found_by") or [])
    content += f'<div class="detail">found by {_e(found_by)}</div>' if found_by else ""
    return _cell(content, host.get("host"), "host")


def _status_cell(status: object) -> str:
    pill = f'<span class="pill s-{_e(status)}">{_e(status)}</span>'
    return _cell(pill, _rank(status))


def _reasons_cell(reasons: list[Record]) -> str:
    items = [
        f'<div class="reason"><span class="pill s-{_e(r.get("severity"))}">{_e(r.get("code"))}'
        f"</span>{_detail(r.get('detail'))}</div>"
        for r in reasons
    ]
    return _cell("".join(items), " ".join(str(r.get("code")) for r in reasons))


def _detail(detail: object) -> str:
    return f' <span class="detail">{_e(detail)}</span>' if detail else ""


def _errors_cell(reasons: list[Record]) -> str:
    pairs: dict[tuple[str, str], None] = {}
    for r in reasons:
        if r.get("severity") in ("breaks", "warn", "unknown"):
            pairs[(str(r.get("chrome_error")), str(r.get("firefox_error")))] = None
    items = [
        f"<div>Chrome: <code>{_e(chrome)}</code><br>Firefox: <code>{_e(firefox)}</code></div>"
        for chrome, firefox in pairs
    ]
    return _cell("".join(items), css="errors")


def _certificate_cell(certificate: Record | None) -> str:
    if not certificate:
        return _cell('<span class="muted">-</span>', "")
    days = certificate.get("days_left")
    content = (
        f"{_e(str(certificate.get('not_after', ''))[:10])} "
        f'<span class="muted">{_e(_days(days))}</span>'
        f'<div class="detail">{_e(certificate.get("subject"))}<br>'
        f"issuer: {_e(certificate.get('issuer'))}</div>"
    )
    return _cell(content, days if isinstance(days, int) else "", "cert")


def _days(days: object) -> str:
    if not isinstance(days, int):
        return ""
    return f"expired {-days} days ago" if days < 0 else f"in {days} days"


def _chain_cell(walk: Record | None) -> str:
    if not walk:
        return _cell('<span class="muted">-</span>', "")
    hops = [_hop(hop) for hop in walk.get("hops") or []]
    end = walk.get("end")
    tail = "" if end == "page" else f'<div class="detail">ends: {_e(end)}</div>'
    if walk.get("detail"):
        tail += f'<div class="detail">{_e(walk["detail"])}</div>'
    return _cell(f'<ol class="chain">{"".join(hops)}</ol>{tail}', len(hops))


def _hop(hop: Record) -> str:
    status = hop.get("status")
    parts = [f"<code>{_e(hop.get('url'))}</code>"]
    parts += [f" <strong>{_e(status)}</strong>"] if status is not None else []
    if hop.get("upgraded_by_hsts"):
        parts.append(' <span class="muted">(upgraded by HSTS)</span>')
    failure = hop.get("failure")
    parts += [f' <span class="pill s-breaks">{_e(failure)}</span>'] if failure else []
    parts += [_detail(hop.get("detail"))]
    return f"<li>{''.join(parts)}</li>"


def _sts(fields: list[object]) -> str:
    return "".join(f"<div><code>{_e(value)}</code></div>" for value in fields)


def _search_text(host: Record) -> str:
    """What the filter box matches: every visible fact of the row, lower-cased."""
    https = host.get("https") or {}
    certificate = https.get("certificate") or {}
    words: list[object] = [host.get("host"), host.get("status"), *(host.get("found_by") or [])]
    for reason in host.get("reasons") or []:
        words += [reason.get(k) for k in ("code", "detail", "chrome_error", "firefox_error")]
    words += [certificate.get("subject"), certificate.get("issuer")]
    words += [hop.get("url") for hop in (host.get("redirects") or {}).get("hops") or []]
    words += https.get("strict_transport_security") or []
    return " ".join(str(w) for w in words if w).lower()
