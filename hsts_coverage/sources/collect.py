"""Pure: fold raw names from any source into the deduplicated, scoped list a scan probes.

Keeps per name what certificate transparency says (how many certificates, first and last
validity, issuers) and counts what was dropped and why, so the report can account for it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from hsts_coverage.models import CtFacts
from hsts_coverage.names import Rejected, ScopedName, scope


@dataclass(slots=True)
class _Seen:
    certificates: int = 0
    first_not_before: datetime | None = None
    last_not_after: datetime | None = None
    issuers: set[str] = field(default_factory=set)

    def add(
        self, issuer: str | None, not_before: datetime | None, not_after: datetime | None
    ) -> None:
        self.certificates += 1
        if issuer:
            self.issuers.add(issuer)
        self.add_dates(not_before, not_after)

    def add_dates(self, not_before: datetime | None, not_after: datetime | None) -> None:
        if not_before and (self.first_not_before is None or not_before < self.first_not_before):
            self.first_not_before = not_before
        if not_after and (self.last_not_after is None or not_after > self.last_not_after):
            self.last_not_after = not_after

    def facts(self) -> CtFacts:
        issuers = tuple(sorted(self.issuers))
        return CtFacts(self.certificates, self.first_not_before, self.last_not_after, issuers)


@dataclass(slots=True)
class NameCollector:
    """Collects names for one domain from every source."""

    domain: str
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _given: set[str] = field(default_factory=set)
    _wildcards: set[str] = field(default_factory=set)
    rejected: Counter[str] = field(default_factory=Counter)

    def add_certificate(
        self,
        name_value: str,
        *,
        issuer: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> None:
        """One CT entry: its `name_value` holds one name a line. Each name counts once per entry."""
        names = {n for n in (self._scoped(raw) for raw in name_value.split("\n")) if n}
        for scoped in names:
            if scoped.wildcard:
                self._wildcards.add(scoped.name)
            self._seen.setdefault(scoped.name, _Seen()).add(issuer, not_before, not_after)

    def add_name(self, raw: str) -> bool:
        """A name the user gave (names file, the apex); False if it was dropped."""
        scoped = self._scoped(raw)
        if scoped is None:
            return False
        self._given.add(scoped.name)
        return True

    def merge(self, other: NameCollector) -> None:
        """Take in what another collector for the same domain found."""
        for name, seen in other._seen.items():
            mine = self._seen.setdefault(name, _Seen())
            mine.certificates += seen.certificates
            mine.issuers |= seen.issuers
            mine.add_dates(seen.first_not_before, seen.last_not_after)
        self._given |= other._given
        self._wildcards |= other._wildcards
        self.rejected.update(other.rejected)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._given | self._seen.keys(), key=_by_label_from_right))

    def ct_facts(self) -> dict[str, CtFacts]:
        return {name: seen.facts() for name, seen in self._seen.items()}

    def wildcards(self) -> tuple[str, ...]:
        return tuple(f"*.{name}" for name in sorted(self._wildcards, key=_by_label_from_right))

    def _scoped(self, raw: str) -> ScopedName | None:
        result = scope(raw, self.domain)
        if isinstance(result, Rejected):
            if result is not Rejected.EMPTY:
                self.rejected[result.value] += 1
            return None
        return result


def _by_label_from_right(name: str) -> tuple[str, ...]:
    # The apex first, then every name followed by the names under it, as in a zone file.
    return tuple(reversed(name.split(".")))
