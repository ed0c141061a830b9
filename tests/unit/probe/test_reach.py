"""The table of addresses and ports: one wait per dead address, a small entry per live one."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest

from hsts_coverage.probe.reach import ConnectTimeoutError, Reachability, SharedOutcome

Established = Callable[[], None] | None


async def answered(established: Established) -> Established:
    if established is not None:
        established()
    return established


async def timed_out(established: Established) -> Established:
    raise ConnectTimeoutError("connect timed out after 3 s")


async def test_a_dead_address_decides_for_the_names_after_it() -> None:
    reach = Reachability()
    with pytest.raises(ConnectTimeoutError):
        await reach.attempt("192.0.2.1", 443, 3.0, "a.example", timed_out)
    with pytest.raises(SharedOutcome, match=r"connect timed out, shared with a\.example"):
        await reach.attempt("192.0.2.1", 443, 3.0, "b.example", answered)
    # Another port, or the full time-out of the second try, is not decided by it.
    assert await reach.attempt("192.0.2.1", 80, 3.0, "b.example", answered) is not None
    assert await reach.attempt("192.0.2.1", 443, 10.0, "b.example", answered) is not None


@pytest.mark.parametrize(("first", "then"), [(3.0, 3.0), (3.0, 10.0), (10.0, 3.0)])
async def test_after_an_answer_every_name_connects_on_its_own(first: float, then: float) -> None:
    reach = Reachability()
    assert await reach.attempt("192.0.2.1", 443, first, "a.example", answered) is not None
    assert reach.answers("192.0.2.1", 443)
    assert not reach.answers("192.0.2.1", 80)
    # No `established` callback: nobody waits on this name's attempt.
    assert await reach.attempt("192.0.2.1", 443, then, "b.example", answered) is None


async def test_an_address_that_answers_costs_a_set_entry_per_port() -> None:
    # One entry per address and port the scan meets, in the worker for the whole scan: 225
    # bytes each when every key was kept twice (a tuple with its time-out, and one without).
    reach = Reachability()
    addresses = [f"10.0.{i >> 8}.{i & 255}" for i in range(10_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for address in addresses:
            for port in (80, 443):
                await reach.attempt(address, port, 3.0, "a.example", answered)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept / (2 * len(addresses)) < 80
