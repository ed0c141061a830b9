"""crt.sh: every certificate logged for a domain's subdomains, as JSON.

`GET {ct_url}/?q=%25.{domain}&output=json` answers a JSON array of certificate rows whose
`name_value` holds one name a line. crt.sh is often overloaded: it answers 502/503/504, 429, or an
HTML error page (sometimes with status 200), so every such answer is retried with exponential
backoff and jitter, honouring `Retry-After`, a bounded number of times. After the last attempt the
caller gets a `SourceError`, never an empty list. crt.sh silently caps large answers, so an answer
with `TRUNCATION_ROWS` or more matching rows is reported as possibly truncated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from hsts_coverage.sources.collect import NameCollector
from hsts_coverage.sources.jsonstream import ObjectStream, StreamError
from hsts_coverage.sources.retry import Retryable as _Retryable
from hsts_coverage.sources.retry import SourceError as SourceError  # callers catch crtsh's
from hsts_coverage.sources.retry import describe as _describe
from hsts_coverage.sources.retry import retry_after as _retry_after
from hsts_coverage.sources.retry import retrying

TRUNCATION_ROWS = 10_000
MAX_SPLIT = 200  # most slice queries after a capped answer (each waits --ct-interval)
MAX_PREFIX = 3  # characters of a slice's prefix
_NEXT_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789-."
_FIRST_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789*"
MAX_BODY = 512 * 1024 * 1024  # bytes; streamed row by row, but a larger answer is refused
SOURCE = "crt.sh"


@dataclass(frozen=True, slots=True)
class CtAnswer:
    rows: int  # matching rows, by crt.sh's own result_count where it gives one
    attempts: int
    truncated: bool
    notes: tuple[str, ...] = ()  # what was done about a capped answer


async def fetch(
    session: aiohttp.ClientSession,
    ct_url: str,
    collector: NameCollector,
    *,
    attempts: int,
    backoff: float = 1.0,
    query: str | None = None,
    exclude_expired: bool = False,
) -> CtAnswer:
    """Fetch every CT row for `query` (default: everything under the collector's domain) into the
    collector; SourceError after the last retry."""
    url = ct_url.rstrip("/") + "/"
    params = {"q": query or f"%.{collector.domain}", "output": "json"}
    if exclude_expired:
        params["exclude"] = "expired"
    try:
        async for attempt in retrying(attempts, backoff):
            with attempt:
                # A fresh collector per attempt: a failed attempt leaves nothing half-counted.
                found = NameCollector(collector.domain)
                count = await _get_rows(session, url, params, found)
    except _Retryable as exc:
        raise SourceError(f"{SOURCE}: {exc} (gave up after {attempts} attempts)") from None
    collector.merge(found)
    tries = attempt.retry_state.attempt_number
    return CtAnswer(rows=count, attempts=tries, truncated=count >= TRUNCATION_ROWS)


async def fetch_uncapped(
    session: aiohttp.ClientSession,
    ct_url: str,
    collector: NameCollector,
    *,
    attempts: int,
    backoff: float = 1.0,
    turn: Callable[[], Awaitable[None]] | None = None,
) -> CtAnswer:
    """`fetch`, and when crt.sh caps the answer, ask again in slices that together cover every
    name: crt.sh's `q` is a SQL LIKE pattern, so `a%.DOMAIN` ... `9%.DOMAIN` and `*%.DOMAIN`
    partition the names under the domain by their first character. A slice that is capped too is
    split by its next character, up to `MAX_PREFIX` characters and `MAX_SPLIT` queries; one still
    capped then is asked with `exclude=expired` for its current names, and the enumeration stays
    truncated. (Splitting by the sub-labels seen in the capped answer would miss the ones it left
    out, and claim a completeness it cannot prove.)
    """
    first = await fetch(session, ct_url, collector, attempts=attempts, backoff=backoff)
    if not first.truncated:
        return first
    pending = list(_FIRST_CHARACTERS)
    still_capped: list[str] = []
    rows, tries, queries = first.rows, first.attempts, 0
    while pending:
        prefix = pending.pop(0)
        if queries >= MAX_SPLIT:
            still_capped.append(prefix)
            continue
        query = f"{prefix}%.{collector.domain}"
        answer = await _ask(session, ct_url, collector, attempts, backoff, turn, query)
        queries += 1
        rows, tries = rows + answer.rows, tries + answer.attempts
        if not answer.truncated:
            continue
        if len(prefix) < MAX_PREFIX and prefix != "*":
            pending += [prefix + c for c in _NEXT_CHARACTERS]
            continue
        answer = await _ask(session, ct_url, collector, attempts, backoff, turn, query, True)
        queries, tries = queries + 1, tries + answer.attempts
        still_capped.append(prefix)
    notes = _split_notes(first, queries, still_capped)
    return CtAnswer(rows, tries, bool(still_capped), notes)


async def _ask(
    session: aiohttp.ClientSession,
    ct_url: str,
    collector: NameCollector,
    attempts: int,
    backoff: float,
    turn: Callable[[], Awaitable[None]] | None,
    query: str,
    exclude_expired: bool = False,
) -> CtAnswer:
    if turn is not None:
        await turn()
    return await fetch(
        session, ct_url, collector, attempts=attempts, backoff=backoff,
        query=query, exclude_expired=exclude_expired,
    )  # fmt: skip


def _split_notes(first: CtAnswer, queries: int, still_capped: list[str]) -> tuple[str, ...]:
    notes = [
        f"{SOURCE} capped its answer at {first.rows} rows: asked again in {queries} slices "
        "by the names' first characters"
    ]
    if still_capped:
        shown = ", ".join(f"{p}%" for p in still_capped[:5])
        more = " ..." if len(still_capped) > 5 else ""
        notes.append(
            f"{len(still_capped)} slice(s) still capped or not asked ({shown}{more}); names only "
            "in expired certificates (or in slices not asked) may be missing"
        )
    else:
        notes.append("every slice answered in full: the enumeration is complete")
    return tuple(notes)


async def _get_rows(
    session: aiohttp.ClientSession, url: str, params: dict[str, str], collector: NameCollector
) -> int:
    try:
        # No redirect is followed: the session may reach private addresses (the user's own CT
        # mirror), and a redirect could point it anywhere, 169.254.169.254 included.
        async with session.get(url, params=params, allow_redirects=False) as response:
            _check_status(response)
            return await _read_rows(response, collector)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise _Retryable(_describe(exc)) from exc
    except StreamError as exc:  # crt.sh's error pages, plain-text errors, cut-off answers
        raise _Retryable(f"not a JSON answer: {exc}") from exc


def _check_status(response: aiohttp.ClientResponse) -> None:
    status = response.status
    if status == 429 or status >= 500:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        raise _Retryable(f"HTTP {status} {response.reason or ''}".strip(), retry_after)
    if 300 <= status < 400:
        where = response.headers.get("Location", "?")[:200]
        raise SourceError(f"{SOURCE}: HTTP {status}: redirected to {where}; give its own URL")
    if status != 200:
        raise SourceError(f"{SOURCE}: HTTP {status} {response.reason or ''} from {response.url}")


async def _read_rows(response: aiohttp.ClientResponse, collector: NameCollector) -> int:
    """Stream the answer row by row into the collector; memory holds one row, not the answer."""
    stream = ObjectStream()
    size = count = objects = 0
    async for chunk in response.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_BODY:
            raise SourceError(f"{SOURCE}: answer larger than {MAX_BODY >> 20} MiB, refused")
        rows = _rows(stream.feed(chunk))
        objects += len(rows)
        count += add_rows(collector, rows)
    rows = _rows(stream.close())
    objects += len(rows)
    count += add_rows(collector, rows)
    if objects and not count:
        # e.g. {"error": "..."}: JSON, but not one certificate row in it
        raise _Retryable("the answer holds no certificate rows")
    return count


def _rows(objects: list[bytes]) -> list[Any]:
    rows: list[Any] = []
    for data in objects:
        try:
            rows.append(orjson.loads(data))
        except orjson.JSONDecodeError:
            rows.append(None)  # counted as a malformed row
    return rows


def add_rows(collector: NameCollector, rows: list[Any]) -> int:
    """Feed crt.sh rows to the collector; returns the number of matching rows crt.sh reported."""
    count = 0
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("name_value"), str):
            collector.rejected["malformed_row"] += 1
            continue
        result_count = row.get("result_count")
        count += result_count if isinstance(result_count, int) and result_count > 0 else 1
        collector.add_certificate(
            row["name_value"],
            issuer=row.get("issuer_name") if isinstance(row.get("issuer_name"), str) else None,
            not_before=parse_timestamp(row.get("not_before")),
            not_after=parse_timestamp(row.get("not_after")),
            source=SOURCE,
        )
    return count


def parse_timestamp(value: object) -> datetime | None:
    """crt.sh timestamps are UTC without a zone: `2024-01-02T03:04:05`."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _preview(body: bytes) -> str:
    text = body[:80].decode("utf-8", "replace")
    return repr(" ".join(text.split()) or "(empty)")
