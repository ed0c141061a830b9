"""The hosts-in-flight limit: it grows while hosts only wait and the loop is idle, shrinks when
the loop lags, and stays between its floor and its ceiling."""

from __future__ import annotations

import asyncio

import pytest

from hsts_coverage.probe.admission import BUSY_LAG, IDLE_LAG, Admission, auto_ceiling


async def _held(admission: Admission, count: int) -> list[asyncio.Task[None]]:
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.place():
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(count)]
    await asyncio.sleep(0)
    return tasks


@pytest.mark.parametrize(
    ("lags", "hosts", "expected_limit"),
    [
        ([(BUSY_LAG * 2, 0.1)], 50, 12),  # late, but off the CPU: others' load, room for more
        ([(BUSY_LAG * 2, 0.9)] * 3, 50, 10),  # late and on the CPU: busy
        ([(0.0, 0.1, 0.2)] * 3, 50, 10),  # idle, but hosts done in 0.2 s each: not waiting
        ([], 50, 10),  # untouched: the floor
        ([0.0], 50, 12),  # idle, hosts waiting for a permit: a quarter more
        ([0.0] * 20, 50, 40),  # ... up to the ceiling
        ([0.0] * 20, 11, 12),  # no more than the hosts that wait for one
        ([IDLE_LAG * 2], 50, 10),  # neither idle nor busy: unchanged
        ([0.0] * 5 + [BUSY_LAG * 2] * 20, 50, 10),  # busy: back to the floor, not below
    ],
)
async def test_the_limit_follows_the_loop(
    lags: list[float | tuple[float, float] | tuple[float, float, float]],
    hosts: int,
    expected_limit: int,
) -> None:
    admission = Admission(10, 40)
    tasks = await _held(admission, hosts)
    for lag in lags:
        admission.adjust(*lag) if isinstance(lag, tuple) else admission.adjust(lag, 1.0)
        await asyncio.sleep(0)
    assert admission.limit == expected_limit
    assert admission.in_use == min(hosts, max(expected_limit, admission.peak))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert admission.in_use == 0


def test_the_automatic_ceiling_comes_from_the_open_files_limit() -> None:
    assert auto_ceiling(1024) == 384  # (1024 - 256) / 2
    assert auto_ceiling(256) == 100  # never under the floor
    assert auto_ceiling(1 << 20) == 1500


async def test_a_place_given_back_for_a_wait_is_taken_again_before_new_hosts() -> None:
    admission = Admission(1, 1)
    order: list[str] = []
    waited = asyncio.Event()
    done_waiting = asyncio.Event()

    async def waits_on_others() -> None:
        async with admission.place() as place:
            async with place.aside():  # the permit is free meanwhile
                waited.set()
                await done_waiting.wait()
            order.append("came back")

    async def new_host(name: str) -> None:
        async with admission.place():
            order.append(name)
            await asyncio.sleep(0.01)

    first = asyncio.create_task(waits_on_others())
    await waited.wait()
    assert admission.in_use == 0
    during = asyncio.create_task(new_host("during the wait"))
    await asyncio.sleep(0)
    done_waiting.set()
    later = asyncio.create_task(new_host("after it"))
    await asyncio.gather(first, during, later)
    assert order == ["during the wait", "came back", "after it"]
    assert (admission.in_use, admission.done) == (0, 3)  # the wait was not a host done


async def test_a_cancelled_wait_gives_nothing_back_twice() -> None:
    admission = Admission(1, 1)
    blocker_in = asyncio.Event()

    async def waits() -> None:
        async with admission.place() as place, place.aside():
            await asyncio.sleep(60)

    async def blocker() -> None:
        async with admission.place():
            blocker_in.set()
            await asyncio.sleep(60)

    waiting = asyncio.create_task(waits())
    await asyncio.sleep(0)
    holding = asyncio.create_task(blocker())
    await blocker_in.wait()
    waiting.cancel()  # while aside, with the only permit held by another
    await asyncio.gather(waiting, return_exceptions=True)
    assert admission.in_use == 1  # the blocker's, and nothing given back for the cancelled one
    holding.cancel()
    await asyncio.gather(holding, return_exceptions=True)
    assert admission.in_use == 0


async def test_names_resolved_ahead_follow_the_probes_limit() -> None:
    probing = Admission(10, 40)
    resolving = probing.followed_by(Admission(10, 40))
    tasks = await _held(probing, 50)
    probing.adjust(0.0, 1.0)  # idle, hosts waiting: a quarter more
    assert (probing.limit, resolving.limit) == (12, 12)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
