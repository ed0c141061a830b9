"""Pure: the certificate-expiry view of the HTML report, as inline SVG.

Every host with a certificate is one row: a dot at its `not_after` on one time axis shared by the
rows, with the scan's moment and the 14, 7 and 3 day marks drawn across. Expired certificates come
first, then the others by how soon they expire. The axis runs from a little before the earliest
`not_after` (at most `PAST_DAYS` back) to a little after the latest (at most `FUTURE_DAYS` on);
a certificate beyond either end is drawn at the end with an arrow. Past `MAX_ROWS` rows the
latest-expiring ones are counted, not drawn.

Pure data: `expiry_view` places every row and mark; `templates/charts.html.j2` draws them (and
escapes the untrusted host names, which come from CT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hsts_coverage.report.shapes import HostRecord

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


@dataclass(frozen=True, slots=True)
class Row:
    host: str
    band: str
    not_after: str
    days: str  # days left, two decimals
    when: str
    x: float
    y: float
    colour: str
    arrow: str | None  # an arrow at the axis' end the date lies beyond
    arrow_x: float


@dataclass(frozen=True, slots=True)
class Mark:
    key: str
    text: str
    x: float
    label_y: int
    colour: str


@dataclass(frozen=True, slots=True)
class ExpiryView:
    rows: tuple[Row, ...]
    marks: tuple[Mark, ...] = ()
    start: str = ""
    end: str = ""
    bottom: int = 0
    hidden: int = 0  # later-expiring hosts counted, not drawn
    label_w: int = _LABEL_W
    axis_w: int = _AXIS_W

    @property
    def width(self) -> int:
        return self.label_w + self.axis_w + 40

    @property
    def height(self) -> int:
        return self.bottom + 22


def expiry_view(hosts: Sequence[HostRecord], now: datetime) -> ExpiryView:
    """The view for one domain's host records, seen from `now` (the scan's start)."""
    certs = sorted(_certificates(hosts), key=lambda c: (c.not_after, c.host))
    if not certs:
        return ExpiryView(())
    shown, hidden = certs[:MAX_ROWS], len(certs) - MAX_ROWS
    start = max(min(certs[0].not_after, now) - timedelta(days=2), now - timedelta(days=PAST_DAYS))
    latest = max(certs[-1].not_after, now + timedelta(days=max(MARK_DAYS)))
    end = min(latest + timedelta(days=2), now + timedelta(days=FUTURE_DAYS))
    axis = _Axis(start, end)
    return ExpiryView(
        tuple(_row(axis, c, i, now) for i, c in enumerate(shown)),
        _marks(axis, now),
        axis.start.date().isoformat(),
        axis.end.date().isoformat(),
        _TOP + len(shown) * _ROW_H,
        hidden,
    )


def _certificates(hosts: Sequence[HostRecord]) -> list[_Cert]:
    found = []
    for host in hosts:
        certificate = (host.get("https") or {}).get("certificate") or {}
        not_after = certificate.get("not_after")
        try:
            moment = datetime.fromisoformat(not_after) if not_after else None
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            found.append(_Cert(host["host"], moment))
    return found


@dataclass(frozen=True, slots=True)
class _Axis:
    start: datetime
    end: datetime

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (moment - self.start).total_seconds() / span
        return round(_LABEL_W + _AXIS_W * min(max(share, 0.0), 1.0), 1)


def _marks(axis: _Axis, now: datetime) -> tuple[Mark, ...]:
    marks = [Mark("now", "now", axis.x(now), 12, "#1f2328")]
    for i, days in enumerate(sorted(MARK_DAYS)):  # labels staggered: the marks are close
        x = axis.x(now + timedelta(days=days))
        marks.append(Mark(str(days), f"{days} d", x, 24 - 12 * (i % 2), _COLOURS[str(days)]))
    return tuple(marks)


def _row(axis: _Axis, cert: _Cert, index: int, now: datetime) -> Row:
    y = _TOP + index * _ROW_H + _ROW_H / 2
    x = axis.x(cert.not_after)
    band = cert.band(now)
    clipped = cert.not_after < axis.start or cert.not_after > axis.end
    days = cert.days(now)
    right = x > _LABEL_W
    return Row(
        host=cert.host,
        band=band,
        not_after=cert.not_after.isoformat(),
        days=f"{days:.2f}",
        when=f"expired {-days:.1f} days ago" if days < 0 else f"expires in {days:.1f} days",
        x=x,
        y=y,
        colour=_COLOURS[band],
        arrow=(_RIGHT if right else _LEFT) if clipped else None,
        arrow_x=x + (8 if right else -8),
    )


_RIGHT, _LEFT = "\u2192", "\u2190"  # the arrows at the ends of the axis
