"""A scan process's memory: the cyclic collector kept calm, freed pages given back to the system.

Both are hand-written because no library does either: the first is two calls to `gc`, the
second one call to glibc's `malloc_trim` through ctypes.

Why give pages back. Each host in flight allocates and frees tens of KiB in C (OpenSSL's record
and handshake buffers, the event loop's read buffers, c-ares's answers); glibc keeps the freed
chunks inside its heaps, and returns to the system only the free space at a heap's top. So a
process holds, besides what it uses, pages it freed long ago: measured in the middle of a
10,000-name scan of the realistic mix, 9.8 MiB of the main process's 21.8 MiB of glibc heaps
were free chunks. `malloc_trim(0)` hands every whole free page back (`MADV_DONTNEED`), in every
heap, while the chunks stay free for reuse. A call costs 0.2 ms on a healthy fleet's heaps and
0.7 to 4 ms on an 80 MiB heap with half of it freed; a page given back and used again costs one
page fault. The pages are given back every `TRIM_SECONDS`, or less often when a call takes long
(a heap of hundreds of MiB): the trimming spends at most `TRIM_SHARE` of the time.

Why not more often. A process's peak is its peak between two calls, so every 0.05 s lowered the
summed peak RSS of both processes from 181.8 to 170.9 MiB on the realistic 10,000-name mix
(5 interleaved runs; CPU 11.66 -> 11.81 s) and from 105.0 to 102.8 MiB on the healthy
2,000-host fleet (11 runs). But the fleet's worker, CPU-bound, frees and reuses some 10 MiB of
heap every 0.05 s (mallinfo2's free bytes went from 2 to 17 MiB and back between two calls:
uvloop's 256 KiB read buffer of each TLS connection, OpenSSL's buffers), so pages given back are
soon faulted in again (the likely cost), and the fleet took 4.6 % longer (3.03 -> 3.17 s,
CPU 3.88 -> 4.00 s). In `make bench`, 7 rounds, alternating: 1.30 and 1.34 times the baseline
against 1.42 and 1.41 at 0.5 s, for 0 to 0.6 MiB less at the peak. Every 0.2 s: 1.2 MiB less on
the fleet, still 2 % more CPU. So 0.5 s: the mix is under its 200 MiB target without the
difference, and the fleet's throughput is what the shorter period would cost.

Where glibc's `malloc_trim` is missing (musl, macOS, another libc) nothing is trimmed.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache

# Allocations between two collections of the youngest generation (CPython's default: 700).
COLLECTOR_THRESHOLD = 20_000
TRIM_SECONDS = 0.5  # between two hand-backs of freed pages, at the shortest
TRIM_SHARE = 0.02  # of the time, at most, spent giving pages back


def calm_collector() -> None:
    """Keep the cyclic garbage collector from spending the CPU of a scan that mostly waits.

    Profiled on the realistic mix (10,000 names), a quarter of a worker's CPU while its hosts
    waited went to `gc_collect_main`: each host in flight keeps tasks, futures, sockets and the
    exceptions of its time-outs (with their tracebacks: cycles) alive, and every 700 allocations
    a collection walked them again. What is alive at start (modules, tables, options) is
    frozen out of the collector's view, and the youngest generation is collected every
    `COLLECTOR_THRESHOLD` allocations: the cycles are still freed, a few MiB later."""
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(COLLECTOR_THRESHOLD, second, third)


@asynccontextmanager
async def giving_back_freed_pages(every: float = TRIM_SECONDS) -> AsyncIterator[None]:
    """While the block runs, the process's free heap pages go back to the system every
    `every` seconds (see the module's docstring); nothing happens without glibc."""
    trim = malloc_trim()
    task = asyncio.create_task(_trim_every(trim, every), name="trim") if trim else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _trim_every(trim: Callable[[int], int], every: float) -> None:
    pause = every
    while True:
        await asyncio.sleep(pause)
        started = time.perf_counter()
        trim(0)
        pause = pause_after(time.perf_counter() - started, every)


def pause_after(spent: float, every: float, share: float = TRIM_SHARE) -> float:
    """Seconds until the next hand-back, after one that took `spent`: `every`, or long enough
    that the hand-backs take no more than `share` of the time."""
    return max(every, spent / share)


@cache
def malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim(pad)`, or None where the C library has none. Looked up among the
    symbols the process has loaded already (the C library's among them), not by a library
    search, which would start a subprocess (`ldconfig -p`)."""
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Callable[[int], int] = function
    return trim
