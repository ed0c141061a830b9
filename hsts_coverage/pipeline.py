"""asyncio orchestration only: enumerate -> resolve -> probe -> verdict, streamed as events.

`scan(config)` is an async generator of events: `ScanStarted`, then per domain `DomainStarted`,
one `HostResult` per name as soon as that host is done (in completion order), and the domain's
`DomainSummary`. A bounded pool of `config.concurrency` workers pulls names; results pass through a
bounded queue, so memory does not grow with the number of hosts. Cancelling the consumer cancels
every worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import DomainSummary, Enumeration, Finding, HostResult
from hsts_coverage.probe import Prober
from hsts_coverage.reasons import Reason
from hsts_coverage.resolve import AddressPolicy, Resolver, ScanResolver
from hsts_coverage.sources.enumerate import enumerate_domain
from hsts_coverage.tls import verified_context
from hsts_coverage.verdict import Tally, judge_dns, judge_probe, verdict_of


@dataclass(frozen=True, slots=True)
class ScanStarted:
    started_at: datetime


@dataclass(frozen=True, slots=True)
class DomainStarted:
    enumeration: Enumeration


Event = ScanStarted | DomainStarted | HostResult | DomainSummary


@dataclass(frozen=True, slots=True)
class _WorkerDone:
    pass


class _Scanner:
    """What every worker shares during one scan."""

    def __init__(self, config: ScanConfig, resolver: Resolver, prober: Prober, now: datetime):
        self.config = config
        self.resolver = resolver
        self.prober = prober
        self.policy = AddressPolicy(config.allow_private, config.allow_cidrs)
        self.now = now

    async def check(self, name: str, enumeration: Enumeration) -> HostResult:
        started = time.perf_counter()
        dns = await self.resolver.resolve(name)
        findings = judge_dns(dns)
        probe = None
        if not findings:
            permitted = [a for a in dns.addresses if self.policy.permits(a)]
            if permitted:
                probe = await self.prober.probe(name, permitted[0], enumeration.domain)
                findings = judge_probe(probe, now=self.now, expiry_days=self.config.expiry_days)
            else:
                detail = f"{', '.join(dns.addresses)}: not a public address"
                findings = (Finding(Reason.PRIVATE_ADDRESS, detail),)
        return HostResult(
            name=name,
            domain=enumeration.domain,
            dns=dns,
            probe=probe,
            verdict=verdict_of(findings),
            ct=enumeration.ct.get(name),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )


async def scan(config: ScanConfig) -> AsyncIterator[Event]:
    """Scan every domain of `config`, yielding events as they happen."""
    now = datetime.now(UTC)
    yield ScanStarted(now)
    async with AsyncExitStack() as stack:
        resolver = Resolver(
            config.resolvers, timeout=min(config.timeout, 5.0), attempts=config.dns_attempts
        )
        stack.push_async_callback(resolver.close)
        ct_session = await stack.enter_async_context(_ct_session(config, resolver))
        prober = Prober(
            ssl_context=verified_context(config.ca_bundle),
            resolver=ScanResolver(
                resolver, AddressPolicy(config.allow_private, config.allow_cidrs)
            ),
            timeout=config.timeout,
            max_redirects=config.max_redirects,
            user_agent=config.user_agent,
        )
        stack.push_async_callback(prober.close)
        scanner = _Scanner(config, resolver, prober, now)
        for domain in config.domains:
            enumeration = await enumerate_domain(
                domain,
                session=ct_session if config.use_ct else None,
                ct_url=config.ct_url,
                ct_attempts=config.ct_attempts,
                extra_names=config.extra_names,
            )
            yield DomainStarted(enumeration)
            tally = Tally(domain)
            async for result in _check_all(scanner, enumeration):
                tally.add(result)
                yield result
            yield tally.summary(enumeration)


def _ct_session(config: ScanConfig, resolver: Resolver) -> aiohttp.ClientSession:
    # The CT source may be an internal mirror, so the private-address guard does not apply, but
    # its name is still resolved by the scan's own name servers.
    connector = aiohttp.TCPConnector(resolver=ScanResolver(resolver, AddressPolicy(True)))
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": config.user_agent, "Accept": "application/json"},
        timeout=aiohttp.ClientTimeout(total=config.ct_timeout),
        trust_env=False,
    )


async def _check_all(scanner: _Scanner, enumeration: Enumeration) -> AsyncIterator[HostResult]:
    """Run the worker pool over the domain's names; yield results in completion order."""
    names: Iterator[str] = iter(enumeration.names)
    workers = min(scanner.config.concurrency, len(enumeration.names))
    results: asyncio.Queue[HostResult | _WorkerDone | BaseException] = asyncio.Queue(
        maxsize=max(1, workers)
    )

    async def work() -> None:
        try:
            for name in names:  # one shared iterator: each name goes to exactly one worker
                await results.put(await scanner.check(name, enumeration))
        except Exception as exc:  # a bug: hand it to the consumer, which re-raises it
            await results.put(exc)
        else:
            await results.put(_WorkerDone())

    tasks = [asyncio.create_task(work(), name=f"worker-{i}") for i in range(workers)]
    try:
        done = 0
        while done < workers:
            item = await results.get()
            if isinstance(item, _WorkerDone):
                done += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
