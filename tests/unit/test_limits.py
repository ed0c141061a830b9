"""Connection limits: per address at a time, and new connections per second."""

from __future__ import annotations

import asyncio

from hsts_coverage.limits import ConnectionLimits


async def test_per_ip_connections_never_overlap() -> None:
    limits = ConnectionLimits(per_ip=1)
    open_now = peak = 0

    async def connect(address: str) -> None:
        nonlocal open_now, peak
        async with limits.connection(address):
            open_now += 1
            peak = max(peak, open_now)
            await asyncio.sleep(0.001)
            open_now -= 1

    await asyncio.gather(*(connect("192.0.2.1") for _ in range(50)))
    assert peak == 1
    assert not limits._gates  # no gate is kept once an address is idle


async def test_other_addresses_are_not_held_back() -> None:
    limits = ConnectionLimits(per_ip=1)
    open_now = peak = 0

    async def connect(address: str) -> None:
        nonlocal open_now, peak
        async with limits.connection(address):
            open_now += 1
            peak = max(peak, open_now)
            await asyncio.sleep(0.01)
            open_now -= 1

    await asyncio.gather(*(connect(f"192.0.2.{i}") for i in range(20)))
    assert peak == 20


async def test_rate_spaces_new_connections() -> None:
    limits = ConnectionLimits(per_ip=100, rate=50)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def connect() -> None:
        async with limits.connection("192.0.2.1"):
            starts.append(loop.time())

    await asyncio.gather(*(connect() for _ in range(11)))
    assert starts[-1] - starts[0] >= 10 / 50 - 0.005
