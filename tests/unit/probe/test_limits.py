"""Connection limits: per address at a time, and new connections per second."""

from __future__ import annotations

import asyncio

import pytest

from hsts_coverage.probe.limits import ConnectionLimits


async def peak_open(limits: ConnectionLimits, addresses: list[str], hold: float) -> int:
    """The most connections open at once when every address connects at the same moment."""
    open_now = peak = 0

    async def connect(address: str) -> None:
        nonlocal open_now, peak
        async with limits.connection(address):
            open_now += 1
            peak = max(peak, open_now)
            await asyncio.sleep(hold)
            open_now -= 1

    await asyncio.gather(*(connect(address) for address in addresses))
    return peak


async def test_per_ip_connections_never_overlap() -> None:
    limits = ConnectionLimits(per_ip=1)
    assert await peak_open(limits, ["192.0.2.1"] * 50, 0.001) == 1
    assert not limits._gates  # no gate is kept once an address is idle


async def test_other_addresses_are_not_held_back() -> None:
    addresses = [f"192.0.2.{i}" for i in range(20)]
    assert await peak_open(ConnectionLimits(per_ip=1), addresses, 0.01) == 20


async def test_rate_spaces_new_connections() -> None:
    limits = ConnectionLimits(per_ip=100, rate=50)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def connect() -> None:
        async with limits.connection("192.0.2.1"):
            starts.append(loop.time())

    await asyncio.gather(*(connect() for _ in range(11)))
    assert starts[-1] - starts[0] >= 10 / 50 - 0.005


async def test_a_slot_taken_when_answered_holds_nothing_before() -> None:
    # The first attempt on an address (a tarpit's hanging handshake, maybe) holds no slot
    # until the server has answered; then it holds one like any other connection.
    limits = ConnectionLimits(per_ip=1)
    async with limits.connection("192.0.2.1", when_answered=True) as first:
        async with asyncio.timeout(1), limits.connection("192.0.2.1"):
            pass  # a slot was free: `first` holds none yet
        await first.take()
        await first.take()  # once: a second take changes nothing
        assert limits._gates["192.0.2.1"].open == 1
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05), limits.connection("192.0.2.1"):
                pass
    assert not limits._gates
