"""Resolve names with aiodns (A and AAAA, CNAME chains), at the pace of the answers.

Contract: `Resolver.resolve(name)` never raises for DNS trouble; it returns a `DnsAnswer` whose
status says what happened. Every query goes to the configured name servers (or the system's),
never anywhere else.

DNS at the pace of the answers. NXDOMAIN and NODATA are answers: one query each, no retry.
What is not an answer is asked again, within a time budget per name and record type of
`attempts` x `timeout` (3 x 5 s by default), with jittered, growing pauses:

- a time-out is not counted against the name: c-ares times a query out after five times the
  server's average latency (at least 250 ms; 5 s before it knows the server), so a resolver
  that is busy, or recursing for a name it has not cached, looks silent to one query and answers
  the next; only the budget ends the tries;
- SERVFAIL, REFUSED and malformed answers count: `attempts` of them end the tries, except a
  REFUSED while the resolver answers other queries (a per-client limit under load), which is a
  loss like a time-out;
- a loss that is followed by an answer for the same name slows the resolver's `pacer.Pacer`;
- a zone whose name server never answers costs its time budget once, not once per name:
  `silent.SilentZones` looks up its first names, the others wait and share their outcome
  (`"timed out, shared with ..."`).
- a name without addresses has its CNAME records looked up (where it points: a dangling target,
  a loop), each question asked the same way; a chain that could not be read to an answer makes
  the name a DNS error, never a name that is gone.

The c-ares channels are `channels.Channels`: recycled every few thousand queries, so that
c-ares's query cache does not grow with the scan, and renewed after a channel refuses.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import aiodns
import pycares

from hsts_coverage.config import Nameserver
from hsts_coverage.descriptors import waited_for_descriptor
from hsts_coverage.models import DnsAnswer, DnsStatus
from hsts_coverage.resolve.channels import Channels
from hsts_coverage.resolve.pacer import Pacer
from hsts_coverage.resolve.silent import SilentZones
from hsts_coverage.rules.names import is_public_suffix

R = TypeVar("R")
Query = Callable[[aiodns.DNSResolver], Awaitable[R]]  # one question, asked of a channel

_TRANSIENT = {
    aiodns.error.ARES_ESERVFAIL: "SERVFAIL",
    aiodns.error.ARES_ETIMEOUT: "timed out",
    aiodns.error.ARES_ECONNREFUSED: "name server unreachable",
    aiodns.error.ARES_EREFUSED: "REFUSED",
    aiodns.error.ARES_EBADRESP: "malformed answer",
}


class _Transient(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_TIMED_OUT = _TRANSIENT[aiodns.error.ARES_ETIMEOUT]
BACKOFF_FIRST = 0.2  # seconds: pauses between tries, full jitter, doubling up to BACKOFF_CAP
BACKOFF_CAP = 2.0


def zone_of(name: str) -> str:
    """The delegation a name most likely sits in: its parent, or the name itself when the parent
    is a public suffix (a registrable domain is its own zone)."""
    parent = name.partition(".")[2]
    return name if not parent or _is_suffix(parent) else parent


# Cached by parent, not by name: a scan's names share a few parents, and a cache entry per
# name would hold every name asked (guesses included) for the whole scan (0.7 MiB at 7,000).
_is_suffix = lru_cache(maxsize=4096)(is_public_suffix)


class Resolver:
    """A scan's DNS client. Create it inside the running event loop; `close()` when done."""

    def __init__(self, nameservers: Sequence[Nameserver], *, timeout: float, attempts: int) -> None:
        self._servers = [str(ns) for ns in nameservers] or None
        self._timeout = timeout
        self._channels = Channels(self._servers, timeout)
        self._attempts = attempts
        self._budget = attempts * timeout  # seconds of tries per name and record type
        self.pacer = Pacer()
        self.zones = SilentZones()

    async def close(self) -> None:
        await self._channels.close()

    async def resolve(self, name: str, *, dangling: bool = True) -> DnsAnswer:
        """A and AAAA side by side, each with its own retries, CNAMEs followed. `dangling` False
        skips the CNAME look-up that finds where a name that does not resolve points (one more
        query per NXDOMAIN, needless for a guessed name).

        Two c-ares calls, not one of family AF_UNSPEC: that one answers with the A records when
        the AAAA query times out or fails, and the failure is lost. An AAAA failure beside A
        records is kept in `partial_error` (the host is then unknown unless it breaks anyway).

        A name of a zone found silent is not asked: its answer is the shared time-out."""
        zone = zone_of(name)
        outcome = await self.zones.lookup(zone, name, lambda: self._lookup(name, dangling), _silent)
        if isinstance(outcome, str):
            error = f"timed out, shared with {outcome}: no name server of {zone} answered"
            return DnsAnswer(name, DnsStatus.ERROR, error=error)
        return outcome[0]

    async def _lookup(self, name: str, dangling: bool) -> tuple[DnsAnswer, bool]:
        """The answer, and whether every query of both record types timed out."""
        a, aaaa = await asyncio.gather(
            self._family(name, socket.AF_INET), self._family(name, socket.AF_INET6)
        )
        silent = all(isinstance(r, _Transient) and r.message == _TIMED_OUT for r in (a, aaaa))
        return await self._answer(name, dangling, a, aaaa), silent

    async def _answer(
        self,
        name: str,
        dangling: bool,
        a: pycares.AddrInfoResult | _Transient | aiodns.error.DNSError,
        aaaa: pycares.AddrInfoResult | _Transient | aiodns.error.DNSError,
    ) -> DnsAnswer:
        results = [r for r in (a, aaaa) if isinstance(r, pycares.AddrInfoResult)]
        if not results:
            if isinstance(a, _Transient) or isinstance(aaaa, _Transient):
                failed = a if isinstance(a, _Transient) else aaaa
                return DnsAnswer(name, DnsStatus.ERROR, error=str(failed))
            assert isinstance(a, aiodns.error.DNSError)
            if not dangling:
                return DnsAnswer(name, DnsStatus.NXDOMAIN, error=_message(a))
            return await self._not_resolved(name, a)
        nodes = [node for result in results for node in result.nodes]
        addresses = tuple(dict.fromkeys(_text(node.addr[0]) for node in nodes))
        cnames = tuple(c.name.lower().rstrip(".") for c in results[0].cnames)
        if problem := chain_problem(name, cnames):
            return DnsAnswer(name, DnsStatus.ERROR, cname_chain=cnames, error=problem)
        status = DnsStatus.RESOLVED if addresses else DnsStatus.NO_ADDRESS
        partial = None
        if isinstance(a, _Transient) or isinstance(aaaa, _Transient):
            partial = f"A: {a}" if isinstance(a, _Transient) else f"AAAA: {aaaa}"
        return DnsAnswer(name, status, addresses, cnames, partial_error=partial)

    async def _family(
        self, name: str, family: socket.AddressFamily
    ) -> pycares.AddrInfoResult | _Transient | aiodns.error.DNSError:
        try:
            return await self._retrying(lambda dns: dns.getaddrinfo(name + ".", family=family))
        except (_Transient, aiodns.error.DNSError) as exc:
            # Kept as a value: without its traceback, which holds the frames that hold it (a
            # cycle per name, left to the garbage collector, that the scan's calm collector
            # visits seldom: about 1.5 KB a name stayed in memory).
            for linked in (exc, exc.__cause__, exc.__context__):
                if linked is not None:
                    linked.with_traceback(None)
            return exc

    async def _not_resolved(self, name: str, exc: aiodns.error.DNSError) -> DnsAnswer:
        code = exc.args[0] if exc.args else None
        if code not in (aiodns.error.ARES_ENOTFOUND, aiodns.error.ARES_ENODATA):
            return DnsAnswer(name, DnsStatus.ERROR, error=_message(exc))
        nxdomain = code == aiodns.error.ARES_ENOTFOUND
        status = DnsStatus.NXDOMAIN if nxdomain else DnsStatus.NO_ADDRESS
        cnames, unread = await self._cname_chain(name)
        if problem := chain_problem(name, cnames):
            return DnsAnswer(name, DnsStatus.ERROR, cname_chain=cnames, error=problem)
        if unread:  # where the chain leads is not known: neither gone nor dangling
            error = f"no address, and its CNAME records could not be read ({unread})"
            return DnsAnswer(name, DnsStatus.ERROR, cname_chain=cnames, error=error)
        dangling = cnames[-1] if cnames else None
        return DnsAnswer(name, status, cname_chain=cnames, dangling_target=dangling)

    async def _retrying(self, query: Query[R]) -> R:
        # A plain loop, not tenacity: this runs for every host, and building a retry controller
        # per query costs more CPU than the query itself. The trailing dot: no search domains.
        # The budget counts the waits on the resolver (queries, pauses), not those for a pacer
        # slot: a name queued behind a slowed-down resolver loses none of its tries.
        spent = 0.0
        counted = 0  # SERVFAIL, REFUSED from a resolver that answers nothing, malformed answers
        lost_at: float | None = None  # when this name's first lost query was sent
        for tries in range(1, 1 << 16):
            outcome, channel, sent, took = await self._ask(query, self._budget - spent)
            spent += took
            if not isinstance(outcome, aiodns.error.DNSError):
                self._answered(lost_at)
                return outcome
            code = outcome.args[0] if outcome.args else None
            if code not in _TRANSIENT:
                self._answered(lost_at)
                raise outcome  # NXDOMAIN, NODATA: an answer
            if code == aiodns.error.ARES_ECONNREFUSED and await waited_for_descriptor():
                continue  # our open-files limit, not the server's
            if code == aiodns.error.ARES_ECONNREFUSED:
                self._channels.renew(channel)
            if _is_loss(code, self.pacer):
                lost_at = sent if lost_at is None else lost_at
            elif not _is_channel_fault(code, self.pacer):
                counted += 1
            pause = random.uniform(0, min(BACKOFF_CAP, BACKOFF_FIRST * 2**tries))  # full jitter
            if counted >= self._attempts or spent + pause >= self._budget:
                raise _Transient(_TRANSIENT[code]) from outcome
            await asyncio.sleep(pause)
            spent += pause
        raise AssertionError("unreachable: the budget ends the tries first")

    async def _ask(
        self, query: Query[R], left: float
    ) -> tuple[R | aiodns.error.DNSError, aiodns.DNSResolver, float, float]:
        """One query in a pacer slot, cut (as a time-out) after `left` seconds: the outcome, the
        channel it went through, when it was sent and how long it took."""
        async with self.pacer:
            sent = time.monotonic()
            channel = self._channels.acquire()
            asked = query(channel)
            try:
                if left >= self._timeout:  # c-ares times it out first
                    result: R | aiodns.error.DNSError = await asked
                else:
                    result = await asyncio.wait_for(asked, max(0.0, left))
            except aiodns.error.DNSError as exc:
                result = exc
            except TimeoutError:
                result = aiodns.error.DNSError(aiodns.error.ARES_ETIMEOUT, _TIMED_OUT)
            finally:
                self._channels.release(channel)
            return result, channel, sent, time.monotonic() - sent

    def _answered(self, lost_at: float | None) -> None:
        self.pacer.answered()
        if lost_at is not None:  # lost, then answered: the resolver dropped it, not the name
            self.pacer.lost(lost_at)

    async def nameservers(self, zone: str) -> tuple[tuple[str, ...], str | None]:
        """The NS names of `zone` (lower case, no trailing dot), and why they could not be read
        (None when they were). Asked like any question, again after a loss within the budget:
        a lost answer is not a zone without name servers."""
        try:
            result = await self._retrying(lambda dns: dns.query_dns(zone + ".", "NS"))
        except _Transient as exc:
            return (), exc.message
        except aiodns.error.DNSError:  # NXDOMAIN, NODATA: an answer, there are none
            return (), None
        hosts = (
            r.data.nsdname.lower().rstrip(".")
            for r in result.answer
            if isinstance(r.data, pycares.NSRecordData)
        )
        return tuple(dict.fromkeys(hosts)), None

    async def _cname_chain(self, name: str) -> tuple[tuple[str, ...], str | None]:
        """Follow CNAME records one query at a time (at most one more than allowed): the links,
        and why the chain could not be read to its end (None when it was).

        A name that does not resolve may still be a CNAME to a deleted resource, and an NXDOMAIN
        answer to A does not reach us with its CNAME records: ask for the CNAMEs themselves, as
        any query is asked (again after a loss, within the budget). Only an answer ends the
        chain: a loop or a dangling target seen as the end of a chain because a query timed out
        would be a guess.
        """
        chain: list[str] = []
        current = name
        while len(chain) <= MAX_CNAME_CHAIN and current not in chain[:-1]:
            try:
                result = await self._retrying(
                    lambda dns: dns.query_dns(current, "CNAME")  # noqa: B023 (awaited here)
                )
            except aiodns.error.DNSError:  # NXDOMAIN, NODATA: an answer, no CNAME here
                break
            except _Transient as exc:
                return tuple(chain), f"{current}: {exc}"
            targets = _cnames(result.answer)
            if not targets:
                break
            chain.append(targets[0])
            current = targets[0]
        return tuple(chain), None


