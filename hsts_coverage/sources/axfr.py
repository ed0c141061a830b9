"""Names from a zone transfer (AXFR, RFC 5936) over TCP, with dnspython's asyncio API.

`--axfr SERVER` asks the servers the user names; `--axfr auto` asks the domain's own name servers,
found through the scan's resolver. A name server found in DNS is untrusted like any host: its
address goes through the same address policy (a private address needs `--allow-private` or
`--allow-cidr`). Every transfer is bounded in time (`--timeout`, for the whole transfer) and in
size (`MAX_RECORDS`), and a refused or failed one is an `AxfrError` with a one-line reason, never
a crash: most public name servers refuse transfers, and the summary says so.

The size cap is a transaction of our own around dnspython's zone: dnspython reads the messages
and builds the zone, and offers no cap of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import dns.asyncquery
import dns.exception
import dns.name
import dns.rcode
import dns.xfr
import dns.zone

from hsts_coverage.config import Nameserver
from hsts_coverage.models import ZoneNames
from hsts_coverage.resolve import Resolver
from hsts_coverage.sources.zone import zone_names

MAX_RECORDS = 200_000  # larger than almost any real zone; a hostile server stops here


class AxfrError(Exception):
    """A transfer that did not give the zone; the message is one line for the summary."""


class _TooLarge(Exception):
    pass


class _CappedTransaction(dns.zone.Transaction):
    def _put_rdataset(self, name: Any, rdataset: Any) -> None:
        zone = self.manager
        assert isinstance(zone, _CappedZone)
        zone.added += 1
        if zone.added > zone.cap:
            raise _TooLarge(f"more than {zone.cap} records")
        super()._put_rdataset(name, rdataset)  # type: ignore[no-untyped-call]


class _CappedZone(dns.zone.Zone):
    cap = MAX_RECORDS
    added = 0

    def writer(self, replacement: bool = False) -> dns.zone.Transaction:
        txn = _CappedTransaction(self, replacement)
        txn._setup_version()  # type: ignore[no-untyped-call]
        return txn


async def transfer(
    domain: str, server: Nameserver, *, seconds: float, max_records: int = MAX_RECORDS
) -> ZoneNames:
    """The names of `domain`'s zone as `server` transfers it; AxfrError if it does not."""
    zone = _CappedZone(dns.name.from_text(domain))
    zone.cap = max_records
    try:
        async with asyncio.timeout(seconds):
            await dns.asyncquery.inbound_xfr(
                server.host, zone, port=server.port, timeout=seconds, lifetime=seconds
            )
    except TimeoutError:
        raise AxfrError(f"{server}: no complete transfer within {seconds:g} s") from None
    except dns.xfr.TransferError as exc:
        raise AxfrError(f"{server}: transfer refused ({dns.rcode.to_text(exc.rcode)})") from None
    except _TooLarge as exc:
        raise AxfrError(f"{server}: transfer stopped at {exc}") from None
    except (dns.exception.DNSException, OSError, EOFError, ValueError) as exc:
        raise AxfrError(f"{server}: transfer failed ({_why(exc)})") from None
    names = zone_names(zone, domain)
    if not names.records:
        raise AxfrError(f"{server}: the transfer held no records")
    return names


async def auto_servers(
    domain: str, resolver: Resolver, permits: Callable[[str], bool]
) -> tuple[list[Nameserver], list[str]]:
    """The domain's name servers as transfer targets, and a note for each one left out."""
    servers: list[Nameserver] = []
    notes: list[str] = []
    hosts, unread = await resolver.nameservers(domain)
    if unread is not None:
        return [], [f"the NS records of {domain} could not be read ({unread})"]
    if not hosts:
        return [], [f"no NS records found for {domain}"]
    for host in hosts:
        answer = await resolver.resolve(host)
        addresses = answer.addresses
        if not addresses:
            notes.append(f"name server {host} does not resolve")
        for address in addresses:
            if permits(address):
                servers.append(Nameserver(address))
            else:
                notes.append(
                    f"name server {host} is at {address}, a private address: not asked "
                    "(--allow-private or --allow-cidr allows it)"
                )
    return servers, notes


async def transfer_any(
    domain: str, servers: Iterable[Nameserver], *, seconds: float
) -> tuple[ZoneNames | None, list[str]]:
    """The zone from the first server that transfers it, and a note for each that did not."""
    notes: list[str] = []
    for server in dict.fromkeys(servers):
        try:
            return await transfer(domain, server, seconds=seconds), notes
        except AxfrError as exc:
            notes.append(f"zone transfer of {domain} from {exc}")
    return None, notes


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
