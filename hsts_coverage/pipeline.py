"""asyncio orchestration only: enumerate -> resolve -> probe -> verdict, streamed as events.

`scan(config)` is an async generator of events: `ScanStarted`, then per domain `DomainStarted`,
one `HostResult` per name as soon as that host is done (in completion order), and the domain's
`DomainSummary`. A bounded pool of `config.concurrency` workers pulls names; results pass through a
bounded queue, so memory does not grow with the number of hosts. Cancelling the consumer cancels
every worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp

from hsts_coverage.apex import check_apex
from hsts_coverage.config import ScanConfig
from hsts_coverage.limits import ConnectionLimits
from hsts_coverage.models import (
    AddressFindings,
    DnsAnswer,
    DnsStatus,
    DomainSummary,
    Enumeration,
    EnumerationStatus,
    Finding,
    HostResult,
    Probe,
    WildcardZone,
)
from hsts_coverage.names import in_shard
from hsts_coverage.preload import ApexReport
from hsts_coverage.probe import Prober
from hsts_coverage.reasons import Reason
from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolver, ScanResolver
from hsts_coverage.sources.enumerate import enumerate_domain
from hsts_coverage.verdict import Tally, judge_dns, judge_probes, verdict_of, wildcard_finding


@dataclass(frozen=True, slots=True)
class ScanStarted:
    started_at: datetime


@dataclass(frozen=True, slots=True)
class DomainStarted:
    enumeration: Enumeration
    hosts: int  # names to check, wildcard probe names included


Event = ScanStarted | DomainStarted | HostResult | DomainSummary


@dataclass(frozen=True, slots=True)
class _WorkerDone:
    pass


class _Scanner:
    """What every worker shares during one scan."""

    def __init__(
        self,
        config: ScanConfig,
        resolver: Resolver,
        prober: Prober,
        ct_session: aiohttp.ClientSession,
        now: datetime,
    ) -> None:
        self.config = config
        self.resolver = resolver
        self.prober = prober
        self.ct_session = ct_session
        self.policy = AddressPolicy(config.allow_private, config.allow_cidrs)
        self.now = now
        self._last_ct = -float("inf")

    async def ct_turn(self) -> None:
        """Wait until the CT source may be asked again (`ct_interval` after the last request)."""
        wait = self._last_ct + self.config.ct_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_ct = time.monotonic()

    async def apex(self, domain: str) -> ApexReport:
        return await check_apex(
            domain,
            prober=self.prober,
            resolver=self.resolver,
            policy=self.policy,
            preload_list=self.config.preload_entries,
        )

    async def check(self, name: str, domain: Domain) -> HostResult:
        started = time.perf_counter()
        dns = await self.resolver.resolve(name)
        findings = judge_dns(dns)
        probes: tuple[Probe, ...] = ()
        per_address: tuple[AddressFindings, ...] = ()
        if not findings:
            findings, probes, per_address = await self._judge_addresses(dns, domain.name)
        findings += wildcard_finding(dns, domain.wildcard_zones)
        return HostResult(
            name=name,
            domain=domain.name,
            dns=dns,
            probes=probes,
            verdict=verdict_of(findings, per_address),
            ct=domain.enumeration.ct.get(name),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def _judge_addresses(
        self, dns: DnsAnswer, domain: str
    ) -> tuple[tuple[Finding, ...], tuple[Probe, ...], tuple[AddressFindings, ...]]:
        """Probe the addresses we may (up to the limit) within the host's time budget."""
        permitted = [a for a in dns.addresses if self.policy.permits(a)]
        if not permitted:
            detail = f"{', '.join(dns.addresses)}: not a public address"
            return (Finding(Reason.PRIVATE_ADDRESS, detail),), (), ()
        chosen = permitted[: self.config.max_addresses]
        budget = self.config.host_budget(len(chosen))
        try:
            async with asyncio.timeout(budget):
                probes = await self._probe(dns.name, chosen, domain)
        except TimeoutError:
            detail = f"not finished within {budget:g} s (see --timeout)"
            return (Finding(Reason.CHECK_TIMEOUT, detail),), (), ()
        expiry = self.config.expiry_days
        findings, per_address = judge_probes(probes, dns.name, now=self.now, expiry_days=expiry)
        return findings, probes, per_address

    async def _probe(self, name: str, addresses: list[str], domain: str) -> tuple[Probe, ...]:
        # One address after the other: the probe pins the name to one address at a time.
        return tuple([await self.prober.probe(name, address, domain) for address in addresses])

    async def wildcard_zones(self, enumeration: Enumeration) -> tuple[WildcardZone, ...]:
        """Zones (the domain, and every wildcard seen in CT) where a random name resolves."""
        zones = dict.fromkeys([enumeration.domain, *(w[2:] for w in enumeration.wildcards)])
        found = []
        for zone in zones:
            probe_name = wildcard_probe_name(zone)
            answer = await self.resolver.resolve(probe_name)
            if answer.status is DnsStatus.RESOLVED:
                found.append(WildcardZone(zone, probe_name, frozenset(answer.addresses)))
        return tuple(found)


def wildcard_probe_name(zone: str) -> str:
    """A name under `zone` that no one registers, the same in every run (and every shard)."""
    return f"hsts-coverage-{hashlib.sha256(zone.encode()).hexdigest()[:10]}.{zone}"


