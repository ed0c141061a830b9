"""Probe a resolved host's addresses, then hand what came back to `rules.host.judge_host`: the
part of a host's check that costs CPU, and so the part a worker process can take over (see
`hsts_coverage.probe.workers`). Which addresses are probed and what a time-out means are the
rules' to say; this module only connects.

`open_judge(config, now)` builds the clients one process needs (DNS for the redirect walk,
the prober and its connection limits) and closes them whatever happens. The main process hands
it the scan's resolver; a worker's is made on its first question (`FirstAsked`): most scans'
redirects stay on their host, and a worker then never loads a DNS client.

The prober itself (its HTTP readers, TLS contexts, the URL parser) is imported by `open_judge`,
not with this module: with worker processes the main process never probes a host unless a
worker is lost, and so never loads it (about 4 MiB).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import DnsAnswer, Judgement, Probe
from hsts_coverage.probe.limits import ConnectionLimits
from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolves
from hsts_coverage.rules.distrust import table
from hsts_coverage.rules.host import judge_host, no_public_address, out_of_time

if TYPE_CHECKING:
    from hsts_coverage.probe.prober import Prober
    from hsts_coverage.resolve import Resolver


class HostJudge:
    """Probes the addresses a host may be probed on (up to the limit) within its time budget."""

    def __init__(
        self,
        config: ScanConfig,
        prober: Prober,
        policy: AddressPolicy,
        now: datetime,
        resolver: Resolves,
    ) -> None:
        self.config = config
        self.prober = prober
        self.policy = policy  # the prober's own, so one cache of answers
        self.resolver = resolver
        self.now = now
        self.distrust = table(config.distrust)

    async def judge(self, dns: DnsAnswer, domain: str) -> Judgement:
        permitted = tuple(a for a in dns.addresses if self.policy.permits(a))
        chosen = permitted[: self.config.max_addresses]
        if not chosen:
            return no_public_address(dns)
        budget = self.config.host_budget(len(chosen))
        try:
            async with asyncio.timeout(budget):
                probes = await self._probe(dns.name, chosen, domain)
        except TimeoutError:
            return out_of_time(budget)
        expiry = self.config.expiry_days
        return judge_host(
            dns, permitted, probes, now=self.now, expiry_days=expiry, distrust=self.distrust
        )

    async def _probe(self, name: str, addresses: tuple[str, ...], domain: str) -> tuple[Probe, ...]:
        # One address after the other: the probe pins the name to one address at a time.
        return tuple([await self.prober.probe(name, address, domain) for address in addresses])


def scan_resolver(config: ScanConfig) -> Resolver:
    """The scan's DNS client, as every process of it asks (loads aiodns)."""
    from hsts_coverage.resolve import Resolver

    return Resolver(
        config.resolvers, timeout=min(config.timeout, 5.0), attempts=config.dns_attempts
    )


class FirstAsked:
    """The scan's resolver, made when first asked a name it was not told (`know`)."""

    def __init__(self, config: ScanConfig) -> None:
        self._config = config
        self._made: Resolver | None = None
        self._known: dict[str, DnsAnswer] = {}

    def know(self, answers: Iterable[DnsAnswer]) -> None:
        """Answers the main process already has (the apex's and its www name's)."""
        self._known.update((answer.name, answer) for answer in answers)

    async def resolve(self, name: str) -> DnsAnswer:
        if (known := self._known.get(name)) is not None:
            return known
        if self._made is None:
            self._made = scan_resolver(self._config)
        return await self._made.resolve(name)

    async def close(self) -> None:
        if self._made is not None:
            await self._made.close()


@asynccontextmanager
async def open_judge(
    config: ScanConfig,
    now: datetime,
    resolver: Resolves | None = None,
    policy: AddressPolicy | None = None,
) -> AsyncIterator[HostJudge]:
    """One process's clients; `resolver` the scan's own, else one made on the first question,
    and `policy` the scan's own (one cache of answers), else one for this process."""
    from hsts_coverage.probe.prober import Prober

    async with AsyncExitStack() as stack:
        if resolver is None:
            first_asked = FirstAsked(config)
            stack.push_async_callback(first_asked.close)
            resolver = first_asked
        if policy is None:
            policy = address_policy(config)
        prober = Prober(
            ca_bundle=config.ca_bundle,
            addresses=AddressBook(resolver, policy),
            timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            max_redirects=config.max_redirects,
            user_agent=config.user_agent,
            limits=ConnectionLimits(per_ip=config.per_ip, rate=config.rate),
        )
        yield HostJudge(config, prober, policy, now, resolver)


def address_policy(config: ScanConfig) -> AddressPolicy:
    """Which addresses the scan may probe (`--allow-private`, `--allow-cidr`)."""
    return AddressPolicy(config.allow_private, config.allow_cidrs)
