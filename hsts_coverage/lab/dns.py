"""The lab's DNS server: the lab's zones over real DNS (UDP and TCP), wire format by dnslib.

One server holds several `Zone`s (`Zones`): the lab domain's, built from the scenario table by
`build_zone`, and one per policy site (`build_site_zone`: apex A, www A unless it has none). A
question goes to the zone with the longest domain containing its name. Each zone answers a stub
the way a recursive resolver would (RA set, AA clear, CNAME chains followed into the answer):

- a name with addresses: its A records (several for a scenario with a second address, the
  primary first); any other type -> NODATA (NOERROR, empty answer, SOA in authority), so AAAA
  is always NODATA;
- a CNAME: the CNAME record, then the target's answer (the whole chain, within the zone); a
  chain ending at a missing name -> NXDOMAIN with the CNAMEs kept in the answer; a query of
  type CNAME -> just the CNAME record;
- a SERVFAIL name: SERVFAIL for every type, also when reached through a CNAME;
- the apex also answers SOA and NS;
- a wildcard owner (`*.wild.DOMAIN`, RFC 4592) answers, with the question's name as owner, for
  any name that does not exist and whose closest existing ancestor is its parent
  (`x.wild.DOMAIN`, `a.b.wild.DOMAIN`; not `x.deep.wild.DOMAIN`, which `deep.wild.DOMAIN`
  encloses); names that exist keep their own answers;
- an empty non-terminal (a name with no records of its own but names below it) -> NODATA;
- any other name under the domain -> NXDOMAIN with the SOA in authority;
- names outside every zone -> NXDOMAIN (no SOA: the lab speaks for no other zone).

Names match case-insensitively; the answer keeps the question's spelling. Every TTL is 60.
Malformed packets are logged and dropped, responses ignored; nothing a client sends stops the
server. `Zone.nodes` is plain data, extended through `Zone.add`.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from dnslib import CNAME, NS, QTYPE, RCODE, RR, SOA, A, DNSError, DNSLabel, DNSRecord

from hsts_coverage.lab.scenarios import Dns, Scenario
from hsts_coverage.lab.web import ConnectionTasks

log = logging.getLogger(__name__)

TTL = 60
_MAX_CHAIN = 8  # CNAME hops before the answer is a SERVFAIL (a loop in the data)
_TCP_IDLE_SECONDS = 10.0
_OPCODE_QUERY = 0


@dataclass(frozen=True, slots=True)
class Node:
    """What one name owns. A name absent from the zone does not exist (NXDOMAIN)."""

    addresses: tuple[str, ...] = ()
    cname: str | None = None  # a full name, lower case
    servfail: bool = False


class Zone:
    """The lab zone: a plain name -> Node map that callers may extend with `add`."""

    def __init__(self, domain: str) -> None:
        self.domain = _canonical(domain)
        self.nodes: dict[str, Node] = {self.domain: Node()}

    def add(self, name: str, node: Node) -> None:
        self.nodes[_canonical(name)] = node

    def contains(self, name: str) -> bool:
        return name == self.domain or name.endswith("." + self.domain)

    def lookup(self, name: str) -> Node | None:
        """What answers for `name` (canonical, in the zone): its own node, an empty one for an
        empty non-terminal, else the wildcard at its closest encloser; None: NXDOMAIN."""
        node = self.nodes.get(name)
        if node is not None:
            return node
        if self._exists(name):
            return Node()
        return self.nodes.get("*." + self._closest_encloser(name))

    def _exists(self, name: str) -> bool:
        # A name exists if it owns records or any name below it does (RFC 4592 section 2.2.2).
        return any(owner == name or owner.endswith("." + name) for owner in self.nodes)

    def _closest_encloser(self, name: str) -> str:
        while name != self.domain and not self._exists(name):
            name = name.split(".", 1)[1]
        return name

    def answer(self, request: Any) -> Any:
        """The reply (a dnslib DNSRecord) to a parsed request."""
        reply = request.reply(ra=1, aa=0)
        if request.header.opcode != _OPCODE_QUERY or not request.questions:
            reply.header.rcode = RCODE.NOTIMP
            return reply
        question = request.q
        owner = question.qname
        name = _canonical(str(owner))
        if not self.contains(name):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for _ in range(_MAX_CHAIN):
            node = self.lookup(name) if self.contains(name) else None
            if node is None:
                reply.header.rcode = RCODE.NXDOMAIN
                reply.add_auth(self._soa())
                return reply
            if node.servfail:
                # A failing resolver returns nothing it has collected so far.
                reply.rr = []
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            if node.cname is None or question.qtype == QTYPE.CNAME:
                self._add_records(reply, owner, name, node, question.qtype)
                return reply
            reply.add_answer(RR(owner, QTYPE.CNAME, ttl=TTL, rdata=CNAME(node.cname)))
            owner = DNSLabel(node.cname)
            name = node.cname
        reply.rr = []
        reply.header.rcode = RCODE.SERVFAIL
        return reply

    def _add_records(self, reply: Any, owner: Any, name: str, node: Node, qtype: int) -> None:
        records = list(self._records(owner, name, node, qtype))
        for record in records:
            reply.add_answer(record)
        if not records:
            reply.add_auth(self._soa())  # NODATA: the name exists, the type does not

    def _records(self, owner: Any, name: str, node: Node, qtype: int) -> Iterable[Any]:
        if qtype == QTYPE.CNAME and node.cname is not None:
            yield RR(owner, QTYPE.CNAME, ttl=TTL, rdata=CNAME(node.cname))
        if qtype == QTYPE.A:
            for address in node.addresses:
                yield RR(owner, QTYPE.A, ttl=TTL, rdata=A(address))
        if name == self.domain and qtype == QTYPE.SOA:
            yield self._soa()
        if name == self.domain and qtype == QTYPE.NS:
            yield RR(owner, QTYPE.NS, ttl=TTL, rdata=NS(self._nameserver()))

    def _soa(self) -> Any:
        times = (1, 3600, 600, 86400, TTL)  # serial, refresh, retry, expire, negative TTL
        rdata = SOA(self._nameserver(), f"hostmaster.{self.domain}", times)
        return RR(self.domain, QTYPE.SOA, ttl=TTL, rdata=rdata)

    def _nameserver(self) -> str:
        return f"ns.{self.domain}"


class Zones:
    """The zones one server answers for; a question goes to the most specific zone."""

    def __init__(self, zones: Iterable[Zone]) -> None:
        self.zones = tuple(zones)
        if not self.zones:
            raise ValueError("a DNS server needs at least one zone")

    def answer(self, request: Any) -> Any:
        return self._zone_for(request).answer(request)

    def handle(self, packet: bytes) -> bytes | None:
        """Wire in, wire out; None for a packet that is not a DNS query."""
        try:
            request = DNSRecord.parse(packet)
            if request.header.qr:
                return None  # a response: answering it could start a loop between servers
            return cast(bytes, self.answer(request).pack())
        except DNSError as exc:
            log.info("dns: dropped a malformed packet (%s)", exc)
            return None

    def _zone_for(self, request: Any) -> Zone:
        if request.questions:
            name = _canonical(str(request.q.qname))
            containing = [zone for zone in self.zones if zone.contains(name)]
            if containing:
                return max(containing, key=lambda zone: len(zone.domain))
        # No zone contains the name (or there is no question): any zone answers the same.
        return self.zones[0]


def build_zone(
    domain: str,
    scenarios: Iterable[Scenario],
    addresses: Mapping[str, str],
    alt_addresses: Mapping[str, str] | None = None,
) -> Zone:
    """The zone for the scenario table; `addresses` maps each Dns.A label (wildcard owners
    included) to its address, `alt_addresses` those with a second address to that one."""
    zone = Zone(domain)
    for scenario in scenarios:
        node = _node(scenario, domain, addresses, alt_addresses or {})
        if node is not None:
            zone.add(scenario.name(domain), node)
    return zone


def build_site_zone(domain: str, apex: str, www: str | None) -> Zone:
    """A policy site's zone: the apex's A record, and www's unless `www` is None."""
    zone = Zone(domain)
    zone.add(domain, Node(addresses=(apex,)))
    if www is not None:
        zone.add(f"www.{domain}", Node(addresses=(www,)))
    return zone


