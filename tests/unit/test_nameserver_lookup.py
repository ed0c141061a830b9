"""The NS look-up before an automatic zone transfer is asked like any question: a lost answer is
asked again, and one that never comes is said as such, not as a zone without name servers.

Against a real DNS server on loopback (dnspython, in a thread) that drops the NS answers of
`zone.test` `lost` times before it answers; other zones do not exist (NXDOMAIN).
"""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from hsts_coverage.config import Nameserver
from hsts_coverage.resolve import Resolver
from hsts_coverage.sources.axfr import auto_servers
from tests.helpers import UdpDnsServer

NAME_SERVERS = ("ns1.zone.test", "ns2.zone.test")


class LossyNs(UdpDnsServer):
    """`zone.test` has two name servers (no addresses); its NS answer is dropped `lost` times."""

    def __init__(self, lost: int) -> None:
        super().__init__()
        self.lost = lost
        self.ns_questions = 0

    def reply(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        answer = dns.message.make_response(query)
        if name != "zone.test" or question.rdtype != dns.rdatatype.NS:
            answer.set_rcode(dns.rcode.NXDOMAIN)
            return answer
        self.ns_questions += 1
        if self.ns_questions <= self.lost:
            return None
        for host in NAME_SERVERS:
            answer.answer.append(dns.rrset.from_text("zone.test.", 300, "IN", "NS", f"{host}."))
        return answer


async def _nameservers(zone: str, lost: int) -> tuple[tuple[str, ...], str | None, int]:
    """`zone`'s NS look-up through the lossy server, and how often it was asked."""
    server = LossyNs(lost)
    with server as address:
        host, port = address.split(":")
        resolver = Resolver([Nameserver(host, int(port))], timeout=0.3, attempts=3)
        try:
            hosts, unread = await resolver.nameservers(zone)
        finally:
            await resolver.close()
    return hosts, unread, server.ns_questions


@pytest.mark.parametrize("lost", [0, 1])
async def test_the_name_servers_are_found_though_the_first_answer_is_lost(lost: int) -> None:
    hosts, unread, asked = await _nameservers("zone.test", lost)
    assert hosts == NAME_SERVERS
    assert unread is None
    assert asked == lost + 1


async def test_name_servers_that_cannot_be_read_are_not_taken_for_none() -> None:
    hosts, unread, asked = await _nameservers("zone.test", lost=1000)
    assert hosts == ()
    assert unread is not None
    assert "timed out" in unread
    assert asked >= 2


async def test_a_zone_that_does_not_exist_has_no_name_servers() -> None:
    assert await _nameservers("gone.test", lost=0) == ((), None, 0)


async def test_the_transfer_note_says_the_ns_records_could_not_be_read() -> None:
    with LossyNs(lost=1000) as address:
        host, port = address.split(":")
        resolver = Resolver([Nameserver(host, int(port))], timeout=0.3, attempts=3)
        try:
            servers, notes = await auto_servers("zone.test", resolver, lambda address: True)
        finally:
            await resolver.close()
    assert servers == []
    assert len(notes) == 1
    assert notes[0].startswith("the NS records of zone.test could not be read (")
