"""The zone lab: a second lab domain, `dns-lab.test`, whose HTTP-only hosts CT cannot see.

One table, `ZONE_HOSTS`, is the single source of truth for everything the lab serves for the
domain and for what a correct scan says of each host:

- the zone as an RFC 1035 master file (`zone_text`, written to `STATE_DIR/dns-lab.test.zone`,
  `$ORIGIN`, `$TTL`, a parenthesised SOA with comments, `@`, relative and absolute owner names,
  blank owners continuing the previous one, MX, SRV, TXT and NS records, a wildcard owner), which
  BIND's `named` serves (see `hsts_coverage.lab.bind`): on `{base}.0.54` with AXFR allowed to
  loopback, on `{base}.0.55` with AXFR refused;
- the same data in the lab's own DNS server on `{base}.0.53` (`build_dns_lab_zone`), answered
  as a recursive resolver would (the apex's NS is `ns1.dns-lab.test`, at `{base}.0.54`);
- the web listeners on `{base}.5.N`, the N-th row with an address of its own (`Where.OWN`), in
  table order (`zone_addresses`);
- what the lab's CT server lists for the domain (`zone_ct_certificates`): only `dns-lab.test`,
  `www.dns-lab.test` and the wildcard `*.dns-lab.test`, so every other host is found only
  through DNS (the zone file, a zone transfer, a guessed common label, a name met on the way).

| name            | DNS                        | 443 / 80        | CT  | expected               |
|-----------------|----------------------------|-----------------|-----|------------------------|
| dns-lab.test    | A .5.1, NS, MX, TXT        | TLS 200 / 301   | yes | ok                     |
| www             | A .5.2 (absolute owner)    | TLS 200 / 301   | yes | ok                     |
| shop            | A .5.3                     | TLS 200 / 301   | no  | ok (wildcard cert)     |
| blog            | A .5.4                     | closed / 200    | no  | breaks https_refused   |
| zq7-legacy-ops  | A .5.5                     | closed / 200    | no  | breaks https_refused   |
| docs            | CNAME docs-origin-4f       | its target's    | no  | breaks https_refused   |
| docs-origin-4f  | A .5.6 (absolute owner)    | closed / 200    | no  | breaks https_refused   |
| ns1             | A .0.54 (BIND), NS target  | closed / closed | no  | not_affected no_web... |
| mx-relay-9      | A .5.7, MX target          | closed / closed | no  | not_affected no_web... |
| voip-gw         | A .5.8, SRV target         | closed / closed | no  | not_affected no_web... |
| *.dev           | wildcard A .5.9            | closed / 200    | no  | breaks https_refused   |

(Addresses are `{base}.5.N` and `{base}.0.54`; `no_web...` is `no_web_service`; the `*.dev` row
holds for any name under `dev.dns-lab.test`, `WILDCARD_ZONE`.)

`dev.dns-lab.test` itself owns no record: an empty non-terminal (NODATA). `_dmarc` and the apex
carry TXT records and `_sip._tcp` the SRV record; none of them is a host.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from dnslib import MX, QTYPE, SRV, TXT

from hsts_coverage.lab.dns import Node, Zone
from hsts_coverage.lab.scenarios import OK, CtCertificate, Listen, Reply
from hsts_coverage.reasons import Reason

ZONE_DOMAIN = "dns-lab.test"
WILDCARD_ZONE = f"dev.{ZONE_DOMAIN}"  # every name under it is answered by `*.dev`
ZONE_TTL = 300
ZONE_SERIAL = 2026010101
NAMESERVER_LABEL = "ns1"
AXFR_HOST = "0.54"  # `{base}.0.54`: BIND, transfers allowed from loopback
AXFR_REFUSED_HOST = "0.55"  # `{base}.0.55`: BIND, transfers refused
HOSTMASTER = f"hostmaster.{ZONE_DOMAIN}"

Routes = tuple[tuple[str, Reply], ...]


class Where(StrEnum):
    """Where a zone host's A record points."""

    OWN = "own"  # its own `{base}.5.N`, with its listeners
    NAMESERVER = "nameserver"  # BIND's transfer address, `{base}.0.54` (nothing on 80/443)
    CNAME = "cname"  # no address: a CNAME to `cname_target`


@dataclass(frozen=True, slots=True)
class Pointer:
    """A record elsewhere in the zone whose data names the host: `owner TYPE fields... host`."""

    owner: str  # relative to the domain; "@" is the apex
    rdtype: str  # "NS", "MX" or "SRV"
    fields: tuple[int, ...] = ()  # MX: preference; SRV: priority, weight, port


