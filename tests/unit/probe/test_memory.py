"""A scan process gives the pages it freed back to the system (`probe.memory`)."""

from __future__ import annotations

import asyncio
import ctypes
import subprocess
import sys
import textwrap
import time

import pytest

from hsts_coverage.probe import memory

# Every other 32 KiB block of 64 MiB freed: 32 MiB of free chunks between live ones, which
# glibc's free() keeps (only a heap's free top goes back on its own).
_FREE_HALF_OF_64_MIB = textwrap.dedent(
    """
    import asyncio, sys
    from hsts_coverage.probe.memory import giving_back_freed_pages

    def rss_mib():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096 / 2**20

    blocks = [b"x" * 32768 for _ in range(2048)]
    del blocks[::2]
    before = rss_mib()

    async def run():
        if sys.argv[1] == "trim":
            async with giving_back_freed_pages(every=0.05):
                await asyncio.sleep(0.3)
        else:
            await asyncio.sleep(0.3)

    asyncio.run(run())
    print(before - rss_mib())
    """
)


def _given_back_mib(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _FREE_HALF_OF_64_MIB, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(done.stdout)


@pytest.mark.skipif(memory.malloc_trim() is None, reason="glibc's malloc_trim is missing")
def test_freed_pages_go_back_to_the_system_while_a_scan_runs() -> None:
    assert _given_back_mib("trim") > 20  # of the 32 MiB freed (the blocks' edges stay)
    assert _given_back_mib("wait") < 5  # without it, glibc keeps them


def test_without_glibcs_malloc_trim_nothing_is_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoTrim:
        def __init__(self, name: object) -> None:
            pass

        def __getattr__(self, name: str) -> object:
            raise AttributeError(name)  # what ctypes says of a symbol the library lacks

    monkeypatch.setattr(ctypes, "CDLL", NoTrim)
    assert memory.malloc_trim.__wrapped__() is None

    async def run() -> set[str]:
        async with memory.giving_back_freed_pages(every=0.01):
            await asyncio.sleep(0.03)
            return {task.get_name() for task in asyncio.all_tasks()}

    monkeypatch.setattr(memory, "malloc_trim", lambda: None)
    assert "trim" not in asyncio.run(run())


def test_the_trimming_stops_with_the_block() -> None:
    async def run() -> tuple[set[str], set[str]]:
        async with memory.giving_back_freed_pages(every=0.01):
            await asyncio.sleep(0.03)
            inside = {task.get_name() for task in asyncio.all_tasks()}
        return inside, {task.get_name() for task in asyncio.all_tasks()}

    inside, after = asyncio.run(run())
    assert ("trim" in inside) is (memory.malloc_trim() is not None)
    assert "trim" not in after


@pytest.mark.parametrize(
    ("spent", "every", "share", "pause"),
    [
        (0.0002, 0.05, 0.02, 0.05),  # a fleet's quick hand-back: the shortest pause
        (0.001, 0.05, 0.02, 0.05),  # exactly the share
        (0.004, 0.05, 0.02, 0.2),  # a big heap's: 2 % of the time, not 8 %
        (0.004, 0.5, 0.02, 0.5),  # a longer pause asked for stays
        (0.0, 0.05, 0.02, 0.05),
    ],
)
def test_the_pause_keeps_the_hand_backs_to_their_share_of_the_time(
    spent: float, every: float, share: float, pause: float
) -> None:
    assert memory.pause_after(spent, every, share) == pytest.approx(pause)


def test_a_slow_hand_back_is_followed_by_a_longer_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []

    def slow_trim(pad: int) -> int:
        calls.append(time.perf_counter())
        time.sleep(0.01)  # 10 ms: at 2 % of the time, the next one 0.5 s later
        return 1

    monkeypatch.setattr(memory, "malloc_trim", lambda: slow_trim)

    async def run() -> None:
        async with memory.giving_back_freed_pages(every=0.005):
            await asyncio.sleep(0.4)

    asyncio.run(run())
    assert len(calls) == 1  # every 5 ms regardless of the cost, it would be about 25
