"""The lab itself, over real sockets: DNS, the crt.sh look-alike, certificates, listeners, routes.

These tests pin what the scanner's end-to-end tests rely on, straight from the scenario table:
the lab domain's scenarios (second addresses, wildcard DNS, DNS faults, hostile servers
included) and the policy sites. The scale fleet has its own module, test_fleet_lab.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import re
import select
import socket
import ssl
import struct
import time
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiodns
import pycares
import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from dnslib import QTYPE, RCODE, DNSRecord

from hsts_coverage.lab.certs import HOSTILE_CN
from hsts_coverage.lab.fleet import OWN_ADDRESS
from hsts_coverage.lab.scenarios import (
    POLICY_SITES,
    SCENARIOS,
    Cert,
    Dns,
    Listen,
    PolicySite,
    Reply,
    Scenario,
    ct_certificates,
    scenario_by_label,
)
from hsts_coverage.lab.web import Site, WebHosts
from hsts_coverage.probe.tls import CHROME_TLS12_CIPHERS

from .conftest import LabInfo

pytestmark = pytest.mark.e2e

TIMEOUT = 3.0


# -- helpers -----------------------------------------------------------------------------------


def dns_query(lab: LabInfo, name: str, qtype: str, *, tcp: bool = False) -> Any:
    host, port = lab.resolver.rsplit(":", 1)
    request = DNSRecord.question(name, qtype)
    if tcp:
        return DNSRecord.parse(request.send(host, int(port), tcp=True, timeout=TIMEOUT))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(request.pack(), (host, int(port)))
        reply = DNSRecord.parse(sock.recv(4096))
    assert reply.header.id == request.header.id
    return reply


def dns_socket(lab: LabInfo, *, tcp: bool) -> socket.socket:
    """A socket connected to the lab's DNS server (UDP or TCP)."""
    host, port = lab.resolver.rsplit(":", 1)
    if tcp:
        return socket.create_connection((host, int(port)), timeout=TIMEOUT)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, int(port)))
    return sock


def send_query(sock: socket.socket, name: str, qtype: str = "A") -> None:
    packet = DNSRecord.question(name, qtype).pack()
    if sock.type == socket.SOCK_STREAM:
        packet = struct.pack("!H", len(packet)) + packet
    sock.sendall(packet)


def answers(reply: Any) -> list[tuple[str, str, str]]:
    """(owner, type, data) of each answer record, names without the trailing dot."""
    return [
        (str(rr.rname).rstrip("."), QTYPE[rr.rtype], str(rr.rdata).rstrip(".")) for rr in reply.rr
    ]


def authority_types(reply: Any) -> list[str]:
    return [QTYPE[rr.rtype] for rr in reply.auth]


def client_context(lab: LabInfo) -> ssl.SSLContext:
    """A strict modern client, as the scanner builds it for a private root (the lab CA)."""
    context = ssl.create_default_context(cafile=lab.ca_bundle)
    context.hostname_checks_common_name = False
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(f"{':'.join(CHROME_TLS12_CIPHERS)}:@SECLEVEL=1")
    return context


def lenient_context(lab: LabInfo) -> ssl.SSLContext:
    """A client that accepts any certificate: for what a server serves, whatever it presents."""
    context = client_context(lab)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def probe_name(lab: LabInfo, label: str) -> str:
    """The name to ask `label` for: a wildcard owner answers for names under its parent."""
    if label.startswith("*."):
        return lab.name("lab-probe" + label[1:])
    return lab.name(label)


def handshake(lab: LabInfo, label: str, context: ssl.SSLContext | None = None) -> dict[str, Any]:
    """Complete a TLS handshake with `label`'s port 443 and return the peer certificate."""
    return handshake_at(lab.host(label), probe_name(lab, label), context or client_context(lab))


