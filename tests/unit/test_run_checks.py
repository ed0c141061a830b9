"""How the names of one round become tasks (`pipeline.rounds.run_checks`): one task a
name, made once the name has its place among those resolved ahead; every name answered once;
a bug in a check ends the round with that bug."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from hsts_coverage.pipeline import rounds
from hsts_coverage.probe.admission import FLOOR, Place


class _Scanner:
    """Checks that wait at a gate, holding their place among the names resolved ahead."""

    def __init__(self, fail: str | None = None) -> None:
        self.config = SimpleNamespace(concurrency=None)  # the automatic ceiling: hundreds
        self.gate = asyncio.Event()
        self.fail = fail

    async def check(self, name: str, domain: Any, judge: Any, stages: Any, ahead: Place) -> str:
        async with ahead:
            await self.gate.wait()
            if name == self.fail:
                raise RuntimeError(f"a bug, for {name}")
        return name


def _run(scanner: _Scanner, batch: list[str]) -> Any:
    return rounds.run_checks(cast(Any, scanner), cast(Any, None), cast(Any, None), batch)


async def test_names_waiting_for_a_place_are_not_tasks_yet() -> None:
    scanner = _Scanner()
    batch = [f"h{i}.example.com" for i in range(1000)]
    results = _run(scanner, batch)
    first = asyncio.create_task(results.__anext__())
    await asyncio.sleep(0.05)
    alive = len(asyncio.all_tasks())
    scanner.gate.set()
    done = [await first] + [name async for name in results]
    # The names holding a place (the floor), the feeder, the admission's watch, this test.
    assert alive <= FLOOR + 5
    assert sorted(done) == sorted(batch)  # every name once


async def test_a_bug_in_one_check_ends_the_round_with_it() -> None:
    scanner = _Scanner(fail="h7.example.com")
    scanner.gate.set()
    with pytest.raises(RuntimeError, match="a bug, for h7"):
        async for _ in _run(scanner, [f"h{i}.example.com" for i in range(50)]):
            pass
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == 1  # nothing of the round is left running
