"""Build the list of names to scan for one domain: the apex, names the user gave, CT names."""

from __future__ import annotations

import aiohttp

from hsts_coverage.models import Enumeration, EnumerationStatus
from hsts_coverage.sources import crtsh
from hsts_coverage.sources.collect import NameCollector


async def enumerate_domain(
    domain: str,
    *,
    session: aiohttp.ClientSession | None,
    ct_url: str,
    ct_attempts: int,
    extra_names: tuple[str, ...] = (),
) -> Enumeration:
    """Every name to probe for `domain`. `session` None skips certificate transparency."""
    collector = NameCollector(domain)
    collector.add_name(domain)
    for name in extra_names:
        collector.add_name(name)
    if session is None:
        return _enumeration(collector, EnumerationStatus.SKIPPED, sources=("user",))
    try:
        answer = await crtsh.fetch(session, ct_url, collector, attempts=ct_attempts)
    except crtsh.SourceError as exc:
        return _enumeration(collector, EnumerationStatus.FAILED, error=str(exc))
    status = EnumerationStatus.TRUNCATED if answer.truncated else EnumerationStatus.COMPLETE
    return _enumeration(
        collector, status, rows=answer.rows, attempts=answer.attempts, sources=(crtsh.SOURCE,)
    )


def _enumeration(
    collector: NameCollector,
    status: EnumerationStatus,
    *,
    rows: int = 0,
    attempts: int = 0,
    sources: tuple[str, ...] = (),
    error: str | None = None,
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
    )