def _node(
    scenario: Scenario,
    domain: str,
    addresses: Mapping[str, str],
    alt_addresses: Mapping[str, str],
) -> Node | None:
    match scenario.dns:
        case Dns.A:
            alt = alt_addresses.get(scenario.label)
            primary = addresses[scenario.label]
            # The primary first: the order clients try them in, unless they sort.
            return Node(addresses=(primary, alt) if alt else (primary,))
        case Dns.FIXED:
            assert scenario.fixed_address is not None, scenario.label
            return Node(addresses=(scenario.fixed_address,))
        case Dns.CNAME:
            assert scenario.cname_target is not None, scenario.label
            return Node(cname=_canonical(f"{scenario.cname_target}.{domain}"))
        case Dns.SERVFAIL:
            return Node(servfail=True)
        case Dns.NXDOMAIN | Dns.WILDCARD:
            return None  # WILDCARD: no record of its own, so the wildcard above it answers


def _canonical(name: str) -> str:
    return name.rstrip(".").lower()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, zones: Zones) -> None:
        self._zones = zones
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self._zones.handle(data)
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.info("dns: udp error: %s", exc)


class DnsServer:
    """The zones served on `host`:`port` over UDP and TCP (length-prefixed messages)."""

    def __init__(self, zones: Zones, host: str, port: int = 53) -> None:
        self.zones = zones
        self.host = host
        self.port = port
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections = ConnectionTasks()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self.zones), local_addr=(self.host, self.port)
        )
        self._udp = transport
        handler = self._connections.track(self._serve_tcp)
        self._tcp = await asyncio.start_server(handler, self.host, self.port)

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._connections.cancel_all()
            await self._tcp.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(_TCP_IDLE_SECONDS):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    packet = await reader.readexactly(length)
                reply = self.zones.handle(packet)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client went away or idled: the normal end of a TCP DNS session
