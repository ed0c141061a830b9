"""How many hosts are in flight: enough for the CPU, more while they only wait.

A scan's CPU goes to TLS handshakes and certificate work; its wall time, on a real CT list, to
waiting (connects to dead addresses, silent name servers, slow answers). A fixed number of hosts
in flight is either too few (each slot sits through a time-out while the CPU idles) or too many
(memory and handshakes piling up on a busy loop). So the limit adapts: it starts at `floor`
(100) and, while every admitted host is busy and the event loop answers promptly (the CPU is not
saturated: a sleep of `TICK` overruns by less than `IDLE_LAG`, or somewhat more while the process
spends under `IDLE_SHARE` of the time on the CPU: the machine's other load, not ours), it grows
by a quarter each tick, up to `ceiling`; when the loop lags (`BUSY_LAG`) with the process on the
CPU, it shrinks back towards `floor` (hosts in flight finish, no new one is admitted until the
count is under the limit).

A host that waits on another's outcome gives its permit back for the wait (`Place.aside`) and,
coming back, goes before the hosts not started yet; a host whose address is known to answer
queues behind the others (`later`: CPU work that can come at any time, while a new address may
be a dead one whose wait is best begun early). A second `Admission` can follow this one's
limit (`followed_by`): the pipeline's names resolved ahead of the probes.

The ceiling is `--concurrency` when given; by default it is sized from the open-files budget
(`auto_ceiling`: a host in flight holds up to two sockets, and the rest of the process needs a
few hundred descriptors), at most `MAX_AUTO`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

FLOOR = 100
# Hosts in flight by default, at most: each costs memory in both processes, fewer cost time
# where most names wait. Realistic mix, `make bench`, scanner alone, 3 rounds, once freed pages
# went back to the system (`memory`): at 1,750, 10,000 names peaked at 200.8 MiB (ratio to the
# lower bound 1.07) and 20,000 took 1.22 times the bound; at 1,500, 178.1 MiB (1.01) and 1.40
# (198.0 MiB); at 1,250, 168.4 MiB (1.04) and 1.35 (190.2 MiB).
MAX_AUTO = 1500
TICK = 0.05  # seconds between two looks at the event loop
IDLE_LAG = 0.01  # a tick late by less than this: the loop has room for more hosts
BUSY_LAG = 0.05  # late by more: too many hosts for the CPU
WAITING_SECONDS = 1.5  # hosts that take longer than this each, of late, mostly wait
WINDOW = 10  # ticks over which hosts done are counted
IDLE_SHARE = 0.5  # on the CPU for less than this share of a tick: the process mostly waits
_RESERVED_FILES = 256  # descriptors for everything else (DNS, reports, workers' pipes)


def auto_ceiling(open_files: int) -> int:
    """Hosts in flight the open-files limit allows: two sockets each, some files kept back."""
    return max(FLOOR, min(MAX_AUTO, (open_files - _RESERVED_FILES) // 2))


class Admission:
    """The hosts-in-flight permits: `async with admission.place() as place:` holds one, and
    `place.aside()` gives it back for a wait."""

    def __init__(self, floor: int, ceiling: int) -> None:
        self.floor = min(floor, ceiling)
        self.ceiling = ceiling
        self.limit = self.floor
        self.in_use = 0
        self.peak = 0
        self.done = 0  # hosts done so far
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._later: deque[asyncio.Future[None]] = deque()  # admitted once `_waiting` is empty
        self._followers: list[Admission] = []

    def followed_by(self, other: Admission) -> Admission:
        """`other`'s limit is this one's from now on (names resolved ahead of the hosts being
        probed: at most as many as are probed at once). Returns `other`."""
        other.limit = self.limit
        self._followers.append(other)
        return other

    def place(self, *, later: bool = False) -> Place:
        """A permit for one host; `later`: behind every host not `later` (see `_enter`)."""
        return Place(self, later=later)

    async def _enter(self, *, first: bool = False, later: bool = False) -> None:
        """Take a permit. `first`: ahead of every host waiting (one coming back from a wait,
        already started, goes before the hosts not started yet). `later`: behind every host
        not `later` (a host whose address is known to answer is CPU work that can come at any
        time; one on an address not tried yet may wait seconds, and the sooner that wait
        starts, the sooner the scan ends)."""
        if self.in_use < self.limit and not self._waiting and not self._later:
            self._take()
            return
        waiter = asyncio.get_running_loop().create_future()
        queue = self._later if later else self._waiting
        if first:
            queue.appendleft(waiter)
        else:
            queue.append(waiter)
        try:
            await waiter  # handed over with the permit taken
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._give_back(done=False)
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def _take(self) -> None:
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)

    def _give_back(self, *, done: bool = True) -> None:
        self.in_use -= 1
        self.done += done
        self._wake()

    def _wake(self) -> None:
        while (self._waiting or self._later) and self.in_use < self.limit:
            waiter = (self._waiting or self._later).popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)

    def adjust(self, lag: float, cpu_share: float = 0.0, host_seconds: float = 60.0) -> None:
        """One tick's look at the loop: `lag` seconds late, this process on the CPU for
        `cpu_share` of the tick (on a machine shared with others the lag alone also counts their
        load: a loop that is late but mostly off the CPU is waiting, not busy), hosts taking
        `host_seconds` each of late (hosts in flight over hosts done per second: Little's law).
        Hosts done in well under a second are busy, not waiting (a healthy fleet, whose
        handshakes may be in worker processes): no more of them."""
        idle = lag < IDLE_LAG or (lag < BUSY_LAG * 4 and cpu_share < IDLE_SHARE)
        waiting = host_seconds > WAITING_SECONDS
        if idle and waiting and (self._waiting or self._later) and self.in_use >= self.limit:
            self._set_limit(min(self.ceiling, self.limit + max(1, self.limit // 4)))
        elif lag > BUSY_LAG and cpu_share > IDLE_SHARE:
            self._set_limit(max(self.floor, self.limit - max(1, self.limit // 4)))

    def _set_limit(self, limit: int) -> None:
        for admission in (self, *self._followers):
            admission.limit = limit
            admission._wake()

    async def watch(self) -> None:
        """Adjust the limit every tick, until cancelled (a task beside the hosts)."""
        loop = asyncio.get_running_loop()
        if self.floor >= self.ceiling:
            return  # nothing to adapt
        done: deque[tuple[float, int]] = deque([(loop.time(), self.done)], maxlen=WINDOW)
        while True:
            started, cpu = loop.time(), time.process_time()
            await asyncio.sleep(TICK)
            now = loop.time()
            elapsed = now - started
            done.append((now, self.done))
            if len(done) < WINDOW or not self.done:
                continue  # no host done yet (a worker process starting): nothing to go by
            rate = (done[-1][1] - done[0][1]) / max(now - done[0][0], TICK)
            host_seconds = self.in_use / rate if rate else float("inf")
            self.adjust(elapsed - TICK, (time.process_time() - cpu) / elapsed, host_seconds)


class Place:
    """One host's permit: held from `async with` on, given back during `aside()` (a wait on
    another task's outcome: see `hsts_coverage.waiting`)."""

    def __init__(self, admission: Admission, *, later: bool = False) -> None:
        self._admission = admission
        self._later = later
        self._held = False

    async def __aenter__(self) -> Place:
        return await self.take()

    async def take(self) -> Place:
        """The permit, now: a place taken before its block (`async with`) is held there as is."""
        if not self._held:
            await self._admission._enter(later=self._later)
            self._held = True
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Give the permit back now (at the latest when the block ends)."""
        if self._held:
            self._held = False
            self._admission._give_back()

    @asynccontextmanager
    async def aside(self) -> AsyncIterator[None]:
        if not self._held:  # a wait within a wait: the permit is already given back
            yield
            return
        self._held = False
        self._admission._give_back(done=False)
        yield  # if the wait raises (cancelled, an error), the host ends: no permit to take again
        await self._admission._enter(first=True)  # cancelled here: not held, nothing to give
        self._held = True
