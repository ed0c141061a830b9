"""Cert Spotter (SSLMate): every unexpired certificate issuance for a domain and its subdomains.

`GET {api_url}/v1/issuances?domain=D&include_subdomains=true&expand=dns_names&expand=issuer`
answers a JSON array of issuance objects (precertificate and certificate coalesced into one):

    {"id": "1234", "dns_names": ["a.example.com", "*.example.com"],
     "issuer": {"friendly_name": "Let's Encrypt", "name": "C=US, O=Let's Encrypt, CN=R3"},
     "not_before": "2026-01-02T03:04:05Z", "not_after": "2026-04-02T03:04:05Z", ...}

Ids are opaque strings, sent back as given. The next page is asked for with `&after=<the last id
of this page>`; an empty array ends the listing. At most `max_pages` pages are read: a server
that never answers an empty page is a `SourceError`, and so is one whose page does not move past
the id it was asked to go after.

Errors come as `{"code": "...", "message": "..."}`. A page that fails with 429, 5xx, a connection
error, a time-out or a broken answer is asked for again, with the same `after`, up to `attempts`
times (so `attempts` bounds the tries per page), waiting as Retry-After says or backing off
exponentially. The page is retried, not the listing: the earlier pages are already whole, and
asking for them again would only spend the rate limit. Any other 4xx (a bad key, a domain the
key may not query) is a `SourceError` at once, carrying the server's code and message; a
redirect is one too (the key must not follow it anywhere).

No failure leaves half a result: a page is read and parsed whole before any of it is counted, and
the names go into a collector of this call, merged into the caller's only after the last page.

`api_key`, when given, is sent as `Authorization: Bearer KEY`; it appears in no message or log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from hsts_coverage.sources.collect import NameCollector
from hsts_coverage.sources.crtsh import parse_timestamp
from hsts_coverage.sources.jsonstream import describe_body
from hsts_coverage.sources.retry import Retryable, SourceError, describe, retry_after, retrying

log = logging.getLogger(__name__)

SOURCE = "certspotter"
DEFAULT_API_URL = "https://api.certspotter.com"
ISSUANCES_PATH = "/v1/issuances"
KEY_ENV = "HSTS_COVERAGE_CERTSPOTTER_KEY"  # where the CLI reads the API key from
MAX_PAGES = 10_000
MAX_PAGE_BODY = 16 * 1024 * 1024  # bytes; a page holds at most a few hundred issuances
_MESSAGE_CHARS = 200  # of a server's error message, in our one-line error


@dataclass(frozen=True, slots=True)
class CertSpotterAnswer:
    """Shaped like `crtsh.CtAnswer`, so a caller can treat both alike."""

    rows: int  # issuances read
    attempts: int  # requests made, retries included
    pages: int  # pages read, the final empty one included
    truncated: bool = False  # Cert Spotter pages to the end of the listing: never capped
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Pager:
    session: aiohttp.ClientSession
    url: str
    headers: dict[str, str] = field(repr=False)  # holds the key
    domain: str
    attempts: int
    backoff: float

    async def page(self, after: str | None) -> tuple[list[Any], int]:
        """One page of issuances, retried; and how many requests it took."""
        try:
            async for attempt in retrying(self.attempts, self.backoff):
                with attempt:
                    issuances = await _get_page(
                        self.session, self.url, self._params(after), self.headers
                    )
        except Retryable as exc:
            where = f"after id {after}" if after else "the first page"
            raise SourceError(
                f"{SOURCE}: {exc} ({where}; gave up after {self.attempts} attempts)"
            ) from None
        return issuances, attempt.retry_state.attempt_number

    def _params(self, after: str | None) -> list[tuple[str, str]]:
        params = [("domain", self.domain), ("include_subdomains", "true")]
        params += [("expand", "dns_names"), ("expand", "issuer")]
        return [*params, ("after", after)] if after is not None else params


async def fetch(
    session: aiohttp.ClientSession,
    api_url: str,
    collector: NameCollector,
    *,
    attempts: int,
    api_key: str | None = None,
    backoff: float = 1.0,
    max_pages: int = MAX_PAGES,
) -> CertSpotterAnswer:
    """Fetch every issuance for the collector's domain into it; SourceError when the listing
    cannot be read to its end (then the collector is left as it was)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = api_url.rstrip("/") + ISSUANCES_PATH
    pager = _Pager(session, url, headers, collector.domain, attempts, backoff)
    try:
        answer, found = await _read_listing(pager, max_pages)
    except SourceError as exc:
        raise SourceError(_redact(str(exc), api_key)) from None
    collector.merge(found)
    return answer


