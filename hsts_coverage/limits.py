"""Politeness that costs nothing when it does not bind.

Hundreds of names from CT often sit behind one load balancer: `per_ip` caps the connections open
to one address at a time, whatever the scan's concurrency. `rate` caps new connections per second
across the scan (0: no cap). Gates exist only while an address has connections waiting or open,
so a scan of thousands of addresses does not accumulate them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Gate:
    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass(slots=True)
class ConnectionLimits:
    per_ip: int = 8
    rate: float = 0.0  # new connections per second, 0 for no limit
    _gates: dict[str, _Gate] = field(default_factory=dict)
    _next_start: float = 0.0

    def connection(self, address: str) -> _Slot:
        """`async with limits.connection(address):` holds one of the address's slots."""
        return _Slot(self, address)

    def _enter(self, address: str) -> _Gate:
        gate = self._gates.get(address)
        if gate is None:
            gate = self._gates[address] = _Gate(asyncio.Semaphore(self.per_ip))
        gate.users += 1
        return gate

    def _leave(self, address: str, gate: _Gate) -> None:
        gate.users -= 1
        if gate.users == 0:
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

    __slots__ = ("_address", "_gate", "_limits")

    def __init__(self, limits: ConnectionLimits, address: str) -> None:
        self._limits = limits
        self._address = address
        self._gate: _Gate | None = None

    async def __aenter__(self) -> None:
        gate = self._gate = self._limits._enter(self._address)
        try:
            await gate.semaphore.acquire()
        except BaseException:
            self._limits._leave(self._address, gate)
            raise
        try:
            await self._limits.pace()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._gate is not None
        self._gate.semaphore.release()
        self._limits._leave(self._address, self._gate)
