"""The zone lab (dns-lab.test) itself, over real sockets, with dnspython against the running lab:
BIND's zone transfers (allowed on one address, refused on the other), the lab's own DNS giving
the same answers as BIND, the zone file, the CT server's view and the web listeners, all from
`hsts_coverage.lab.zonelab.ZONE_HOSTS`.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.xfr
import dns.zone
import pytest

from hsts_coverage.lab.scenarios import Listen
from hsts_coverage.lab.zonelab import (
    AXFR_HOST,
    WILDCARD_ZONE,
    ZONE_DOMAIN,
    ZONE_HOSTS,
    Where,
    ZoneHost,
    zone_addresses,
    zone_hosts_info,
)

from .conftest import LabInfo

pytestmark = pytest.mark.e2e

TIMEOUT = 3.0
OWN_HOSTS = [host for host in ZONE_HOSTS if host.where is Where.OWN]


def server(where: str) -> tuple[str, int]:
    host, port = where.rsplit(":", 1)
    return host, int(port)


def zone_lab(lab: LabInfo) -> dict[str, Any]:
    assert lab.zone_lab is not None
    return lab.zone_lab


def transfer(where: str) -> dns.zone.Zone:
    host, port = server(where)
    messages = dns.query.xfr(host, ZONE_DOMAIN, port=port, timeout=TIMEOUT, relativize=False)
    return dns.zone.from_xfr(messages, relativize=False)


def owners(zone: dns.zone.Zone) -> set[str]:
    return {name.to_text(omit_final_dot=True) for name in zone.nodes}


def ask(where: str, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    host, port = server(where)
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=TIMEOUT)
    return dns.query.udp(query, host, port=port, timeout=TIMEOUT)


def answer_data(reply: dns.message.Message) -> set[tuple[str, str, str]]:
    """(owner, type, data) of every answer record, TTLs aside."""
    return {
        (rrset.name.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(rrset.rdtype), rd)
        for rrset in reply.answer
        for rd in (rdata.to_text() for rdata in rrset)
    }


def asked_name(host: ZoneHost) -> str:
    """The name to ask for a row: for the wildcard owner, a name under it."""
    return host.name().replace("*", "x-any", 1)


# -- BIND: zone transfers ----------------------------------------------------------------------


def test_info_describes_the_zone_lab(lab: LabInfo) -> None:
    info = zone_lab(lab)
    assert info["domain"] == ZONE_DOMAIN
    assert info["axfr"] == f"{lab.base}.{AXFR_HOST}:53"
    assert info["axfr_refused"] != info["axfr"]
    assert info["hosts"] == zone_hosts_info(lab.base)
    assert json.loads((lab.state_dir / "lab.json").read_text())["zone_lab"] == info


def test_axfr_returns_every_name_of_the_table(lab: LabInfo) -> None:
    zone = transfer(zone_lab(lab)["axfr"])
    assert {host.name() for host in ZONE_HOSTS} <= owners(zone)
    docs = zone.find_rdataset(f"docs.{ZONE_DOMAIN}.", "CNAME")
    assert [rdata.to_text() for rdata in docs] == [f"docs-origin-4f.{ZONE_DOMAIN}."]
    blog = zone.find_rdataset(f"blog.{ZONE_DOMAIN}.", "A")
    assert [rdata.to_text() for rdata in blog] == [zone_lab(lab)["hosts"][f"blog.{ZONE_DOMAIN}"]]


def test_axfr_is_refused_on_the_no_transfer_address(lab: LabInfo) -> None:
    with pytest.raises(dns.xfr.TransferError, match="REFUSED"):
        transfer(zone_lab(lab)["axfr_refused"])
    # The same named answers ordinary questions there: only the transfer is refused.
    reply = ask(zone_lab(lab)["axfr_refused"], f"blog.{ZONE_DOMAIN}", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer


def test_the_zone_file_parses_and_holds_the_axfr_names(lab: LabInfo) -> None:
    path = Path(zone_lab(lab)["zone_file"])
    text = path.read_text()
    assert text.count("$ORIGIN dns-lab.test.") == 1
    assert "$TTL 300" in text
    assert "SOA" in text
    assert "(" in text  # the SOA's fields span lines, with comments
    assert f"\nwww.{ZONE_DOMAIN}.\t" in text  # an absolute owner
    assert "\nblog\t" in text  # a relative one
    with path.open() as file:
        parsed = dns.zone.from_file(file, origin=ZONE_DOMAIN, relativize=False, check_origin=False)
    assert owners(parsed) == owners(transfer(zone_lab(lab)["axfr"]))


# -- the lab's Python DNS: a recursive resolver's view of the same zone -------------------------


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
@pytest.mark.parametrize("zone", [ZONE_DOMAIN, "hsts-lab.test", "outside.example"])
def test_the_python_dns_refuses_zone_transfers(lab: LabInfo, zone: str, rdtype: str) -> None:
    reply = ask(lab.resolver, zone, rdtype, tcp=True)
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.answer


def test_the_python_dns_refuses_a_real_axfr(lab: LabInfo) -> None:
    with pytest.raises(dns.xfr.TransferError, match="REFUSED"):
        transfer(lab.resolver)


def test_the_python_dns_answers_the_table(lab: LabInfo) -> None:
    addresses = zone_addresses(lab.base)
    blog = ask(lab.resolver, f"blog.{ZONE_DOMAIN}", "A")
    assert answer_data(blog) == {(f"blog.{ZONE_DOMAIN}", "A", addresses["blog"])}
    docs = ask(lab.resolver, f"docs.{ZONE_DOMAIN}", "A")
    assert answer_data(docs) == {
        (f"docs.{ZONE_DOMAIN}", "CNAME", f"docs-origin-4f.{ZONE_DOMAIN}."),
        (f"docs-origin-4f.{ZONE_DOMAIN}", "A", addresses["docs-origin-4f"]),
    }
    wild = ask(lab.resolver, f"x.{WILDCARD_ZONE}", "A")
    assert answer_data(wild) == {(f"x.{WILDCARD_ZONE}", "A", addresses["*.dev"])}
    nope = ask(lab.resolver, f"nope.{ZONE_DOMAIN}", "A")
    assert nope.rcode() == dns.rcode.NXDOMAIN
    assert not nope.answer
    ns = ask(lab.resolver, ZONE_DOMAIN, "NS")
    assert answer_data(ns) == {(ZONE_DOMAIN, "NS", f"ns1.{ZONE_DOMAIN}.")}
    ns1 = ask(lab.resolver, f"ns1.{ZONE_DOMAIN}", "A")
    assert answer_data(ns1) == {(f"ns1.{ZONE_DOMAIN}", "A", zone_lab(lab)["axfr"].split(":")[0])}


QUESTIONS = [
    *((asked_name(host), "A") for host in ZONE_HOSTS),
    (f"deep.x.{WILDCARD_ZONE}", "A"),  # the wildcard answers any depth below its parent
    (WILDCARD_ZONE, "A"),  # an empty non-terminal: NODATA
    (f"nope.{ZONE_DOMAIN}", "A"),  # NXDOMAIN
    (f"blog.{ZONE_DOMAIN}", "AAAA"),  # NODATA
    (ZONE_DOMAIN, "MX"),
    (ZONE_DOMAIN, "NS"),
    (ZONE_DOMAIN, "TXT"),
    (f"_dmarc.{ZONE_DOMAIN}", "TXT"),
    (f"_sip._tcp.{ZONE_DOMAIN}", "SRV"),
    (f"_sip._tcp.{ZONE_DOMAIN}", "A"),  # NODATA: an SRV owner has no address
]


@pytest.mark.parametrize(("name", "rdtype"), QUESTIONS)
def test_the_python_dns_answers_as_bind_does(lab: LabInfo, name: str, rdtype: str) -> None:
    ours = ask(lab.resolver, name, rdtype)
    bind = ask(zone_lab(lab)["axfr"], name, rdtype)
    assert ours.rcode() == bind.rcode()
    assert answer_data(ours) == answer_data(bind)


# -- CT and the web listeners ------------------------------------------------------------------


def test_ct_lists_only_the_apex_www_and_the_wildcard(lab: LabInfo) -> None:
    url = f"{lab.ct_url}/?q=%25.{ZONE_DOMAIN}&output=json"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        records = json.load(response)
    names = {name for record in records for name in record["name_value"].split("\n")}
    assert names == {ZONE_DOMAIN, f"www.{ZONE_DOMAIN}", f"*.{ZONE_DOMAIN}"}
    assert names >= {host.name() for host in ZONE_HOSTS if host.in_ct}


def http_status(address: str, name: str) -> int:
    with socket.create_connection((address, 80), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        return int(sock.recv(4096).split(b" ", 2)[1])


def https_status(lab: LabInfo, address: str, name: str) -> int:
    context = ssl.create_default_context(cafile=lab.ca_bundle)
    with (
        socket.create_connection((address, 443), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        return int(tls.recv(4096).split(b" ", 2)[1])


def test_blog_refuses_https_and_serves_http(lab: LabInfo) -> None:
    address = zone_lab(lab)["hosts"][f"blog.{ZONE_DOMAIN}"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, 443), timeout=TIMEOUT).close()
    assert http_status(address, f"blog.{ZONE_DOMAIN}") == 200


@pytest.mark.parametrize("host", OWN_HOSTS, ids=lambda host: host.label or "apex")
def test_each_zone_host_listens_as_the_table_says(lab: LabInfo, host: ZoneHost) -> None:
    address = zone_addresses(lab.base)[host.label]
    name = asked_name(host)
    for port, mode in ((443, host.https), (80, host.http)):
        if mode is Listen.NOTHING:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=TIMEOUT).close()
    if host.https is Listen.TLS:
        assert https_status(lab, address, name) == 200  # the lab CA's *.dns-lab.test covers it
        assert http_status(address, name) == 301
    elif host.http is Listen.PLAIN:
        assert http_status(address, name) == 200