@dataclass(frozen=True, slots=True)
class ZoneHost:
    """One host of the zone lab and what a correct scan says of it."""

    label: str  # "" is the apex; "*.dev" the wildcard owner
    purpose: str
    expect_status: str
    expect_reasons: tuple[Reason, ...]
    where: Where = Where.OWN
    cname_target: str | None = None  # a label under the domain, for Where.CNAME
    https: Listen = Listen.TLS  # always the lab CA's certificate for the domain and *.domain
    http: Listen = Listen.PLAIN
    http_routes: Routes | None = None  # None: 301 to https://same/
    in_ct: bool = False  # named by a certificate in the lab's CT server (not just the wildcard)
    pointers: tuple[Pointer, ...] = ()
    absolute: bool = False  # written with its full name (trailing dot) in the zone file

    def name(self, domain: str = ZONE_DOMAIN) -> str:
        return f"{self.label}.{domain}" if self.label else domain

    def https_routes(self) -> Routes:
        return (("/", OK),)

    def http_replies(self) -> Routes:
        if self.http_routes is not None:
            return self.http_routes
        return (("/", Reply(301, f"https://{self.name()}/")),)


_PAGE: Routes = (("/", OK),)  # HTTP-only hosts serve their page on port 80
_REFUSED = (Reason.HTTPS_REFUSED,)
_NO_WEB = (Reason.NO_WEB_SERVICE,)
_OFF = Listen.NOTHING

ZONE_HOSTS: tuple[ZoneHost, ...] = (
    ZoneHost("", "apex: valid TLS, HTTP redirects to HTTPS", "ok", (), in_ct=True),
    ZoneHost("www", "valid TLS, HTTP redirects to HTTPS", "ok", (), in_ct=True, absolute=True),
    ZoneHost("shop", "under the wildcard certificate; CT names only *.dns-lab.test", "ok", ()),
    ZoneHost(
        "blog", "HTTP only; a common label, in no certificate", "breaks", _REFUSED,
        https=_OFF, http_routes=_PAGE,
    ),
    ZoneHost(
        "zq7-legacy-ops", "HTTP only; an odd label only the zone knows", "breaks", _REFUSED,
        https=_OFF, http_routes=_PAGE,
    ),
    ZoneHost(
        "docs", "CNAME to an HTTP-only origin inside the zone", "breaks", _REFUSED,
        where=Where.CNAME, cname_target="docs-origin-4f",
    ),
    ZoneHost(
        "docs-origin-4f", "HTTP only; known as a CNAME target", "breaks", _REFUSED,
        https=_OFF, http_routes=_PAGE, absolute=True,
    ),
    ZoneHost(
        NAMESERVER_LABEL, "the zone's name server (BIND): no web service", "not_affected", _NO_WEB,
        where=Where.NAMESERVER, https=_OFF, http=_OFF, pointers=(Pointer("@", "NS"),),
    ),
    ZoneHost(
        "mx-relay-9", "the apex's MX target: no web service", "not_affected", _NO_WEB,
        https=_OFF, http=_OFF, pointers=(Pointer("@", "MX", (10,)),),
    ),
    ZoneHost(
        "voip-gw", "an SRV target: no web service", "not_affected", _NO_WEB,
        https=_OFF, http=_OFF, pointers=(Pointer("_sip._tcp", "SRV", (0, 5, 5060)),),
        absolute=True,
    ),
    ZoneHost(
        "*.dev", "wildcard DNS: every name under dev is HTTP only", "breaks", _REFUSED,
        https=_OFF, http_routes=_PAGE,
    ),
)  # fmt: skip

# (owner, text): TXT records for realism; no host owns them.
ZONE_TXT: tuple[tuple[str, str], ...] = (
    ("@", "v=spf1 mx -all"),
    ("_dmarc", f"v=DMARC1; p=none; rua=mailto:dmarc@{ZONE_DOMAIN}"),
)


def zone_host(label: str) -> ZoneHost:
    return next(host for host in ZONE_HOSTS if host.label == label)


def zone_addresses(base: str) -> dict[str, str]:
    """Label -> `{base}.5.N` for every Where.OWN row, N counting from 1 in table order, and
    `{base}.0.54` for the name server."""
    own = [host.label for host in ZONE_HOSTS if host.where is Where.OWN]
    addresses = {label: f"{base}.5.{n}" for n, label in enumerate(own, start=1)}
    for host in ZONE_HOSTS:
        if host.where is Where.NAMESERVER:
            addresses[host.label] = f"{base}.{AXFR_HOST}"
    return addresses


def zone_hosts_info(base: str) -> dict[str, str]:
    """Name -> first address for every row (a CNAME: its target's), for `Lab.info`."""
    addresses = zone_addresses(base)
    return {host.name(): addresses[_address_label(host)] for host in ZONE_HOSTS}


def _address_label(host: ZoneHost) -> str:
    if host.where is Where.CNAME:
        assert host.cname_target is not None, host.label
        return host.cname_target
    return host.label


