"""Verdict rules: probe facts -> host status; tallies -> SAFE, NOT SAFE or INCONCLUSIVE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hsts_coverage.models import (
    Certificate,
    DnsAnswer,
    DnsStatus,
    Enumeration,
    EnumerationStatus,
    Failure,
    FailureKind,
    Finding,
    HostResult,
    HttpFacts,
    HttpsFacts,
    Outcome,
    Probe,
    RedirectWalk,
    Status,
    Verdict,
    WalkEnd,
    WildcardZone,
)
from hsts_coverage.reasons import Reason
from hsts_coverage.rules.host import (
    judge_dns,
    judge_probe,
    judge_probes,
    verdict_of,
    wildcard_finding,
)
from hsts_coverage.rules.summary import Tally, decide, exit_code

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def cert(days_left: float) -> Certificate:
    return Certificate(
        subject="CN=x",
        sans=("x.example.com",),
        issuer="CN=ca",
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=days_left),
        serial="1",
        signature_algorithm="sha256",
        self_signed=False,
    )


HTTPS_OK = HttpsFacts(Outcome.OK, status=200, cert=cert(90))
HTTP_REDIRECT = HttpFacts(Outcome.OK, status=301, location="https://x.example.com/")
HTTP_CONTENT = HttpFacts(Outcome.OK, status=200)
HTTP_REFUSED = HttpFacts(Outcome.REFUSED)
HTTP_TIMEOUT = HttpFacts(Outcome.TIMEOUT)

# The probe's failures, each with the reason rules.failures gives it.
REFUSED = Failure(FailureKind.REFUSED, "connection refused")  # HTTPS_REFUSED
TIMED_OUT = Failure(FailureKind.TIMEOUT, "timed out")  # HTTPS_TIMEOUT
EXPIRED = Failure(FailureKind.CERT_VERIFY, "", verify_code=10)  # CERT_EXPIRED
SELF_SIGNED = Failure(FailureKind.CERT_VERIFY, "", verify_code=18)  # CERT_SELF_SIGNED
VERSION_ALERT = Failure(FailureKind.TLS_HANDSHAKE, "", tls_error="UNSUPPORTED_PROTOCOL")
NOT_TLS = Failure(FailureKind.TLS_HANDSHAKE, "", tls_error="WRONG_VERSION_NUMBER")


def failed(failure: Failure, **facts: Any) -> HttpsFacts:
    return HttpsFacts(failure.outcome, failure, **facts)


def probe(https: HttpsFacts, http: HttpFacts, walk: RedirectWalk | None = None) -> Probe:
    return Probe("192.0.2.1", https, http, walk)


def walk(end: WalkEnd) -> RedirectWalk:
    return RedirectWalk(end, (), "detail")


@pytest.mark.parametrize(
    ("facts", "status", "reasons"),
    [
        (probe(HTTPS_OK, HTTP_REDIRECT), Status.OK, ()),
        (probe(HTTPS_OK, HTTP_REFUSED), Status.OK, ()),
        (probe(HTTPS_OK, HTTP_CONTENT), Status.WARN, (Reason.NO_HTTP_REDIRECT,)),
        (
            probe(HTTPS_OK, HttpFacts(Outcome.OK, status=302, location="http://elsewhere/")),
            Status.WARN,
            (Reason.NO_HTTP_REDIRECT,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=200, cert=cert(3)), HTTP_REDIRECT),
            Status.WARN,
            (Reason.CERT_EXPIRING_SOON,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=200, cert=cert(15)), HTTP_REDIRECT),
            Status.OK,
            (),
        ),
        (
            probe(failed(REFUSED), HTTP_CONTENT),
            Status.BREAKS,
            (Reason.HTTPS_REFUSED,),
        ),
        (
            probe(failed(TIMED_OUT), HTTP_REDIRECT),
            Status.BREAKS,
            (Reason.HTTPS_TIMEOUT,),
        ),
        (
            probe(failed(REFUSED), HTTP_REFUSED),
            Status.NOT_AFFECTED,
            (Reason.NO_WEB_SERVICE,),
        ),
        (
            probe(failed(TIMED_OUT), HTTP_TIMEOUT),
            Status.UNKNOWN,
            (Reason.UNREACHABLE,),
        ),
        (
            probe(failed(TIMED_OUT), HTTP_REFUSED),
            Status.UNKNOWN,
            (Reason.UNREACHABLE,),
        ),
        (
            probe(failed(EXPIRED), HTTP_CONTENT),
            Status.BREAKS,
            (Reason.CERT_EXPIRED,),
        ),
        (
            probe(failed(SELF_SIGNED), HTTP_REFUSED),
            Status.BREAKS,
            (Reason.CERT_SELF_SIGNED,),
        ),
        (  # the permissive retry confirmed an old version
            probe(
                failed(VERSION_ALERT, tls_version="TLSv1"),
                HTTP_REDIRECT,
            ),
            Status.BREAKS,
            (Reason.TLS_VERSION_UNSUPPORTED,),
        ),
        (  # a version alert, but no TLS version works even permissively
            probe(failed(VERSION_ALERT), HTTP_REDIRECT),
            Status.BREAKS,
            (Reason.TLS_PROTOCOL_ERROR,),
        ),
        (  # the permissive retry speaks TLS 1.2: something else is wrong
            probe(
                failed(NOT_TLS, tls_version="TLSv1.2"),
                HTTP_REDIRECT,
            ),
            Status.BREAKS,
            (Reason.TLS_PROTOCOL_ERROR,),
        ),
        (
            probe(
                HttpsFacts(Outcome.OK, status=200, cert=cert(90), chain_completed_from="http://x/"),
                HTTP_REDIRECT,
            ),
            Status.WARN,
            (Reason.INCOMPLETE_CHAIN,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=503), HTTP_CONTENT),
            Status.BREAKS,
            (Reason.HTTPS_ERROR_STATUS,),
        ),
        (  # HTTP already sends users to the broken HTTPS site: HSTS changes nothing
            probe(HttpsFacts(Outcome.OK, status=503), HTTP_REDIRECT),
            Status.OK,
            (),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=421), HttpFacts(Outcome.OK, status=404)),
            Status.OK,
            (),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=301), HTTP_REDIRECT, walk(WalkEnd.TO_HTTP)),
            Status.BREAKS,
            (Reason.REDIRECT_TO_HTTP,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=301), HTTP_REDIRECT, walk(WalkEnd.LOOP)),
            Status.BREAKS,
            (Reason.REDIRECT_LOOP,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=301), HTTP_REDIRECT, walk(WalkEnd.TOO_MANY)),
            Status.BREAKS,
            (Reason.REDIRECT_LOOP,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=301), HTTP_REDIRECT, walk(WalkEnd.TARGET_BREAKS)),
            Status.BREAKS,
            (Reason.REDIRECT_TARGET_BREAKS,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=301), HTTP_REDIRECT, walk(WalkEnd.UNVERIFIED)),
            Status.UNKNOWN,
            (Reason.PRIVATE_ADDRESS,),
        ),
        (
            probe(HttpsFacts(Outcome.OK, status=301), HTTP_REDIRECT, walk(WalkEnd.LEFT_SCOPE)),
            Status.OK,
            (),
        ),
    ],
)
def test_judge_probe(facts: Probe, status: Status, reasons: tuple[Reason, ...]) -> None:
    verdict = verdict_of(judge_probe(facts, "x.example.com", now=NOW, expiry_days=14))
    assert verdict.status is status
    assert verdict.reasons == reasons


@pytest.mark.parametrize(
    ("answer", "reasons"),
    [
        (DnsAnswer("a", DnsStatus.RESOLVED, ("192.0.2.1",)), ()),
        (DnsAnswer("a", DnsStatus.NXDOMAIN), (Reason.NO_DNS,)),
        (DnsAnswer("a", DnsStatus.NO_ADDRESS), (Reason.NO_DNS,)),
        (
            DnsAnswer("a", DnsStatus.NXDOMAIN, cname_chain=("b",), dangling_target="b"),
            (Reason.NO_DNS, Reason.DANGLING_CNAME),
        ),
        (DnsAnswer("a", DnsStatus.ERROR, error="SERVFAIL"), (Reason.DNS_ERROR,)),
    ],
)
def test_judge_dns(answer: DnsAnswer, reasons: tuple[Reason, ...]) -> None:
    assert tuple(f.reason for f in judge_dns(answer)) == reasons


def test_info_findings_do_not_change_the_status() -> None:
    verdict = verdict_of([Finding(Reason.NO_DNS), Finding(Reason.DANGLING_CNAME)])
    assert verdict.status is Status.NOT_AFFECTED
    assert verdict_of([]).status is Status.OK


def test_worst_severity_wins() -> None:
    findings = [Finding(Reason.CERT_EXPIRING_SOON), Finding(Reason.REDIRECT_LOOP)]
    assert verdict_of(findings).status is Status.BREAKS
    assert verdict_of([Finding(Reason.NO_HTTP_REDIRECT), Finding(Reason.DNS_ERROR)]).status is (
        Status.UNKNOWN
    )


def enumeration(status: EnumerationStatus = EnumerationStatus.COMPLETE) -> Enumeration:
    return Enumeration("example.com", status, ("example.com",), error="boom")


def counts(**kwargs: int) -> dict[Status, int]:
    return {Status(k): v for k, v in kwargs.items()}


@pytest.mark.parametrize(
    ("tallied", "status", "interrupted", "verdict"),
    [
        (counts(ok=5), EnumerationStatus.COMPLETE, False, Verdict.SAFE),
        (counts(ok=5, warn=2, not_affected=3), EnumerationStatus.COMPLETE, False, Verdict.SAFE),
        (counts(ok=5), EnumerationStatus.SKIPPED, False, Verdict.SAFE),
        (counts(ok=5, breaks=1), EnumerationStatus.COMPLETE, False, Verdict.NOT_SAFE),
        (counts(ok=5, breaks=1), EnumerationStatus.FAILED, True, Verdict.NOT_SAFE),
        (counts(ok=5, unknown=1), EnumerationStatus.COMPLETE, False, Verdict.INCONCLUSIVE),
        (counts(ok=5), EnumerationStatus.FAILED, False, Verdict.INCONCLUSIVE),
        (counts(ok=5), EnumerationStatus.TRUNCATED, False, Verdict.INCONCLUSIVE),
        (counts(ok=5), EnumerationStatus.COMPLETE, True, Verdict.INCONCLUSIVE),
        (counts(), EnumerationStatus.FAILED, False, Verdict.INCONCLUSIVE),
    ],
)
def test_decide(
    tallied: dict[Status, int], status: EnumerationStatus, interrupted: bool, verdict: Verdict
) -> None:
    assert decide(tallied, enumeration(status), interrupted=interrupted)[0] is verdict


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([Verdict.SAFE], 0),
        ([Verdict.NOT_SAFE], 1),
        ([Verdict.INCONCLUSIVE], 3),
        ([Verdict.SAFE, Verdict.INCONCLUSIVE], 3),
        ([Verdict.INCONCLUSIVE, Verdict.NOT_SAFE, Verdict.SAFE], 1),
        ([], 0),
    ],
)
def test_exit_code(verdicts: list[Verdict], code: int) -> None:
    assert exit_code(verdicts) == code


def test_tally_groups_hosts_by_reason() -> None:
    tally = Tally("example.com")
    dns = DnsAnswer("x", DnsStatus.RESOLVED, ("192.0.2.1",))
    for name, findings in [
        ("b.example.com", [Finding(Reason.CERT_EXPIRED)]),
        ("a.example.com", [Finding(Reason.CERT_EXPIRED), Finding(Reason.CERT_EXPIRING_SOON)]),
        ("c.example.com", [Finding(Reason.NO_HTTP_REDIRECT)]),
        ("d.example.com", []),
    ]:
        tally.add(HostResult(name, "example.com", dns, (), verdict_of(findings), None, 1.0))
    summary = tally.summary(enumeration())
    assert summary.verdict is Verdict.NOT_SAFE
    assert summary.breaking == {Reason.CERT_EXPIRED: ("a.example.com", "b.example.com")}
    assert summary.warnings == {Reason.NO_HTTP_REDIRECT: ("c.example.com",)}
    assert summary.counts[Status.OK] == 1
    assert summary.hosts == 4


def test_several_addresses_break_if_any_breaks() -> None:
    good = probe(HTTPS_OK, HTTP_REDIRECT)
    bad = Probe("192.0.2.2", failed(EXPIRED), HTTP_REDIRECT, None)
    findings, per_address = judge_probes([good, bad], "x.example.com", now=NOW, expiry_days=14)
    assert [(f.reason, f.detail) for f in findings] == [(Reason.CERT_EXPIRED, "192.0.2.2")]
    assert [a.address for a in per_address] == ["192.0.2.1", "192.0.2.2"]
    assert per_address[0].findings == ()
    assert verdict_of(findings, per_address).status is Status.BREAKS


def test_wildcard_marks_names_with_exactly_its_answer() -> None:
    zone = WildcardZone("wild.example.com", "rnd.wild.example.com", frozenset({"192.0.2.9"}))
    answered = DnsAnswer("old.wild.example.com", DnsStatus.RESOLVED, ("192.0.2.9",))
    own = DnsAnswer("deep.wild.example.com", DnsStatus.RESOLVED, ("192.0.2.8",))
    outside = DnsAnswer("www.example.com", DnsStatus.RESOLVED, ("192.0.2.9",))
    assert [f.reason for f in wildcard_finding(answered, [zone])] == [Reason.WILDCARD_DNS]
    assert wildcard_finding(own, [zone]) == ()
    assert wildcard_finding(outside, [zone]) == ()


def test_no_route_to_an_address_is_the_scanners_network_not_a_break() -> None:
    import errno

    from hsts_coverage.probe.failures import translate

    failure = translate(OSError(errno.ENETUNREACH, "Network is unreachable"))
    https = failed(failure)
    verdict = verdict_of(judge_probe(probe(https, HTTP_REFUSED), "x", now=NOW, expiry_days=14))
    assert (verdict.status, verdict.reasons) == (Status.UNKNOWN, (Reason.NO_ROUTE,))
    # its twin: a reset is the host's own doing, and breaks
    reset = translate(ConnectionResetError(errno.ECONNRESET, "reset"))
    https = failed(reset)
    verdict = verdict_of(judge_probe(probe(https, HTTP_REFUSED), "x", now=NOW, expiry_days=14))
    assert verdict.status is Status.BREAKS


@pytest.mark.parametrize(
    ("addresses", "permitted", "probed", "reasons"),
    [
        (("192.0.2.1",), ("192.0.2.1",), 1, ()),
        # a private address beside a public one: not probed, never counted as fine
        (("192.0.2.1", "10.0.0.1"), ("192.0.2.1",), 1, (Reason.PRIVATE_ADDRESS,)),
        # the addresses past --max-addresses
        (("192.0.2.1", "192.0.2.2"), ("192.0.2.1", "192.0.2.2"), 1, (Reason.ADDRESSES_NOT_PROBED,)),
    ],
)
def test_a_host_is_judged_on_its_probes_and_on_what_was_left_out(
    addresses: tuple[str, ...], permitted: tuple[str, ...], probed: int, reasons: tuple[Reason, ...]
) -> None:
    from dataclasses import replace

    from hsts_coverage.models import DnsAnswer, DnsStatus
    from hsts_coverage.rules.host import judge_host

    dns = DnsAnswer("x.example.com", DnsStatus.RESOLVED, addresses)
    probes = tuple(replace(probe(HTTPS_OK, HTTP_REDIRECT), address=a) for a in permitted[:probed])
    findings, _, per_address = judge_host(dns, permitted, probes, now=NOW, expiry_days=14)
    assert tuple(f.reason for f in findings) == reasons
    assert len(per_address) == probed


def test_a_host_out_of_time_or_without_a_public_address_is_unknown() -> None:
    from hsts_coverage.models import DnsAnswer, DnsStatus
    from hsts_coverage.rules.host import no_public_address, out_of_time

    dns = DnsAnswer("x.example.com", DnsStatus.RESOLVED, ("10.0.0.1",))
    assert verdict_of(no_public_address(dns)[0]).status is Status.UNKNOWN
    assert verdict_of(out_of_time(4.0)[0]).reasons == (Reason.CHECK_TIMEOUT,)
