"""Pure: where a browser that enforces HSTS on a domain goes next when it meets a redirect.

RFC 6797 section 8.3: for a Known HSTS Host, every `http://` URI is rewritten to `https://` (port 80
becomes 443) before the request is sent. With includeSubDomains every name under the domain is
such a host; names outside it are not, so the walk stops there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from yarl import URL

from hsts_coverage.names import in_scope

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class StepKind(StrEnum):
    FETCH = "fetch"  # a covered https:// URL to request next
    LEFT_SCOPE = "left_scope"  # outside the domain: HSTS does not follow it there
    INVALID = "invalid"  # a Location no browser can follow


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    url: str
    upgraded: bool = False
    detail: str = ""


def is_redirect(status: int | None) -> bool:
    return status in REDIRECT_STATUSES


def next_step(current: str, location: str, domain: str) -> Step:
    """Resolve `location` against `current` and apply the HSTS upgrade for covered hosts."""
    try:
        # Credentials in a Location are neither sent nor written into reports.
        target = URL(current).join(URL(location.strip())).with_fragment(None).with_user(None)
    except (ValueError, TypeError) as exc:
        return Step(StepKind.INVALID, location, detail=f"malformed Location: {exc}")
    host = (target.host or "").lower().rstrip(".")
    if target.scheme not in ("http", "https") or not host:
        return Step(StepKind.INVALID, str(target), detail="Location is not an http(s) URL")
    if not in_scope(host, domain):
        return Step(StepKind.LEFT_SCOPE, str(target))
    if target.scheme == "http":
        port = 443 if target.port in (None, 80) else target.port
        return Step(StepKind.FETCH, str(target.with_scheme("https").with_port(port)), True)
    return Step(StepKind.FETCH, str(target))


def visit_key(url: str) -> str:
    """URLs that a browser treats as the same request (default port, no fragment)."""
    parsed = URL(url)
    return str(parsed.with_fragment(None).with_port(parsed.port))


def without_credentials(location: str) -> str:
    """A Location as it may be written into a report: any user:password@ removed."""
    try:
        url = URL(location)
    except (ValueError, TypeError):
        return _USERINFO.sub(r"\1", location)
    if url.user is None and url.password is None:
        return location
    return str(url.with_user(None))


# scheme://user:pass@host -> scheme://host, for strings yarl cannot parse
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@]*@")
