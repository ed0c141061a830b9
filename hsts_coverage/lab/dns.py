"""The lab's DNS server: the lab's zones over real DNS (UDP and TCP), wire format by dnslib.

One server holds several `Zone`s (`Zones`): the lab domain's, built from the scenario table by
`build_zone`, one per policy site (`build_site_zone`: apex A, www A unless it has none) and the
scale fleet's, if any. A question goes to the zone with the longest domain containing its name.
Each zone answers a stub the way a recursive resolver would (RA set, AA clear, CNAME chains
followed into the answer):

- a name with addresses: its A records (several for a scenario with a second address, the
  primary first); any other type -> NODATA (NOERROR, empty answer, SOA in authority), so AAAA
  is always NODATA;
- a CNAME: the CNAME record, then the target's answer (the whole chain, within the zone, up to
  `_MAX_CHAIN` CNAMEs, beyond which it is a SERVFAIL); a chain ending at a missing name ->
  NXDOMAIN with the CNAMEs kept in the answer; a query of type CNAME -> just the CNAME record;
- a CNAME loop (Dns.CNAME_LOOP): every CNAME of the loop once, NOERROR and no address, as a
  broken authoritative server sends it;
- a CNAME chain (Dns.CNAME_CHAIN: `name -> l1.name -> ... -> lN.name -> www.DOMAIN`): the whole
  chain then www's A record; each link answers its own suffix of the chain;
- a SERVFAIL name: SERVFAIL for every type, also when reached through a CNAME; an
  AAAA_SERVFAIL name: its A record, and SERVFAIL for AAAA;
- a SILENT name: no answer at all, over UDP or TCP (the TCP session stays open, without the
  idle timeout, until the client leaves): the client times out;
- a TRUNCATED name: over UDP an empty NOERROR answer with the TC bit set, for every type; over
  TCP the usual answer (its A record), so a resolver must retry over TCP to get the address;
- the apex also answers SOA and NS (the zone's `nameserver`, by default `ns.DOMAIN`);
- a node's other `records` (MX, SRV, TXT, ...: (qtype, dnslib rdata) pairs) answer their type;
- AXFR and IXFR questions -> REFUSED, for every zone and any name, as recursive resolvers
  answer them (zone transfers are for authoritative servers: the lab's BIND serves those);
- a wildcard owner (`*.wild.DOMAIN`, RFC 4592) answers, with the question's name as owner, for
  any name that does not exist and whose closest existing ancestor is its parent
  (`x.wild.DOMAIN`, `a.b.wild.DOMAIN`; not `x.deep.wild.DOMAIN`, which `deep.wild.DOMAIN`
  encloses); names that exist keep their own answers;
- an empty non-terminal (a name with no records of its own but names below it) -> NODATA;
- any other name under the domain -> NXDOMAIN with the SOA in authority;
- names outside every zone -> NXDOMAIN (no SOA: the lab speaks for no other zone).

Names match case-insensitively; the answer keeps the question's spelling. Every TTL is 60.
Malformed packets are logged and dropped (over TCP they end the session), responses ignored;
nothing a client sends stops the server. `Zone.nodes` is plain data, extended through
`Zone.add`, until a server answers from it: `Zones.handle` caches every answer it packs.

The cache is there for the benchmark's fleet, where a scan asks tens of thousands of questions
and dnslib's parse-and-pack costs about 50 us each: a plain query (opcode QUERY, one question,
nothing in its answer and authority sections) is keyed by its flags word and its question as
sent (name bytes, spelling included, type, class) and transport; an answer depends on nothing
else (the additional section, EDNS included, is never echoed), so a hit is the cached reply with
the query's ID patched in, and a silent name stays silent. Anything else takes the full path.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from dnslib import CNAME, NS, QTYPE, RCODE, RR, SOA, A, DNSError, DNSLabel, DNSRecord

from hsts_coverage.lab.scenarios import Dns, Scenario
from hsts_coverage.lab.web import ConnectionTasks

log = logging.getLogger(__name__)

TTL = 60
# CNAMEs followed before the answer is a SERVFAIL; above the table's longest chain (21), so
# that only a data error reaches it (loops end at the first repeated name instead).
_MAX_CHAIN = 64
CHAIN_END = "www"  # the label a Dns.CNAME_CHAIN's last link points at
_TCP_IDLE_SECONDS = 10.0
_OPCODE_QUERY = 0
_HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
_QR_AND_OPCODE = 0xF800  # a response, or any opcode but QUERY
_MAX_LABEL = 63  # larger length bytes are compression pointers or extended label types
_CACHE_LIMIT = 200_000  # answers kept; a full cache starts over

_TRANSFERS = frozenset({QTYPE.AXFR, QTYPE.IXFR})  # 252, 251

CacheKey = tuple[bool, int, bytes]  # tcp, flags, question section


@dataclass(frozen=True, slots=True)
class Node:
    """What one name owns. A name absent from the zone does not exist (NXDOMAIN)."""

    addresses: tuple[str, ...] = ()
    cname: str | None = None  # a full name, lower case
    servfail: bool = False
    silent: bool = False  # never answered, over UDP or TCP
    truncated: bool = False  # over UDP: TC and no records; over TCP: the normal answer
    records: tuple[tuple[int, Any], ...] = ()  # (qtype, dnslib rdata): MX, SRV, TXT, ...
    aaaa_servfail: bool = False  # AAAA queries get SERVFAIL; A and the rest answer


class Zone:
    """The lab zone: a plain name -> Node map that callers may extend with `add`."""

    def __init__(self, domain: str, nameserver: str | None = None) -> None:
        self.domain = _canonical(domain)
        self.nameserver = _canonical(nameserver or f"ns.{self.domain}")
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

    def answer(self, request: Any, *, tcp: bool = False) -> Any:
        """The reply (a dnslib DNSRecord) to a parsed request, or None to send nothing."""
        reply = request.reply(ra=1, aa=0)
        if request.header.opcode != _OPCODE_QUERY or not request.questions:
            reply.header.rcode = RCODE.NOTIMP
            return reply
        question = request.q
        if question.qtype in _TRANSFERS:
            reply.header.rcode = RCODE.REFUSED
            return reply
        owner = question.qname
        name = _canonical(str(owner))
        if not self.contains(name):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        followed: set[str] = set()
        while len(followed) <= _MAX_CHAIN:
            node = self.lookup(name) if self.contains(name) else None
            if node is None:
                reply.header.rcode = RCODE.NXDOMAIN
                reply.add_auth(self._soa())
                return reply
            if node.silent:
                return None
            if node.servfail or (node.aaaa_servfail and question.qtype == QTYPE.AAAA):
                # A failing resolver returns nothing it has collected so far.
                return _empty(reply, rcode=RCODE.SERVFAIL)
            if node.truncated and not tcp:
                reply.header.tc = 1  # "too big for UDP": the client must ask again over TCP
                return _empty(reply)
            if node.cname is None or question.qtype == QTYPE.CNAME:
                self._add_records(reply, owner, name, node, question.qtype)
                return reply
            reply.add_answer(RR(owner, QTYPE.CNAME, ttl=TTL, rdata=CNAME(node.cname)))
            followed.add(name)
            if node.cname in followed:
                return reply  # a loop: each CNAME once, NOERROR, no address
            owner = DNSLabel(node.cname)
            name = node.cname
        return _empty(reply, rcode=RCODE.SERVFAIL)

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
        for rtype, rdata in node.records:
            if rtype == qtype:
                yield RR(owner, rtype, ttl=TTL, rdata=rdata)
        if name == self.domain and qtype == QTYPE.SOA:
            yield self._soa()
        if name == self.domain and qtype == QTYPE.NS:
            yield RR(owner, QTYPE.NS, ttl=TTL, rdata=NS(self._nameserver()))

    def _soa(self) -> Any:
        times = (1, 3600, 600, 86400, TTL)  # serial, refresh, retry, expire, negative TTL
        rdata = SOA(self._nameserver(), f"hostmaster.{self.domain}", times)
        return RR(self.domain, QTYPE.SOA, ttl=TTL, rdata=rdata)

    def _nameserver(self) -> str:
        return self.nameserver


def _empty(reply: Any, rcode: int = RCODE.NOERROR) -> Any:
    reply.rr = []
    reply.header.rcode = rcode
    return reply


class Zones:
    """The zones one server answers for; a question goes to the most specific zone."""

    def __init__(self, zones: Iterable[Zone]) -> None:
        self.zones = tuple(zones)
        if not self.zones:
            raise ValueError("a DNS server needs at least one zone")
        self._cache: dict[CacheKey, bytes | None] = {}

    def answer(self, request: Any, *, tcp: bool = False) -> Any:
        """The reply to a parsed request (a dnslib DNSRecord), or None to send nothing."""
        return self._zone_for(request).answer(request, tcp=tcp)

    def handle(self, packet: bytes, *, tcp: bool = False) -> bytes | None:
        """Wire in, wire out; None: nothing to send (not a query, or a silent name). Plain
        queries are answered from the cache (see the module docstring)."""
        key = cache_key(packet, tcp=tcp)
        if key is not None and key in self._cache:
            cached = self._cache[key]
            return None if cached is None else packet[:2] + cached[2:]
        request = parse_query(packet)
        if request is None:
            return None  # not cached: every malformed packet is logged
        reply = self.respond(request, tcp=tcp)
        if key is not None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = reply
        return reply

    def respond(self, request: Any, *, tcp: bool = False) -> bytes | None:
        reply = self.answer(request, tcp=tcp)
        return None if reply is None else cast(bytes, reply.pack())

    def _zone_for(self, request: Any) -> Zone:
        if request.questions:
            name = _canonical(str(request.q.qname))
            containing = [zone for zone in self.zones if zone.contains(name)]
            if containing:
                return max(containing, key=lambda zone: len(zone.domain))
        # No zone contains the name (or there is no question): any zone answers the same.
        return self.zones[0]


def cache_key(packet: bytes, *, tcp: bool) -> CacheKey | None:
    """(tcp, flags, question bytes) of a plain query, or None for anything else."""
    if len(packet) < _HEADER.size:
        return None
    _, flags, questions, answers, authorities, _ = _HEADER.unpack_from(packet)
    if flags & _QR_AND_OPCODE or (questions, answers, authorities) != (1, 0, 0):
        return None
    end = _HEADER.size
    while end < len(packet) and 0 < packet[end] <= _MAX_LABEL:
        end += 1 + packet[end]
    end += 5  # the root label's zero byte, QTYPE, QCLASS
    if end > len(packet) or packet[end - 5] != 0:
        return None
    return tcp, flags, bytes(packet[_HEADER.size : end])


def parse_query(packet: bytes) -> Any:
    """The parsed DNS query in `packet` (a dnslib DNSRecord), or None for anything else."""
    try:
        request = DNSRecord.parse(packet)
    except DNSError as exc:
        log.info("dns: dropped a malformed packet (%s)", exc)
        return None
    if request.header.qr:
        return None  # a response: answering it could start a loop between servers
    return request


def build_zone(
    domain: str,
    scenarios: Iterable[Scenario],
    addresses: Mapping[str, str],
    alt_addresses: Mapping[str, str] | None = None,
) -> Zone:
    """The zone for the scenario table; `addresses` maps each label with an address of its own
    (Dns.A, wildcard owners included, and Dns.TRUNCATED) to that address, `alt_addresses` those
    with a second address to that one."""
    zone = Zone(domain)
    for scenario in scenarios:
        for name, node in _nodes(scenario, domain, addresses, alt_addresses or {}):
            zone.add(name, node)
    return zone


def build_site_zone(domain: str, apex: str, www: str | None) -> Zone:
    """A policy site's zone: the apex's A record, and www's unless `www` is None."""
    zone = Zone(domain)
    zone.add(domain, Node(addresses=(apex,)))
    if www is not None:
        zone.add(f"www.{domain}", Node(addresses=(www,)))
    return zone


