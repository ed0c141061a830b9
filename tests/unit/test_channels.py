"""The resolver's c-ares channels (resolve/channels.py), against a real DNS server on loopback:
recycled after so many queries (c-ares's query cache goes with the old channel), closed only
once their last query has ended, renewed after a refusal at most so many times."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import aiodns
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from hsts_coverage.config import Nameserver
from hsts_coverage.models import DnsStatus
from hsts_coverage.resolve import Resolver
from hsts_coverage.resolve.channels import RENEW_INTERVAL, Channels
from tests.helpers import UdpDnsServer


class NxServer(UdpDnsServer):
    """NXDOMAIN with the zone's SOA (what c-ares caches) for every name; a name that starts with
    "slow" is answered `delay` seconds late (the server's one thread sleeps)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(receive_buffer=1 << 20)
        self.delay = delay

    def reply(self, query: dns.message.Message) -> dns.message.Message | None:
        answer = dns.message.make_response(query)
        answer.set_rcode(dns.rcode.NXDOMAIN)
        soa = "ns.test. host.test. 1 3600 600 86400 300"
        answer.authority.append(dns.rrset.from_text("test.", 300, "IN", "SOA", soa))
        if query.question[0].name.to_text().startswith("slow"):
            time.sleep(self.delay)
        return answer


async def _nx(channels: Channels, name: str) -> int:
    channel = channels.acquire()  # as the resolver asks: one query, then the channel released
    try:
        await channel.getaddrinfo(name, family=socket.AF_INET)
    except aiodns.error.DNSError as exc:
        return int(exc.args[0])
    finally:
        channels.release(channel)
    return 0


async def test_a_channel_serves_so_many_queries_then_a_fresh_one_takes_over() -> None:
    with NxServer() as address:
        channels = Channels([address], 2.0, recycle_after=10)
        first = channels.acquire()
        channels.release(first)
        codes = [await _nx(channels, f"n{i}.test.") for i in range(25)]
        assert codes == [aiodns.error.ARES_ENOTFOUND] * 25  # every answer arrives
        assert channels.acquire() is not first
        assert channels.open_channels == 1  # the drained ones are closed
        await channels.close()


async def test_a_retired_channel_is_closed_only_after_its_last_query_ends() -> None:
    with NxServer(delay=0.5) as address:
        channels = Channels([address], 3.0, recycle_after=1)
        slow = asyncio.create_task(_nx(channels, "slow.test."))
        await asyncio.sleep(0.1)
        channels.release(channels.acquire())  # the next query goes to a fresh channel
        assert channels.open_channels == 2  # the slow query's channel is retired, not closed
        assert await slow == aiodns.error.ARES_ENOTFOUND  # answered, not cancelled
        assert channels.open_channels == 1
        await channels.close()


async def test_a_refusing_channel_is_renewed_once_and_at_most_so_often() -> None:
    channels = Channels(["127.0.0.1:9"], 1.0)
    renewed = []
    for pause in (0.0, RENEW_INTERVAL + 0.05, 0.0, RENEW_INTERVAL + 0.05):
        await asyncio.sleep(pause)
        failed = channels.acquire()
        channels.release(failed)
        channels.renew(failed)
        channels.renew(failed)  # a second refusal of the same channel: no second swap
        renewed.append(channels.acquire() is not failed)
        channels.release(channels.acquire())
    assert renewed == [True, True, False, True]
    await channels.close()


class GoneForAMoment(UdpDnsServer):
    """Answers an A record for every name; the first query for `gone.test` closes its socket
    for `seconds` (queries then meet a closed port: ECONNREFUSED, as a refusing channel does)
    and binds the same port again; later ones are not answered."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.gone = False

    def reply(self, query: dns.message.Message) -> dns.message.Message | None:
        name = query.question[0].name
        if name.to_text() == "gone.test." and self.gone:
            return None
        if name.to_text() == "gone.test.":
            self.gone = True
            port = self._sock.getsockname()[1]
            self._sock.close()
            time.sleep(self.seconds)
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.bind(("127.0.0.1", port))
            self._sock.settimeout(0.2)
            return None
        answer = dns.message.make_response(query)
        if query.question[0].rdtype == dns.rdatatype.A:
            answer.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1"))
        return answer


async def test_refusals_from_a_server_that_answers_others_are_asked_again() -> None:
    # Refused for 1.2 s (three counted tries and their pauses take under 1.2 s), but the server
    # answered just before (less than the pacer's 2 s of "answering"): every name is asked
    # again within its budget, on a fresh channel once the server is back, and resolves.
    with GoneForAMoment(1.2) as address:
        host, port = address.split(":")
        resolver = Resolver([Nameserver(host, int(port))], timeout=2.0, attempts=3)
        assert (await resolver.resolve("first.test")).status is DnsStatus.RESOLVED
        gone = asyncio.create_task(resolver.resolve("gone.test"))
        await asyncio.sleep(0.2)
        answers = await asyncio.gather(*(resolver.resolve(f"n{i}.test") for i in range(20)))
        failed = [a for a in answers if a.error or a.partial_error]
        assert not failed, failed[:2]
        gone.cancel()
        await resolver.close()


async def test_a_server_that_never_answered_is_unreachable_at_once() -> None:
    # Nothing listens: no answer ever came, so refusals count, and the name fails in well
    # under its budget (3 x 2 s).
    resolver = Resolver([Nameserver("127.0.0.1", 9)], timeout=2.0, attempts=3)
    started = time.monotonic()
    answer = await resolver.resolve("n.test")
    assert answer.status is DnsStatus.ERROR
    assert answer.error == "name server unreachable"
    assert time.monotonic() - started < 3.0
    await resolver.close()


LOOKUPS = 6000  # names
GROWTH = """
import asyncio, resource, sys
from hsts_coverage.config import Nameserver
from hsts_coverage.resolve import channels, Resolver

async def lookups(resolver, names):  # one of 200 side by side: no task per name
    for name in names:
        await resolver.resolve(name, dangling=False)

async def main(host, port, count):
    resolver = Resolver([Nameserver(host, int(port))], timeout=2.0, attempts=1)
    names = iter(f"n{i}.x{i % 50}.test" for i in range(500 + count))
    await asyncio.gather(*(lookups(resolver, (next(names) for _ in range(5))) for _ in range(100)))
    before = int(open("/proc/self/statm").read().split()[1])  # warmed up: the first channels
    await asyncio.gather(*(lookups(resolver, names) for _ in range(200)))
    after = int(open("/proc/self/statm").read().split()[1])
    print((after - before) * resource.getpagesize() / count)
    await resolver.close()

if sys.argv[3] != "default":
    channels.RECYCLE_AFTER = int(sys.argv[3])
asyncio.run(main(*sys.argv[1].split(":"), int(sys.argv[2])))
"""


def _bytes_per_name(address: str, recycle_after: str) -> float:
    """How much a resolver's process grows per name it resolves (A and AAAA, NXDOMAIN)."""
    command = [sys.executable, "-c", GROWTH, address, str(LOOKUPS), recycle_after]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return float(done.stdout)


def test_the_resolver_does_not_grow_with_every_name() -> None:
    with NxServer() as address:
        started = time.monotonic()
        kept = _bytes_per_name(address, str(10**9))  # one channel: c-ares caches every answer
        # The lower of two runs: a loaded machine (the suite's other tests) closes recycled
        # channels later, and that only ever adds to the growth.
        recycled = min(_bytes_per_name(address, "default") for _ in range(2))
    assert kept > 2000, kept  # the cache: about 1.7 KB a query, two queries a name
    # Recycled every 250 queries: about 340 bytes a name (every 1,000: 530, over an eighth).
    assert recycled < kept / 8, (recycled, kept, time.monotonic() - started)
