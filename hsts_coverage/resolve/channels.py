"""The resolver's c-ares channels: renewed after refusals, recycled to drop c-ares's query cache.

c-ares (1.34, in pycares 5) keeps every answer it receives in a per-channel query cache for up
to an hour, about 1.7 KB per query (NXDOMAIN answers included, with their SOA), and pycares
offers no option to turn it off (c-ares's `ARES_OPT_QUERY_CACHE`). A scan asks each name once,
so the cache only grows: at 10,000 names, A and AAAA each, about 35 MiB. Here a channel serves
`RECYCLE_AFTER` queries, then a fresh one takes the new queries and the old one is closed once
its last query has ended. Measured through `Resolver` (tests/unit/test_channels.py, 6,000
NXDOMAIN names), a process grows 3.6 KB a name on one channel, 530 bytes recycled every 1,000
queries, 340 every 250 (every 100: no less). A channel costs 0.26 ms to open and close, so 250
it is: at 20,000 names, about 160 channels, 40 ms. A name asked twice in one scan (a CNAME
target met again) may be asked of the server again: one query more.

A channel whose queries are refused (ECONNREFUSED: c-ares shares one UDP socket per server, so
one port-unreachable error ends every query in flight on it, and a channel that has seen one
goes on refusing for seconds after the server is back) is renewed the same way: at most once per
channel, and at most once per `RENEW_INTERVAL`, so that a server that is really down, which
refuses every channel, costs a fresh channel a quarter of a second, not one per query. Seen
about 2 runs in 100 with four scans in parallel, and for 60 names at once in one 20,000-name
scan of the realistic mix, while the same server answered every other query; what set it off
is not known.
"""

from __future__ import annotations

import asyncio
import time

import aiodns

RECYCLE_AFTER = 250  # queries per channel
RENEW_INTERVAL = 0.25  # seconds: at most one channel swap after refusals in this time
DNS_RECEIVE_BUFFER = 4 << 20


class Channels:
    """The current channel, and those retired that still have queries in flight."""

    def __init__(
        self, servers: list[str] | None, timeout: float, *, recycle_after: int | None = None
    ) -> None:
        self._servers = servers
        self._timeout = timeout
        self._recycle_after = RECYCLE_AFTER if recycle_after is None else recycle_after
        self._current = self._open()
        self._sent = 0  # queries sent on the current channel
        # Every open channel and its queries in flight: any but the current one is retired,
        # and closed when its count comes to zero.
        self._in_flight: dict[aiodns.DNSResolver, int] = {self._current: 0}
        self._renewed_at = -float("inf")
        self._closing: set[asyncio.Task[None]] = set()

    def _open(self) -> aiodns.DNSResolver:
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

    @property
    def open_channels(self) -> int:
        return len(self._in_flight)

    def acquire(self) -> aiodns.DNSResolver:
        """The channel for one query; `release` it when the query has ended."""
        if self._sent >= self._recycle_after:
            self._retire(self._current)
        self._sent += 1
        self._in_flight[self._current] += 1
        return self._current

    def release(self, channel: aiodns.DNSResolver) -> None:
        self._in_flight[channel] -= 1
        if channel is not self._current and not self._in_flight[channel]:
            self._close(channel)

    def renew(self, failed: aiodns.DNSResolver) -> None:
        """Replace a channel that refused to reach the servers (once per channel, at most once
        per `RENEW_INTERVAL`)."""
        now = time.monotonic()
        if failed is self._current and now - self._renewed_at >= RENEW_INTERVAL:
            self._renewed_at = now
            self._retire(failed)

    async def close(self) -> None:
        """Close every channel (a query still in flight fails as cancelled)."""
        for channel in list(self._in_flight):
            self._close(channel)
        await asyncio.gather(*self._closing)

    def _retire(self, channel: aiodns.DNSResolver) -> None:
        self._current = self._open()
        self._sent = 0
        self._in_flight[self._current] = 0
        if not self._in_flight[channel]:  # else closed when its last query ends
            self._close(channel)

    def _close(self, channel: aiodns.DNSResolver) -> None:
        del self._in_flight[channel]
        task = asyncio.get_running_loop().create_task(channel.close())
        self._closing.add(task)  # a reference, until it is done
        task.add_done_callback(self._closing.discard)
