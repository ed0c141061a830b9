"""A worker process's side of `workers` (`python -m hsts_coverage.probe.worker`): it reads hosts
and the apex check from its stdin, probes and judges them on its own event loop (`hosts`,
`apex`), and writes each answer to its stdout as it comes, in the frames `workers` describes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable

from hsts_coverage.models import ApexCheck, DnsAnswer
from hsts_coverage.probe.admission import FLOOR, Admission, auto_ceiling
from hsts_coverage.probe.hosts import FirstAsked, HostJudge, open_judge
from hsts_coverage.probe.limits import open_files_limit
from hsts_coverage.probe.memory import calm_collector, giving_back_freed_pages
from hsts_coverage.probe.workers import READY, decode, encode


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(1, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    first = await decode(reader)
    if first is None:
        return
    assert isinstance(first, tuple)
    config, now = first
    tasks: set[asyncio.Task[None]] = set()
    admission = Admission(FLOOR, config.concurrency or auto_ceiling(open_files_limit()))
    watch = asyncio.create_task(admission.watch(), name="admission")
    # The worker's resolver, told the answers the main process sends (`ApexCheck`).
    first_asked = FirstAsked(config)
    async with (
        giving_back_freed_pages(),
        _closing(first_asked),
        open_judge(config, now, first_asked) as judge,
    ):
        writer.write(encode(READY))
        while (request := await decode(reader)) is not None:
            assert isinstance(request, tuple)
            ident, asked, domain = request
            if isinstance(asked, ApexCheck):
                first_asked.know(asked.answers)
                task = asyncio.create_task(_answer_apex(judge, writer, ident, asked))
            else:
                task = asyncio.create_task(_answer(judge, admission, writer, ident, asked, domain))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for task in (*tasks, watch):
            task.cancel()
        await asyncio.gather(*tasks, watch, return_exceptions=True)


@contextlib.asynccontextmanager
async def _closing(resolver: FirstAsked) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await resolver.close()


async def _answer(
    judge: HostJudge,
    admission: Admission,
    writer: asyncio.StreamWriter,
    ident: int,
    dns: DnsAnswer,
    domain: str,
) -> None:
    async def judged() -> object:
        # Waiting here is not the host's time. A host on an address known to answer waits
        # behind those on addresses not known yet: they may wait seconds on a dead one, best
        # begun early.
        later = bool(dns.addresses) and judge.prober.reach.answers(dns.addresses[0], 443)
        async with admission.place(later=later):
            return await judge.judge(dns, domain)

    await _reply(writer, ident, judged())


async def _answer_apex(
    judge: HostJudge, writer: asyncio.StreamWriter, ident: int, check: ApexCheck
) -> None:
    # One request a scan, beside the hosts: it waits on the network as they do.
    from hsts_coverage.probe.apex import apex_facts

    facts = apex_facts(
        check.domain, prober=judge.prober, resolver=judge.resolver, policy=judge.policy
    )
    await _reply(writer, ident, facts)


async def _reply(writer: asyncio.StreamWriter, ident: int, work: Awaitable[object]) -> None:
    """`work`'s result as the answer to request `ident`, or its exception as a bug: a request
    is always answered, else the main process would wait for it to the end."""
    try:
        result = await work
    except Exception as exc:
        writer.write(encode((ident, None, f"{type(exc).__name__}: {exc}")))
    else:
        writer.write(encode((ident, result, None)))


def main() -> None:
    # Started early (`spare`), a worker inherits the command's start, with Ctrl-C held back.
    if hasattr(signal, "pthread_sigmask"):  # POSIX
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    calm_collector()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
