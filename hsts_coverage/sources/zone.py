"""Names from DNS zone data: a zone file (RFC 1035 master format) or a zone transfer.

The hosts most likely to break under includeSubDomains are the ones certificate transparency
cannot list: a host that only ever served plain HTTP never had a certificate, and hosts under a
wildcard certificate appear in CT only as the wildcard. The zone lists them all.

What a zone contributes (`ZoneNames`):
- every owner of an address-bearing record (A, AAAA, CNAME, and HTTPS/SVCB, which browsers
  follow to a web host) under the domain;
- the targets of MX, SRV and CNAME records that lie inside the domain (a CNAME target or a mail
  host may have no record in this file when it sits in a delegated sub-zone);
- wildcard owners (`*.dev`), recorded as wildcard DNS, as CT wildcards are: the scan probes a
  random name under them;
- delegations (NS records below the apex): the names of a delegated sub-zone are not in this zone,
  which the summary says.

Parsing is dnspython's (`dns.zone`), so `$ORIGIN`, `$TTL`, relative and absolute owners, `@`,
comments and parentheses are read as BIND reads them; `$INCLUDE` is refused (a zone file must not
make the scanner read other files).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataset
import dns.rdatatype
import dns.zone

from hsts_coverage.models import ZoneNames
from hsts_coverage.rules.names import in_scope

_OWNER_TYPES = frozenset(
    {
        dns.rdatatype.A,
        dns.rdatatype.AAAA,
        dns.rdatatype.CNAME,
        dns.rdatatype.HTTPS,
        dns.rdatatype.SVCB,
    }
)
_TARGET_TYPES = frozenset({dns.rdatatype.MX, dns.rdatatype.SRV, dns.rdatatype.CNAME})


class ZoneFileError(ValueError):
    """A zone file that cannot be used; the message is one line for the user."""


def read_zone_file(path: Path, domains: Iterable[str]) -> tuple[str, ZoneNames]:
    """The scanned domain this file belongs to, and its names; ZoneFileError if it is for another
    zone, does not parse or cannot be read. A file without `$ORIGIN` (or an absolute SOA) is
    read with the only domain as its origin."""
    wanted = tuple(domains)
    try:
        zone = _parse(path, origin=None)
    except dns.zone.UnknownOrigin:
        if len(wanted) != 1:
            raise ZoneFileError(
                f"zone file {path} has no $ORIGIN line: with several domains, add one"
            ) from None
        zone = _parse(path, origin=wanted[0])
    if zone.origin is None:
        raise ZoneFileError(f"zone file {path} holds no records")
    origin = _text(zone.origin)
    domain = next((d for d in wanted if in_scope(origin, d)), None)
    if domain is None:
        raise ZoneFileError(
            f"zone file {path} is for {origin}, not for {' or '.join(wanted)} or a zone under it"
        )
    names = zone_names(zone, domain)
    if not names.records:
        raise ZoneFileError(f"zone file {path} holds no records under {domain}")
    return domain, names


def _parse(path: Path, *, origin: str | None) -> dns.zone.Zone:
    try:
        return dns.zone.from_file(
            str(path),
            origin=origin,
            relativize=False,
            check_origin=False,  # exports of part of a zone often lack SOA and NS
            allow_include=False,
        )
    except dns.zone.UnknownOrigin:
        raise
    except FileNotFoundError:
        raise ZoneFileError(f"zone file {path} does not exist") from None
    except UnicodeDecodeError:
        raise ZoneFileError(f"zone file {path} is not text") from None
    except OSError as exc:
        raise ZoneFileError(f"zone file {path} cannot be read: {exc.strerror}") from None
    except dns.exception.DNSException as exc:
        # dnspython's message starts with "FILE:LINE:" for syntax errors.
        raise ZoneFileError(f"zone file {_one_line(str(exc) or type(exc).__name__)}") from None


def zone_names(zone: dns.zone.Zone, domain: str) -> ZoneNames:
    """Pure: the names a parsed (or transferred) zone gives a scan of `domain`."""
    origin = _text(zone.origin) if zone.origin is not None else domain
    names: dict[str, None] = {}
    delegations: dict[str, None] = {}
    records = 0
    for owner, node in zone.nodes.items():
        name = _text(owner if owner.is_absolute() else owner.derelativize(zone.origin or root))
        for rdataset in node.rdatasets:
            records += len(rdataset)
            if rdataset.rdtype in _OWNER_TYPES and in_scope(name.removeprefix("*."), domain):
                names[name] = None
            if rdataset.rdtype == dns.rdatatype.NS and name != origin:
                delegations[name] = None
            if rdataset.rdtype in _TARGET_TYPES:
                names.update(dict.fromkeys(_targets(rdataset, domain)))
    return ZoneNames(origin, tuple(names), tuple(delegations), records)


root = dns.name.root


def _targets(rdataset: dns.rdataset.Rdataset, domain: str) -> Iterable[str]:
    for rdata in rdataset:
        target = getattr(rdata, "target", None) or getattr(rdata, "exchange", None)
        if isinstance(target, dns.name.Name) and target != dns.name.root:
            name = _text(target)
            if in_scope(name, domain):
                yield name


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())
