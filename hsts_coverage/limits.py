"""Politeness that costs nothing when it does not bind.

Hundreds of names from CT often sit behind one load balancer: `per_ip` caps the connections open
to one address at a time, whatever the scan's concurrency. `rate` caps new connections per second
across the scan (0: no cap). Gates exist only while an address has connections waiting or open,
so a scan of thousands of addresses does not accumulate them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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

    @asynccontextmanager
    async def connection(self, address: str) -> AsyncIterator[None]:
        """Hold one of the address's connection slots (waiting for one if needed)."""
        gate = self._gates.get(address)
        if gate is None:
            gate = self._gates[address] = _Gate(asyncio.Semaphore(self.per_ip))
        gate.users += 1
        try:
            async with gate.semaphore:
                await self._pace()
                yield
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[address]

    async def _pace(self) -> None:
        if self.rate <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, self._next_start)
        self._next_start = start + 1 / self.rate
        if start > now:
            await asyncio.sleep(start - now)
