"""Worker processes, their pure parts: how many, how hosts are routed, how messages are framed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from hsts_coverage.config import ScanConfig
from hsts_coverage.models import (
    AddressFindings,
    ApexCheck,
    Certificate,
    DnsAnswer,
    DnsStatus,
    Finding,
    HttpFacts,
    HttpsFacts,
    Outcome,
    Probe,
)
from hsts_coverage.probe.admission import Admission
from hsts_coverage.probe.hosts import FirstAsked, HostJudge
from hsts_coverage.probe.worker import _answer
from hsts_coverage.probe.workers import (
    Here,
    WorkerLostError,
    WorkerPool,
    _Worker,
    decode,
    encode,
    workers_for,
)
from hsts_coverage.reasons import Reason
from hsts_coverage.rules.host import status_of


@pytest.mark.parametrize(
    ("names", "cpus", "rate", "expected"),
    [
        (2000, 2, 0.0, 1),  # one core for the main process, one for a worker
        (2000, 1, 0.0, 0),  # no core to spare
        (2000, 8, 0.0, 4),  # every worker has 500 names at least
        (499, 8, 0.0, 0),  # too few names to pay for starting one
        (100_000, 8, 0.0, 7),
        (100_000, 8, 20.0, 0),  # the rate bounds the scan, not the CPU
    ],
)
def test_auto_workers(names: int, cpus: int, rate: float, expected: int) -> None:
    config = ScanConfig(domains=("example.com",), rate=rate)
    assert workers_for(config, names, cpus=cpus) == expected


@pytest.mark.parametrize(("workers", "rate", "expected"), [(3, 0.0, 3), (0, 0.0, 0), (3, 5.0, 0)])
def test_workers_as_asked_but_never_with_a_rate(workers: int, rate: float, expected: int) -> None:
    config = ScanConfig(domains=("example.com",), workers=workers, rate=rate)
    assert workers_for(config, 100_000, cpus=8) == expected


def judgement() -> Any:
    cert = Certificate(
        subject="CN=a.example",
        sans=("a.example",),
        issuer="CN=CA",
        not_before=datetime(2026, 1, 1, tzinfo=UTC),
        not_after=datetime(2027, 1, 1, tzinfo=UTC),
        serial="1f",
        signature_algorithm=None,
        self_signed=False,
    )
    https = HttpsFacts(Outcome.OK, tls_version="TLSv1.3", cert=cert, status=200)
    http = HttpFacts(Outcome.OK, "", 301, "https://a.example/", 1.5)
    finding = Finding(Reason.CERT_EXPIRING_SOON, "expires in 3 days")
    probe = Probe("192.0.2.1", https, http, None)
    return (finding,), (probe,), (AddressFindings("192.0.2.1", (finding,), status_of((finding,))),)


async def test_messages_survive_the_pipe_unchanged() -> None:
    message = (7, judgement(), None)
    reader = asyncio.StreamReader()
    data = encode(message) + encode("ready")
    reader.feed_data(data[:5])  # a frame may arrive in pieces
    reader.feed_data(data[5:])
    reader.feed_eof()
    assert await decode(reader) == message
    assert await decode(reader) == "ready"
    assert await decode(reader) is None  # a clean end


async def test_a_frame_cut_short_is_an_error() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode("ready")[:-1])
    reader.feed_eof()
    with pytest.raises(asyncio.IncompleteReadError):
        await decode(reader)


def worker(*, ready: bool = True, in_flight: int = 0) -> _Worker:
    # Routing looks only at readiness, loss and load: no process needed.
    made = _Worker(cast(asyncio.subprocess.Process, None), cast(asyncio.Event, None))
    made.ready = ready
    made.pending = {i: cast(asyncio.Future[Any], None) for i in range(in_flight)}
    return made


def pool(*workers: _Worker) -> WorkerPool:
    return WorkerPool(cast(Here, None), list(workers), cast(asyncio.Event, None))


def test_an_address_stays_with_the_worker_that_first_got_it() -> None:
    a, b = worker(in_flight=0), worker(in_flight=5)
    routes = pool(a, b)
    assert routes._route(("192.0.2.1",)) is a
    a.pending = {i: cast(asyncio.Future[Any], None) for i in range(50)}  # now a is the busiest
    assert routes._route(("192.0.2.1",)) is a  # --per-ip holds: one process per address
    assert routes._route(("192.0.2.2",)) is b  # a new address goes to the least busy
    # A host on both: the first owned address decides, and the other joins that owner.
    assert routes._route(("192.0.2.2", "192.0.2.1")) is b
    assert routes._route(("192.0.2.1",)) is a  # an address once owned keeps its owner


def test_the_addresses_of_a_lost_worker_move_to_another() -> None:
    a, b = worker(), worker(in_flight=3)
    routes = pool(a, b)
    assert routes._route(("192.0.2.1",)) is a
    a.lost = True
    assert routes._route(("192.0.2.1",)) is b
    b.lost = True
    assert routes._route(("192.0.2.1",)) is None  # none left: the main process probes


class _HereOnly:
    """The main process's side, for what no worker takes: says that it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def judge(self, dns: DnsAnswer, domain: str) -> Any:
        raise AssertionError("no host here")

    async def apex(self, domain: str) -> Any:
        self.asked.append(domain)
        return "checked here"


