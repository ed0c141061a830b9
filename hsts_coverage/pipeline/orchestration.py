"""asyncio orchestration only: enumerate -> resolve -> probe -> verdict, streamed as events.

`scan(config)` is an async generator of events: `ScanStarted`, then per domain `DomainStarted`,
one `HostResult` per name as soon as that host is done (in completion order), and the domain's
`DomainSummary`. A bounded pool of workers pulls names (`admission`: 100 hosts in flight, more while
they only wait, up to `config.concurrency`); results pass through a
bounded queue, so memory does not grow with the number of hosts. Cancelling the consumer cancels
every worker.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import (
    AddressFindings,
    ApexCheck,
    ApexFacts,
    ApexReport,
    DnsAnswer,
    DnsStatus,
    DomainSummary,
    Enumeration,
    HostResult,
    Judgement,
    Outcome,
    Probe,
    WildcardZone,
)
from hsts_coverage.pipeline.domain import Domain, DomainScan, zones_in_turn
from hsts_coverage.pipeline.rounds import JudgeHost, Stages, run_checks
from hsts_coverage.probe import spare
from hsts_coverage.probe.admission import Place
from hsts_coverage.probe.hosts import HostJudge, address_policy, open_judge, scan_resolver
from hsts_coverage.probe.limits import ConnectionLimits, raise_open_files_limit
from hsts_coverage.probe.memory import calm_collector, giving_back_freed_pages
from hsts_coverage.probe.workers import WorkerPool, worker_pool, workers_for
from hsts_coverage.report.text import clean
from hsts_coverage.resolve import AddressPolicy, Resolver
from hsts_coverage.rules.host import (
    internal_error,
    judge_dns,
    partial_dns,
    verdict_of,
    wildcard_finding,
)
from hsts_coverage.rules.names import wildcard_probe_name
from hsts_coverage.rules.preload import judge_apex
from hsts_coverage.sources.enumerate import enumerate_domain
from hsts_coverage.sources.session import ct_session
from hsts_coverage.waiting import waiting_aside


@dataclass(frozen=True, slots=True)
class ScanStarted:
    started_at: datetime
    open_files: int | None = None  # the soft RLIMIT_NOFILE in force for the scan


@dataclass(frozen=True, slots=True)
class DomainStarted:
    enumeration: Enumeration
    hosts: int  # names to check, wildcard probe names included


Event = ScanStarted | DomainStarted | HostResult | DomainSummary


class _Here:
    """The main process's own prober, made when it is first needed: with worker processes, only
    if one is lost, so the main process then loads none of it (its HTTP readers, TLS contexts,
    the URL parser, the preload list: about 4 MiB)."""

    def __init__(
        self,
        config: ScanConfig,
        now: datetime,
        resolver: Resolver,
        policy: AddressPolicy,
        stack: AsyncExitStack,
    ) -> None:
        self._opening = partial(open_judge, config, now, resolver, policy)
        self._resolver = resolver
        self._stack = stack  # the scan's: the prober is closed with the other clients
        self._judge: HostJudge | None = None
        self._making = asyncio.Lock()

    async def _made(self) -> HostJudge:
        if self._judge is None:
            async with self._making:
                if self._judge is None:
                    self._judge = await self._stack.enter_async_context(self._opening())
        return self._judge

    async def judge(self, dns: DnsAnswer, domain: str) -> Judgement:
        return await (await self._made()).judge(dns, domain)

    async def apex(self, domain: str) -> ApexFacts:
        from hsts_coverage.probe.apex import apex_facts

        judge = await self._made()
        return await apex_facts(
            domain, prober=judge.prober, resolver=self._resolver, policy=judge.policy
        )


@dataclass(frozen=True, slots=True)
class _Judges:
    """Where hosts and the apex are checked: here, or in worker processes (`--workers`)."""

    judge: JudgeHost
    apex: Callable[[str], Coroutine[Any, Any, ApexFacts]]


class _Scanner:
    """What every worker shares during one scan."""

    def __init__(
        self,
        config: ScanConfig,
        resolver: Resolver,
        here: _Here,
        policy: AddressPolicy,
        ct_session: aiohttp.ClientSession,
        now: datetime,
    ) -> None:
        self.config = config
        self.here = here
        self.policy = policy
        self.resolver = resolver
        self.ct_session = ct_session
        self.now = now
        self._last_ct = -float("inf")
        # Hosts being probed per address: twice --per-ip. Hosts beyond it wait here, before their
        # time budget starts, not in the prober's queue for a connection slot (a host in flight
        # beyond --concurrency's floor must not spend its budget queueing behind politeness).
        self.hosts_per_address = ConnectionLimits(per_ip=2 * config.per_ip)
        self.answering: set[str] = set()  # addresses whose HTTPS port answered (not timed out)
        # Names being resolved at once are bounded by the resolver's pacer (resolve.Pacer): a
        # name waiting on a silent zone holds no query slot.

    async def ct_turn(self) -> None:
        """Wait until the CT source may be asked again (`ct_interval` after the last request)."""
        wait = self._last_ct + self.config.ct_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_ct = time.monotonic()

    def apex_report(self, facts: ApexFacts) -> ApexReport:
        """The apex's report: its facts and its place in the preload list, read now, once the
        hosts (and the worker processes) are done: the package's list costs 1.7 MiB."""
        from hsts_coverage.probe.preload_list import preload_status

        return judge_apex(facts, preload_status(facts.domain, self.config.preload_entries))

    async def check(
        self, name: str, domain: Domain, judge: JudgeHost, stages: Stages, ahead: Place
    ) -> HostResult:
        """One host, holding its place among the names resolved ahead (`ahead`, given back at
        the end at the latest), inside the boundary every host passes: an unexpected exception
        (a bug, or a hostile input no one foresaw) makes this host `unknown`
        (`internal_error`), never the end of the scan."""
        started = time.perf_counter()
        try:
            return await self._check(name, domain, judge, stages, ahead, started)
        except Exception as exc:  # the boundary: any bug becomes data
            return _internal_error(name, domain, exc, started)

    async def _check(
        self,
        name: str,
        domain: Domain,
        judge: JudgeHost,
        stages: Stages,
        ahead: Place,
        started: float,
    ) -> HostResult:
        probes: tuple[Probe, ...] = ()
        per_address: tuple[AddressFindings, ...] = ()
        async with ahead:
            # Waiting for the outcome of its zone's first names, a name gives its place back
            # (the resolver steps aside through `hsts_coverage.waiting`): it holds no socket.
            with waiting_aside(ahead.aside):
                dns = await self.resolver.resolve(name)
            findings = judge_dns(dns)
            if not findings:
                address = dns.addresses[0] if dns.addresses else name
                async with (
                    self.hosts_per_address.connection(address),
                    stages.probing.place(later=address in self.answering),
                ):
                    ahead.release()  # probed now, no longer ahead
                    findings, probes, per_address = await judge(dns, domain.name)
                self._note_answering(probes)
                findings += partial_dns(dns)
        findings += wildcard_finding(dns, domain.wildcard_zones)
        return HostResult(
            name=name,
            domain=domain.name,
            dns=dns,
            probes=probes,
            verdict=verdict_of(findings, per_address),
            ct=domain.enumeration.ct.get(name),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            found_by=domain.found_by.get(name, ()),
        )

    def _note_answering(self, probes: tuple[Probe, ...]) -> None:
        """Addresses whose HTTPS port answered: the next hosts on them are CPU work that can
        wait behind hosts on addresses not tried yet, whose wait is best begun early."""
        for probe in probes:
            if probe.https.outcome is not Outcome.TIMEOUT:
                self.answering.add(probe.address)

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


