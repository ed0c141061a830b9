"""Probe a resolved host's addresses, then hand what came back to `rules.host.judge_host`: the
part of a host's check that costs CPU, and so the part a worker process can take over (see
`hsts_coverage.probe.workers`). Which addresses are probed and what a time-out means are the
rules' to say; this module only connects.

`open_judge(config, now)` builds the clients one process needs (DNS for the redirect walk,
the prober and its connection limits) and closes them whatever happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import DnsAnswer, Judgement, Probe
from hsts_coverage.probe.limits import ConnectionLimits
from hsts_coverage.probe.prober import Prober
from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolver
from hsts_coverage.rules.distrust import table
from hsts_coverage.rules.host import judge_host, no_public_address, out_of_time


class HostJudge:
    """Probes the addresses a host may be probed on (up to the limit) within its time budget."""

    def __init__(
        self,
        config: ScanConfig,
        resolver: Resolver,
        prober: Prober,
        policy: AddressPolicy,
        now: datetime,
    ) -> None:
        self.config = config
        self.resolver = resolver
        self.prober = prober
        self.policy = policy  # the prober's own, so one cache of answers
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


@asynccontextmanager
async def open_judge(config: ScanConfig, now: datetime) -> AsyncIterator[HostJudge]:
    """One process's clients."""
    async with AsyncExitStack() as stack:
        resolver = Resolver(
            config.resolvers, timeout=min(config.timeout, 5.0), attempts=config.dns_attempts
        )
        stack.push_async_callback(resolver.close)
        policy = AddressPolicy(config.allow_private, config.allow_cidrs)
        prober = Prober(
            ca_bundle=config.ca_bundle,
            addresses=AddressBook(resolver, policy),
            timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            max_redirects=config.max_redirects,
            user_agent=config.user_agent,
            limits=ConnectionLimits(per_ip=config.per_ip, rate=config.rate),
        )
        yield HostJudge(config, resolver, prober, policy, now)
