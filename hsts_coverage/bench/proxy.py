"""A delaying TCP proxy: a round-trip time for loopback, where the kernel here has no netem.

    python -m hsts_coverage.bench.proxy --routes FILE --rtt-ms MS

Each line of FILE is `LISTEN_ADDRESS:PORT UPSTREAM_ADDRESS:PORT`. The proxy listens on every
listen address and connects each accepted connection to its upstream, then relays bytes both
ways, each chunk delivered RTT/2 after it arrived (in order; later chunks do not wait for earlier
ones to be delivered, so it is latency, not a bandwidth limit). A TCP connect costs a round trip
on a real network, but the kernel accepts at once on loopback: so nothing the client sends
leaves before a full RTT after the accept, as if the SYN-ACK had only then come back (a TLS
1.3 handshake then takes 2 RTT from connect to the ServerHello, as it does over a real path).
An end of stream or a closed connection on one side reaches the other side RTT/2 later, as an
end of stream; a side is closed once both of its directions have ended. An upstream that
refuses is a reset for the client. Flow control is not modelled: the chunks are small.

Once every address listens it prints `ready N` (N listeners) on stdout; SIGTERM or SIGINT stops
it. One asyncio process: at the bench's rates (hundreds of connections at once, a few KB each)
it waits on timers, not on the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import signal
import sys
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

from hsts_coverage.lab.scale import raise_fd_limit

log = logging.getLogger("hsts_coverage.bench.proxy")

Endpoint = tuple[str, int]
_FD_RESERVE = 2048  # two descriptors per relayed connection, beyond the listeners


class DelayLine:
    """Bytes (None: the end of the stream) delivered to a transport `delay` seconds after they
    were fed, and never before `not_before` + `delay` (loop time); in order."""

    def __init__(self, delay: float, on_end: Callable[[], None], not_before: float = 0.0) -> None:
        self._loop = asyncio.get_running_loop()
        self._delay = delay
        self._on_end = on_end
        self._not_before = not_before
        self._queue: deque[tuple[float, bytes | None]] = deque()
        self._target: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._ended = False  # the end was fed: nothing more is taken

    def attach(self, target: asyncio.Transport) -> None:
        self._target = target
        self._schedule()

    def detach(self) -> None:
        """The target is gone: drop what is in flight."""
        self._target = None
        self._queue.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def feed(self, data: bytes | None) -> None:
        if self._ended:
            return
        self._ended = data is None
        due = max(self._loop.time(), self._not_before) + self._delay
        self._queue.append((due, data))
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is None and self._queue and self._target is not None:
            self._timer = self._loop.call_at(self._queue[0][0], self._flush)

    def _flush(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._queue and self._target is not None and self._queue[0][0] <= now:
            _, data = self._queue.popleft()
            if data is None:
                self._on_end()
            else:
                self._target.write(data)
        self._schedule()


class _Side(asyncio.Protocol):
    """One connection of a relayed pair: `incoming` delivers the peer's bytes to it, and what it
    reads goes to the peer through `outgoing` (the peer's `incoming`)."""

    def __init__(self, delay: float, sides: set[_Side], not_before: float = 0.0) -> None:
        self.incoming = DelayLine(delay, self._peer_ended, not_before)
        self.outgoing: DelayLine | None = None
        self.transport: asyncio.Transport | None = None
        self._sides = sides
        self._read_done = False
        self._write_done = False
        sides.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.incoming.attach(self.transport)

    def data_received(self, data: bytes) -> None:
        if self.outgoing is not None:
            self.outgoing.feed(data)

    def eof_received(self) -> bool:
        self._read_done = True
        if self.outgoing is not None:
            self.outgoing.feed(None)
        self._close_if_done()
        return True  # keep writing: the peer's answer may still be on its way

    def connection_lost(self, exc: Exception | None) -> None:
        self._read_done = self._write_done = True
        self._sides.discard(self)
        self.incoming.detach()
        if self.outgoing is not None:
            self.outgoing.feed(None)

    def abort(self) -> None:
        self._sides.discard(self)
        if self.transport is not None:
            self.transport.abort()

    def _peer_ended(self) -> None:
        self._write_done = True
        if self.transport is None:
            return
        try:
            self.transport.write_eof()
        except OSError:
            # Reading stopped at this side's own end of stream, so a reset that came after it
            # went unnoticed: the socket is dead, and only closing it frees it.
            self.transport.abort()
            return
        self._close_if_done()

    def _close_if_done(self) -> None:
        if self._read_done and self._write_done and self.transport is not None:
            self.transport.close()


class DelayProxy:
    """Listeners for `routes` (listen endpoint -> upstream endpoint), relaying with `rtt`
    seconds of round trip. Port 0 in a listen endpoint picks a free port (see `listening`)."""

    def __init__(self, routes: Mapping[Endpoint, Endpoint], rtt: float) -> None:
        self.routes = dict(routes)
        self.rtt = rtt
        self.listening: dict[Endpoint, Endpoint] = {}  # bound endpoint -> upstream
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._sides: set[_Side] = set()

    @property
    def connections(self) -> int:
        """Relayed connections still open (two per client: its own and the upstream one)."""
        return len(self._sides)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for (host, port), upstream in self.routes.items():
            server = await loop.create_server(functools.partial(self._accept, upstream), host, port)
            self._servers.append(server)
            bound = server.sockets[0].getsockname()
            self.listening[(bound[0], bound[1])] = upstream

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for side in list(self._sides):
            side.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()

    def _accept(self, upstream: Endpoint) -> _Side:
        loop = asyncio.get_running_loop()
        client = _Side(self.rtt / 2, self._sides)
        # Client bytes wait for the connect's round trip, which the kernel skipped (see above).
        server = _Side(self.rtt / 2, self._sides, not_before=loop.time() + self.rtt)
        client.outgoing, server.outgoing = server.incoming, client.incoming
        task = loop.create_task(self._connect(client, server, upstream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return client

    async def _connect(self, client: _Side, server: _Side, upstream: Endpoint) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: server, *upstream)
        except OSError as exc:
            log.info("proxy: %s:%d: %s", *upstream, exc)
            server.abort()
            await asyncio.sleep(self.rtt)
            client.abort()  # a reset, as a refused connect looks to the client


def read_routes(path: Path) -> dict[Endpoint, Endpoint]:
    """`LISTEN:PORT UPSTREAM:PORT` lines (IPv4) -> {listen endpoint: upstream endpoint}."""
    routes: dict[Endpoint, Endpoint] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            listen, upstream = line.split()
            routes[_endpoint(listen)] = _endpoint(upstream)
    return routes


def write_routes(path: Path, routes: Mapping[Endpoint, Endpoint]) -> None:
    lines = [f"{a}:{p} {ua}:{up}\n" for (a, p), (ua, up) in routes.items()]
    path.write_text("".join(lines))


def _endpoint(text: str) -> Endpoint:
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def serve(routes: Mapping[Endpoint, Endpoint], rtt: float) -> None:
    """Run the proxy until SIGTERM or SIGINT, printing `ready N` once it listens."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    proxy = DelayProxy(routes, rtt)
    try:
        await proxy.start()
        print(f"ready {len(proxy.listening)}", flush=True)
        await stopping.wait()
    finally:
        await proxy.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hsts_coverage.bench.proxy")
    parser.add_argument("--routes", type=Path, required=True, help="LISTEN:PORT UPSTREAM:PORT")
    parser.add_argument("--rtt-ms", type=float, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(message)s")
    routes = read_routes(args.routes)
    try:
        raise_fd_limit(len(routes) + _FD_RESERVE)
        asyncio.run(serve(routes, args.rtt_ms / 1000))
    except OSError as exc:
        log.error("proxy: cannot start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
