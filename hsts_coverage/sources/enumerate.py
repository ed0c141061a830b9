"""Build the list of names to scan for one domain: the apex, names the user gave, CT names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import Enumeration, EnumerationStatus
from hsts_coverage.sources import certspotter, crtsh
from hsts_coverage.sources.collect import NameCollector
from hsts_coverage.sources.retry import SourceError


async def enumerate_domain(
    domain: str,
    *,
    config: ScanConfig,
    session: aiohttp.ClientSession | None,
    turn: Callable[[], Awaitable[None]] | None = None,
) -> Enumeration:
    """Every name to probe for `domain`: the apex, the user's names and every chosen CT source's.

    `session` None skips certificate transparency. `turn` is awaited before each source is
    asked (politeness between requests). If any source fails, the enumeration is FAILED: the names
    the others found are still scanned, but the verdict cannot be SAFE without the missing ones.
    """
    collector = NameCollector(domain)
    collector.add_name(domain)
    for name in config.extra_names:
        collector.add_name(name)
    if session is None:
        return _enumeration(collector, EnumerationStatus.SKIPPED, sources=("user",))
    rows = attempts = 0
    truncated = False
    answered: list[str] = []
    errors: list[str] = []
    notes: tuple[str, ...] = ()
    for source in config.sources:
        if turn is not None:
            await turn()
        try:
            answer = await _FETCHERS[source](session, config, collector, turn)
        except SourceError as exc:
            errors.append(str(exc))
            continue
        rows, attempts = rows + answer.rows, attempts + answer.attempts
        truncated = truncated or answer.truncated
        notes += answer.notes
        answered.append(source)
    status = EnumerationStatus.TRUNCATED if truncated else EnumerationStatus.COMPLETE
    if errors:
        status = EnumerationStatus.FAILED
    return _enumeration(
        collector,
        status,
        rows=rows,
        attempts=attempts,
        sources=tuple(answered),
        error="; ".join(errors) or None,
        notes=notes,
    )


class _Answer(Protocol):
    @property
    def rows(self) -> int: ...
    @property
    def attempts(self) -> int: ...
    @property
    def truncated(self) -> bool: ...
    @property
    def notes(self) -> tuple[str, ...]: ...


async def _crtsh(
    session: aiohttp.ClientSession,
    config: ScanConfig,
    collector: NameCollector,
    turn: Callable[[], Awaitable[None]] | None,
) -> _Answer:
    return await crtsh.fetch_uncapped(
        session, config.ct_url, collector, attempts=config.ct_attempts, turn=turn
    )


async def _certspotter(
    session: aiohttp.ClientSession,
    config: ScanConfig,
    collector: NameCollector,
    turn: Callable[[], Awaitable[None]] | None,
) -> _Answer:
    return await certspotter.fetch(
        session,
        config.certspotter_url,
        collector,
        attempts=config.ct_attempts,
        api_key=config.certspotter_key,
    )


_Fetcher = Callable[
    [aiohttp.ClientSession, ScanConfig, NameCollector, Callable[[], Awaitable[None]] | None],
    Awaitable[_Answer],
]
_FETCHERS: dict[str, _Fetcher] = {crtsh.SOURCE: _crtsh, certspotter.SOURCE: _certspotter}
SOURCES = tuple(_FETCHERS)


def _enumeration(
    collector: NameCollector,
    status: EnumerationStatus,
    *,
    rows: int = 0,
    attempts: int = 0,
    sources: tuple[str, ...] = (),
    error: str | None = None,
    notes: tuple[str, ...] = (),
) -> Enumeration:
    return Enumeration(
        domain=collector.domain,
        status=status,
        names=collector.names(),
        ct=collector.ct_facts(),
        wildcards=collector.wildcards(),
        sources=sources,
        rows=rows,
        attempts=attempts,
        rejected=dict(collector.rejected),
        error=error,
        notes=notes,
    )
