"""Politeness that costs nothing when it does not bind.

Hundreds of names from CT often sit behind one load balancer: `per_ip` caps the established
connections to one address at a time, whatever the scan's concurrency. `rate` caps new
connections per second across the scan (0: no cap). Gates exist only while an address has
connections waiting or open, so a scan of thousands of addresses does not accumulate them.

A slot is usually taken before connecting. The one attempt that finds out whether anything
answers on an address and port (`reach.Reachability`) takes its slot later, once the server has
answered (`connection(address, when_answered=True)`, then `take()`): a tarpit that accepts TCP
and never finishes a TLS handshake then holds no slot, and the names behind it do not queue.
"""

from __future__ import annotations

import asyncio
import resource
from collections import deque
from dataclasses import dataclass, field

# Where the hard limit is "unlimited", the soft one is raised this far (Linux's default nr_open).
_UNLIMITED_FILES = 1 << 20


def open_files_limit() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return _UNLIMITED_FILES if soft == resource.RLIM_INFINITY else soft


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (the scanner's own limit, not the hosts'):
    each connection in flight is a file descriptor. Returns the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # a hard limit above what the kernel allows
            return soft
        return target
    return soft


@dataclass(slots=True)
class _Gate:
    """One address's connections: how many are open, and who waits for a slot."""

    open: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)


@dataclass(slots=True)
class ConnectionLimits:
    per_ip: int = 8
    rate: float = 0.0  # new connections per second, 0 for no limit
    _gates: dict[str, _Gate] = field(default_factory=dict)
    _next_start: float = 0.0

    def connection(self, address: str, *, when_answered: bool = False) -> _Slot:
        """`async with limits.connection(address):` holds one of the address's slots; with
        `when_answered`, only from `await slot.take()` on (the rate is kept from the start)."""
        return _Slot(self, address, taken=not when_answered)

    async def _acquire(self, address: str) -> None:
        gate = self._gates.get(address)
        if gate is None:
            gate = self._gates[address] = _Gate()
        if gate.open >= self.per_ip:  # the common case, a free slot, takes no lock and no future
            waiter = asyncio.get_running_loop().create_future()
            gate.waiting.append(waiter)
            try:
                await waiter  # the slot is handed over by _release, `open` unchanged
            except BaseException:
                if not waiter.cancelled() and waiter.done():
                    self._release(address)  # handed over just as we were cancelled
                elif waiter in gate.waiting:
                    gate.waiting.remove(waiter)
                raise
            return
        gate.open += 1

    def _release(self, address: str) -> None:
        gate = self._gates[address]
        while gate.waiting:
            waiter = gate.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: `open` stays the same
                return
        gate.open -= 1
        if gate.open == 0:
            del self._gates[address]

    async def pace(self) -> None:
        if self.rate <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, self._next_start)
        self._next_start = start + 1 / self.rate
        if start > now:
            await asyncio.sleep(start - now)


class _Slot:
    """One connection's slot (a class, not a generator context manager: one per request)."""

    __slots__ = ("_address", "_held", "_limits", "_take_first")

    def __init__(self, limits: ConnectionLimits, address: str, *, taken: bool) -> None:
        self._limits = limits
        self._address = address
        self._take_first = taken
        self._held = False

    async def __aenter__(self) -> _Slot:
        if self._take_first:
            await self.take()
        try:
            await self._limits.pace()
        except BaseException:
            self._give_back()
            raise
        return self

    async def take(self) -> None:
        """Wait for one of the address's slots (once; it is held until the block ends)."""
        if not self._held:
            await self._limits._acquire(self._address)
            self._held = True

    def _give_back(self) -> None:
        if self._held:
            self._held = False
            self._limits._release(self._address)

    async def __aexit__(self, *exc_info: object) -> None:
        self._give_back()
