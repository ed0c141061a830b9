"""Worker processes: the other cores, for the handshakes.

A scan spends its CPU on TLS handshakes and the event loop around them, all in one thread (the
GIL leaves no room for a second one). With `--workers N` the scan starts N worker processes
(`python -m hsts_coverage.probe.worker`) beside the main one, which still enumerates, resolves
every name, assembles each host's result, tallies and writes the report. A worker probes the
addresses of the hosts it is handed and judges the probes (`HostJudge`); the first host waits
until a worker is ready. The first worker is the one started with the command (`spare`), loaded
by the time the names are; the others start with the pool (about 0.25 s).

Hosts go to workers by address: an address belongs to the first worker that got a host on it,
so `--per-ip` holds for every address a host resolves to (the hops of a redirect walk to another
host count against the walking worker's own limit). A host on new addresses goes to the worker
with the fewest hosts in flight, which shares the work by speed. Workers are not used with
`--rate` (see `workers_for`). A worker that dies is not replaced (a line on stderr says so):
its hosts in flight are probed again in the main process, its addresses pass to another
worker, and once every worker is gone the main process probes the rest itself.

Frames in both directions: a 4-byte big-endian length, then a pickle (both ends are this
package). To a worker: `(config, now)` first, then `(id, DnsAnswer, domain)` per host, and
`(id, ApexCheck, None)` for the apex check (`probe.apex`), which goes to a worker too: the main
process then loads no part of the prober unless a worker is lost. From it: `READY`, then
`(id, Judgement, None)` per host, `(id, ApexFacts, None)`, or `(id, None, error)` for a bug.
At the end of its input the worker cancels what it has in hand and exits. Ctrl-C does not reach
it (it runs in a session of its own): the main process decides.

A worker admits the hosts it is handed as the main process admits names (`admission`), on its
own event loop: the main process's loop stays prompt while the worker's is busy with handshakes,
so the main process may hand over hundreds more hosts than the worker's CPU can start at once.
Queued here, a host waits before its probes begin, outside its time budget; started all at once,
their handshakes would queue on the CPU inside it (a slow host's 10 s ran out, seen at 10,000
names once DNS answered at full speed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, cast

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import ApexCheck, ApexFacts, DnsAnswer, Judgement
from hsts_coverage.probe import spare

HOSTS_PER_WORKER = 500  # below this many names per process, starting one costs more than it saves
READY = "ready"
_PROG = "hsts-coverage"
_LENGTH = struct.Struct(">I")
_STOP_SECONDS = 2.0


class WorkerLostError(Exception):
    """The worker process ended (or its pipe broke) before answering."""


class Here(Protocol):
    """The main process's own prober, for what no worker is left to take."""

    async def judge(self, dns: DnsAnswer, domain: str) -> Judgement: ...

    async def apex(self, domain: str) -> ApexFacts: ...


def workers_for(config: ScanConfig, names: int, *, cpus: int | None = None) -> int:
    """Worker processes for a scan of `names` names. None under `--rate`: the rate, not the CPU,
    bounds such a scan, and each process would spend all of it. Else `--workers`, else (auto)
    one per further core, each with enough names to pay for its start."""
    if config.rate:
        return 0
    if config.workers is not None:
        return config.workers
    usable = cpus if cpus is not None else spare.usable_cpus()
    return max(0, min(usable - 1, names // HOSTS_PER_WORKER))


def encode(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


async def decode(reader: asyncio.StreamReader) -> object | None:
    """The next message, or None at a clean end of input."""
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise
        return None
    (length,) = _LENGTH.unpack(header)
    message: object = pickle.loads(await reader.readexactly(length))
    return message


@dataclass(eq=False)
class _Process:
    """A worker process (`spare.spawn`: the one started with the command, or one started with
    the pool), its pipes made asyncio streams."""

    popen: subprocess.Popen[bytes]
    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader

    @classmethod
    async def of(cls, popen: subprocess.Popen[bytes]) -> _Process:
        assert popen.stdin is not None
        assert popen.stdout is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), popen.stdout)
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, popen.stdin
        )
        return cls(popen, asyncio.StreamWriter(transport, protocol, None, loop), reader)

    @property
    def pid(self) -> int:
        return self.popen.pid

    async def wait(self) -> int:
        # Seen through a pidfd (Linux), else by a thread that waits for it: asyncio watches only
        # the children it started itself, and the one started with the command is not.
        if (code := self.popen.poll()) is not None:
            return code
        loop = asyncio.get_running_loop()
        if not hasattr(os, "pidfd_open"):
            return await loop.run_in_executor(None, self.popen.wait)
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(None)

        descriptor = os.pidfd_open(self.popen.pid)
        loop.add_reader(descriptor, readable)
        try:
            await exited
        finally:
            loop.remove_reader(descriptor)
            os.close(descriptor)
        return self.popen.wait()

    def kill(self) -> None:
        self.popen.kill()