def handshake_at(address: str, name: str, context: ssl.SSLContext) -> dict[str, Any]:
    with (
        socket.create_connection((address, 443), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return tls.getpeercert() or {}


def served_leaf(lab: LabInfo, label: str) -> x509.Certificate:
    """The certificate `label` presents, unverified."""
    context = lenient_context(lab)
    with (
        socket.create_connection((lab.host(label), 443), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=lab.name(label)) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def ca_issuers(cert: x509.Certificate) -> list[str]:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    return [
        str(entry.access_location.value)
        for entry in aia
        if entry.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case name -> the last value
    body: bytes
    fields: list[tuple[str, str]]  # every header field, in order, names in lower case

    @property
    def sts(self) -> list[str]:
        return [value for name, value in self.fields if name == "strict-transport-security"]


def http(
    lab: LabInfo,
    label: str,
    port: int,
    path: str = "/",
    *,
    method: str = "GET",
    context: ssl.SSLContext | None = None,
) -> Response:
    """One raw HTTP/1.1 exchange (no redirect following), over TLS when `context` is given."""
    return http_at(lab.host(label), lab.name(label), port, path, method=method, context=context)


def http_at(
    address: str,
    name: str,
    port: int,
    path: str = "/",
    *,
    method: str = "GET",
    context: ssl.SSLContext | None = None,
) -> Response:
    request = f"{method} {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((address, port), timeout=TIMEOUT) as raw:
        if context is None:
            return _exchange(raw, request.encode())
        with context.wrap_socket(raw, server_hostname=name) as tls:
            return _exchange(tls, request.encode())


def _exchange(sock: socket.socket, request: bytes) -> Response:
    sock.sendall(request)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("ascii").split("\r\n")
    fields = [(name.lower(), value) for name, value in (h.split(": ", 1) for h in header_lines)]
    return Response(int(status_line.split(" ")[1]), dict(fields), body, fields)


def ct_get(lab: LabInfo, query: str, user_agent: str = "hsts-lab-tests") -> tuple[int, str, Any]:
    """(status, content type, decoded JSON or text) of a CT request; no proxies, ever."""
    status, content_type, body = fetch(f"{lab.ct_url}{query}", user_agent)
    return status, content_type, json.loads(body) if status == 200 else body.decode()


def fetch(url: str, user_agent: str = "hsts-lab-tests") -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET; no proxies, ever."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get_content_type(), error.read()


def ct_query(domain: str) -> str:
    return f"/?q={quote('%.' + domain)}&output=json"


def stats(lab: LabInfo) -> dict[str, Any]:
    status, _, body = ct_get(lab, "/lab/stats")
    assert status == 200
    return dict(body)


def label_id(scenario: Scenario) -> str:
    return scenario.label or "apex"


def site_id(site: PolicySite) -> str:
    return site.domain


# -- the lab process ---------------------------------------------------------------------------


def test_lab_json_matches_the_announced_line(lab: LabInfo) -> None:
    written = json.loads((lab.state_dir / "lab.json").read_text())
    assert written["hosts"] == lab.hosts
    assert written["alt_addresses"] == lab.alt_addresses
    assert written["policy_sites"] == lab.policy_sites
    assert written["fleet"] is lab.fleet is None  # this lab runs without a fleet
    assert written["ct_url"] == lab.ct_url == f"http://{lab.base}.0.2"
    assert written["resolver"] == lab.resolver == f"{lab.base}.0.53:53"
    assert (lab.state_dir / "ca.pem").samefile(lab.ca_bundle)


def test_hosts_cover_names_that_resolve_to_the_lab(lab: LabInfo) -> None:
    assert lab.host("") == f"{lab.base}.1.1"
    assert lab.host("www") == f"{lab.base}.1.2"
    assert lab.host("alias") == lab.host("www")  # through the CNAME
    assert lab.host("legacy.wild") == lab.host("*.wild")  # answered by the wildcard record
    assert lab.host("dns-truncated").startswith(f"{lab.base}.1.")  # its own, over TCP
    assert lab.host("cname-chain") == lab.host("www")  # at the end of 21 CNAMEs
    for label in ("gone", "dangling", "servfail", "metadata", "dns-silent", "cname-loop"):
        assert lab.name(label) not in lab.hosts
    assert lab.alt_addresses == {lab.name("multi"): [f"{lab.base}.2.1"]}


def test_every_lab_address_is_distinct(lab: LabInfo) -> None:
    addresses = [a for s in SCENARIOS if s.dns in OWN_ADDRESS for a in lab.addresses(s.label)]
    addresses += [a for site in lab.policy_sites.values() for a in site.values() if a]
    assert len(set(addresses)) == len(addresses)
    assert all(a.startswith(f"{lab.base}.") for a in addresses)


def test_policy_sites_are_listed_with_their_addresses(lab: LabInfo) -> None:
    assert list(lab.policy_sites) == [site.domain for site in POLICY_SITES]
    for site in POLICY_SITES:
        where = lab.policy_sites[site.domain]
        assert (where["www"] is None) == (site.www is None)


# -- DNS ---------------------------------------------------------------------------------------


ANSWERED = [s for s in SCENARIOS if s.dns is not Dns.SILENT]  # SILENT: test_silent_*


@pytest.mark.parametrize("scenario", ANSWERED, ids=label_id)
def test_dns_answers_each_scenario_as_the_table_says(lab: LabInfo, scenario: Scenario) -> None:
    name = lab.name(scenario.label)
    reply = dns_query(lab, name, "A")
    assert reply.header.ra == 1
    assert all(rr.ttl == 60 for rr in reply.rr + reply.auth)
    match scenario.dns:
        case Dns.A:  # every address, the primary first
            assert reply.header.rcode == RCODE.NOERROR
            every = [*lab.addresses(scenario.label), *filter(None, [scenario.fixed_address])]
            assert answers(reply) == [(name, "A", a) for a in every]
        case Dns.AAAA_SERVFAIL:  # A answers; AAAA fails
            assert answers(reply) == [(name, "A", lab.host(scenario.label))]
            assert dns_query(lab, name, "AAAA").header.rcode == RCODE.SERVFAIL
        case Dns.WILDCARD:  # synthesised from *.parent, owned by the name asked for
            wildcard = "*." + scenario.label.split(".", 1)[1]
            assert reply.header.rcode == RCODE.NOERROR
            assert answers(reply) == [(name, "A", lab.host(wildcard))]
        case Dns.FIXED:
            assert answers(reply) == [(name, "A", scenario.fixed_address)]
        case Dns.CNAME:
            target = lab.name(scenario.cname_target or "")
            cname = (name, "CNAME", target)
            if target in lab.hosts:
                assert reply.header.rcode == RCODE.NOERROR
                assert answers(reply) == [cname, (target, "A", lab.hosts[target])]
            else:  # dangling: the resolver reports the chain it followed, and NXDOMAIN
                assert reply.header.rcode == RCODE.NXDOMAIN
                assert answers(reply) == [cname]
        case Dns.NXDOMAIN:
            assert reply.header.rcode == RCODE.NXDOMAIN
            assert answers(reply) == []
            assert authority_types(reply) == ["SOA"]
        case Dns.SERVFAIL:
            assert reply.header.rcode == RCODE.SERVFAIL
            assert answers(reply) == []
        case Dns.TRUNCATED:  # over UDP: "too big", ask again over TCP
            assert (reply.header.rcode, reply.header.tc) == (RCODE.NOERROR, 1)
            assert answers(reply) == []
        case Dns.CNAME_LOOP:  # both CNAMEs, and nothing else
            other = lab.name(scenario.cname_target or "")
            assert reply.header.rcode == RCODE.NOERROR
            assert answers(reply) == [(name, "CNAME", other), (other, "CNAME", name)]
        case Dns.CNAME_CHAIN:
            assert reply.header.rcode == RCODE.NOERROR
            assert answers(reply) == chain(lab, name, scenario.chain_length)


def chain(lab: LabInfo, name: str, length: int) -> list[tuple[str, str, str]]:
    """The answer for the head of a CNAME chain: each link, then www's address."""
    links = [name, *(f"l{n}.{name}" for n in range(1, length + 1)), lab.name("www")]
    cnames = [(link, "CNAME", target) for link, target in itertools.pairwise(links)]
    return [*cnames, (lab.name("www"), "A", lab.host("www"))]


def test_aaaa_is_nodata(lab: LabInfo) -> None:
    reply = dns_query(lab, lab.name("www"), "AAAA")
    assert reply.header.rcode == RCODE.NOERROR
    assert answers(reply) == []
    assert authority_types(reply) == ["SOA"]


@pytest.mark.parametrize("qtype", ["A", "AAAA", "CNAME", "TXT"])
def test_servfail_for_every_type(lab: LabInfo, qtype: str) -> None:
    assert dns_query(lab, lab.name("servfail"), qtype).header.rcode == RCODE.SERVFAIL


def test_cname_query_gets_only_the_cname(lab: LabInfo) -> None:
    reply = dns_query(lab, lab.name("alias"), "CNAME")
    assert reply.header.rcode == RCODE.NOERROR
    assert answers(reply) == [(lab.name("alias"), "CNAME", lab.name("www"))]


def test_names_match_case_insensitively(lab: LabInfo) -> None:
    reply = dns_query(lab, lab.name("www").upper(), "A")
    assert [data for _, _, data in answers(reply)] == [lab.host("www")]


@pytest.mark.parametrize("label", ["never-logged", "deep.never-logged", "deleted-bucket"])
def test_unknown_names_under_the_domain_are_nxdomain(lab: LabInfo, label: str) -> None:
    reply = dns_query(lab, lab.name(label), "A")
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert authority_types(reply) == ["SOA"]


@pytest.mark.parametrize("name", ["example.com", "not{domain}", "{domain}.evil.example"])
def test_names_outside_the_domain_are_nxdomain(lab: LabInfo, name: str) -> None:
    reply = dns_query(lab, name.format(domain=lab.domain), "A")
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert answers(reply) == []
    assert authority_types(reply) == []


def test_apex_answers_soa_and_ns(lab: LabInfo) -> None:
    assert [t for _, t, _ in answers(dns_query(lab, lab.domain, "SOA"))] == ["SOA"]
    assert answers(dns_query(lab, lab.domain, "NS")) == [(lab.domain, "NS", f"ns.{lab.domain}")]


def test_dns_drops_garbage_and_keeps_answering(lab: LabInfo) -> None:
    host, port = lab.resolver.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x12\x34 not a DNS message", (host, int(port)))
    assert dns_query(lab, lab.name("www"), "A").header.rcode == RCODE.NOERROR


@pytest.mark.parametrize("label", ["x7q2.wild", "a.b.wild", "UPPER.Wild"])
def test_wildcard_answers_any_name_under_its_parent(lab: LabInfo, label: str) -> None:
    reply = dns_query(lab, lab.name(label), "A")
    assert reply.header.rcode == RCODE.NOERROR
    assert answers(reply) == [(lab.name(label), "A", lab.host("*.wild"))]


def test_wildcard_names_have_no_aaaa(lab: LabInfo) -> None:
    reply = dns_query(lab, lab.name("x7q2.wild"), "AAAA")
    assert reply.header.rcode == RCODE.NOERROR
    assert answers(reply) == []
    assert authority_types(reply) == ["SOA"]


def test_existing_names_under_the_wildcard_keep_their_own_answers(lab: LabInfo) -> None:
    assert lab.host("deep.wild") != lab.host("*.wild") != lab.host("wild")
    for label in ("deep.wild", "wild"):
        assert answers(dns_query(lab, lab.name(label), "A")) == [
            (lab.name(label), "A", lab.host(label))
        ]
    # deep.wild exists, so it (not wild.) encloses names below it, and has no wildcard.
    assert dns_query(lab, lab.name("x.deep.wild"), "A").header.rcode == RCODE.NXDOMAIN


def test_dns_over_tcp(lab: LabInfo) -> None:
    reply = dns_query(lab, lab.name("alias"), "A", tcp=True)
    assert [t for _, t, _ in answers(reply)] == ["CNAME", "A"]


def test_silent_name_gets_no_answer_over_udp_or_tcp(lab: LabInfo) -> None:
    with dns_socket(lab, tcp=False) as udp, dns_socket(lab, tcp=True) as tcp:
        for sock in (udp, tcp):
            send_query(sock, lab.name("dns-silent"))
        # Neither an answer nor, over TCP, a close: both are readable events.
        readable, _, _ = select.select([udp, tcp], [], [], 1.0)
        assert readable == []
        # The TCP session is still open and other names are still answered on it.
        send_query(tcp, lab.name("www"))
        (length,) = struct.unpack("!H", tcp.recv(2, socket.MSG_WAITALL))
        reply = DNSRecord.parse(tcp.recv(length, socket.MSG_WAITALL))
    assert answers(reply) == [(lab.name("www"), "A", lab.host("www"))]


def test_truncated_name_is_answered_over_tcp(lab: LabInfo) -> None:
    name = lab.name("dns-truncated")
    for qtype in ("A", "AAAA"):
        assert dns_query(lab, name, qtype).header.tc == 1
    reply = dns_query(lab, name, "A", tcp=True)
    assert (reply.header.rcode, reply.header.tc) == (RCODE.NOERROR, 0)
    assert answers(reply) == [(name, "A", lab.host("dns-truncated"))]


async def test_c_ares_retries_a_truncated_answer_over_tcp(lab: LabInfo) -> None:
    # The scanner's resolver, as it is configured there: one try, the lab as its only server.
    resolver = aiodns.DNSResolver(nameservers=[lab.resolver], timeout=TIMEOUT, tries=1)
    result = await resolver.query_dns(lab.name("dns-truncated"), "A")
    [record] = result.answer
    assert isinstance(record.data, pycares.ARecordData)
    assert record.data.addr == lab.host("dns-truncated")


@pytest.mark.parametrize(
    ("label", "other", "qtype"),
    [("cname-loop", "cname-loop-b", "AAAA"), ("cname-loop-b", "cname-loop", "A")],
)
def test_cname_loop_is_sent_as_the_loop(lab: LabInfo, label: str, other: str, qtype: str) -> None:
    name, other = lab.name(label), lab.name(other)
    reply = dns_query(lab, name, qtype)
    assert reply.header.rcode == RCODE.NOERROR
    assert answers(reply) == [(name, "CNAME", other), (other, "CNAME", name)]


def test_cname_loop_names_answer_a_cname_query_with_one_record(lab: LabInfo) -> None:
    reply = dns_query(lab, lab.name("cname-loop-b"), "CNAME")
    assert answers(reply) == [(lab.name("cname-loop-b"), "CNAME", lab.name("cname-loop"))]


@pytest.mark.parametrize("link", [1, 10, 20])
def test_each_cname_chain_link_answers_its_suffix_of_the_chain(lab: LabInfo, link: int) -> None:
    head = lab.name("cname-chain")
    reply = dns_query(lab, f"l{link}.{head}", "A")
    assert reply.header.rcode == RCODE.NOERROR
    length = scenario_by_label("cname-chain").chain_length
    assert answers(reply) == chain(lab, head, length)[link:]


# -- the crt.sh look-alike ---------------------------------------------------------------------

CRTSH_FIELDS = {
    "issuer_ca_id": int,
    "issuer_name": str,
    "common_name": str,
    "name_value": str,
    "id": int,
    "entry_timestamp": str,
    "not_before": str,
    "not_after": str,
    "serial_number": str,
    "result_count": int,
}


def test_ct_serves_crtsh_records(lab: LabInfo) -> None:
    status, content_type, records = ct_get(lab, f"/?q={quote('%.' + lab.domain)}&output=json")
    assert (status, content_type) == (200, "application/json")
    expected = ct_certificates(lab.domain)
    assert [r["name_value"].split("\n") for r in records] == [list(c.names) for c in expected]
    for record in records:
        assert {key: type(value) for key, value in record.items()} == CRTSH_FIELDS
        assert record["common_name"] == record["name_value"].split("\n")[0]
        assert record["result_count"] == len(record["name_value"].split("\n"))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", record["entry_timestamp"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["not_before"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["not_after"])
        assert re.fullmatch(r"[0-9a-f]+", record["serial_number"])
    ids = [record["id"] for record in records]
    assert ids == sorted(set(ids))


def test_ct_serves_one_certificate_per_policy_site(lab: LabInfo) -> None:
    ids = [r["id"] for r in ct_get(lab, ct_query(lab.domain))[2]]
    for site in POLICY_SITES:
        status, _, records = ct_get(lab, ct_query(site.domain))
        assert status == 200
        assert [r["name_value"] for r in records] == [f"{site.domain}\nwww.{site.domain}"]
        ids += [r["id"] for r in records]
    assert len(set(ids)) == len(ids)


def test_ct_keeps_the_raw_noise(lab: LabInfo) -> None:
    _, _, records = ct_get(lab, f"/?q={quote('%.' + lab.domain)}&output=json")
    names = {name for record in records for name in record["name_value"].split("\n")}
    d = lab.domain
    noise = {
        f"WWW.{d.upper()}",
        f"*.{d}",
        f"expired.{d}.",
        f"*.wild.{d}",
        f"hostmaster@{d}",
        "127.0.0.1",
        f"bad_name!.{d}",
        f"not{d}",
        f"{d}.evil.example",
    }
    assert noise <= names
    twice = [r for r in records if r["name_value"] == f"{d}\nwww.{d}"]
    assert len(twice) == 2
    assert twice[0]["serial_number"] == twice[1]["serial_number"]  # precertificate + certificate


def test_ct_accepts_the_bare_domain_in_any_case(lab: LabInfo) -> None:
    _, _, wildcard = ct_get(lab, f"/?q={quote('%.' + lab.domain)}&output=json")
    _, _, bare = ct_get(lab, f"/?q={lab.domain.upper()}.&output=json")
    assert bare == wildcard


def test_ct_knows_no_other_domain(lab: LabInfo) -> None:
    assert ct_get(lab, "/?q=%25.example.com&output=json")[:2] == (200, "application/json")
    assert ct_get(lab, "/?q=%25.example.com&output=json")[2] == []
    assert ct_get(lab, f"/?q=%25.not{lab.domain}&output=json")[2] == []


def test_ct_wants_output_json(lab: LabInfo) -> None:
    assert ct_get(lab, f"/?q={lab.domain}")[0] == 400


def test_ct_records_each_request(lab: LabInfo) -> None:
    agent = "hsts-lab-tests/record-check"
    ct_get(lab, f"/?q=%25.{lab.domain}&output=json", user_agent=agent)
    lines = (lab.state_dir / "ct-requests.log").read_text().splitlines()
    logged = [json.loads(line) for line in lines]
    mine = [entry for entry in logged if entry["user_agent"] == agent]
    assert len(mine) == 1
    assert mine[0]["path"] == "/"
    assert mine[0]["query"] == f"q=%25.{lab.domain}&output=json"
    assert all(not entry["path"].startswith("/lab/") for entry in logged)


# -- certificates ------------------------------------------------------------------------------

VERIFY_CODES = {
    Cert.EXPIRED: 10,  # X509_V_ERR_CERT_HAS_EXPIRED
    Cert.NOT_YET_VALID: 9,  # X509_V_ERR_CERT_NOT_YET_VALID
    Cert.SELF_SIGNED: 18,  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    Cert.UNKNOWN_CA: 20,  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    Cert.WRONG_NAME: 62,  # X509_V_ERR_HOSTNAME_MISMATCH
    Cert.SHA1: 68,  # X509_V_ERR_CA_MD_TOO_WEAK
    Cert.INCOMPLETE_CHAIN: 20,  # the intermediate is not sent
    Cert.INCOMPLETE_CHAIN_DEAD_AIA: 20,
    Cert.INCOMPLETE_CHAIN_CHUNKED_AIA: 20,
    Cert.CN_ONLY: 62,  # the CN is never checked
    Cert.RSA_768: 66,  # X509_V_ERR_EE_KEY_TOO_SMALL
    Cert.MD5: 68,  # X509_V_ERR_CA_MD_TOO_WEAK
    Cert.CA_AS_LEAF: 26,  # X509_V_ERR_INVALID_PURPOSE
    Cert.SHA1_INTERMEDIATE: 68,
    Cert.EXPIRED_SELF_SIGNED: 18,  # no trust anchor is reported before the dates
    Cert.HOSTILE_SUBJECT: 62,  # a CN, and not a host name
}
HANDSHAKING = (Listen.TLS, Listen.TLS_SILENT)
TLS_SCENARIOS = [s for s in SCENARIOS if s.dns in OWN_ADDRESS and s.https in HANDSHAKING]


def expected_verify_code(scenario: Scenario) -> int | None:
    if scenario.label.endswith(".wild"):
        return 62  # *.domain covers one label only
    return VERIFY_CODES.get(scenario.cert)


@pytest.mark.parametrize("scenario", TLS_SCENARIOS, ids=label_id)
def test_each_certificate_verifies_as_intended(lab: LabInfo, scenario: Scenario) -> None:
    code = expected_verify_code(scenario)
    if code is None:
        handshake(lab, scenario.label)
        return
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        handshake(lab, scenario.label)
    assert failure.value.verify_code == code


def test_incomplete_chain_verifies_with_the_intermediate_from_its_aia_url(lab: LabInfo) -> None:
    [url] = ca_issuers(served_leaf(lab, "incomplete-chain"))
    assert url == f"{lab.ct_url}/aia/lab-intermediate.der"
    status, content_type, der = fetch(url)
    assert (status, content_type) == (200, "application/pkix-cert")
    intermediate = x509.load_der_x509_certificate(der)
    assert intermediate.subject == served_leaf(lab, "incomplete-chain").issuer
    context = client_context(lab)
    context.load_verify_locations(cadata=der)
    handshake(lab, "incomplete-chain", context)


def test_dead_aia_url_is_404_and_the_lab_intermediate_does_not_help(lab: LabInfo) -> None:
    [url] = ca_issuers(served_leaf(lab, "dead-aia"))
    assert url == f"{lab.ct_url}/aia/missing.der"
    assert fetch(url)[0] == 404
    context = client_context(lab)
    context.load_verify_locations(cadata=fetch(f"{lab.ct_url}/aia/lab-intermediate.der")[2])
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        handshake(lab, "dead-aia", context)
    assert failure.value.verify_code == 20


def test_cn_only_names_the_host_in_the_subject_and_has_no_san(lab: LabInfo) -> None:
    leaf = served_leaf(lab, "cn-only")
    cn = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [attribute.value for attribute in cn] == [lab.name("cn-only")]
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_hostile_subject_is_in_the_certificate_raw(lab: LabInfo) -> None:
    leaf = served_leaf(lab, "hostile")
    cn = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [attribute.value for attribute in cn] == [HOSTILE_CN]
    assert HOSTILE_CN == "\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\x1b[0m\r\n"  # the table's
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_multi_second_address_presents_the_expired_certificate(lab: LabInfo) -> None:
    primary, second = lab.addresses("multi")
    handshake_at(primary, lab.name("multi"), client_context(lab))
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        handshake_at(second, lab.name("multi"), client_context(lab))
    assert failure.value.verify_code == 10


def test_multi_second_address_serves_the_same_routes(lab: LabInfo) -> None:
    primary, second = lab.addresses("multi")
    for port, context in ((443, lenient_context(lab)), (80, None)):
        first = http_at(primary, lab.name("multi"), port, context=context)
        other = http_at(second, lab.name("multi"), port, context=context)
        assert (other.status, other.headers.get("location")) == (
            first.status,
            first.headers.get("location"),
        )


def test_the_alias_is_served_under_its_own_name(lab: LabInfo) -> None:
    handshake(lab, "alias")


def test_the_expiring_certificate_has_three_days_left(lab: LabInfo) -> None:
    not_after = ssl.cert_time_to_seconds(handshake(lab, "expiring")["notAfter"])
    left = dt.datetime.fromtimestamp(not_after, dt.UTC) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=2, hours=23) < left <= dt.timedelta(days=3)


# -- listeners ---------------------------------------------------------------------------------


def test_tls10_refuses_a_modern_client_with_a_protocol_version_alert(lab: LabInfo) -> None:
    with pytest.raises(ssl.SSLError) as failure:
        handshake(lab, "tls10")
    assert failure.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


def test_tls10_speaks_tls_1_0(lab: LabInfo) -> None:
    context = client_context(lab)
    with warnings.catch_warnings():  # Python deprecates TLS 1.0: exactly what is tested here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    assert http(lab, "tls10", 443, context=context).status == 200


def test_plain_443_is_not_tls(lab: LabInfo) -> None:
    with pytest.raises(ssl.SSLError) as failure:
        handshake(lab, "plain-443")
    assert failure.value.reason == "WRONG_VERSION_NUMBER"


def test_garbage_gets_400(lab: LabInfo) -> None:
    with socket.create_connection((lab.host("www"), 80), timeout=TIMEOUT) as sock:
        response = _exchange(sock, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert response.status == 400
    assert response.headers["connection"] == "close"


@pytest.mark.parametrize(
    ("label", "port"), [("hang-tls", 443), ("blackhole", 443), ("blackhole", 80)]
)
def test_hang_accepts_and_stays_silent(lab: LabInfo, label: str, port: int) -> None:
    with socket.create_connection((lab.host(label), port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_tls_silent_completes_the_handshake_then_says_nothing(lab: LabInfo) -> None:
    context = client_context(lab)
    with (
        socket.create_connection((lab.host("tls-silent"), 443), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=lab.name("tls-silent")) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        tls.sendall(b"GET / HTTP/1.1\r\nHost: tls-silent\r\n\r\n")
        tls.settimeout(0.3)
        with pytest.raises(TimeoutError):
            tls.recv(1)


def test_tls_reset_resets_the_handshake(lab: LabInfo) -> None:
    # Linux reports the RST as ECONNRESET; an EOF is what a client may see if it reads late.
    with pytest.raises((ConnectionResetError, ssl.SSLEOFError)):
        handshake(lab, "tls-reset")


@pytest.mark.parametrize(
    ("label", "port"),
    [("http-only", 443), ("closed", 443), ("closed", 80), ("other-port", 8080)],
)
def test_nothing_refuses(lab: LabInfo, label: str, port: int) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((lab.host(label), port), timeout=TIMEOUT).close()


# -- routes ------------------------------------------------------------------------------------


def _served_routes() -> list[tuple[str, int, str, Reply]]:
    """(label, port, path, reply) of every route the lab serves over HTTP."""
    cases = []
    for scenario in SCENARIOS:
        if scenario.dns not in OWN_ADDRESS:
            continue
        if scenario.http is Listen.PLAIN:
            cases += [(scenario.label, 80, path, r) for path, r in scenario.http_replies()]
        if scenario.https in (Listen.TLS, Listen.PLAIN):
            cases += [(scenario.label, 443, path, r) for path, r in scenario.https_routes]
    return cases


def _is_slow(reply: Reply) -> bool:
    return bool(reply.delay or reply.trickle or reply.endless_body)


def _is_odd(reply: Reply) -> bool:
    """A reply whose framing misbehaves on purpose: checked byte by byte below."""
    return bool(reply.early_hints or reply.folded_header or reply.length)


def _route_cases() -> list[Any]:
    # Slow and odd replies have tests of their own (slow ones wait for them all at once).
    routes = _served_routes()
    cases = [c for c in routes if not _is_slow(c[3]) and not _is_odd(c[3])]
    cases = [c for c in cases if not c[3].close_without_answer]
    return [pytest.param(*case, id=f"{case[0] or 'apex'}:{case[1]}{case[2]}") for case in cases]


@pytest.mark.parametrize(("label", "port", "path", "reply"), _route_cases())
def test_routes_answer_as_the_table_says(
    lab: LabInfo, label: str, port: int, path: str, reply: Reply
) -> None:
    response = fetch_route(lab, label, port, path)
    assert response.status == reply.status
    location = reply.location.format(domain=lab.domain) if reply.location else None
    assert response.headers.get("location") == location
    assert response.sts == list(reply.sts)
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["connection"] == "close"
    assert int(response.headers["content-length"]) == len(response.body) > 0


def fetch_route(lab: LabInfo, label: str, port: int, path: str) -> Response:
    tls = port == 443 and scenario_by_label(label).https is Listen.TLS
    # Routes are served whatever the certificate; checking it is the tests above.
    return http(lab, label, port, path, context=lenient_context(lab) if tls else None)


def raw_answer(lab: LabInfo, label: str) -> bytes:
    """Every byte `label`'s HTTPS port sends back to `GET /`."""
    request = f"GET / HTTP/1.1\r\nHost: {lab.name(label)}\r\nConnection: close\r\n\r\n"
    with (
        socket.create_connection((lab.host(label), 443), timeout=TIMEOUT) as raw,
        lenient_context(lab).wrap_socket(raw, server_hostname=lab.name(label)) as tls,
    ):
        tls.sendall(request.encode())
        data = b""
        with contextlib.suppress(ssl.SSLEOFError):
            while chunk := tls.recv(65536):
                data += chunk
    return data


def test_early_hints_come_before_the_answer(lab: LabInfo) -> None:
    data = raw_answer(lab, "early-hints")
    hints, _, rest = data.partition(b"\r\n\r\n")
    assert hints.startswith(b"HTTP/1.1 103 Early Hints\r\n")
    assert b"Strict-Transport-Security: max-age=0" in hints
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Strict-Transport-Security: max-age=300\r\n" in rest


def test_a_folded_header_continues_on_the_next_line(lab: LabInfo) -> None:
    assert b"\r\nX-Folded: the first line\r\n  and its continuation\r\n" in raw_answer(
        lab, "folded-header"
    )


def _lengths(data: bytes) -> list[int]:
    head = data.partition(b"\r\n\r\n")[0].decode().split("\r\n")
    return [int(line.split(": ")[1]) for line in head if line.startswith("Content-Length:")]


def test_content_length_fields_as_the_table_says(lab: LabInfo) -> None:
    same, conflicting = raw_answer(lab, "same-length-twice"), raw_answer(lab, "conflicting-length")
    body = len(same.partition(b"\r\n\r\n")[2])
    assert _lengths(same) == [body, body]
    body = len(conflicting.partition(b"\r\n\r\n")[2])
    assert _lengths(conflicting) == [body, body + 10]
    chunked = raw_answer(lab, "chunked-and-length")
    head, _, rest = chunked.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked\r\n" in head
    size, _, tail = rest.partition(b"\r\n")
    assert tail.endswith(b"\r\n0\r\n\r\n")
    assert len(tail) == int(size, 16) + 7  # one chunk, then the last
    assert _lengths(chunked) == [int(size, 16) + 7] != [len(rest)]  # a length that is wrong


def test_an_empty_response_is_not_a_byte(lab: LabInfo) -> None:
    assert raw_answer(lab, "empty-response") == b""


def test_the_chunked_aia_url_serves_the_intermediate_in_chunks(lab: LabInfo) -> None:
    [url] = ca_issuers(served_leaf(lab, "chunked-aia"))
    with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
        assert answer.headers["Transfer-Encoding"] == "chunked"
        assert answer.headers["Content-Length"] is None
        der = answer.read()
    assert der == fetch(f"{lab.ct_url}/aia/lab-intermediate.der")[2]


def test_route_checks_cover_the_redirect_and_hostile_scenarios() -> None:
    labels = {label for label, _, _, _ in _served_routes()}
    assert {"chain-50", "ping", "pong", "relative", "bad-location", "to-ip"} <= labels
    assert {"other-port", "slow-hops", "slowloris", "huge-headers", "endless-body"} <= labels


def test_delayed_replies_start_after_their_delay(lab: LabInfo) -> None:
    delayed = [case for case in _served_routes() if case[3].delay]
    assert delayed  # slow-hops

    def timed(case: tuple[str, int, str, Reply]) -> tuple[float, Response]:
        started = time.monotonic()
        response = fetch_route(lab, *case[:3])
        return time.monotonic() - started, response

    with ThreadPoolExecutor(len(delayed)) as pool:  # all at once: one delay for the lot
        results = list(pool.map(timed, delayed))
    for (label, _, _, reply), (elapsed, response) in zip(delayed, results, strict=True):
        assert reply.delay <= elapsed < reply.delay + 1.0, label
        assert (response.status, response.headers.get("location")) == (reply.status, reply.location)


def open_tls(lab: LabInfo, label: str, path: str = "/") -> ssl.SSLSocket:
    """A TLS connection to `label`'s port 443 with a GET for `path` sent on it."""
    raw = socket.create_connection((lab.host(label), 443), timeout=TIMEOUT)
    tls = lenient_context(lab).wrap_socket(raw, server_hostname=lab.name(label))
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {lab.name(label)}\r\n\r\n".encode())
    return tls


def test_trickled_head_arrives_one_byte_a_second(lab: LabInfo) -> None:
    with open_tls(lab, "slowloris") as tls:
        first = tls.recv(16)
        started = time.monotonic()
        second = tls.recv(16)
        gap = time.monotonic() - started
    assert (first, second) == (b"H", b"T")
    assert 0.8 < gap < 2.0


def test_huge_headers_are_1_kib_fields_adding_up_to_the_size(lab: LabInfo) -> None:
    response = http(lab, "huge-headers", 443, context=lenient_context(lab))
    size = scenario_by_label("huge-headers").https_routes[0][1].header_bytes
    pads = [(name, value) for name, value in response.fields if name.startswith("x-pad-")]
    assert [name for name, _ in pads] == [f"x-pad-{n}" for n in range(1, size // 1024 + 1)]
    assert {len(f"{name}: {value}\r\n") for name, value in pads} == {1024}
    assert response.status == 200


def test_long_header_is_one_line_of_the_size(lab: LabInfo) -> None:
    response = http(lab, "long-header", 443, context=lenient_context(lab))
    size = scenario_by_label("long-header").https_routes[0][1].long_header
    [long] = [value for name, value in response.fields if name == "x-long"]
    assert len(f"X-Long: {long}") == size


def test_endless_body_streams_until_the_client_leaves(lab: LabInfo) -> None:
    with open_tls(lab, "endless-body") as tls:
        data = b""
        while b"\r\n\r\n" not in data:
            data += tls.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        while len(body) < 1 << 20:
            chunk = tls.recv(65536)
            assert chunk, "the body ended"
            body += chunk
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "Connection: close" in lines
    assert not [line for line in lines if line.lower().startswith("content-length")]


def test_wildcard_host_redirects_to_the_name_asked_for(lab: LabInfo) -> None:
    name = lab.name("x7q2.wild")
    response = http_at(lab.host("*.wild"), name, 80)
    assert response.headers["location"] == f"https://{name}/"
    # Anything that is not a name under wild. gets the table's own answer.
    other = http_at(lab.host("*.wild"), "evil.example", 80)
    assert other.headers["location"] == f"https://{lab.name('*.wild')}/"


async def test_sts_values_arrive_as_separate_fields_in_order(lab: LabInfo) -> None:
    # No table row sends two values yet, so a listener of its own, on an address the lab
    # leaves unused, shows what the server does with them.
    values = ("max-age=1", "max-age=63072000; includeSubDomains", "max-age=0")
    site = Site("sts.test", {"/": Reply(200, sts=values)})
    hosts = WebHosts()
    await hosts.listen(f"{lab.base}.250.1", 8080, Listen.PLAIN, site, None)
    try:
        reader, writer = await asyncio.open_connection(f"{lab.base}.250.1", 8080)
        writer.write(b"GET / HTTP/1.1\r\nHost: sts.test\r\n\r\n")
        data = await reader.read()
        writer.close()
        await writer.wait_closed()
    finally:
        await hosts.stop()
    lines = data.partition(b"\r\n\r\n")[0].decode().split("\r\n")
    assert [line for line in lines if line.startswith("Strict-")] == [
        f"Strict-Transport-Security: {value}" for value in values
    ]


def test_unknown_path_is_404(lab: LabInfo) -> None:
    assert http(lab, "www", 443, "/missing", context=client_context(lab)).status == 404
    assert http(lab, "www", 80, "/missing?x=1").status == 404


def test_head_gets_no_body(lab: LabInfo) -> None:
    response = http(lab, "www", 80, method="HEAD")
    assert response.status == 301
    assert response.body == b""
    assert int(response.headers["content-length"]) > 0


# -- policy sites ------------------------------------------------------------------------------


@pytest.mark.parametrize("site", POLICY_SITES, ids=site_id)
def test_policy_site_zone_resolves(lab: LabInfo, site: PolicySite) -> None:
    where = lab.policy_sites[site.domain]
    assert answers(dns_query(lab, site.domain, "A")) == [(site.domain, "A", where["apex"])]
    assert [t for _, t, _ in answers(dns_query(lab, site.domain, "SOA"))] == ["SOA"]
    www = dns_query(lab, f"www.{site.domain}", "A")
    if site.www is None:
        assert www.header.rcode == RCODE.NXDOMAIN
        assert authority_types(www) == ["SOA"]  # the site's own zone says so
    else:
        assert answers(www) == [(f"www.{site.domain}", "A", where["www"])]


@pytest.mark.parametrize("site", POLICY_SITES, ids=site_id)
def test_policy_site_certificates(lab: LabInfo, site: PolicySite) -> None:
    where = lab.policy_sites[site.domain]
    code = VERIFY_CODES.get(site.cert)
    if code is None:
        handshake_at(str(where["apex"]), site.domain, client_context(lab))
    else:
        with pytest.raises(ssl.SSLCertVerificationError) as failure:
            handshake_at(str(where["apex"]), site.domain, client_context(lab))
        assert failure.value.verify_code == code
    if site.www is Listen.TLS:
        handshake_at(str(where["www"]), f"www.{site.domain}", client_context(lab))
    elif site.www is Listen.NOTHING:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((str(where["www"]), 443), timeout=TIMEOUT).close()


def _site_route_cases() -> list[Any]:
    cases = []
    for site in POLICY_SITES:
        d = site.domain
        cases += [(d, "apex", 443, path, reply) for path, reply in site.apex_https()]
        cases += [(d, "apex", 80, path, reply) for path, reply in site.apex_http()]
        if site.www is Listen.TLS:
            cases += [(d, "www", 443, path, reply) for path, reply in site.www_https()]
        if site.www is not None:
            cases += [(d, "www", 80, path, reply) for path, reply in site.www_http()]
    return [pytest.param(*case, id=f"{case[1]}.{case[0]}:{case[2]}{case[3]}") for case in cases]


@pytest.mark.parametrize(("domain", "host", "port", "path", "reply"), _site_route_cases())
def test_policy_site_routes_answer_as_the_table_says(
    lab: LabInfo, domain: str, host: str, port: int, path: str, reply: Reply
) -> None:
    name = domain if host == "apex" else f"www.{domain}"
    address = str(lab.policy_sites[domain][host])
    context = lenient_context(lab) if port == 443 else None
    response = http_at(address, name, port, path, context=context)
    assert response.status == reply.status
    assert response.headers.get("location") == reply.location
    assert response.sts == list(reply.sts)


# -- statistics --------------------------------------------------------------------------------


def test_stats_count_connections_and_handshakes(lab: LabInfo) -> None:
    good, bad = f"{lab.host('www')}:443", f"{lab.host('expired')}:443"
    before = stats(lab)["connections"]
    handshake(lab, "www")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(lab, "expired")
    after = stats(lab)["connections"]
    assert after[good]["accepted"] == before[good]["accepted"] + 1
    assert after[good]["handshakes"] == before[good]["handshakes"] + 1
    assert after[bad]["accepted"] == before[bad]["accepted"] + 1
    assert after[bad]["handshakes"] == before[bad]["handshakes"]
