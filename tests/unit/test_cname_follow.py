"""A name without addresses: its CNAME chain is followed to an answer, never to a lost query.

Against a real DNS server on loopback (dnspython, in a thread) whose CNAME answers are lost
`lost` times per name before they come: the A and AAAA questions say NXDOMAIN at once (what a
deleted resource behind a CNAME answers), so only the CNAME look-up decides whether the name
points somewhere (dangling), loops, or is simply gone. Seen under load in the lab's scan: a
CNAME loop whose follow-up query timed out came out as a plain NXDOMAIN ("not affected"), and
the loop's other name was never found.
"""

from __future__ import annotations

from collections import Counter

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from hsts_coverage.config import Nameserver
from hsts_coverage.models import DnsAnswer, DnsStatus
from hsts_coverage.resolve import Resolver
from tests.helpers import UdpDnsServer

# Each name's CNAME, as its zone has it (None: no CNAME, the chain ends with NXDOMAIN).
CNAMES = {
    "dangling.cname.test": "deleted.cname.test",
    "deleted.cname.test": None,
    "loop-a.cname.test": "loop-b.cname.test",
    "loop-b.cname.test": "loop-a.cname.test",
}


class LossyCnames(UdpDnsServer):
    """NXDOMAIN for A and AAAA; a name's CNAME question is dropped `lost` times, then answered."""

    def __init__(self, lost: int) -> None:
        super().__init__()
        self.lost = lost
        self.cname_questions: Counter[str] = Counter()

    def reply(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        answer = dns.message.make_response(query)
        target = CNAMES.get(name)
        if question.rdtype != dns.rdatatype.CNAME or target is None:
            answer.set_rcode(dns.rcode.NXDOMAIN)
            soa = "ns.cname.test. host.cname.test. 1 3600 600 86400 300"
            answer.authority.append(dns.rrset.from_text("cname.test.", 300, "IN", "SOA", soa))
            return answer
        self.cname_questions[name] += 1
        if self.cname_questions[name] <= self.lost:
            return None
        answer.answer.append(dns.rrset.from_text(f"{name}.", 300, "IN", "CNAME", f"{target}."))
        return answer


async def _resolve(
    name: str, lost: int, *, attempts: int = 3, dangling: bool = True
) -> tuple[DnsAnswer, LossyCnames]:
    """`name` resolved through the lossy server, and the server (what it was asked)."""
    server = LossyCnames(lost)
    with server as address:
        host, port = address.split(":")
        resolver = Resolver([Nameserver(host, int(port))], timeout=0.3, attempts=attempts)
        try:
            return await resolver.resolve(name, dangling=dangling), server
        finally:
            await resolver.close()


@pytest.mark.parametrize("lost", [0, 1])
async def test_a_dangling_cname_is_found_though_its_first_answer_is_lost(lost: int) -> None:
    answer, _ = await _resolve("dangling.cname.test", lost)
    assert answer.status is DnsStatus.NXDOMAIN
    assert answer.dangling_target == "deleted.cname.test"
    assert answer.cname_chain == ("deleted.cname.test",)


@pytest.mark.parametrize("lost", [0, 1])
async def test_a_cname_loop_is_seen_though_an_answer_is_lost(lost: int) -> None:
    answer, _ = await _resolve("loop-a.cname.test", lost)
    assert answer.status is DnsStatus.ERROR
    assert "CNAME loop" in (answer.error or "")
    assert answer.cname_chain[:2] == ("loop-b.cname.test", "loop-a.cname.test")


async def test_a_cname_chain_that_cannot_be_read_is_not_taken_for_a_gone_name() -> None:
    # Every CNAME answer is lost: whether the name points somewhere is not known. Not NXDOMAIN
    # (a name that is gone is "not affected"): a DNS error, which leaves the host unknown.
    answer, _ = await _resolve("loop-a.cname.test", lost=1000, attempts=2)
    assert answer.status is DnsStatus.ERROR
    assert "CNAME records could not be read" in (answer.error or "")
    assert "loop-a.cname.test: timed out" in (answer.error or "")


async def test_a_name_asked_without_the_cname_look_up_asks_no_cname() -> None:
    answer, server = await _resolve("dangling.cname.test", lost=0, dangling=False)
    assert answer.status is DnsStatus.NXDOMAIN
    assert not server.cname_questions