def _silent(outcome: tuple[DnsAnswer, bool]) -> bool:
    return outcome[1]


def _is_loss(code: int | None, pacer: Pacer) -> bool:
    """A time-out, or a REFUSED from a resolver that answers other queries: not the name's."""
    return code == aiodns.error.ARES_ETIMEOUT or (
        code == aiodns.error.ARES_EREFUSED and pacer.answering()
    )


def _is_channel_fault(code: int | None, pacer: Pacer) -> bool:
    """ECONNREFUSED from a resolver that answers other queries: our channel's socket, not the
    server (see `channels`); asked again on a fresh channel, within the budget, uncounted and
    without slowing the pace (the resolver is not overloaded)."""
    return code == aiodns.error.ARES_ECONNREFUSED and pacer.answering()


MAX_CNAME_CHAIN = 16  # more links than resolvers follow (BIND and Unbound stop near 10-16)


def chain_problem(name: str, cnames: Sequence[str]) -> str | None:
    """Why a CNAME chain cannot be trusted (a loop, too many links), or None."""
    if name in cnames or len(set(cnames)) != len(cnames):
        return "CNAME loop: " + " -> ".join([name, *cnames[:6]])
    if len(cnames) > MAX_CNAME_CHAIN:
        return f"CNAME chain of {len(cnames)} links (more than {MAX_CNAME_CHAIN})"
    return None


def _cnames(records: Sequence[Any]) -> tuple[str, ...]:
    return tuple(
        r.data.cname.lower().rstrip(".")
        for r in records
        if isinstance(r.data, pycares.CNAMERecordData)
    )


def _text(address: str | bytes) -> str:
    return address.decode("ascii") if isinstance(address, bytes) else address


def _message(exc: aiodns.error.DNSError) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)
