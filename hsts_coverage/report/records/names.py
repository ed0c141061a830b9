"""The name list of `hsts-coverage enumerate`: a `names` record, then per domain a `domain`
record and a `name` record per name (`report.namelist` reads it back)."""

from __future__ import annotations

from collections.abc import Iterator

from hsts_coverage import __version__
from hsts_coverage.models import (
    CtFacts,
    Enumeration,
    FoundBy,
)
from hsts_coverage.report.records.fields import ct_record
from hsts_coverage.report.records.summary import enumeration_record
from hsts_coverage.report.shapes import (
    NameListDomainRecord,
    NameRecord,
    NamesRecord,
)

FORMAT_VERSION = 1  # of the name list
_USER = "user"
# Source names as the list spells them (the report's `ct.sources` says "crt.sh").
_SOURCE_NAMES = {"crt.sh": "crtsh"}


def header_record() -> NamesRecord:
    return {
        "type": "names",
        "tool": "hsts-coverage",
        "version": __version__,
        "format_version": FORMAT_VERSION,
    }


def domain_records(enumeration: Enumeration) -> Iterator[NameListDomainRecord | NameRecord]:
    """The `domain` record, then a `name` record per name."""
    yield {"type": "domain", "domain": enumeration.domain, **enumeration_record(enumeration)}
    for name in enumeration.names:
        facts = enumeration.ct.get(name)
        yield {
            "type": "name",
            "domain": enumeration.domain,
            "name": name,
            "found_by": name_found_by(facts, enumeration.found_by.get(name, ())),
            "ct": ct_record(facts),
        }


def name_found_by(facts: CtFacts | None, sources: tuple[FoundBy, ...] = ()) -> list[str]:
    """The sources that found it (the enumeration's own account; from a list written before it
    kept one, the CT sources), `user` for a name only the user (or the apex) gave."""
    if sources:
        return [source.value for source in sources]
    named = [_SOURCE_NAMES.get(s, s) for s in facts.sources] if facts else []
    return named or [_USER]
