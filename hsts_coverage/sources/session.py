"""The HTTP session the CT sources share, resolving through the scan's own name servers."""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from hsts_coverage.config import ScanConfig
from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolver


def ct_session(config: ScanConfig, resolver: Resolver) -> aiohttp.ClientSession:
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


class ScanResolver(AbstractResolver):
    """aiohttp's resolver for the scan's HTTP sessions (CT sources): the scan's address book,
    so that their names too go to the scan's name servers and nowhere else."""

    def __init__(self, addresses: AddressBook) -> None:
        self._addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = await self._addresses.address_for(host)
        result: ResolveResult = {
            "hostname": host,
            "host": address,
            "port": port,
            "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
            "proto": 0,
            "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
        }
        return [result]

    async def close(self) -> None:
        """The scan's Resolver is closed by its owner."""
