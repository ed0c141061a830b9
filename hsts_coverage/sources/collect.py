"""Pure: fold raw names from any source into the deduplicated, scoped list a scan probes.

Keeps per name what certificate transparency says (how many certificates, first and last
validity, issuers, which sources named it) and counts what was dropped and why, so the report
can account for it.

Sources list one issuance differently: crt.sh lists a precertificate and its certificate apart,
Cert Spotter coalesces them into one issuance. So a name's certificate count is the largest any
one source gives, never the sum over sources (which would count one certificate two or three
times); counts from the same source add up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from hsts_coverage.models import CtFacts, FoundBy
from hsts_coverage.rules.names import Rejected, ScopedName, scope

_T = TypeVar("_T")


@dataclass(slots=True)
class _Seen:
    by_source: Counter[str] = field(default_factory=Counter)  # "" for an unnamed source
    first_not_before: datetime | None = None
    last_not_after: datetime | None = None
    issuers: frozenset[str] = frozenset()  # shared by the names with the same issuers

    @property
    def certificates(self) -> int:
        return max(self.by_source.values(), default=0)

    def sources(self) -> tuple[str, ...]:
        return tuple(sorted(source for source in self.by_source if source))

    def add(
        self, not_before: datetime | None, not_after: datetime | None, source: str | None = None
    ) -> None:
        self.by_source[source or ""] += 1
        self.add_dates(not_before, not_after)

    def add_dates(self, not_before: datetime | None, not_after: datetime | None) -> None:
        if not_before and (self.first_not_before is None or not_before < self.first_not_before):
            self.first_not_before = not_before
        if not_after and (self.last_not_after is None or not_after > self.last_not_after):
            self.last_not_after = not_after

    def facts(self) -> CtFacts:
        issuers = tuple(sorted(self.issuers))
        return CtFacts(
            self.certificates,
            self.first_not_before,
            self.last_not_after,
            issuers,
            sources=self.sources(),
        )


@dataclass(slots=True)
class NameCollector:
    """Collects names for one domain from every source."""

    domain: str
    _seen: dict[str, _Seen] = field(default_factory=dict)
    # every name -> its sources: one shared frozenset per combination, not a set per name
    _found: dict[str, frozenset[FoundBy]] = field(default_factory=dict)
    _wildcards: set[str] = field(default_factory=set)
    rejected: Counter[str] = field(default_factory=Counter)
    _sets: dict[frozenset[Any], frozenset[Any]] = field(default_factory=dict)  # see `_shared`

    def add_certificate(
        self,
        name_value: str,
        *,
        issuer: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        source: str | None = None,
    ) -> None:
        """One CT entry: its `name_value` holds one name a line. Each name counts once per entry.
        `source` (e.g. "crt.sh") is recorded as one of the sources that named each name."""
        names = {n for n in (self._scoped(raw) for raw in name_value.split("\n")) if n}
        found_by = _CT_SOURCES.get(source or "", FoundBy.CRTSH)
        for scoped in names:
            if scoped.wildcard:
                self._wildcards.add(scoped.name)
            seen = self._seen.setdefault(scoped.name, _Seen())
            seen.add(not_before, not_after, source)
            if issuer and issuer not in seen.issuers:
                seen.issuers = self._shared(seen.issuers | {issuer})
            self._add_found(scoped.name, frozenset((found_by,)))

    def add_name(self, raw: str, source: FoundBy = FoundBy.USER) -> bool:
        """A name from a source other than CT (the apex, a names file, a zone, a guess); False
        if it was dropped. `*.name` is recorded as a wildcard, and `name` is scanned."""
        scoped = self._scoped(raw)
        if scoped is None:
            return False
        if scoped.wildcard:
            self._wildcards.add(scoped.name)
        self._add_found(scoped.name, frozenset((source,)))
        return True

    def found_by(self) -> dict[str, tuple[FoundBy, ...]]:
        """Every name -> the sources that found it, in FoundBy's order."""
        return {name: _ordered(sources) for name, sources in self._found.items()}

    def count(self, source: FoundBy) -> int:
        """How many names `source` found (a name found by several counts for each)."""
        return sum(source in sources for sources in self._found.values())

    def merge(self, other: NameCollector) -> None:
        """Take in what another collector for the same domain found; `other` is not used after
        (what only it knows is taken over, not copied: a CT answer's thousands of names)."""
        for name, seen in other._seen.items():
            mine = self._seen.get(name)
            if mine is None:
                self._seen[name] = seen
                continue
            mine.by_source.update(seen.by_source)
            mine.issuers = self._shared(mine.issuers | seen.issuers)
            mine.add_dates(seen.first_not_before, seen.last_not_after)
        for name, sources in other._found.items():
            self._add_found(name, sources)
        self._wildcards |= other._wildcards
        self.rejected.update(other.rejected)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._found, key=_by_label_from_right))

    def sources_of(self, name: str) -> tuple[str, ...]:
        """The sources whose certificates named `name`, sorted; () for a name only the user gave
        (or one no source named)."""
        seen = self._seen.get(name)
        return seen.sources() if seen else ()

    def ct_facts(self) -> dict[str, CtFacts]:
        return {name: seen.facts() for name, seen in self._seen.items()}

    def wildcards(self) -> tuple[str, ...]:
        return tuple(f"*.{name}" for name in sorted(self._wildcards, key=_by_label_from_right))

    def _add_found(self, name: str, sources: frozenset[FoundBy]) -> None:
        known = self._found.get(name)
        self._found[name] = self._shared(known | sources if known else sources)

    def _shared(self, items: frozenset[_T]) -> frozenset[_T]:
        """The one frozenset equal to `items` that every name holds: a domain's names have a
        handful of source and issuer combinations, and a set of its own for each name cost
        about 200 bytes a name, a third of what a CT answer's name cost to keep."""
        return self._sets.setdefault(items, items)

    def _scoped(self, raw: str) -> ScopedName | None:
        result = scope(raw, self.domain)
        if isinstance(result, Rejected):
            if result is not Rejected.EMPTY:
                self.rejected[result.value] += 1
            return None
        return result


_CT_SOURCES = {"crt.sh": FoundBy.CRTSH, "certspotter": FoundBy.CERTSPOTTER}
_ORDER = {source: rank for rank, source in enumerate(FoundBy)}


def _ordered(sources: frozenset[FoundBy]) -> tuple[FoundBy, ...]:
    return tuple(sorted(sources, key=_ORDER.__getitem__))


def _by_label_from_right(name: str) -> tuple[str, ...]:
    # The apex first, then every name followed by the names under it, as in a zone file.
    return tuple(reversed(name.split(".")))
