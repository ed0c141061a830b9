"""Pure: the certificate-expiry view of the HTML report, as inline SVG.

Every host with a certificate is one row: a dot at its `not_after` on one time axis shared by the
rows, with the scan's moment and the 14, 7 and 3 day marks drawn across. Expired certificates come
first, then the others by how soon they expire. The axis runs from a little before the earliest
`not_after` (at most `PAST_DAYS` back) to a little after the latest (at most `FUTURE_DAYS` on);
a certificate beyond either end is drawn at the end with an arrow. Past `MAX_ROWS` rows the
latest-expiring ones are counted, not drawn.

Strings are untrusted (host names come from CT): they are cleaned and escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hsts_coverage.report.text import clean

Record = Mapping[str, Any]

MARK_DAYS = (14, 7, 3)
PAST_DAYS = 60
FUTURE_DAYS = 120
MAX_ROWS = 300
_LABEL_W, _AXIS_W, _ROW_H, _TOP = 300, 600, 16, 36
_COLOURS = {"expired": "#c62828", "3": "#c62828", "7": "#e65100", "14": "#e0a800", "ok": "#2e7d32"}


@dataclass(frozen=True, slots=True)
class _Cert:
    host: str
    not_after: datetime

    def days(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def band(self, now: datetime) -> str:
        days = self.days(now)
        if days < 0:
            return "expired"
        return next((str(d) for d in sorted(MARK_DAYS) if days < d), "ok")


def expiry_chart(hosts: Sequence[Record], now: datetime) -> str:
    """The view for one domain's host records, seen from `now` (the scan's start)."""
    certs = sorted(_certificates(hosts), key=lambda c: (c.not_after, c.host))
    if not certs:
        return '<p class="muted">No host served a certificate.</p>'
    shown, hidden = certs[:MAX_ROWS], len(certs) - MAX_ROWS
    start = max(min(certs[0].not_after, now) - timedelta(days=2), now - timedelta(days=PAST_DAYS))
    latest = max(certs[-1].not_after, now + timedelta(days=max(MARK_DAYS)))
    end = min(latest + timedelta(days=2), now + timedelta(days=FUTURE_DAYS))
    axis = _Axis(start, end)
    bottom = _TOP + len(shown) * _ROW_H
    height = bottom + 22
    parts = [_row(axis, c, i, now) for i, c in enumerate(shown)] + [_marks(axis, now, bottom)]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Certificate expiry" '
        f'viewBox="0 0 {_LABEL_W + _AXIS_W + 40} {height}" font-size="11" '
        f'font-family="system-ui, sans-serif" fill="#1f2328">{"".join(parts)}</svg>'
    )
    more = (
        f'<p class="muted">and {hidden} later-expiring host(s) not drawn.</p>' if hidden > 0 else ""
    )
    return svg + more


def _certificates(hosts: Sequence[Record]) -> list[_Cert]:
    found = []
    for host in hosts:
        certificate = (host.get("https") or {}).get("certificate") or {}
        not_after = certificate.get("not_after")
        try:
            moment = datetime.fromisoformat(str(not_after)) if not_after else None
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            found.append(_Cert(str(host.get("host", "")), moment))
    return found


@dataclass(frozen=True, slots=True)
class _Axis:
    start: datetime
    end: datetime

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (moment - self.start).total_seconds() / span
        return round(_LABEL_W + _AXIS_W * min(max(share, 0.0), 1.0), 1)


def _marks(axis: _Axis, now: datetime, height: int) -> str:
    lines = [_mark(axis.x(now), height, "now", "now", "#1f2328", 12)]
    for i, days in enumerate(sorted(MARK_DAYS)):  # labels staggered: the marks are close
        x = axis.x(now + timedelta(days=days))
        lines.append(
            _mark(x, height, str(days), f"{days} d", _COLOURS[str(days)], 24 - 12 * (i % 2))
        )
    ends = (
        f'<text x="{_LABEL_W}" y="{height + 16}">{_e(axis.start.date().isoformat())}</text>'
        f'<text x="{_LABEL_W + _AXIS_W}" y="{height + 16}" text-anchor="end">'
        f"{_e(axis.end.date().isoformat())}</text>"
    )
    return ends + "".join(lines)


def _mark(x: float, height: int, key: str, text: str, colour: str, label_y: int) -> str:
    return (
        f'<g class="mark" data-days="{key}"><line x1="{x}" x2="{x}" y1="{label_y + 3}" '
        f'y2="{height}" stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"></line>'
        f'<text x="{x}" y="{label_y}" text-anchor="middle">{text}</text></g>'
    )


def _row(axis: _Axis, cert: _Cert, index: int, now: datetime) -> str:
    y = _TOP + index * _ROW_H + _ROW_H / 2
    x = axis.x(cert.not_after)
    band = cert.band(now)
    clipped = cert.not_after < axis.start or cert.not_after > axis.end
    days = cert.days(now)
    when = f"expired {-days:.1f} days ago" if days < 0 else f"expires in {days:.1f} days"
    arrow = (
        f'<text x="{x + (8 if x > _LABEL_W else -8)}" y="{y + 4}" text-anchor="middle">'
        f"{'&#8594;' if x > _LABEL_W else '&#8592;'}</text>"
        if clipped
        else ""
    )
    return (
        f'<g class="cert" data-host="{_e(cert.host)}" data-band="{band}" '
        f'data-not-after="{_e(cert.not_after.isoformat())}" data-days="{days:.2f}">'
        f"<title>{_e(cert.host)}: {_e(cert.not_after.isoformat())}, {when}</title>"
        f'<text x="{_LABEL_W - 8}" y="{y + 4}" text-anchor="end">{_e(cert.host)}</text>'
        f'<line x1="{_LABEL_W}" x2="{_LABEL_W + _AXIS_W}" y1="{y}" y2="{y}" stroke="#eaeef2">'
        f'</line><circle cx="{x}" cy="{y}" r="5" fill="{_COLOURS[band]}"></circle>{arrow}</g>'
    )


def _e(value: object) -> str:
    return html.escape(clean(value), quote=True)
