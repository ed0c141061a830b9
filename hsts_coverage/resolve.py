"""Resolve names with aiodns (A and AAAA, CNAME chains), and guard against private addresses.

Contract: `Resolver.resolve(name)` never raises for DNS trouble; it returns a `DnsAnswer` whose
status says what happened. SERVFAIL, refusals and time-outs are retried a bounded number of
times before the answer is `ERROR`. Every query goes to the configured name servers (or the
system's), never anywhere else.

`AddressPolicy` decides which addresses may be connected to: names in CT logs are not under the
user's control, and probing 169.254.169.254 from a cloud host is a server-side request forgery.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import aiodns
import pycares

from hsts_coverage.config import IPNetwork, Nameserver
from hsts_coverage.models import DnsAnswer, DnsStatus
from hsts_coverage.probe.reach import waited_for_descriptor

_TRANSIENT = {
    aiodns.error.ARES_ESERVFAIL: "SERVFAIL",
    aiodns.error.ARES_ETIMEOUT: "timed out",
    aiodns.error.ARES_ECONNREFUSED: "name server unreachable",
    aiodns.error.ARES_EREFUSED: "REFUSED",
    aiodns.error.ARES_EBADRESP: "malformed answer",
}


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be probed: public ones, and private ones only when allowed."""

    allow_private: bool = False
    allow_cidrs: tuple[IPNetwork, ...] = ()

    def permits(self, address: str) -> bool:
        # Cached: ipaddress's is_global walks a table of ranges, and every host asks.
        return _permits(self, address)


@lru_cache(maxsize=65536)
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


