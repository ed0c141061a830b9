"""Pure: names under the domain that a scan meets while it checks hosts.

A certificate's SANs name its siblings (often hosts no other source lists: a certificate for
`www` and `legacy` is logged, but a host behind an internal CA is not), a redirect points at
another host, a CNAME chain passes through names of the domain. Each such name is scanned in the
same run, once (`pipeline.domain.Domain.meet`), and its record says how it was found.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from urllib.parse import urlsplit

from hsts_coverage.models import (
    Enumeration,
    EnumerationStatus,
    FoundBy,
    HostResult,
    SourceReport,
)
from hsts_coverage.rules.names import Rejected, scope

_MET = (FoundBy.SAN, FoundBy.REDIRECT, FoundBy.CNAME)


def met_names(result: HostResult, domain: str) -> Iterator[tuple[str, FoundBy]]:
    """(name, how) for every name under `domain` that `result` shows, its own name excepted."""
    for raw, how in _raw_names(result):
        scoped = scope(raw, domain)
        if not isinstance(scoped, Rejected) and scoped.name != result.name:
            yield scoped.name, how


def _raw_names(result: HostResult) -> Iterator[tuple[str, FoundBy]]:
    for cname in result.dns.cname_chain:
        yield cname, FoundBy.CNAME
    for probe in result.probes:
        if probe.https.cert is not None:
            for san in probe.https.cert.sans:
                yield san, FoundBy.SAN
        for location in (probe.https.location, probe.http.location):
            if location:
                yield from _host(location)
        for hop in probe.walk.hops if probe.walk else ():
            yield from _host(hop.url)


def _host(url: str) -> Iterator[tuple[str, FoundBy]]:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return  # a Location no browser would follow names no host
    if host:
        yield host, FoundBy.REDIRECT


def with_met_names(
    enumeration: Enumeration,
    found_by: Mapping[str, tuple[FoundBy, ...]],
    met: Mapping[FoundBy, int],
    over_cap: int,
) -> Enumeration:
    """The enumeration with the names met during the scan counted in (per kind, as sources);
    names left over the cap make it truncated: they were seen but not checked."""
    known = set(enumeration.names)
    extra = tuple(name for name in found_by if name not in known and _was_met(found_by[name]))
    reports = tuple(
        SourceReport(how, EnumerationStatus.COMPLETE, met[how]) for how in _MET if met.get(how)
    )
    notes = enumeration.notes
    status = enumeration.status
    if over_cap:
        notes += (f"names met during the scan: {over_cap} more over the cap were not checked",)
        if status in (EnumerationStatus.COMPLETE, EnumerationStatus.SKIPPED):
            status = EnumerationStatus.TRUNCATED
    return replace(
        enumeration,
        status=status,
        names=enumeration.names + extra,
        found_by=dict(found_by),
        per_source=enumeration.per_source + reports,
        notes=notes,
    )


def _was_met(how: tuple[FoundBy, ...]) -> bool:
    return len(how) == 1 and how[0] in _MET
