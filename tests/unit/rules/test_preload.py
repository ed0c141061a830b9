"""Preload requirements, preload-list lookups and roll-out advice: pure rules over plain facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hsts_coverage.models import (
    ApexFacts,
    CheckStatus,
    PreloadEntry,
    PreloadStatus,
    Requirement,
    Response,
    Verdict,
    ready,
)
from hsts_coverage.probe.preload_list import preload_status
from hsts_coverage.report.records import apex_record, header_check_record
from hsts_coverage.rules.hsts_header import check_header
from hsts_coverage.rules.preload import advice, judge_apex, lookup, parse_chromium_list

D = "example.com"
READY = "max-age=63072000; includeSubDomains; preload"
PAGE = Response(f"https://{D}/", 200, sts=(READY,))
HTTP_UP = (Response(f"http://{D}/", 301, f"https://{D}/"), PAGE)


def checked(apex: ApexFacts) -> tuple[Requirement, ...]:
    """The requirements of the apex's report, its header checked once (`judge_apex`)."""
    return judge_apex(apex, PreloadStatus("test list", None)).requirements


def facts(
    https: tuple[Response, ...] = (PAGE,),
    http: tuple[Response, ...] = HTTP_UP,
    www: bool = True,
    www_error: str = "",
) -> ApexFacts:
    return ApexFacts(D, https, http, www, www_error)


def failures(apex: ApexFacts, status: CheckStatus = CheckStatus.FAIL) -> set[str]:
    return {code for r in checked(apex) if r.status is status for code in r.failures}


def test_a_ready_domain_passes_everything() -> None:
    checks = checked(facts())
    assert all(r.status is CheckStatus.PASS for r in checks)
    assert ready(checks)


@pytest.mark.parametrize(
    ("apex", "codes"),
    [
        (facts(https=(Response(f"https://{D}/", 200),)), {"response.no_header"}),
        (
            facts(https=(Response(f"https://{D}/", None, error="x", cert_invalid=True),)),
            {"domain.tls.invalid_cert_chain"},
        ),
        (
            facts(https=(Response(f"https://{D}/", None, error="refused"),)),
            {"domain.tls.cannot_connect"},
        ),
        (facts(http=(Response(f"http://{D}/", 200),)), {"redirects.http.no_redirect"}),
        (
            facts(http=(Response(f"http://{D}/", 301, f"https://www.{D}/"),)),
            {"redirects.http.www_first"},
        ),
        (
            facts(http=(Response(f"http://{D}/", 301, f"http://{D}/landing"),)),
            {"redirects.http.first_redirect.insecure"},
        ),
        (
            facts(https=(Response(f"https://{D}/", 301, "/next"), PAGE)),
            {"response.no_header"},
        ),
        (
            facts(
                https=(
                    Response(f"https://{D}/", 301, f"http://{D}/x", sts=(READY,)),
                    Response(f"http://{D}/x", 200),
                ),
                http=(),
            ),
            {"redirects.insecure.initial"},
        ),
        (
            facts(
                https=(
                    *(Response(f"https://{D}/{i}", 301, f"/{i + 1}", (READY,)) for i in range(4)),
                    PAGE,
                ),
                http=(),
            ),
            {"redirects.too_many"},
        ),
        (facts(www_error="connection refused"), {"domain.www.no_tls"}),
        (
            facts(https=(Response(f"https://{D}/", 200, sts=("max-age=600",)),)),
            {
                "header.preloadable.include_sub_domains.missing",
                "header.preloadable.preload.missing",
                "header.preloadable.max_age.below_1_year",
            },
        ),
    ],
)
def test_each_requirement_fails_with_the_checker_code(apex: ApexFacts, codes: set[str]) -> None:
    assert failures(apex) == codes
    assert not ready(checked(apex))


def test_port_80_closed_is_fine_and_www_without_dns_too() -> None:
    assert ready(checked(facts(http=(), www=False)))


def test_warnings_do_not_block_readiness() -> None:
    sts_over_http = (Response(f"http://{D}/", 301, f"https://{D}/", sts=(READY,)), PAGE)
    apex = facts(
        http=sts_over_http,
        https=(
            Response(f"https://{D}/", 200, sts=("max-age=400000000; includeSubDomains; preload",)),
        ),
    )
    assert failures(apex, CheckStatus.WARN) == {
        "response.http.sts_ignored",
        "header.preloadable.max_age.over_10_years",
    }
    assert ready(checked(apex))


def test_a_failed_handshake_hides_the_header_check() -> None:
    apex = facts(https=(Response(f"https://{D}/", None, error="x", cert_invalid=True),))
    statuses = {r.code: r.status for r in checked(apex)}
    assert statuses["response.header"] is CheckStatus.NOT_CHECKED


CHROMIUM_LIST = """// Copyright notice, as in Chromium's file
{
  // comment lines are allowed anywhere
  "entries": [
    { "name": "example.com", "policy": "custom", "mode": "force-https",
      "include_subdomains": true },
    { "name": "only.example.org", "policy": "custom", "mode": "force-https" },
    { "name": "pinned.example.net", "policy": "custom", "include_subdomains": true },
    { "name": "dev", "policy": "gtld", "mode": "force-https", "include_subdomains": true }
  ]
}
"""


@pytest.mark.parametrize(
    ("domain", "entry", "subdomains"),
    [
        ("example.com", "example.com", True),
        ("shop.example.com", "example.com", True),  # an ancestor with include_subdomains
        ("only.example.org", "only.example.org", False),
        ("sub.only.example.org", None, False),  # the ancestor does not include subdomains
        ("pinned.example.net", "pinned.example.net", False),  # pinning only, no force-https
        ("my.dev", "dev", True),  # a whole TLD
        ("example.org", None, False),
    ],
)
def test_chromium_list_lookup(domain: str, entry: str | None, subdomains: bool) -> None:
    status = lookup(domain, parse_chromium_list(CHROMIUM_LIST), "test list")
    assert (status.entry.name if status.entry else None) == entry
    assert status.subdomains_preloaded is subdomains


def test_the_bundled_list_knows_whole_tlds() -> None:
    status = preload_status("example.dev", None)
    assert status.entry is not None
    assert status.entry.name == "dev"
    assert status.subdomains_preloaded
    assert status.source.startswith("hstspreload package")
    assert preload_status("hsts-lab.test", None).entry is None


def test_advice() -> None:
    listed = PreloadStatus("x", PreloadEntry("example.com", include_subdomains=True))
    assert "broken for users TODAY" in advice(Verdict.NOT_SAFE, 3, listed, False)[0]
    assert "already on" in advice(Verdict.NOT_SAFE, 3, None, True)[0]
    assert "fix these 3" in advice(Verdict.NOT_SAFE, 3, None, False)[0]
    safe = advice(Verdict.SAFE, 0, None, False)
    assert safe[0].startswith("Safe to add includeSubDomains")
    assert "max-age=300" in safe[1]
    assert "preload" in safe[-1]
    assert advice(Verdict.INCONCLUSIVE, 0, None, False)[0].startswith("Not proven safe")


def test_the_apex_header_is_checked_once_and_the_report_carries_the_check() -> None:
    report = judge_apex(facts(), PreloadStatus("test list", None))
    assert report.effective == check_header(READY)
    headerless = facts(https=(Response(f"https://{D}/", 200),))
    assert judge_apex(headerless, report.preload).effective is None
    # The record renders the report's check; it does not read the header again.
    assert apex_record(report)["effective"] == header_check_record(check_header(READY))
    assert apex_record(replace(report, effective=None))["effective"] is None