def zone_ct_certificates(domain: str = ZONE_DOMAIN) -> tuple[CtCertificate, ...]:
    """What CT holds for the domain: one certificate for the rows `in_ct`, one wildcard."""
    listed = tuple(host.name(domain) for host in ZONE_HOSTS if host.in_ct)
    return (CtCertificate(listed), CtCertificate((f"*.{domain}", domain)))


# -- the zone in the lab's own DNS server ---------------------------------------------------------


def build_dns_lab_zone(base: str, domain: str = ZONE_DOMAIN) -> Zone:
    """The table as a `Zone` of the lab's Python DNS server, with the records the file has."""
    addresses = zone_addresses(base)
    zone = Zone(domain, nameserver=f"{NAMESERVER_LABEL}.{domain}")
    extra: dict[str, list[tuple[int, object]]] = {}
    for host in ZONE_HOSTS:
        for pointer in host.pointers:
            if pointer.rdtype != "NS":  # the zone's own NS answer names the name server
                owner = _absolute(pointer.owner, domain)
                extra.setdefault(owner, []).append(_pointer_rdata(pointer, host.name(domain)))
    for owner, text in ZONE_TXT:
        extra.setdefault(_absolute(owner, domain), []).append((QTYPE.TXT, TXT(text)))
    for host in ZONE_HOSTS:
        name = host.name(domain)
        records = tuple(extra.pop(name, ()))
        if host.where is Where.CNAME:
            zone.add(name, Node(cname=f"{host.cname_target}.{domain}", records=records))
        else:
            zone.add(name, Node(addresses=(addresses[host.label],), records=records))
    for owner, others in extra.items():
        zone.add(owner, Node(records=tuple(others)))
    return zone


def _pointer_rdata(pointer: Pointer, target: str) -> tuple[int, object]:
    if pointer.rdtype == "MX":
        return QTYPE.MX, MX(target, *pointer.fields)
    if pointer.rdtype == "SRV":
        return QTYPE.SRV, SRV(*pointer.fields, target)
    raise ValueError(f"no record type {pointer.rdtype!r} in the zone lab")


def _absolute(owner: str, domain: str) -> str:
    return domain if owner == "@" else f"{owner}.{domain}"


# -- the zone as a master file ---------------------------------------------------------------------


def zone_text(base: str, domain: str = ZONE_DOMAIN) -> str:
    """The zone as an RFC 1035 master file, in the style of a DNS host's export."""
    return "\n".join(_zone_lines(base, domain)) + "\n"


def _zone_lines(base: str, domain: str) -> Iterator[str]:
    yield f"; {domain}: the hsts-coverage lab's zone of hosts CT cannot see."
    yield "; Written by the lab from hsts_coverage.lab.zonelab.ZONE_HOSTS; served by named."
    yield f"$ORIGIN {domain}."
    yield f"$TTL {ZONE_TTL}"
    yield from _soa_lines(domain)
    apex_pointers = [(host, p) for host in ZONE_HOSTS for p in host.pointers if p.owner == "@"]
    for host, pointer in apex_pointers:
        yield _record("", pointer.rdtype, _pointer_data(pointer, host))
    for owner, text in ZONE_TXT:
        if owner == "@":
            yield _record("", "TXT", _quoted(text))
    addresses = zone_addresses(base)
    for host in ZONE_HOSTS:
        yield f"; {host.label or '@'}: {host.purpose}"
        yield _record(_owner(host, domain), *_host_record(host, addresses))
        for pointer in host.pointers:
            if pointer.owner != "@":
                yield _record(pointer.owner, pointer.rdtype, _pointer_data(pointer, host))
    yield "; mail policy"
    for owner, text in ZONE_TXT:
        if owner != "@":
            yield _record(owner, "TXT", _quoted(text))


def _soa_lines(domain: str) -> Iterator[str]:
    yield f"@\tIN\tSOA\t{NAMESERVER_LABEL}.{domain}. {HOSTMASTER}. ("
    yield f"\t\t\t{ZONE_SERIAL} ; serial"
    yield "\t\t\t3600       ; refresh (1 hour)"
    yield "\t\t\t600        ; retry (10 minutes)"
    yield "\t\t\t86400      ; expire (1 day)"
    yield f"\t\t\t{ZONE_TTL} )     ; minimum (5 minutes)"


def _owner(host: ZoneHost, domain: str) -> str:
    if not host.label:
        return "@"
    return f"{host.name(domain)}." if host.absolute else host.label


def _host_record(host: ZoneHost, addresses: dict[str, str]) -> tuple[str, str]:
    if host.where is Where.CNAME:
        assert host.cname_target is not None, host.label
        return "CNAME", host.cname_target
    return "A", addresses[host.label]


def _pointer_data(pointer: Pointer, host: ZoneHost) -> str:
    # The target relative to $ORIGIN, as exports write names inside the zone.
    return " ".join([*(str(field) for field in pointer.fields), host.label])


def _record(owner: str, rdtype: str, data: str) -> str:
    return f"{owner}\tIN\t{rdtype}\t{data}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
