"""How fast one resolver is asked: DNS at the pace of its answers (issue 14).

A loss that is followed by an answer for the same name shows that the resolver, not the name,
was the trouble: `Pacer` then halves the queries in flight and sets (or cuts) a rate, both
growing back as answers come (AIMD, as TCP's congestion control). One pacer per scan's resolver
(c-ares asks the first of several servers, the next only when one fails); `resolver` says what
a loss is.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

# Queries in flight at most: a burst of answers must fit the socket's receive buffer (lost
# answers cost a retry each), whatever the number of hosts in flight.
MAX_IN_FLIGHT = 500
MIN_IN_FLIGHT = 4
MIN_RATE = 20.0  # queries per second: the slowest pace, after losses
# Losses do not slow the pace below the best rate seen over this: a name that needs a long
# recursion also looks lost to c-ares's short time-out, and slowing down does not help it.
RATE_FLOOR_SHARE = 16.0
# A loss sets the rate to this share of the answers per second of late: a resolver that loses
# queries under load answers about as many as it can, so just under that is its pace.
RATE_CUT = 0.75
EPOCH_SECONDS = 1.0  # at most one slow-down per second: its effect takes a round trip to show
UNPACED = 20_000.0  # a rate grown back above this is no rate at all
RATE_GROWTH = 0.1  # per answer: at its rate, the rate grows by a tenth each second
ANSWERING_SECONDS = 2.0  # a resolver that answered this recently answers (its REFUSED is load)


class Pacer:
    """How fast one resolver is asked: queries in flight and, once it has lost some, per second.

    `async with pacer:` holds a query slot. Hand-written: a semaphore whose size changes, and a
    rate that exists only after losses, cost less here than a general limiter (every query of
    the scan passes through)."""

    def __init__(self, window: int = MAX_IN_FLIGHT) -> None:
        self.ceiling = float(window)
        self.window = float(window)
        self.rate: float | None = None  # queries per second; None: not paced by rate
        self.in_flight = 0
        self.slowdowns = 0
        self.last_answer = -float("inf")
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._next_send = 0.0
        self._slowed_at = -float("inf")
        self._bucket_start = time.monotonic()
        self._bucket = 0  # answers since _bucket_start
        self._last_rate = 0.0  # answers per second in the bucket before
        self._best_rate = 0.0  # the most answers per second seen

    async def __aenter__(self) -> None:
        if self.in_flight < self.window and not self._waiting:
            self.in_flight += 1
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter  # handed over with the slot taken
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()
                elif waiter in self._waiting:
                    self._waiting.remove(waiter)
                raise
        if self.rate is not None:
            await self._spaced(self.rate)

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    async def _spaced(self, rate: float) -> None:
        now = time.monotonic()
        send = max(now, self._next_send)
        self._next_send = send + 1.0 / rate
        if send > now:
            try:
                await asyncio.sleep(send - now)
            except BaseException:
                self._release()
                raise

    def _release(self) -> None:
        self.in_flight -= 1
        self._release_room()

    def answered(self) -> None:
        """An answer came (any rcode but REFUSED): a little more room."""
        now = self.last_answer = time.monotonic()
        if now - self._bucket_start >= 1.0:
            self._last_rate = self._bucket / (now - self._bucket_start)
            self._best_rate = max(self._best_rate, self._last_rate)
            self._bucket_start, self._bucket = now, 0
        self._bucket += 1
        self.window = min(self.ceiling, self.window + 1.0 / self.window)
        if self.rate is not None:
            self.rate += RATE_GROWTH
            if self.rate > UNPACED:
                self.rate = None
        self._release_room()

    def lost(self, sent: float) -> None:
        """A query sent at `sent` went unanswered (or refused) although the resolver answers:
        slow down, once per loss epoch (losses of queries sent before the last slow-down are
        its cause, not news)."""
        now = time.monotonic()
        if sent <= self._slowed_at or now - self._slowed_at < EPOCH_SECONDS:
            return
        self._slowed_at = now
        self.slowdowns += 1
        self.window = max(MIN_IN_FLIGHT, self.window / 2)
        span = now - self._bucket_start
        recent = max(self._last_rate, self._bucket / span if span > 0.25 else 0.0)
        floor = max(MIN_RATE, self._best_rate / RATE_FLOOR_SHARE)
        self.rate = max(floor, min(self.rate or UNPACED, recent) * RATE_CUT)

    def answering(self) -> bool:
        return time.monotonic() - self.last_answer < ANSWERING_SECONDS

    def _release_room(self) -> None:
        while self._waiting and self.in_flight < self.window:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