def _internal_error(name: str, domain: Domain, exc: Exception, started: float) -> HostResult:
    detail = f"{type(exc).__name__}: {exc}"
    print(
        f"hsts-coverage: internal error while checking {clean(name)}: {clean(detail)}"
        " (the host is unknown; please report this bug)",
        file=sys.stderr,
    )
    return HostResult(
        name=name,
        domain=domain.name,
        dns=DnsAnswer(name, DnsStatus.ERROR, error="not finished: internal error"),
        probes=(),
        verdict=internal_error(detail),
        ct=domain.enumeration.ct.get(name),
        elapsed_ms=_ms_since(started),
        found_by=domain.found_by.get(name, ()),
    )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def scan(config: ScanConfig, stop: asyncio.Event | None = None) -> AsyncIterator[Event]:
    """Scan every domain of `config`, yielding events as they happen.

    To stop early, set `stop` and cancel the task iterating: the running probes are cancelled,
    and the domain being scanned gets a summary marked interrupted, with the counts so far.
    """
    now = datetime.now(UTC)
    calm_collector()
    yield ScanStarted(now, raise_open_files_limit())
    async with giving_back_freed_pages(), _scanner(config, now) as scanner:
        for index, domain in enumerate(config.domains):
            if not config.in_this_shard(index):
                continue  # a whole domain of another shard
            progress = DomainScan(domain)
            try:
                async for event in _scan_domain(scanner, progress):
                    yield event
            except asyncio.CancelledError:
                if stop is None or not stop.is_set():
                    raise
                _uncancel()
                yield progress.summary(interrupted=True)
                return