@dataclass(frozen=True, slots=True)
class Domain:
    """What the workers need to know about the domain being scanned."""

    enumeration: Enumeration
    wildcard_zones: tuple[WildcardZone, ...]
    shard: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return self.enumeration.domain

    @property
    def names(self) -> tuple[str, ...]:
        every = self.enumeration.names + tuple(z.probe_name for z in self.wildcard_zones)
        if self.shard is None:
            return every
        return tuple(name for name in every if in_shard(name, *self.shard))


async def scan(config: ScanConfig, stop: asyncio.Event | None = None) -> AsyncIterator[Event]:
    """Scan every domain of `config`, yielding events as they happen.

    To stop early, set `stop` and cancel the task iterating: the running probes are cancelled,
    and the domain being scanned gets a summary marked interrupted, with the counts so far.
    """
    now = datetime.now(UTC)
    yield ScanStarted(now)
    async with _scanner(config, now) as scanner:
        for domain in config.domains:
            progress = _DomainScan(domain)
            try:
                async for event in _scan_domain(scanner, progress):
                    yield event
            except asyncio.CancelledError:
                if stop is None or not stop.is_set():
                    raise
                _uncancel()
                yield progress.summary(interrupted=True)
                return


@dataclass(slots=True)
class _DomainScan:
    """How far the scan of one domain got: enough for a summary at any moment."""

    domain: str
    enumeration: Enumeration | None = None
    target: Domain | None = None
    apex: ApexReport | None = None
    tally: Tally = field(init=False)
    started: float = field(default_factory=time.monotonic)
    marks: dict[str, float] = field(default_factory=dict)  # stage -> seconds since `started`

    def __post_init__(self) -> None:
        self.tally = Tally(self.domain)

    def mark(self, stage: str) -> None:
        """Note when a stage was first reached (enumerated, first_host, hosts_done, ...)."""
        self.marks.setdefault(stage, round(time.monotonic() - self.started, 3))

    def summary(self, *, interrupted: bool = False) -> DomainSummary:
        enumeration = self.enumeration or Enumeration(
            self.domain, EnumerationStatus.FAILED, (), error="interrupted before enumeration"
        )
        zones = self.target.wildcard_zones if self.target else ()
        self.mark("finished")
        return self.tally.summary(
            enumeration,
            wildcard_zones=zones,
            apex=self.apex,
            interrupted=interrupted,
            timings=self.marks,
        )


async def _scan_domain(scanner: _Scanner, progress: _DomainScan) -> AsyncIterator[Event]:
    config = scanner.config
    progress.enumeration = await enumerate_domain(
        progress.domain,
        config=config,
        session=scanner.ct_session if config.use_ct else None,
        turn=scanner.ct_turn,
    )
    progress.mark("enumerated")
    zones = await scanner.wildcard_zones(progress.enumeration)
    target = Domain(progress.enumeration, zones, config.shard)
    progress.target = target
    yield DomainStarted(target.enumeration, len(target.names))
    async for result in _check_all(scanner, target):
        progress.mark("first_host")
        progress.tally.add(result)
        yield result
    progress.mark("hosts_done")
    if config.check_apex and (config.shard is None or config.shard[0] == 1):
        progress.apex = await scanner.apex(progress.domain)  # once, not in every shard
    yield progress.summary()


def _uncancel() -> None:
    # The cancellation was our own way of stopping; the rest of this task may await again.
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def check_policy(config: ScanConfig, domain: str) -> ApexReport:
    """Only the apex check, for `hsts-coverage policy`."""
    async with _scanner(config, datetime.now(UTC)) as scanner:
        return await scanner.apex(domain)


@asynccontextmanager
async def _scanner(config: ScanConfig, now: datetime) -> AsyncIterator[_Scanner]:
    """The scan's clients (DNS, CT, probes), closed whatever happens."""
    async with AsyncExitStack() as stack:
        resolver = Resolver(
            config.resolvers, timeout=min(config.timeout, 5.0), attempts=config.dns_attempts
        )
        stack.push_async_callback(resolver.close)
        ct_session = await stack.enter_async_context(_ct_session(config, resolver))
        policy = AddressPolicy(config.allow_private, config.allow_cidrs)
        prober = Prober(
            ca_bundle=config.ca_bundle,
            addresses=AddressBook(resolver, policy),
            timeout=config.timeout,
            max_redirects=config.max_redirects,
            user_agent=config.user_agent,
            limits=ConnectionLimits(per_ip=config.per_ip, rate=config.rate),
        )
        yield _Scanner(config, resolver, prober, ct_session, now)


def _ct_session(config: ScanConfig, resolver: Resolver) -> aiohttp.ClientSession:
    # The CT source may be an internal mirror, so the private-address guard does not apply, but
    # its name is still resolved by the scan's own name servers.
    anything = AddressBook(resolver, AddressPolicy(allow_private=True))
    connector = aiohttp.TCPConnector(resolver=ScanResolver(anything))
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": config.user_agent, "Accept": "application/json"},
        timeout=aiohttp.ClientTimeout(total=config.ct_timeout),
        trust_env=False,
    )


async def _check_all(scanner: _Scanner, domain: Domain) -> AsyncIterator[HostResult]:
    """Run the worker pool over the domain's names; yield results in completion order."""
    names: Iterator[str] = iter(domain.names)
    workers = min(scanner.config.concurrency, len(domain.names))
    results: asyncio.Queue[HostResult | _WorkerDone | BaseException] = asyncio.Queue(
        maxsize=max(1, workers)
    )

    async def work() -> None:
        try:
            for name in names:  # one shared iterator: each name goes to exactly one worker
                await results.put(await scanner.check(name, domain))
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
