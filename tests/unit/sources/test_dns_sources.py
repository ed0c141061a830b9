"""The DNS-side sources of names, pure parts: zone files, common labels, names met in a scan,
the coverage advice, and how diff treats a host that only a new source found."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from hsts_coverage.models import (
    Certificate,
    DnsAnswer,
    DnsStatus,
    Enumeration,
    EnumerationStatus,
    FoundBy,
    Hop,
    HostResult,
    HostVerdict,
    HttpFacts,
    HttpsFacts,
    Outcome,
    Probe,
    RedirectWalk,
    SourceReport,
    Status,
    WalkEnd,
)
from hsts_coverage.report.diff import Change, diff_reports
from hsts_coverage.report.reader import Report
from hsts_coverage.resolve import Resolver
from hsts_coverage.rules.summary import coverage_advice
from hsts_coverage.sources import guess
from hsts_coverage.sources.collect import NameCollector
from hsts_coverage.sources.guess import candidates, parse_labels, shipped_labels, tally
from hsts_coverage.sources.met import met_names, with_met_names
from hsts_coverage.sources.zone import ZoneFileError, read_zone_file

DOMAIN = "example.com"

# A zone as a DNS host exports it: $ORIGIN, $TTL, @, relative and absolute owners, comments and
# parentheses.
ZONE = """\
$ORIGIN example.com.
$TTL 300
@   IN SOA ns1 hostmaster ( 2026120101 ; serial
        3600 600 86400 300 )        ; refresh retry expire negative
