"""One domain's scan as data: the names it has to check (and those its checks met, fed back),
and how far it got, so that its summary can be written at any moment (an interrupted scan too).

No asyncio here: `orchestration` drives the work and hands each result to these.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from hsts_coverage.models import (
    ApexReport,
    DomainSummary,
    Enumeration,
    EnumerationStatus,
    FoundBy,
    HostResult,
    WildcardZone,
)
from hsts_coverage.rules.names import in_shard
from hsts_coverage.rules.summary import Tally
from hsts_coverage.sources.met import met_names, with_met_names


def zones_in_turn(names: Iterable[str]) -> list[str]:
    """`names` in the order to check them: one name of each zone (a name's parent) in turn,
    each zone's names shuffled (the same way every run).

    Names that sort together often share one fate: the enumeration sorts by label from the
    right, so a zone's names come together (a silent name server), and names numbered in a row
    share a pool or a rack (a dead internal address). Checked in that order, they would start
    at about the same moment, late in a long list, and their one long wait would come at the
    end of the scan. In turn, every zone's first names start early (they lead the zone's
    shared look-up, or meet a dead address first), and the waits go on beside the rest."""
    zones: dict[str, list[str]] = {}
    for name in names:
        zones.setdefault(name.partition(".")[2], []).append(name)
    shuffle = random.Random(0).shuffle  # a fixed seed: a scan's order does not change by run
    for members in zones.values():
        shuffle(members)
    in_turn = itertools.chain.from_iterable(itertools.zip_longest(*zones.values()))
    return [name for name in in_turn if name is not None]


@dataclass(slots=True)
class Domain:
    """What the workers need to know about the domain being scanned.

    `found_by` starts as the enumeration's and grows with the names met during the scan
    (`meet`): SANs, redirect targets and CNAME chains under the domain, each scanned once, at
    most `max_met` of them (beyond that the enumeration is truncated: they were not checked).
    """

    enumeration: Enumeration
    wildcard_zones: tuple[WildcardZone, ...]
    shard: tuple[int, int] | None = None
    max_met: int = 10_000
    found_by: dict[str, tuple[FoundBy, ...]] = field(init=False)
    met: dict[FoundBy, int] = field(init=False, default_factory=dict)  # names met, per kind
    over_cap: int = 0  # names met after the cap, not scanned

    def __post_init__(self) -> None:
        self.found_by = dict(self.enumeration.found_by)
        for zone in self.wildcard_zones:
            self.found_by.setdefault(zone.probe_name, (FoundBy.WILDCARD_PROBE,))

    @property
    def name(self) -> str:
        return self.enumeration.domain

    @property
    def names(self) -> tuple[str, ...]:
        every = self.enumeration.names + tuple(z.probe_name for z in self.wildcard_zones)
        if self.shard is None:
            return every
        return tuple(name for name in every if in_shard(name, *self.shard))

    def meet(self, result: HostResult) -> list[str]:
        """The names `result` shows that the scan has not met yet, now queued (in every shard:
        the shard that checks a host is the only one that sees what it shows)."""
        new: list[str] = []
        for name, how in met_names(result, self.name):
            if name in self.found_by:
                continue
            if sum(self.met.values()) >= self.max_met:
                self.over_cap += 1
                continue
            self.found_by[name] = (how,)
            self.met[how] = self.met.get(how, 0) + 1
            new.append(name)
        return new

    def enumeration_so_far(self) -> Enumeration:
        """The enumeration with the names met during the scan counted in."""
        if not self.met and not self.over_cap:
            return self.enumeration
        return with_met_names(self.enumeration, self.found_by, self.met, self.over_cap)


@dataclass(slots=True)
class DomainScan:
    """How far the scan of one domain got: enough for a summary at any moment."""

    domain: str
    enumeration: Enumeration | None = None
    target: Domain | None = None
    apex: ApexReport | None = None
    tally: Tally = field(init=False)
    started: float = field(default_factory=time.monotonic)
    marks: dict[str, float] = field(default_factory=dict)  # stage -> seconds since `started`

    def __post_init__(self) -> None:
        self.tally = Tally(self.domain)

    def mark(self, stage: str) -> None:
        """Note when a stage was first reached (enumerated, first_host, hosts_done, ...)."""
        self.marks.setdefault(stage, round(time.monotonic() - self.started, 3))

    def summary(self, *, interrupted: bool = False) -> DomainSummary:
        enumeration = self.enumeration or Enumeration(
            self.domain, EnumerationStatus.FAILED, (), error="interrupted before enumeration"
        )
        if self.target is not None:
            enumeration = self.target.enumeration_so_far()
        zones = self.target.wildcard_zones if self.target else ()
        self.mark("finished")
        return self.tally.summary(
            enumeration,
            wildcard_zones=zones,
            apex=self.apex,
            interrupted=interrupted,
            timings=self.marks,
            shard=self.target.shard if self.target else None,
        )
