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
import dns.rrset

from hsts_coverage.resolve.channels import MAX_RENEWALS, Channels
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
    try:
        await channels.ask(lambda dns: dns.getaddrinfo(name, family=socket.AF_INET))
    except aiodns.error.DNSError as exc:
        return int(exc.args[0])
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


async def test_a_refusing_channel_is_renewed_once_and_only_so_many_times() -> None:
    channels = Channels(["127.0.0.1:9"], 1.0)
    renewed = []
    for _ in range(MAX_RENEWALS + 2):
        failed = channels.acquire()
        channels.release(failed)
        channels.renew(failed)
        channels.renew(failed)  # a second refusal of the same channel: no second swap
        renewed.append(channels.acquire() is not failed)
        channels.release(channels.acquire())
    assert renewed == [True] * MAX_RENEWALS + [False] * 2
    await channels.close()


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
        recycled = _bytes_per_name(address, "default")
    assert kept > 2000, kept  # the cache: about 1.7 KB a query, two queries a name
    assert recycled < kept / 3, (recycled, kept, time.monotonic() - started)