@        NS    ns1
@        A     192.0.2.1
@        MX    10 mx-relay
ns1      A     192.0.2.53
www      CNAME @
blog.example.com. A 192.0.2.3          ; absolute owner
zq7-legacy-ops    A 192.0.2.4
docs     CNAME docs-origin.example.com.
docs-origin AAAA 2001:db8::4
*.dev    A     192.0.2.5
_sip._tcp SRV 0 5 5060 voip-gw
voip-gw  A     192.0.2.6
mx-relay A     192.0.2.7
ext      CNAME cdn.provider.example.
sub      NS    ns.elsewhere.example.
txt      TXT   "v=spf1 -all"
"""


def write(tmp_path: Path, text: str, name: str = "example.zone") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_zone_export_gives_every_web_name_targets_and_wildcards(tmp_path: Path) -> None:
    domain, names = read_zone_file(write(tmp_path, ZONE), [DOMAIN])
    assert domain == DOMAIN
    assert names.origin == DOMAIN
    assert names.covers(DOMAIN)
    assert set(names.names) == {
        "example.com",
        "ns1.example.com",
        "www.example.com",
        "blog.example.com",
        "zq7-legacy-ops.example.com",
        "docs.example.com",
        "docs-origin.example.com",
        "*.dev.example.com",
        "voip-gw.example.com",
        "mx-relay.example.com",
        "ext.example.com",
    }  # not txt (no address), not the SRV owner, not the CNAME target outside the domain
    assert names.delegations == ("sub.example.com",)


def test_a_file_without_origin_takes_the_one_domain(tmp_path: Path) -> None:
    text = "$TTL 60\nblog A 192.0.2.3\n"
    assert read_zone_file(write(tmp_path, text), [DOMAIN])[1].names == ("blog.example.com",)


def test_a_zone_of_a_sub_zone_adds_names_but_is_not_the_domains_zone(tmp_path: Path) -> None:
    text = "$ORIGIN dev.example.com.\n$TTL 60\napi A 192.0.2.9\n"
    domain, names = read_zone_file(write(tmp_path, text), [DOMAIN, "other.org"])
    assert (domain, names.names, names.covers(DOMAIN)) == (DOMAIN, ("api.dev.example.com",), False)


@pytest.mark.parametrize(
    ("text", "domains", "message"),
    [
        ("$ORIGIN other.org.\n$TTL 60\nwww A 192.0.2.1\n", [DOMAIN], "is for other.org, not for"),
        ("$ORIGIN example.com.\n$TTL 60\nwww BOGUS 1.2.3\nmail A 192.0.2.1\n", [DOMAIN], ":3: "),
        ("$ORIGIN example.com.\n$INCLUDE other.zone\n", [DOMAIN], "$INCLUDE"),
        ("$TTL 60\nwww A 192.0.2.1\n", [DOMAIN, "other.org"], "has no $ORIGIN line"),
        ("", [DOMAIN], "holds no records"),
        ("; only a comment\n", [DOMAIN], "holds no records"),
    ],
)
def test_a_zone_file_that_cannot_be_used_is_one_line(
    tmp_path: Path, text: str, domains: list[str], message: str
) -> None:
    with pytest.raises(ZoneFileError) as raised:
        read_zone_file(write(tmp_path, text), domains)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_or_binary_zone_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match="does not exist"):
        read_zone_file(tmp_path / "nope.zone", [DOMAIN])
    path = tmp_path / "binary.zone"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ZoneFileError):
        read_zone_file(path, [DOMAIN])


# -- names and their sources ----------------------------------------------------------------------


def test_the_collector_keeps_every_source_of_a_name() -> None:
    collector = NameCollector(DOMAIN)
    collector.add_name(DOMAIN)
    collector.add_certificate(f"www.{DOMAIN}\n*.{DOMAIN}", source="crt.sh")
    collector.add_certificate(f"www.{DOMAIN}", source="certspotter")
    collector.add_name(f"www.{DOMAIN}", FoundBy.GUESS)
    collector.add_name(f"*.dev.{DOMAIN}", FoundBy.ZONE_FILE)
    collector.add_name("www.other.org", FoundBy.ZONE_FILE)  # out of scope: dropped
    found = collector.found_by()
    assert found[f"www.{DOMAIN}"] == (FoundBy.CRTSH, FoundBy.CERTSPOTTER, FoundBy.GUESS)
    assert found[DOMAIN] == (FoundBy.USER, FoundBy.CRTSH)
    assert found[f"dev.{DOMAIN}"] == (FoundBy.ZONE_FILE,)
    assert collector.wildcards() == (f"*.{DOMAIN}", f"*.dev.{DOMAIN}")
    assert (collector.count(FoundBy.CRTSH), collector.count(FoundBy.ZONE_FILE)) == (2, 1)
    assert collector.rejected["out_of_scope"] == 1


def _ct_answer(names: int, issuer: str) -> NameCollector:
    """One CT answer as `crtsh.fetch` folds it: each row with its own copy of the issuer."""
    found = NameCollector(DOMAIN)
    for i in range(names):
        copy = "".join(list(issuer))  # a new string, as each parsed JSON row brings
        found.add_certificate(f"h{i}.{DOMAIN}", issuer=copy, not_before=NOW, source="crt.sh")
    return found


def test_a_ct_answer_costs_under_500_bytes_a_name_to_keep() -> None:
    # A set of sources and a set of issuers of its own for each name, and the merge's copy of
    # every name, cost 930 bytes a name kept and 1,690 at the peak: 93 MB for 100,000 names.
    issuer = "C=US, O=Let's Encrypt, CN=R11 (the issuer of most of a CT answer's rows)"
    collector = NameCollector(DOMAIN)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        collector.merge(_ct_answer(2000, issuer))
        gc.collect()
        kept, peak = (size - before for size in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    assert len(collector.names()) == 2000
    assert kept / 2000 < 500
    assert peak / 2000 < 700


def test_merging_keeps_every_count_issuer_and_source() -> None:
    collector = NameCollector(DOMAIN)
    collector.add_certificate(f"www.{DOMAIN}", issuer="CN=A", not_after=NOW, source="crt.sh")
    collector.add_name(f"dev.{DOMAIN}", FoundBy.GUESS)
    other = NameCollector(DOMAIN)
    other.add_certificate(f"www.{DOMAIN}\napi.{DOMAIN}", issuer="CN=B", source="crt.sh")
    other.add_certificate(f"dev.{DOMAIN}", issuer="CN=A", source="certspotter")
    collector.merge(other)
    facts = collector.ct_facts()
    assert (facts[f"www.{DOMAIN}"].certificates, facts[f"www.{DOMAIN}"].issuers) == (
        2,
        ("CN=A", "CN=B"),
    )
    assert facts[f"api.{DOMAIN}"].issuers == ("CN=B",)
    assert facts[f"dev.{DOMAIN}"].issuers == ("CN=A",)
    found = collector.found_by()
    assert found[f"dev.{DOMAIN}"] == (FoundBy.CERTSPOTTER, FoundBy.GUESS)
    assert found[f"api.{DOMAIN}"] == (FoundBy.CRTSH,)


def test_the_shipped_labels_are_the_common_ones() -> None:
    labels = shipped_labels()
    assert len(labels) > 4900
    assert {"blog", "dev", "staging", "mail", "intranet", "wiki", "shop"} <= set(labels)
    assert all(label == label.lower() for label in labels)


def test_a_guess_list_is_read_like_a_names_file() -> None:
    assert parse_labels("Blog\n# comment\n\n dev # trailing\nblog\n") == ("blog", "dev")
    assert candidates(("blog", "dev"), DOMAIN) == (f"blog.{DOMAIN}", f"dev.{DOMAIN}")


def answer(name: str, status: DnsStatus, *addresses: str) -> DnsAnswer:
    return DnsAnswer(name, status, addresses)


def test_only_names_that_really_resolve_are_findings() -> None:
    wildcard = frozenset({"192.0.2.99"})
    answers = [
        answer(f"blog.{DOMAIN}", DnsStatus.RESOLVED, "192.0.2.3"),
        answer(f"any.{DOMAIN}", DnsStatus.RESOLVED, "192.0.2.99"),  # the wildcard's answer
        answer(f"mixed.{DOMAIN}", DnsStatus.RESOLVED, "192.0.2.99", "192.0.2.4"),  # its own
        answer(f"gone.{DOMAIN}", DnsStatus.NXDOMAIN),
        answer(f"empty.{DOMAIN}", DnsStatus.NO_ADDRESS),
        answer(f"broken.{DOMAIN}", DnsStatus.ERROR),
    ]
    guesses = tally(6, answers, wildcard)
    assert guesses.found == (f"blog.{DOMAIN}", f"mixed.{DOMAIN}")
    assert (guesses.tried, guesses.wildcard_answered, guesses.errors) == (6, 1, 1)
    assert tally(6, answers, frozenset()).found == (
        f"any.{DOMAIN}",
        f"blog.{DOMAIN}",
        f"mixed.{DOMAIN}",
    )


NOW = datetime(2026, 12, 1, tzinfo=UTC)


def result_with(
    *, sans: tuple[str, ...] = (), hops: tuple[str, ...] = (), cnames: tuple[str, ...] = ()
) -> HostResult:
    cert = Certificate("CN=x", sans, "CN=ca", NOW, NOW, "01", "sha256", False)
    https = HttpsFacts(Outcome.OK, cert=cert, status=301, location=hops[0] if hops else None)
    walk = RedirectWalk(WalkEnd.PAGE, tuple(Hop(url) for url in hops)) if hops else None
    probe = Probe("192.0.2.1", https, HttpFacts(Outcome.OK, status=200), walk)
    dns = DnsAnswer(f"www.{DOMAIN}", DnsStatus.RESOLVED, ("192.0.2.1",), cnames)
    verdict = HostVerdict(Status.OK, ())
    return HostResult(f"www.{DOMAIN}", DOMAIN, dns, (probe,), verdict, None, 1.0)


def test_names_met_in_a_result_are_those_under_the_domain() -> None:
    result = result_with(
        sans=(f"www.{DOMAIN}", f"legacy.{DOMAIN}", f"*.apps.{DOMAIN}", "other.org", "192.0.2.1"),
        hops=(f"https://www.{DOMAIN}/", f"https://login.{DOMAIN}:8443/x", "https://sso.other.org/"),
        cnames=(f"lb.{DOMAIN}", "edge.cdn.example"),
    )
    assert sorted(met_names(result, DOMAIN)) == sorted(
        [
            (f"lb.{DOMAIN}", FoundBy.CNAME),
            (f"legacy.{DOMAIN}", FoundBy.SAN),
            (f"apps.{DOMAIN}", FoundBy.SAN),
            (f"login.{DOMAIN}", FoundBy.REDIRECT),  # a hop, on another port too
        ]
    )


def test_names_met_count_as_sources_and_over_the_cap_truncate() -> None:
    enumeration = Enumeration(
        DOMAIN,
        EnumerationStatus.COMPLETE,
        (DOMAIN,),
        found_by={DOMAIN: (FoundBy.USER,)},
        per_source=(SourceReport(FoundBy.USER, EnumerationStatus.COMPLETE, 1),),
    )
    found_by = {DOMAIN: (FoundBy.USER,), f"legacy.{DOMAIN}": (FoundBy.SAN,)}
    grown = with_met_names(enumeration, found_by, {FoundBy.SAN: 1}, over_cap=0)
    assert grown.names == (DOMAIN, f"legacy.{DOMAIN}")
    assert [r.source for r in grown.per_source] == [FoundBy.USER, FoundBy.SAN]
    assert grown.status is EnumerationStatus.COMPLETE
    capped = with_met_names(enumeration, found_by, {FoundBy.SAN: 1}, over_cap=3)
    assert capped.status is EnumerationStatus.TRUNCATED
    assert "3 more over the cap" in capped.notes[-1]


def test_without_the_zone_the_advice_says_what_cannot_be_known() -> None:
    reports = (
        SourceReport(FoundBy.USER, EnumerationStatus.COMPLETE, 1),
        SourceReport(FoundBy.CRTSH, EnumerationStatus.COMPLETE, 3),
        SourceReport(FoundBy.GUESS, EnumerationStatus.COMPLETE, 2),
    )
    enumeration = Enumeration(
        DOMAIN, EnumerationStatus.COMPLETE, (), wildcards=(f"*.{DOMAIN}",), per_source=reports
    )
    lines = coverage_advice(enumeration)
    assert lines[0].startswith("Names came from: user 1, crtsh 3, guess 2.")
    assert "--zone-file" in lines[0]
    assert "--axfr" in lines[0]
    assert lines[1].startswith(f"*.{DOMAIN} in CT")
    authoritative = Enumeration(
        DOMAIN, EnumerationStatus.COMPLETE, (), per_source=reports, authoritative=True
    )
    assert coverage_advice(authoritative) == (
        "Names came from: user 1, crtsh 3, guess 2. The zone was read: every name in it was "
        "checked.",
    )


def report(hosts: list[dict[str, object]], per_source: dict[str, object] | None) -> Report:
    enumeration: dict[str, object] = {"sources": ["crt.sh"]}
    if per_source is not None:
        enumeration["per_source"] = per_source
    summary = {"type": "summary", "domain": DOMAIN, "verdict": "SAFE", "enumeration": enumeration}
    return Report("r.ndjson", {"type": "scan"}, list(hosts), [summary])


def host(name: str, status: str, *found_by: str) -> dict[str, object]:
    reasons = [{"code": "https_refused", "severity": "breaks"}] if status == "breaks" else []
    return {"domain": DOMAIN, "host": name, "status": status, "reasons": reasons,
            "found_by": list(found_by)}  # fmt: skip


@pytest.mark.parametrize(
    ("old_sources", "found_by", "newly_breaks"),
    [
        ({"user": {}, "crtsh": {}}, ("zone-file",), False),  # the zone given for the first time
        ({"user": {}, "crtsh": {}, "zone-file": {}}, ("zone-file",), True),  # a new zone record
        ({"user": {}, "crtsh": {}}, ("crtsh",), True),  # a new certificate in CT
        ({"user": {}, "crtsh": {}}, ("san",), True),  # names met in a scan are always looked for
        (None, ("san",), False),  # a report from before names were met during the scan
        (None, ("crtsh", "guess"), True),
    ],
)
def test_a_host_only_a_new_source_found_is_new_not_newly_broken(
    old_sources: dict[str, object] | None, found_by: tuple[str, ...], newly_breaks: bool
) -> None:
    old = report([host(f"www.{DOMAIN}", "ok", "crtsh")], old_sources)
    hosts = [host(f"www.{DOMAIN}", "ok", "crtsh"), host(f"blog.{DOMAIN}", "breaks", *found_by)]
    new = report(hosts, {"user": {}, "crtsh": {}, "zone-file": {}})
    diff = diff_reports(old, new)
    assert [c.host for c in diff.of(Change.APPEARED)] == [f"blog.{DOMAIN}"]
    assert diff.newly_breaking is newly_breaks
    if not newly_breaks:
        assert "a source the earlier scan did not use" in diff.of(Change.APPEARED)[0].detail


def test_the_html_report_shows_sources_and_coverage() -> None:
    from hsts_coverage.report.html import render_html

    scan = {"type": "scan", "started_at": "2026-12-01T00:00:00Z", "options": {}}
    record = {"type": "host", **host(f"blog.{DOMAIN}", "breaks", "guess")}
    per_source = {"user": {"names": 1}, "guess": {"names": 1}}
    summary = {
        "type": "summary",
        "domain": DOMAIN,
        "verdict": "NOT SAFE",
        "enumeration": {"status": "complete", "names": 2, "per_source": per_source},
    }
    page = render_html([scan, record, summary])
    assert "found by guess" in page
    assert "By source: user 1, guess 1." in page
    assert "hosts that never had a certificate may be missing" in page
    summary["enumeration"]["authoritative"] = True  # type: ignore[index]
    assert "every name in it was checked" in render_html([scan, record, summary])


class _Answers:
    """A resolver's answers by table: what the guessing does with them, without DNS."""

    def __init__(self, table: dict[str, list[DnsAnswer]]) -> None:
        self.table = table  # each name's answers, one an ask; NXDOMAIN when none is left

    async def resolve(self, name: str, *, dangling: bool = True) -> DnsAnswer:
        await asyncio.sleep(0)
        given = self.table.get(name)
        return given.pop(0) if given else answer(name, DnsStatus.NXDOMAIN)


def test_guessing_counts_the_names_that_are_gone_and_keeps_only_the_others() -> None:
    # 5,000 labels are mostly NXDOMAIN: their answers were held until the tally, then left
    # the event loop's heap fragmented for the rest of the scan.
    names = candidates((f"label{i}" for i in range(5000)), DOMAIN)

    def table() -> dict[str, list[DnsAnswer]]:
        return {
            names[7]: [answer(names[7], DnsStatus.RESOLVED, "192.0.2.7")],
            names[8]: [answer(names[8], DnsStatus.ERROR)] * 2,  # fails when asked again too
            names[9]: [answer(names[9], DnsStatus.NO_ADDRESS)],
            # lost under load, then answered when asked again at the gentler pace: gone
            names[10]: [answer(names[10], DnsStatus.ERROR), answer(names[10], DnsStatus.NXDOMAIN)],
        }

    asked, kept = asyncio.run(guess._resolve_all(names, cast(Resolver, _Answers(table())), 200))
    assert asked == 5000
    assert sorted(a.name for a in kept) == sorted((names[7], names[8], names[10]))
    found = asyncio.run(guess.guess(names, cast(Resolver, _Answers(table()))))
    assert (found.tried, found.found, found.errors) == (5000, (names[7],), 1)
