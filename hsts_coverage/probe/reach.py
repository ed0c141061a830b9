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

Sockets are opened before any deadline starts, waiting for a free file descriptor if need be
(`hsts_coverage.descriptors`, shared with the resolver), so the scanner's own limit never
becomes a host's failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


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
        # The addresses where something answered, by port, under any connect time-out (one
        # that answers at the short time-out also does at the full one; after one that needed
        # the full one, the names connect on their own): a set entry each, not a tuple.
        self._answering: dict[int, set[str]] = {}

    def answers(self, address: str, port: int) -> bool:
        """Whether `address` is known to answer on `port` (under any connect time-out)."""
        return address in self._answering.get(port, ())

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
        while not self.answers(address, port):
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
            self._answering.setdefault(key[1], set()).add(key[0])
        else:
            self._dead[key] = dead
        pending.set_result(None)

    def _undecided(self, key: _Key) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending.set_result(None)  # the waiters look again: one of them goes first
