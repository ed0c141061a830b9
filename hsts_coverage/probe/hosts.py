"""Probe a resolved host's addresses and judge what came back: the part of a host's check that
costs CPU, and so the part a worker process can take over (see `hsts_coverage.probe.workers`).

`open_judge(config, now)` builds the clients one process needs (DNS for the redirect walk,
the prober and its connection limits) and closes them whatever happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import AddressFindings, DnsAnswer, Finding, Probe
from hsts_coverage.probe.limits import ConnectionLimits
from hsts_coverage.probe.prober import Prober
from hsts_coverage.reasons import Reason
from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolver
from hsts_coverage.rules.distrust import table
from hsts_coverage.rules.host import judge_probes

# What the probes of one host come to: the host's findings, the probes themselves, and the
# findings address by address.
Judgement = tuple[tuple[Finding, ...], tuple[Probe, ...], tuple[AddressFindings, ...]]


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
        findings, per_address = judge_probes(
            probes, dns.name, now=self.now, expiry_days=expiry, distrust=self.distrust
        )
        return findings + _left_out(dns.addresses, permitted, chosen), probes, per_address

    async def _probe(self, name: str, addresses: list[str], domain: str) -> tuple[Probe, ...]:
        # One address after the other: the probe pins the name to one address at a time.
        return tuple([await self.prober.probe(name, address, domain) for address in addresses])


def _left_out(
    addresses: tuple[str, ...], permitted: list[str], chosen: list[str]
) -> tuple[Finding, ...]:
    """What was not checked is never counted as fine: a private address beside public ones, and
    the addresses past the limit, each make the host unknown (unless a probed one breaks)."""
    found = []
    private = [a for a in addresses if a not in permitted]
    if private:
        detail = f"{', '.join(private)}: not a public address, not probed"
        found.append(Finding(Reason.PRIVATE_ADDRESS, detail))
    skipped = permitted[len(chosen) :]
    if skipped:
        detail = f"{len(skipped)} address(es) not probed: {', '.join(skipped[:8])}"
        found.append(Finding(Reason.ADDRESSES_NOT_PROBED, detail))
    return tuple(found)


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
