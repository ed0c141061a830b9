"""One wait per dead address, not one per name: TCP-level outcomes shared within a scan.

Hundreds of CT names often sit behind one address. When that address drops packets, refuses
connections or accepts them and never speaks TLS, every name behind it would pay the same
time-out in turn (`--per-ip` of them at a time). Here the first connection to an address and
port decides for the names waiting on it:

- the first attempt goes ahead; the others wait for its TCP connect (and, over TLS, its
  handshake) to finish, holding no connection slot. The first attempt holds none either until
  it is established (`connect` is given the `established` callback; the others get None, and
  take their `--per-ip` slot before connecting): a tarpit's hanging handshake costs no slot;
- if it was refused, timed out connecting, or its TLS handshake hung without an answer, the
  names waiting get the same outcome when it arrives, and so does every later name on that
  address and port, with a `detail` that says the outcome was shared (`SharedOutcome`);
- any other end (a handshake done, a certificate error, an alert, a reset) shows that something
  answers there: from then on every name connects on its own, as if this module did not exist.

Outcomes are keyed by the connect time-out too: a connect that timed out at the short first
try does not decide the second try at the full `--timeout` (see `Prober`). A cancelled first
attempt decides nothing; one of the waiting names goes ahead instead. The table holds one
entry per address and port the scan met (a few hundred bytes each), as `--workers` sends all of
an address's hosts to one process, the sharing holds across processes too.

The socket is opened here before any deadline starts: when the scanner is out of file
descriptors (EMFILE, ENFILE) it waits for one to be freed and tries again, so the scanner's own
limit never becomes a host's failure; a DNS query that failed for the same reason is asked again
(`waited_for_descriptor`).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Waiting for a file descriptor: how long between two tries to open a socket.
FD_RETRY_SECONDS = 0.05
_OUT_OF_FDS = frozenset({errno.EMFILE, errno.ENFILE})
OUT_OF_FILES_MEMORY = 2.0  # seconds after running out during which a refusal is put down to it


class ConnectTimeoutError(TimeoutError):
    """The TCP connect did not complete within its time-out."""


class HandshakeHangError(TimeoutError):
    """TCP connected, but the TLS handshake did not complete within the deadline."""


# The outcomes that say nothing answers on an address and port, whatever the name.
DEAD = (ConnectionRefusedError, ConnectTimeoutError, HandshakeHangError)


class SharedOutcome(Exception):
    """A name's connection was not tried: an earlier name's attempt on the same address and
    port already ended in `outcome` (one of `DEAD`)."""

    def __init__(self, outcome: BaseException, first: str, target: str) -> None:
        super().__init__(f"{describe(outcome)}, shared with {first} on {target}")
        self.outcome = outcome


def describe(outcome: BaseException) -> str:
    if isinstance(outcome, ConnectionRefusedError):
        return "connection refused"
    if isinstance(outcome, HandshakeHangError):
        return "TLS handshake timed out without an answer"
    return "connect timed out"


@dataclass(slots=True)
class _Dead:
    outcome: BaseException
    first: str  # the name whose attempt found it out


_Key = tuple[str, int, float]


class Reachability:
    """The scan's table of addresses and ports: being tried, known dead, or known to answer."""

    def __init__(self) -> None:
        self._pending: dict[_Key, asyncio.Future[None]] = {}
        self._dead: dict[_Key, _Dead] = {}
        self._alive: set[_Key] = set()

    async def attempt(
        self,
        address: str,
        port: int,
        connect_timeout: float,
        name: str,
        connect: Callable[[Callable[[], None] | None], Awaitable[T]],
    ) -> T:
        """Run `connect(established)` for `name` unless the address and port are known dead.
        The first attempt on an address and port calls `established()` once its connection
        (and handshake) is up; where they are known to answer, `established` is None."""
        key = (address, port, connect_timeout)
        while key not in self._alive:
            if (dead := self._dead.get(key)) is not None:
                target = f"{address}:{port}" if ":" not in address else f"[{address}]:{port}"
                raise SharedOutcome(dead.outcome, dead.first, target)
            pending = self._pending.get(key)
            if pending is None:
                return await self._first(key, name, connect)
            await asyncio.shield(pending)
        return await connect(None)

    async def _first(
        self, key: _Key, name: str, connect: Callable[[Callable[[], None] | None], Awaitable[T]]
    ) -> T:
        self._pending[key] = asyncio.get_running_loop().create_future()

        def established() -> None:
            self._decide(key, None)

        try:
            return await connect(established)
        except DEAD as exc:
            self._decide(key, _Dead(exc, name))
            raise
        except asyncio.CancelledError:
            self._undecided(key)
            raise
        finally:
            self._decide(key, None)  # any other end: something answered (a certificate, a reset)

    def _decide(self, key: _Key, dead: _Dead | None) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        if dead is None:
            self._alive.add(key)
        else:
            self._dead[key] = dead
        pending.set_result(None)

    def _undecided(self, key: _Key) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending.set_result(None)  # the waiters look again: one of them goes first