class _Transient(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


DNS_RECEIVE_BUFFER = 4 << 20
_MAX_RENEWALS = 2  # channel swaps per resolver; each new channel is a c-ares event thread


class Resolver:
    """A scan's DNS client. Create it inside the running event loop; `close()` when done."""

    def __init__(self, nameservers: Sequence[Nameserver], *, timeout: float, attempts: int) -> None:
        self._servers = [str(ns) for ns in nameservers] or None
        self._timeout = timeout
        self._dns = self._channel()
        self._retired: list[aiodns.DNSResolver] = []
        self._attempts = attempts

    def _channel(self) -> aiodns.DNSResolver:
        # c-ares retries by itself too; one try per attempt keeps the total bounded and ours.
        # lookups="b": DNS only, never /etc/hosts (every lookup goes to the chosen servers).
        # A burst of answers waits in the socket (up to the kernel's rmem_max), not dropped.
        return aiodns.DNSResolver(
            nameservers=self._servers,
            timeout=self._timeout,
            tries=1,
            lookups="b",
            socket_receive_buffer_size=DNS_RECEIVE_BUFFER,
        )

    def _renew(self, failed: aiodns.DNSResolver) -> None:
        """Replace a channel that refused to reach the servers (at most once per channel).

        Now and then (about 2 runs in 100 with four scans in parallel) a c-ares channel failed
        every query with ECONNREFUSED from the start, without opening a socket. The cause is not
        known; a fresh channel is the cheap remedy. The old one is closed with the resolver,
        after its queries have ended. A server that is really down refuses every channel, so
        there are only a few swaps; after that, the refusals stand.
        """
        if failed is self._dns and len(self._retired) < _MAX_RENEWALS:
            self._retired.append(failed)
            self._dns = self._channel()

    async def close(self) -> None:
        for channel in (*self._retired, self._dns):
            await channel.close()

    async def resolve(self, name: str, *, dangling: bool = True) -> DnsAnswer:
        """A and AAAA side by side, each with its own retries, CNAMEs followed. `dangling` False
        skips the CNAME look-up that finds where a name that does not resolve points (one more
        query per NXDOMAIN, needless for a guessed name).

        Two c-ares calls, not one of family AF_UNSPEC: that one answers with the A records when
        the AAAA query times out or fails, and the failure is lost. An AAAA failure beside A
        records is kept in `partial_error` (the host is then unknown unless it breaks anyway)."""
        a, aaaa = await asyncio.gather(
            self._family(name, socket.AF_INET), self._family(name, socket.AF_INET6)
        )
        results = [r for r in (a, aaaa) if isinstance(r, pycares.AddrInfoResult)]
        if not results:
            if isinstance(a, _Transient) or isinstance(aaaa, _Transient):
                failed = a if isinstance(a, _Transient) else aaaa
                return DnsAnswer(name, DnsStatus.ERROR, error=str(failed))
            assert isinstance(a, aiodns.error.DNSError)
            if not dangling:
                return DnsAnswer(name, DnsStatus.NXDOMAIN, error=_message(a))
            return await self._not_resolved(name, a)
        nodes = [node for result in results for node in result.nodes]
        addresses = tuple(dict.fromkeys(_text(node.addr[0]) for node in nodes))
        cnames = tuple(c.name.lower().rstrip(".") for c in results[0].cnames)
        if problem := chain_problem(name, cnames):
            return DnsAnswer(name, DnsStatus.ERROR, cname_chain=cnames, error=problem)
        status = DnsStatus.RESOLVED if addresses else DnsStatus.NO_ADDRESS
        partial = None
        if isinstance(a, _Transient) or isinstance(aaaa, _Transient):
            partial = f"A: {a}" if isinstance(a, _Transient) else f"AAAA: {aaaa}"
        return DnsAnswer(name, status, addresses, cnames, partial_error=partial)

    async def _family(
        self, name: str, family: socket.AddressFamily
    ) -> pycares.AddrInfoResult | _Transient | aiodns.error.DNSError:
        try:
            return await self._retrying(name, family)
        except (_Transient, aiodns.error.DNSError) as exc:
            return exc

    async def _not_resolved(self, name: str, exc: aiodns.error.DNSError) -> DnsAnswer:
        code = exc.args[0] if exc.args else None
        if code not in (aiodns.error.ARES_ENOTFOUND, aiodns.error.ARES_ENODATA):
            return DnsAnswer(name, DnsStatus.ERROR, error=_message(exc))
        nxdomain = code == aiodns.error.ARES_ENOTFOUND
        status = DnsStatus.NXDOMAIN if nxdomain else DnsStatus.NO_ADDRESS
        cnames = await self._cname_chain(name)
        if problem := chain_problem(name, cnames):
            return DnsAnswer(name, DnsStatus.ERROR, cname_chain=cnames, error=problem)
        dangling = cnames[-1] if cnames else None
        return DnsAnswer(name, status, cname_chain=cnames, dangling_target=dangling)

    async def _retrying(self, name: str, family: socket.AddressFamily) -> pycares.AddrInfoResult:
        # A plain loop, not tenacity: this runs for every host, and building a retry controller
        # per query costs more CPU than the query itself. The trailing dot: no search domains.
        for attempt in range(1, self._attempts + 1):
            channel = self._dns
            try:
                return await channel.getaddrinfo(name + ".", family=family)
            except aiodns.error.DNSError as exc:
                code = exc.args[0] if exc.args else None
                if code not in _TRANSIENT:
                    raise
                if code == aiodns.error.ARES_ECONNREFUSED and await waited_for_descriptor():
                    return await self._retrying(
                        name, family
                    )  # our open-files limit, not the server's
                if code == aiodns.error.ARES_ECONNREFUSED:
                    self._renew(channel)
                if attempt == self._attempts:
                    raise _Transient(_TRANSIENT[code]) from exc
                await asyncio.sleep(random.uniform(0, 0.2 * 2**attempt))  # full jitter
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def nameservers(self, zone: str) -> tuple[str, ...]:
        """The NS names of `zone` (lower case, no trailing dot); () when there are none or DNS
        fails (the caller says so: a zone transfer then has no server to ask)."""
        try:
            result = await self._dns.query_dns(zone + ".", "NS")
        except aiodns.error.DNSError:
            return ()
        hosts = (
            r.data.nsdname.lower().rstrip(".")
            for r in result.answer
            if isinstance(r.data, pycares.NSRecordData)
        )
        return tuple(dict.fromkeys(hosts))

    async def _cname_chain(self, name: str) -> tuple[str, ...]:
        """Follow CNAME records one query at a time (at most one more than allowed).

        A name that does not resolve may still be a CNAME to a deleted resource, and an NXDOMAIN
        answer to A does not reach us with its CNAME records: ask for the CNAMEs themselves.
        """
        chain: list[str] = []
        current = name
        while len(chain) <= MAX_CNAME_CHAIN and current not in chain[:-1]:
            try:
                result = await self._dns.query_dns(current, "CNAME")
            except aiodns.error.DNSError:
                break
            targets = _cnames(result.answer)
            if not targets:
                break
            chain.append(targets[0])
            current = targets[0]
        return tuple(chain)


MAX_CNAME_CHAIN = 16  # more links than resolvers follow (BIND and Unbound stop near 10-16)


def chain_problem(name: str, cnames: Sequence[str]) -> str | None:
    """Why a CNAME chain cannot be trusted (a loop, too many links), or None."""
    if name in cnames or len(set(cnames)) != len(cnames):
        return "CNAME loop: " + " -> ".join([name, *cnames[:6]])
    if len(cnames) > MAX_CNAME_CHAIN:
        return f"CNAME chain of {len(cnames)} links (more than {MAX_CNAME_CHAIN})"
    return None


def _cnames(records: Sequence[Any]) -> tuple[str, ...]:
    return tuple(
        r.data.cname.lower().rstrip(".")
        for r in records
        if isinstance(r.data, pycares.CNAMERecordData)
    )


def _text(address: str | bytes) -> str:
    return address.decode("ascii") if isinstance(address, bytes) else address


def _message(exc: aiodns.error.DNSError) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)


class BlockedAddressError(OSError):
    """A name resolved only to addresses the address policy forbids."""


class UnresolvedError(OSError):
    """A name met during the redirect walk does not resolve."""


class AddressBook:
    """Which address to connect to for a host name: the one pinned for the host being probed,
    else what the scan's DNS answers, through the address policy (IP literals too)."""

    def __init__(self, dns: Resolver, policy: AddressPolicy) -> None:
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