async def _scan_domain(scanner: _Scanner, progress: DomainScan) -> AsyncIterator[Event]:
    config = scanner.config
    progress.enumeration = await _enumeration(scanner, progress.domain)
    progress.mark("enumerated")
    zones = await scanner.wildcard_zones(progress.enumeration)
    shard = config.shard if config.shard_by == "name" else None  # else: whole domains
    target = Domain(progress.enumeration, zones, shard, config.max_met_names)
    progress.target = target
    yield DomainStarted(target.enumeration, len(target.names))
    batch = zones_in_turn(target.names)
    facts = None
    async with _judges(scanner, len(batch)) as judges:
        # The apex check (once, not in every shard) goes on beside the hosts: it waits on the
        # network as they do, and after them it would add its own seconds to the scan.
        apex: asyncio.Task[ApexFacts] | None = None
        if config.check_apex and (shard is None or shard[0] == 1):
            apex = asyncio.create_task(judges.apex(progress.domain), name="apex")
        try:
            async for result in _check_all(scanner, target, judges.judge, batch):
                progress.mark("first_host")
                progress.tally.add(result)
                yield result
            progress.mark("hosts_done")
            if apex is not None:
                facts = await apex
        finally:
            if apex is not None and not apex.done():
                apex.cancel()
                with suppress(asyncio.CancelledError):
                    await apex
    if facts is not None:
        progress.apex = scanner.apex_report(facts)
    yield progress.summary()


async def _enumeration(scanner: _Scanner, domain: str) -> Enumeration:
    """The domain's names: from the name list of `--names-from` (CT is not asked), or found now."""
    config = scanner.config
    if config.enumerations is not None:
        return config.enumerations[domain]
    return await enumerate_domain(
        domain,
        config=config,
        session=scanner.ct_session if config.use_ct else None,
        turn=scanner.ct_turn,
        resolver=scanner.resolver,
        permits=scanner.policy.permits,
    )


async def enumerate_only(config: ScanConfig) -> AsyncIterator[Enumeration]:
    """Only the enumeration of every domain, for `hsts-coverage enumerate`."""
    async with _scanner(config, datetime.now(UTC)) as scanner:
        for domain in config.domains:
            yield await _enumeration(scanner, domain)


def _uncancel() -> None:
    # The cancellation was our own way of stopping; the rest of this task may await again.
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def check_policy(config: ScanConfig, domain: str) -> ApexReport:
    """Only the apex check, for `hsts-coverage policy`."""
    async with _scanner(config, datetime.now(UTC)) as scanner:
        return scanner.apex_report(await scanner.here.apex(domain))


@asynccontextmanager
async def _scanner(config: ScanConfig, now: datetime) -> AsyncIterator[_Scanner]:
    """The scan's clients (DNS, CT, probes), closed whatever happens."""
    async with AsyncExitStack() as stack:
        resolver = scan_resolver(config)
        stack.push_async_callback(resolver.close)
        policy = address_policy(config)
        here = _Here(config, now, resolver, policy, stack)
        session = await stack.enter_async_context(ct_session(config, resolver))
        yield _Scanner(config, resolver, here, policy, session, now)


@asynccontextmanager
async def _judges(scanner: _Scanner, names: int) -> AsyncIterator[_Judges]:
    """Where hosts are probed: here, or in worker processes (`--workers`) and here only for
    what a lost worker leaves."""
    config = scanner.config
    workers = workers_for(config, names)
    if workers == 0:
        spare.discard()  # a worker started with the command for nothing: it has had no byte
        yield _Judges(scanner.here.judge, scanner.here.apex)
        return
    async with worker_pool(scanner.here, config, scanner.now, workers) as pool:
        yield _Judges(pool.judge, partial(_apex_in_a_worker, pool, scanner.resolver))


async def _apex_in_a_worker(pool: WorkerPool, resolver: Resolver, domain: str) -> ApexFacts:
    """The apex's facts from a worker, with the main process's DNS answers for the apex and its
    www name, so that the worker needs no DNS client of its own for them."""
    names = (domain, f"www.{domain}")
    answers = await asyncio.gather(*(resolver.resolve(name) for name in names))
    return await pool.apex(ApexCheck(domain, tuple(answers)))


async def _check_all(
    scanner: _Scanner, domain: Domain, judge: JudgeHost, batch: list[str]
) -> AsyncIterator[HostResult]:
    """Check every name of the domain, then the names those checks met, round after round
    until no new name turns up; yield results in completion order."""
    while batch:
        met: list[str] = []
        async for result in run_checks(scanner, domain, judge, batch):
            met += domain.meet(result)
            yield result
        batch = met
