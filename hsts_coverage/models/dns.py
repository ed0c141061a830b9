"""What DNS says of a name: its addresses, CNAME chain, and the wildcard zones that answer
for names nobody created (the resolve stage's facts)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DnsStatus(StrEnum):
    RESOLVED = "resolved"
    NXDOMAIN = "nxdomain"
    NO_ADDRESS = "no_address"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class WildcardZone:
    """A zone with wildcard DNS: a random name under it resolved to `addresses`."""

    zone: str
    probe_name: str  # the random name, probed like any other: the wildcard covers it
    addresses: frozenset[str]


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    name: str
    status: DnsStatus
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()
    dangling_target: str | None = None  # the last CNAME target, when it does not resolve
    error: str | None = None
    # Resolved, but one record type failed after every retry ("AAAA: SERVFAIL"): the addresses
    # it would have given are not known.
    partial_error: str | None = None