async def _read_listing(pager: _Pager, max_pages: int) -> tuple[CertSpotterAnswer, NameCollector]:
    found = NameCollector(pager.domain)
    after: str | None = None
    rows = requests = 0
    for page in range(1, max_pages + 1):
        issuances, tries = await pager.page(after)
        requests += tries
        if not issuances:
            log.debug("%s: %s: %d issuances in %d pages", SOURCE, pager.domain, rows, page)
            return CertSpotterAnswer(rows=rows, attempts=requests, pages=page), found
        added = add_issuances(found, issuances)
        if not added:
            raise SourceError(f"{SOURCE}: a page of issuances without dns_names ({pager.url})")
        rows += added
        after = _next_after(issuances, after)
    raise SourceError(
        f"{SOURCE}: the listing did not end after {max_pages} pages ({rows} issuances); stopped"
    )


def _next_after(issuances: list[Any], after: str | None) -> str:
    """The id to ask for the next page after: the page's last id."""
    ids: list[str] = [
        i["id"] for i in issuances if isinstance(i, dict) and isinstance(i.get("id"), str)
    ]
    if not ids:
        raise SourceError(f"{SOURCE}: a page without issuance ids; the next cannot be asked for")
    if ids[-1] == after:
        raise SourceError(f"{SOURCE}: the listing does not move past id {after}; stopped")
    return ids[-1]


async def _get_page(
    session: aiohttp.ClientSession,
    url: str,
    params: list[tuple[str, str]],
    headers: dict[str, str],
) -> list[Any]:
    try:
        get = session.get(url, params=params, headers=headers, allow_redirects=False)
        async with get as response:
            body = await _read_body(response)
            _check_status(response, body)
            return _issuances(body)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise Retryable(describe(exc)) from exc


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    # A page is small: read it whole, but never more than MAX_PAGE_BODY of it.
    if (response.content_length or 0) > MAX_PAGE_BODY:
        raise SourceError(_too_large())
    body = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > MAX_PAGE_BODY:
            raise SourceError(_too_large())
    return bytes(body)


def _too_large() -> str:
    return f"{SOURCE}: a page larger than {MAX_PAGE_BODY >> 20} MiB, refused"


def _check_status(response: aiohttp.ClientResponse, body: bytes) -> None:
    status = response.status
    if status == 200:
        return
    what = f"HTTP {status} {response.reason or ''}".strip() + _error_object(body)
    if status == 429 or status >= 500:
        raise Retryable(what, retry_after(response.headers.get("Retry-After")))
    if 300 <= status < 400:
        where = response.headers.get("Location", "?")
        raise SourceError(f"{SOURCE}: {what}: redirected to {where}; give the API's own URL")
    raise SourceError(f"{SOURCE}: {what} from {response.url}")


def _error_object(body: bytes) -> str:
    """`: code: message` from Cert Spotter's error object, or "" when the body is not one."""
    error = _json(body)
    if not isinstance(error, dict):
        return ""
    parts = [str(error[key]) for key in ("code", "message") if error.get(key)]
    text = " ".join(": ".join(parts).split())  # one line
    return f": {text[:_MESSAGE_CHARS]}" if text else ""


def _issuances(body: bytes) -> list[Any]:
    """The page's issuance objects; an answer that is not an array is worth another try."""
    page = _json(body)
    if isinstance(page, list):
        return page
    if isinstance(page, dict) and _error_object(body):
        raise Retryable(f"an error with HTTP 200{_error_object(body)}")
    raise Retryable(f"not a JSON array: {_preview(body)}")


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def add_issuances(collector: NameCollector, issuances: list[Any]) -> int:
    """Feed Cert Spotter issuances to the collector; returns how many were well-formed."""
    count = 0
    for issuance in issuances:
        names = issuance.get("dns_names") if isinstance(issuance, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            collector.rejected["malformed_row"] += 1
            continue
        count += 1
        collector.add_certificate(
            "\n".join(names),
            issuer=issuer_name(issuance.get("issuer")),
            not_before=parse_timestamp(issuance.get("not_before")),
            not_after=parse_timestamp(issuance.get("not_after")),
            source=SOURCE,
        )
    return count


def issuer_name(issuer: object) -> str | None:
    """The issuer's distinguished name, as crt.sh's `issuer_name` gives it (so that one issuer
    named by both sources is listed once), else its friendly name."""
    if not isinstance(issuer, dict):
        return None
    for key in ("name", "friendly_name"):
        value = issuer.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _redact(text: str, key: str | None) -> str:
    # A server may echo what it was sent ("invalid key ..."): the key never reaches a message.
    return text.replace(key, "[redacted]") if key else text


def _preview(body: bytes) -> str:
    return describe_body(body)
