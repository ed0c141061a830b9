"""Build the list of names to scan for one domain, from every source the user's access allows.

In this order: the apex and the names the user gave (`user`), zone files (`zone-file`),
certificate transparency (`crtsh`, `certspotter`), zone transfers (`axfr`), then the common
labels (`guess`), which need the others' wildcards. Each name keeps the sources that found it
(`Enumeration.found_by`), and each source says how it did (`Enumeration.per_source`).

A source that fails makes the enumeration FAILED: the names the others found are still scanned,
but the verdict cannot be SAFE without the missing ones. The enumeration is `authoritative` when
a zone file or a transfer gave the domain's own zone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import (
    DnsStatus,
    Enumeration,
    EnumerationStatus,
    FoundBy,
    SourceReport,
    ZoneNames,
)
from hsts_coverage.resolve import Resolver
from hsts_coverage.rules.names import wildcard_probe_name
from hsts_coverage.sources import certspotter, crtsh, guess
from hsts_coverage.sources.collect import NameCollector
from hsts_coverage.sources.retry import SourceError


@dataclass(slots=True)
class _Progress:
    """What the sources asked so far have said."""

    collector: NameCollector
    reports: list[tuple[FoundBy, EnumerationStatus, str]] = field(default_factory=list)
    rows: int = 0
    attempts: int = 0
    truncated: bool = False
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # Enumeration.sources, as before
    authoritative: bool = False  # set only by a zone file or a transfer of the domain's zone

    def report(self, source: FoundBy, status: EnumerationStatus, detail: str = "") -> None:
        self.reports.append((source, status, detail))
        if status is EnumerationStatus.FAILED:
            self.errors.append(detail or f"{source} failed")
        elif status is not EnumerationStatus.SKIPPED:
            self.answered.append(_LEGACY_NAMES.get(source, source.value))


_LEGACY_NAMES = {FoundBy.CRTSH: crtsh.SOURCE, FoundBy.CERTSPOTTER: certspotter.SOURCE}


async def enumerate_domain(
    domain: str,
    *,
    config: ScanConfig,
    session: aiohttp.ClientSession | None,
    turn: Callable[[], Awaitable[None]] | None = None,
    resolver: Resolver | None = None,
    permits: Callable[[str], bool] = lambda address: True,
) -> Enumeration:
    """Every name to probe for `domain`.

    `session` None skips certificate transparency; `resolver` None skips the sources that need
    DNS (transfers with `auto`, common labels). `turn` is awaited before each CT source is asked
    (politeness between requests); `permits` is the address policy for name servers found in DNS.
    """
    progress = _Progress(NameCollector(domain))
    _user_names(progress, config)
    _zone_files(progress, config)
    if session is not None:
        await _ct(progress, config, session, turn)
    if config.axfr_servers or config.axfr_auto:
        await _axfr(progress, config, resolver, permits)
    if config.guess and resolver is not None:
        await _guess(progress, config, resolver)
    return _enumeration(progress, used_ct=session is not None)


def _user_names(progress: _Progress, config: ScanConfig) -> None:
    collector = progress.collector
    collector.add_name(collector.domain)
    for name in config.extra_names:
        collector.add_name(name)
    progress.report(FoundBy.USER, EnumerationStatus.COMPLETE)


def _zone_files(progress: _Progress, config: ScanConfig) -> None:
    mine = [names for domain, names in config.zones if domain == progress.collector.domain]
    for names in mine:
        _add_zone(progress, names, FoundBy.ZONE_FILE)
    if mine:
        progress.report(FoundBy.ZONE_FILE, EnumerationStatus.COMPLETE)


def _add_zone(progress: _Progress, names: ZoneNames, source: FoundBy) -> None:
    for name in names.names:
        progress.collector.add_name(name, source)
    if names.covers(progress.collector.domain):
        progress.authoritative = True
    for sub in names.delegations:
        progress.notes.append(
            f"{sub} is delegated to other name servers: its names are not in the {source} "
            f"data of {names.origin} (give its zone too)"
        )


async def _ct(
    progress: _Progress,
    config: ScanConfig,
    session: aiohttp.ClientSession,
    turn: Callable[[], Awaitable[None]] | None,
) -> None:
    for source in config.sources:
        if turn is not None:
            await turn()
        found_by = FoundBy.CRTSH if source == crtsh.SOURCE else FoundBy.CERTSPOTTER
        try:
            answer = await _FETCHERS[source](session, config, progress.collector, turn)
        except SourceError as exc:
            progress.report(found_by, EnumerationStatus.FAILED, str(exc))
            continue
        progress.rows += answer.rows
        progress.attempts += answer.attempts
        progress.truncated = progress.truncated or answer.truncated
        progress.notes.extend(answer.notes)
        status = EnumerationStatus.TRUNCATED if answer.truncated else EnumerationStatus.COMPLETE
        progress.report(found_by, status)


async def _axfr(
    progress: _Progress,
    config: ScanConfig,
    resolver: Resolver | None,
    permits: Callable[[str], bool],
) -> None:
    from hsts_coverage.sources import axfr  # loads dnspython (5 MiB): only zone transfers need it

    domain = progress.collector.domain
    servers = list(config.axfr_servers)
    if config.axfr_auto and resolver is not None:
        found, notes = await axfr.auto_servers(domain, resolver, permits)
        servers += found
        progress.notes.extend(notes)
    names, notes = await axfr.transfer_any(domain, servers, seconds=config.timeout)
    progress.notes.extend(notes)
    if names is None:
        why = "no server transferred the zone" if servers else "no name server to ask"
        progress.report(FoundBy.AXFR, EnumerationStatus.FAILED, f"zone transfer: {why}")
        return
    _add_zone(progress, names, FoundBy.AXFR)
    progress.report(FoundBy.AXFR, EnumerationStatus.COMPLETE, f"{names.records} records")


async def _guess(progress: _Progress, config: ScanConfig, resolver: Resolver) -> None:
    domain = progress.collector.domain
    labels = config.guess_labels if config.guess_labels is not None else guess.shipped_labels()
    wildcard = await _wildcard_addresses(resolver, domain)
    names = guess.candidates(labels, domain)
    found = await guess.guess(
        names, resolver, wildcard=wildcard, concurrency=config.guess_concurrency
    )
    kept = await _outside_deeper_wildcards(resolver, domain, found.found, found.addresses)
    for name in kept:
        progress.collector.add_name(name, FoundBy.GUESS)
    detail = f"{len(kept)} of {found.tried} common labels resolve"
    answered_by_wildcard = found.wildcard_answered + len(found.found) - len(kept)
    if answered_by_wildcard:
        detail += f"; {answered_by_wildcard} answered only by wildcard DNS (not counted)"
    if found.errors:
        detail += f"; {found.errors} could not be resolved (DNS errors)"
        progress.notes.append(f"common labels: {found.errors} gave DNS errors and were not checked")
    progress.report(FoundBy.GUESS, EnumerationStatus.COMPLETE, detail)


async def _wildcard_addresses(resolver: Resolver, zone: str) -> frozenset[str]:
    """The addresses a random name under `zone` resolves to (empty: no wildcard DNS)."""
    answer = await resolver.resolve(wildcard_probe_name(zone))
    return frozenset(answer.addresses) if answer.status is DnsStatus.RESOLVED else frozenset()


async def _outside_deeper_wildcards(
    resolver: Resolver,
    domain: str,
    names: tuple[str, ...],
    addresses: Mapping[str, tuple[str, ...]],
) -> list[str]:
    """Drop guessed names deeper than one label (`autoconfig.blog`) that a wildcard of their
    parent answers: one random-label probe per parent zone that has such names."""
    kept: list[str] = []
    wildcards: dict[str, frozenset[str]] = {}
    for name in names:
        parent = name.split(".", 1)[1]
        if parent == domain:
            kept.append(name)
            continue
        if parent not in wildcards:
            wildcards[parent] = await _wildcard_addresses(resolver, parent)
        if not (wildcards[parent] and set(addresses[name]) <= wildcards[parent]):
            kept.append(name)
    return kept


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


def _enumeration(progress: _Progress, *, used_ct: bool) -> Enumeration:
    collector = progress.collector
    if progress.errors:
        status = EnumerationStatus.FAILED
    elif progress.truncated:
        status = EnumerationStatus.TRUNCATED
    elif used_ct or progress.authoritative:
        status = EnumerationStatus.COMPLETE
    else:
        status = EnumerationStatus.SKIPPED  # only the user's names (and common labels)
    per_source = tuple(
        SourceReport(source, source_status, collector.count(source), detail)
        for source, source_status, detail in progress.reports
    )
    return Enumeration(
        domain=collector.domain,
        status=status,
        names=collector.names(),
        ct=collector.ct_facts(),
        wildcards=collector.wildcards(),
        sources=tuple(dict.fromkeys(progress.answered)),
        rows=progress.rows,
        attempts=progress.attempts,
        rejected=dict(collector.rejected),
        error="; ".join(progress.errors) or None,
        notes=tuple(progress.notes),
        found_by=collector.found_by(),
        per_source=per_source,
        authoritative=progress.authoritative,
    )
