"""One round of a domain's names: each name checked once, by a task made when the name has its
place among those resolved ahead (`Stages`), and the results handed over as they come.

asyncio only: what a check is, is the caller's (`Checker`: `orchestration._Scanner`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import DnsAnswer, HostResult, Judgement
from hsts_coverage.pipeline.domain import Domain
from hsts_coverage.probe.admission import FLOOR, Admission, Place, auto_ceiling
from hsts_coverage.probe.limits import open_files_limit

JudgeHost = Callable[[DnsAnswer, str], Awaitable[Judgement]]


@dataclass(frozen=True, slots=True)
class Stages:
    """The two places a name may hold: among the hosts being probed, or among the names being
    resolved (or waiting for a probe's place) ahead of them, at most as many as are probed
    (`resolving` follows `probing`'s limit). A name answered NXDOMAIN, a third of a real CT
    list, or waiting on a silent zone, never holds a probe's place, so such waits do not keep
    live hosts from starting; and names are not resolved far ahead of the probes (each one
    resolved and waiting costs memory: 12 MiB at 2,000 names resolved at once)."""

    probing: Admission
    resolving: Admission


class Checker(Protocol):
    """What checks one name (`orchestration._Scanner`)."""

    config: ScanConfig

    async def check(
        self, name: str, domain: Domain, judge: JudgeHost, stages: Stages, ahead: Place
    ) -> HostResult: ...


async def run_checks(
    scanner: Checker, domain: Domain, judge: JudgeHost, batch: list[str]
) -> AsyncIterator[HostResult]:
    """`Admission` decides how many probe a host at once, and as many more names may be resolved
    ahead of them (`Stages`). A name becomes a task only once it has its place among those
    resolved ahead: a name waiting for one is a string of the batch, not a task with its frames
    (at 2,000 names, 1,900 tasks waiting and 2.5 MiB of the main process's peak). At most twice
    the ceiling are alive at once (a host done waits to hand its result over)."""
    ceiling = scanner.config.concurrency or auto_ceiling(open_files_limit())
    admission = Admission(FLOOR, ceiling)
    results: asyncio.Queue[HostResult | BaseException] = asyncio.Queue(
        maxsize=max(1, min(len(batch), FLOOR))
    )
    stages = Stages(admission, admission.followed_by(Admission(FLOOR, ceiling)))
    alive = asyncio.Semaphore(2 * ceiling)
    tasks: set[asyncio.Task[None]] = set()

    async def check(name: str, ahead: Place) -> None:
        try:
            await results.put(await scanner.check(name, domain, judge, stages, ahead))
        except Exception as exc:  # a bug: hand it to the consumer, which re-raises it
            await results.put(exc)
        finally:
            alive.release()

    async def feed() -> None:
        try:
            for name in batch:
                await alive.acquire()
                ahead = await stages.resolving.place().take()
                task = asyncio.create_task(check(name, ahead), name=f"check-{name}")
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except Exception as exc:  # a bug: as above
            await results.put(exc)

    helpers = [
        asyncio.create_task(feed(), name="names"),
        asyncio.create_task(admission.watch(), name="admission"),
    ]
    try:
        for _ in batch:  # one result for each name
            item = await results.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        everything = [*helpers, *tasks]
        for task in everything:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*everything, return_exceptions=True)