def _nodes(
    scenario: Scenario,
    domain: str,
    addresses: Mapping[str, str],
    alt_addresses: Mapping[str, str],
) -> Iterator[tuple[str, Node]]:
    """The (name, node) pairs a scenario puts in the zone: none, its own, or a CNAME set."""
    name = scenario.name(domain)
    match scenario.dns:
        case Dns.A:
            alt = alt_addresses.get(scenario.label)
            primary = addresses[scenario.label]
            further: tuple[str, ...] = (alt,) if alt else ()
            further += (scenario.fixed_address,) if scenario.fixed_address else ()
            # The primary first: the order clients try them in, unless they sort.
            yield name, Node(addresses=(primary, *further))
        case Dns.TRUNCATED:
            yield name, Node(addresses=(addresses[scenario.label],), truncated=True)
        case Dns.FIXED:
            assert scenario.fixed_address is not None, scenario.label
            yield name, Node(addresses=(scenario.fixed_address,))
        case Dns.CNAME:
            assert scenario.cname_target is not None, scenario.label
            yield name, Node(cname=_canonical(f"{scenario.cname_target}.{domain}"))
        case Dns.CNAME_LOOP:
            assert scenario.cname_target is not None, scenario.label
            other = f"{scenario.cname_target}.{domain}"
            yield name, Node(cname=_canonical(other))
            yield other, Node(cname=_canonical(name))
        case Dns.CNAME_CHAIN:
            yield from _chain(name, scenario.chain_length, f"{CHAIN_END}.{domain}")
        case Dns.SERVFAIL:
            yield name, Node(servfail=True)
        case Dns.AAAA_SERVFAIL:
            yield name, Node(addresses=(addresses[scenario.label],), aaaa_servfail=True)
        case Dns.SILENT:
            yield name, Node(silent=True)
        case Dns.NXDOMAIN | Dns.WILDCARD:
            return  # WILDCARD: no record of its own, so the wildcard above it answers


def _chain(name: str, length: int, end: str) -> Iterator[tuple[str, Node]]:
    """`name -> l1.name -> ... -> l<length>.name -> end`, one CNAME node per link."""
    links = [name, *(f"l{n}.{name}" for n in range(1, length + 1))]
    for link, target in zip(links, [*links[1:], end], strict=True):
        yield link, Node(cname=_canonical(target))


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
        # After a query for a silent name the session never idles out: closing it would tell the
        # client something, and a silent server tells it nothing.
        idle: float | None = _TCP_IDLE_SECONDS
        try:
            while True:
                async with asyncio.timeout(idle):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    packet = await reader.readexactly(length)
                request = parse_query(packet)
                if request is None:
                    break
                reply = self.zones.respond(request, tcp=True)
                if reply is None:
                    idle = None
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client went away or idled: the normal end of a TCP DNS session
