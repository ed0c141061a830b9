"""One wait per silent name server: the names of a zone that never answers share one outcome.

Under a name server that never answers, every name would pay the resolver's retries (3 x 5 s);
here the zone's first names pay them and the rest share the outcome (`SilentZones`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from hsts_coverage.waiting import aside

T = TypeVar("T")

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
            async with aside():  # no place among the hosts in flight while waiting on others
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