class _OutOfFiles:
    last = -float("inf")  # when a socket last could not be opened for want of a descriptor


async def open_socket(address: str) -> socket.socket:
    """A non-blocking TCP socket for `address`, waiting for a file descriptor if none is free."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    while True:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            if exc.errno not in _OUT_OF_FDS:
                raise
            _OutOfFiles.last = time.monotonic()
            await asyncio.sleep(FD_RETRY_SECONDS)
            continue
        sock.setblocking(False)
        return sock


async def waited_for_descriptor() -> bool:
    """Whether the process is (or was a moment ago) out of file descriptors, and if so, wait
    until one is free: c-ares reports a socket it could not open as ECONNREFUSED, which must not
    count against the name server."""
    sock = await open_socket("0.0.0.0")
    sock.close()
    return time.monotonic() - _OutOfFiles.last < OUT_OF_FILES_MEMORY


# -- one wait per silent name server ----------------------------------------------------------

# Names whose lookups must all have timed out before a zone counts as silent: two, so that one
# name that is itself silent (delegated on to a dead server) does not silence its siblings.
SILENT_VOTES = 2


@dataclass(slots=True)
class _Zone:
    leaders: set[str]  # names being looked up on the zone's behalf
    timed_out: list[str]  # leaders whose every query timed out, in the order they did
    changed: asyncio.Future[None]
    silent: str | None = None  # the first name found silent, once the zone is


class SilentZones:
    """The scan's table of DNS zones: answering, silent, or not known yet.

    Under a name server that never answers, every name would pay the resolver's retries. Here
    the first names of a zone (`SILENT_VOTES` distinct ones at once) are looked up, and the
    others wait for them, holding no query slot. Any answer (an address, NXDOMAIN, NODATA, even
    SERVFAIL) shows that the zone answers: from then on every name is looked up on its own. If
    every query of `SILENT_VOTES` names timed out, the zone is silent: the names waiting, and
    every later name of the zone, share that outcome, and their record says so.

    A zone here is a name's parent, or the name itself when the parent is a public suffix (the
    registrable domain is its own delegation): a stub resolver does not see the real zone cuts,
    and the parent is the delegation of most CT names. A zone cut deeper than that only makes
    fewer names share; names of one parent delegated to different servers need two silent ones
    among the first names before any other is silenced, and the outcome is only ever `unknown`.
    """

    def __init__(self) -> None:
        self._zones: dict[str, _Zone] = {}
        self._answering: set[str] = set()
        self._silent: dict[str, str] = {}  # zone -> the first name found silent in it

    def _silent_above(self, name: str) -> str | None:
        while name:
            if (first := self._silent.get(name)) is not None:
                return first
            name = name.partition(".")[2]
        return None

    async def lookup(
        self,
        zone: str,
        name: str,
        resolve: Callable[[], Awaitable[T]],
        timed_out: Callable[[T], bool],
    ) -> T | str:
        """`resolve()` for `name`, unless `zone` is silent: then the first silent name (str).
        A name in or under a zone found silent (the zone's apex, a deeper name) is silent too:
        the resolver has to ask that zone's servers for it, or for its delegation."""
        if self._silent and (first := self._silent_above(name)) is not None:
            return first
        while zone not in self._answering:
            state = self._zones.get(zone)
            if state is None:
                future = asyncio.get_running_loop().create_future()
                state = self._zones[zone] = _Zone(set(), [], future)
            if state.silent is not None:
                return state.silent
            # A leader that timed out keeps its vote: no other name leads in its place while
            # the other leader's tries go on (the zone is decided when they end).
            votes = len(state.leaders) + len(set(state.timed_out) - state.leaders)
            if votes < SILENT_VOTES and name not in state.leaders:
                return await self._lead(zone, state, name, resolve, timed_out)
            await asyncio.shield(state.changed)
        return await resolve()

    async def _lead(
        self,
        zone: str,
        state: _Zone,
        name: str,
        resolve: Callable[[], Awaitable[T]],
        timed_out: Callable[[T], bool],
    ) -> T:
        state.leaders.add(name)
        answered = False
        try:
            result = await resolve()
            answered = not timed_out(result)
            if not answered:
                state.timed_out.append(name)
                if len(set(state.timed_out)) >= SILENT_VOTES:
                    state.silent = self._silent[zone] = state.timed_out[0]
            return result
        finally:
            state.leaders.discard(name)  # a timed-out or cancelled leader makes room for another
            if answered:
                self._answering.add(zone)
                self._zones.pop(zone, None)  # the other leader may have answered first
            self._wake(state)

    @staticmethod
    def _wake(state: _Zone) -> None:
        if not state.changed.done():
            state.changed.set_result(None)
        state.changed = asyncio.get_running_loop().create_future()
