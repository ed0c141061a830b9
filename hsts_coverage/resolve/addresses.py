"""Which addresses a scan may connect to, and which one for a host name.

Names in CT logs are not under the user's control, and probing 169.254.169.254 from a cloud host
is a server-side request forgery: `AddressPolicy` permits public addresses, and private ones
only when the user allows them; `AddressBook` answers every connection of the prober with the
address pinned for the host being probed, else the scan's DNS, through that policy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from hsts_coverage.config import IPNetwork
from hsts_coverage.models import DnsAnswer, DnsStatus


class Resolves(Protocol):
    """What the address book asks of DNS (`Resolver`, or one made on the first question)."""

    async def resolve(self, name: str) -> DnsAnswer: ...


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be probed: public ones, and private ones only when allowed."""

    allow_private: bool = False
    allow_cidrs: tuple[IPNetwork, ...] = ()

    def permits(self, address: str) -> bool:
        # Cached: ipaddress's is_global walks a table of ranges (5 us), and every host asks, more
        # than once. The hosts in flight ask about a few thousand addresses at a time; 65,536
        # entries held 9 MiB at the end of a large scan.
        return _permits(self, address)


@lru_cache(maxsize=4096)
def _permits(policy: AddressPolicy, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if policy.allow_private or any(ip in net for net in policy.allow_cidrs):
        return True
    return is_public(ip)


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast; IPv4-mapped IPv6 is judged by its IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class BlockedAddressError(OSError):
    """A name resolved only to addresses the address policy forbids."""


class UnresolvedError(OSError):
    """A name met during the redirect walk does not resolve."""


class AddressBook:
    """Which address to connect to for a host name: the one pinned for the host being probed,
    else what the scan's DNS answers, through the address policy (IP literals too)."""

    def __init__(self, dns: Resolves, policy: AddressPolicy) -> None:
        self._dns = dns
        self._policy = policy
        self._pins: dict[str, str] = {}

    @contextmanager
    def pinned(self, name: str, address: str) -> Iterator[None]:
        self._pins[name] = address
        try:
            yield
        finally:
            self._pins.pop(name, None)

    async def address_for(self, host: str) -> str:
        pinned = self._pins.get(host)
        if pinned is not None:
            return pinned
        literal = _ip_literal(host)
        if literal is not None:
            if not self._policy.permits(literal):
                raise BlockedAddressError(f"{literal} is a private address")
            return literal
        answer = await self._dns.resolve(host)
        if answer.status is not DnsStatus.RESOLVED:
            raise UnresolvedError(f"{host} does not resolve ({answer.error or answer.status})")
        for address in answer.addresses:
            if self._policy.permits(address):
                return address
        raise BlockedAddressError(f"{host} resolves to {answer.addresses[0]}, a private address")


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None
