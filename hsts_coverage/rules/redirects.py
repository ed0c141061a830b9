"""Pure: where a browser that enforces HSTS on a domain goes next when it meets a redirect.

RFC 6797 section 8.3: for a Known HSTS Host, every `http://` URI is rewritten to `https://` (port 80
becomes 443) before the request is sent. With includeSubDomains every name under the domain is
such a host; names outside it are not, so the walk stops there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ada_url import URL

from hsts_coverage.models import Hop, RedirectWalk, WalkEnd
from hsts_coverage.reasons import Reason
from hsts_coverage.rules.failures import hop_reason
from hsts_coverage.rules.names import in_scope

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Chrome's limit (net::URLRequest, kMaxRedirects): the 21st redirect is ERR_TOO_MANY_REDIRECTS.
MAX_REDIRECTS = 20


class StepKind(StrEnum):
    FETCH = "fetch"  # a covered https:// URL to request next
    LEFT_SCOPE = "left_scope"  # outside the domain: HSTS does not follow it there
    NOT_HTTP = "not_http"  # another scheme (mailto:, an app's): nothing for HSTS to follow
    INVALID = "invalid"  # not a URL by the WHATWG rules: Chrome's ERR_INVALID_REDIRECT


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    url: str
    upgraded: bool = False
    detail: str = ""


def is_redirect(status: int | None) -> bool:
    return status in REDIRECT_STATUSES


def resolve_location(current: str, location: str) -> URL | None:
    """`location` resolved against `current` as browsers do (the WHATWG URL standard, by ada),
    without fragment and credentials; None when a browser refuses it (ERR_INVALID_REDIRECT)."""
    try:
        target = URL(location, base=current)
    except ValueError:
        return None
    target.hash = ""
    return _without_userinfo(target)


def next_step(current: str, location: str, domain: str) -> Step:
    """Resolve `location` against `current` and apply the HSTS upgrade for covered hosts."""
    target = resolve_location(current, location)
    if target is None:
        detail = f"ERR_INVALID_REDIRECT: {location!r} is not a URL a browser follows"
        return Step(StepKind.INVALID, location, detail=detail)
    host = target.hostname.rstrip(".")
    if target.protocol not in ("http:", "https:") or not host:
        return Step(StepKind.NOT_HTTP, target.href, detail="Location is not an http(s) URL")
    if not in_scope(host, domain):
        return Step(StepKind.LEFT_SCOPE, target.href)
    if target.protocol == "http:":
        target.protocol = "https:"  # RFC 6797 section 8.3: port 80 (the default) becomes 443
        return Step(StepKind.FETCH, target.href, True)
    return Step(StepKind.FETCH, target.href)


def visit_key(url: str) -> str:
    """URLs that a browser treats as the same request (default port, no fragment)."""
    parsed = resolve_location(url, url)
    return parsed.href if parsed is not None else url


def without_credentials(location: str) -> str:
    """A Location as it may be written into a report: any user:password@ removed."""
    try:
        url = URL(location)
    except ValueError:
        return _USERINFO.sub(r"\1", location)
    if not url.username and not url.password:
        return location
    return _without_userinfo(url).href


def _without_userinfo(url: URL) -> URL:
    # Credentials in a Location are neither sent nor written into reports.
    if url.username or url.password:
        url.username = ""
        url.password = ""
    return url


# [scheme:]//user:pass@host -> [scheme:]//host, for strings that are not absolute URLs
_USERINFO = re.compile(r"^((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//)[^/?#@]*@")


# -- where a walk ends: the rules the prober's redirect walk applies at each step --------------


def step_end(step: Step, hops: tuple[Hop, ...]) -> RedirectWalk | None:
    """The end of the walk at a step that leaves HSTS's reach, or None to follow it."""
    if step.kind is StepKind.LEFT_SCOPE:
        return RedirectWalk(WalkEnd.LEFT_SCOPE, hops, step.url)
    if step.kind is StepKind.NOT_HTTP:
        return RedirectWalk(WalkEnd.PAGE, hops, step.detail)
    if step.kind is StepKind.INVALID:
        return RedirectWalk(WalkEnd.INVALID_REDIRECT, hops, step.detail)
    return None


def cycle_end(hops: tuple[Hop, ...], location: str, url: str, upgraded: bool) -> RedirectWalk:
    """A step back to a URL already visited: a loop, or HSTS rewriting http:// to a seen URL."""
    if upgraded:
        detail = f"redirects to {location}, which HSTS rewrites to {url}, already visited"
        return RedirectWalk(WalkEnd.TO_HTTP, hops, detail)
    return RedirectWalk(WalkEnd.LOOP, hops, f"redirects back to {url}")


def failed_hop_end(hops: tuple[Hop, ...], hop: Hop) -> RedirectWalk:
    """A target that failed: it breaks, unless it is on a private address (not followed)."""
    reason = hop_reason(hop.failure) if hop.failure else None
    detail = hop.failure.detail if hop.failure else ""
    if reason is Reason.PRIVATE_ADDRESS:
        return RedirectWalk(WalkEnd.UNVERIFIED, hops, f"{hop.url}: {detail}")
    failure = reason.value if reason else "failed"
    return RedirectWalk(WalkEnd.TARGET_BREAKS, hops, f"{hop.url}: {failure} ({detail})")


def too_many_end(hops: tuple[Hop, ...], max_redirects: int) -> RedirectWalk:
    return RedirectWalk(WalkEnd.TOO_MANY, hops, f"more than {max_redirects} redirects")
