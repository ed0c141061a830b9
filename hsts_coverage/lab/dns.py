"""The lab's DNS server: the lab zone over real DNS (UDP and TCP), wire format by dnslib.

It answers a stub the way a recursive resolver would (RA set, AA clear, CNAME chains followed
into the answer section), from a `Zone` built out of the scenario table:

- a name with addresses: its A records; any other type -> NODATA (NOERROR, empty answer, SOA
  in authority), so AAAA is always NODATA;
- a CNAME: the CNAME record, then the target's answer (the whole chain); a chain ending at a
  missing name -> NXDOMAIN with the CNAMEs kept in the answer; a query of type CNAME -> just
  the CNAME record;
- a SERVFAIL name: SERVFAIL for every type, also when reached through a CNAME;
- the apex also answers SOA and NS;
- any other name under the domain -> NXDOMAIN with the SOA in authority (the table has no
  empty non-terminals, so no NODATA case for them is needed);
- names outside the lab domain -> NXDOMAIN (no SOA: the lab speaks for no other zone).

Names match case-insensitively; the answer keeps the question's spelling. Every TTL is 60.
Malformed packets are logged and dropped, responses ignored; nothing a client sends stops the
server. `Zone.nodes` is plain data: later modes (e.g. wildcard DNS) can add names to it.
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
            node = self.nodes.get(name)
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


def build_zone(domain: str, scenarios: Iterable[Scenario], addresses: Mapping[str, str]) -> Zone:
    """The zone for the scenario table; `addresses` maps each Dns.A label to its address."""
    zone = Zone(domain)
    for scenario in scenarios:
        node = _node(scenario, domain, addresses)
        if node is not None:
            zone.add(scenario.name(domain), node)
    return zone


def _node(scenario: Scenario, domain: str, addresses: Mapping[str, str]) -> Node | None:
    match scenario.dns:
        case Dns.A:
            return Node(addresses=(addresses[scenario.label],))
        case Dns.FIXED:
            assert scenario.fixed_address is not None, scenario.label
            return Node(addresses=(scenario.fixed_address,))
        case Dns.CNAME:
            assert scenario.cname_target is not None, scenario.label
            return Node(cname=_canonical(f"{scenario.cname_target}.{domain}"))
        case Dns.SERVFAIL:
            return Node(servfail=True)
        case Dns.NXDOMAIN:
            return None


def _canonical(name: str) -> str:
    return name.rstrip(".").lower()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self._zone = zone
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self._zone.handle(data)
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.info("dns: udp error: %s", exc)


class DnsServer:
    """The zone served on `host`:`port` over UDP and TCP (length-prefixed messages)."""

    def __init__(self, zone: Zone, host: str, port: int = 53) -> None:
        self.zone = zone
        self.host = host
        self.port = port
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections = ConnectionTasks()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self.zone), local_addr=(self.host, self.port)
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
                reply = self.zone.handle(packet)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client went away or idled: the normal end of a TCP DNS session