async def test_the_apex_check_goes_to_a_worker_and_comes_back_here_if_it_is_lost() -> None:
    here = _HereOnly()
    answering, dying = worker(), worker()

    async def facts(check: ApexCheck) -> Any:
        return f"checked by a worker: {check.domain}"

    async def lost(check: ApexCheck) -> Any:
        raise WorkerLostError

    answering.apex = facts  # type: ignore[method-assign]
    dying.apex = lost  # type: ignore[method-assign]
    check = ApexCheck("example.com", ())
    assert await WorkerPool(here, [answering], asyncio.Event()).apex(check) == (
        "checked by a worker: example.com"
    )
    assert here.asked == []  # the main process loads no prober for it
    assert await WorkerPool(here, [dying], asyncio.Event()).apex(check) == "checked here"
    gone = worker()
    gone.lost = True
    assert await WorkerPool(here, [gone], asyncio.Event()).apex(check) == "checked here"
    assert here.asked == ["example.com", "example.com"]


async def test_a_worker_is_told_the_apex_answers_and_asks_no_dns_for_them() -> None:
    config = ScanConfig(domains=("example.com",), resolvers=["127.0.0.1:9"])
    resolver = FirstAsked(config)
    told = DnsAnswer("example.com", DnsStatus.RESOLVED, ("192.0.2.7",))
    resolver.know([told, DnsAnswer("www.example.com", DnsStatus.NXDOMAIN)])
    assert await resolver.resolve("example.com") is told
    assert (await resolver.resolve("www.example.com")).status is DnsStatus.NXDOMAIN
    assert resolver._made is None  # no DNS client was made
    await resolver.close()


def test_a_worker_still_starting_gets_no_host() -> None:
    starting, ready = worker(ready=False), worker(ready=True, in_flight=90)
    assert pool(starting, ready)._route(("192.0.2.9",)) is ready


def test_a_dns_answer_routes_on_its_addresses() -> None:
    a = worker()
    answer = DnsAnswer("a.example", DnsStatus.RESOLVED, ("192.0.2.1", "2001:db8::1"))
    routes = pool(a)
    assert routes._route(answer.addresses) is a
    assert set(routes._owners) == {"192.0.2.1", "2001:db8::1"}


class _Reach:
    def __init__(self) -> None:
        self.answering: set[str] = set()

    def answers(self, address: str, port: int) -> bool:
        return address in self.answering and port == 443


class _Prober:
    def __init__(self) -> None:
        self.reach = _Reach()


class _Judge:
    """Records when each host's probing starts."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.prober = _Prober()

    async def judge(self, dns: DnsAnswer, domain: str) -> Any:
        self.started.append(dns.name)
        return judgement()


class _Writer:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.frames.append(data)


async def test_a_worker_starts_a_host_only_once_its_own_admission_lets_it() -> None:
    # The main process may hand over more hosts than the worker's CPU starts at once: they
    # wait for the worker's permit before probing, outside their time budget.
    judge, writer = _Judge(), _Writer()
    admission = Admission(1, 1)
    answer = DnsAnswer("a.example", DnsStatus.RESOLVED, ("192.0.2.1",))
    async with admission.place():  # the only permit is in use
        task = asyncio.create_task(
            _answer(cast(HostJudge, judge), admission, cast(Any, writer), 1, answer, "example")
        )
        await asyncio.sleep(0.01)
        assert judge.started == []
    await task
    assert judge.started == ["a.example"]
    assert len(writer.frames) == 1


async def test_hosts_on_addresses_known_to_answer_wait_behind_the_others() -> None:
    # Their probes are CPU work that can come at any time; a host on an address not tried yet
    # may wait seconds on a dead one, and that wait is best begun early.
    judge, writer = _Judge(), _Writer()
    judge.prober.reach.answering.add("192.0.2.1")
    admission = Admission(1, 1)
    known = DnsAnswer("known.example", DnsStatus.RESOLVED, ("192.0.2.1",))
    new = DnsAnswer("new.example", DnsStatus.RESOLVED, ("192.0.2.2",))
    tasks = []
    async with admission.place():  # the only permit is in use while both are handed over
        for ident, answer in enumerate([known, new]):
            host = _answer(cast(HostJudge, judge), admission, cast(Any, writer), ident, answer, "x")
            tasks.append(asyncio.create_task(host))
            await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert judge.started == ["new.example", "known.example"]


_LOADS_NO_DNS_CLIENT = """
import asyncio, sys, threading
from datetime import UTC, datetime
from hsts_coverage.config import ScanConfig
from hsts_coverage.probe import worker
from hsts_coverage.probe.hosts import open_judge

async def main():
    config = ScanConfig(domains=("example.com",), resolvers=["127.0.0.1:9"])
    async with open_judge(config, datetime.now(UTC)):
        loaded = sorted(m for m in ("aiodns", "pycares") if m in sys.modules)
        print(loaded, threading.active_count())

asyncio.run(main())
"""


def test_a_worker_loads_no_dns_client_before_its_first_question() -> None:
    """A worker asks DNS only when a redirect leads to another name: until then, no aiodns,
    no pycares and no c-ares thread (about 1 MiB a worker). That a worker still resolves
    such names is `tests/e2e/test_workers.py`'s lab scan, judged as the main process judges."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _LOADS_NO_DNS_CLIENT], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["[]", "1"]