@dataclass(eq=False)
class _Worker:
    """One worker process, seen from the main process."""

    process: _Process
    changed: asyncio.Event  # set when this worker gets ready or is lost
    ready: bool = False
    lost: bool = False
    pending: dict[int, asyncio.Future[object]] = field(default_factory=dict)
    stopping: bool = False
    _next_id: int = 0
    _reader: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    async def judge(self, dns: DnsAnswer, domain: str) -> Judgement:
        return cast(Judgement, await self._ask(dns, domain))

    async def apex(self, check: ApexCheck) -> ApexFacts:
        return cast(ApexFacts, await self._ask(check, None))

    async def _ask(self, request: DnsAnswer | ApexCheck, domain: str | None) -> object:
        if self.lost:
            raise WorkerLostError
        ident = self._next_id
        self._next_id += 1
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.pending[ident] = answer
        try:
            self._send((ident, request, domain))
            return await answer
        finally:
            self.pending.pop(ident, None)

    def _send(self, message: object) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            raise WorkerLostError
        stdin.write(encode(message))

    async def read_answers(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while (message := await decode(stdout)) is not None:
                if message == READY:
                    self.ready = True
                    self.changed.set()
                    continue
                assert isinstance(message, tuple)
                ident, result, error = message
                answer = self.pending.get(ident)
                if answer is None or answer.done():
                    continue
                if error is None:
                    answer.set_result(result)
                else:  # a bug in the worker: the scan fails as it would here
                    answer.set_exception(RuntimeError(f"in a worker process: {error}"))
        except Exception:  # a broken pipe or frame: the worker is gone either way
            pass
        finally:
            self.lost = True
            self.changed.set()
            if not self.stopping:
                # Nothing is lost, but the scan runs on fewer cores: say so, once.
                pid = self.process.pid
                print(
                    f"{_PROG}: worker process {pid} ended mid-scan; its hosts are probed by "
                    "the others (or the main process)",
                    file=sys.stderr,
                )
            for answer in self.pending.values():
                if not answer.done():
                    answer.set_exception(WorkerLostError())

    async def stop(self) -> None:
        self.stopping = True
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), _STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


class WorkerPool:
    """Hands each host, and the apex check, to a worker; to the main process (`local`) only
    when every worker is lost."""

    def __init__(self, local: Here, workers: list[_Worker], changed: asyncio.Event) -> None:
        self._local = local
        self._workers = workers
        self._changed = changed
        self._owners: dict[str, _Worker] = {}  # address -> the worker that probes it

    async def judge(self, dns: DnsAnswer, domain: str) -> Judgement:
        await self._first_ready()
        worker = self._route(dns.addresses)
        if worker is not None:
            try:
                return await worker.judge(dns, domain)
            except WorkerLostError:
                pass  # probed here instead, from the start: a worker's probes are all or nothing
        return await self._local.judge(dns, domain)

    async def apex(self, check: ApexCheck) -> ApexFacts:
        await self._first_ready()
        worker = self._least_busy()
        if worker is not None:
            try:
                return await worker.apex(check)
            except WorkerLostError:
                pass  # checked here instead, from the start
        return await self._local.apex(check.domain)

    async def _first_ready(self) -> None:
        # A worker starts in about 0.2 s. Waiting for it, rather than probing here meanwhile,
        # keeps every address with one process from the first host on.
        while not any(w.ready or w.lost for w in self._workers):
            self._changed.clear()
            await self._changed.wait()

    def _route(self, addresses: tuple[str, ...]) -> _Worker | None:
        """The worker that owns one of the addresses, else the least busy (None: none is left)."""
        owner = next((self._owners[a] for a in addresses if a in self._owners), None)
        if owner is None or owner.lost:
            owner = self._least_busy()
            if owner is None:
                return None
        for address in addresses:
            if address not in self._owners or self._owners[address].lost:
                self._owners[address] = owner
        return owner

    def _least_busy(self) -> _Worker | None:
        ready = [worker for worker in self._workers if worker.ready and not worker.lost]
        return min(ready, key=lambda worker: worker.in_flight, default=None)


@contextlib.asynccontextmanager
async def worker_pool(
    local: Here, config: ScanConfig, now: datetime, count: int
) -> AsyncIterator[WorkerPool]:
    """`count` workers beside the main process, stopped when the block ends."""
    workers: list[_Worker] = []
    changed = asyncio.Event()
    try:
        # Not needed to probe (and a --names-from list may be large).
        shared = replace(config, preload_entries=None, baseline=None, enumerations=None)
        for _ in range(count):
            workers.append(await _start(shared, now, changed))
        yield WorkerPool(local, workers, changed)
    finally:
        await asyncio.gather(*(worker.stop() for worker in workers), return_exceptions=True)


async def _start(config: ScanConfig, now: datetime, changed: asyncio.Event) -> _Worker:
    # The one started with the command, loaded by now; else a new one.
    process = await _Process.of(spare.take() or spare.spawn())
    worker = _Worker(process, changed)
    worker._reader = asyncio.create_task(worker.read_answers(), name="worker-answers")
    worker._send((config, now))
    return worker
