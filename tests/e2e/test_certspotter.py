"""The Cert Spotter client against the lab's look-alike and against local servers that misbehave.

The lab's fake pages by three and has one domain per fault (hsts_coverage.lab.certspotter); the
in-process servers cover what the lab does not: redirects, oversized and broken pages, a listing
that does not advance, a failure on the last page. Every check of the key looks at the header
the server received and at every place the key could leak to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from hsts_coverage.lab.certspotter import ONLY_CERTSPOTTER, PAGE_SIZE
from hsts_coverage.sources import certspotter, crtsh
from hsts_coverage.sources.collect import NameCollector
from hsts_coverage.sources.retry import SourceError, retry_after
from tests.helpers import LabInfo

pytestmark = pytest.mark.e2e

KEY = "cs-test-key-0123456789abcdef"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=5)
    headers = {"User-Agent": "hsts-coverage-tests/certspotter"}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as client:
        yield client


def logged(lab: LabInfo, domain: str) -> list[dict[str, Any]]:
    """The lab's request log entries for Cert Spotter queries of `domain`, oldest first."""
    lines = (lab.state_dir / "ct-requests.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    mine = [e for e in entries if e["path"] == "/v1/issuances"]
    return [e for e in mine if f"domain={domain}&" in e["query"] + "&"]


def after_of(entry: dict[str, Any]) -> str | None:
    pairs = [pair.partition("=") for pair in entry["query"].split("&")]
    return next((value for key, _, value in pairs if key == "after"), None)


async def lab_fetch(
    session: aiohttp.ClientSession, lab: LabInfo, domain: str, **options: Any
) -> tuple[certspotter.CertSpotterAnswer, NameCollector]:
    collector = NameCollector(domain)
    options = {"attempts": 3, "backoff": 0.01, **options}
    answer = await certspotter.fetch(session, lab.ct_url, collector, **options)
    return answer, collector


# -- the lab's look-alike ----------------------------------------------------------------------


async def test_pagination_collects_every_name(session: aiohttp.ClientSession, lab: LabInfo) -> None:
    answer, collector = await lab_fetch(session, lab, lab.domain)
    crt = NameCollector(lab.domain)
    await crtsh.fetch(session, lab.ct_url, crt, attempts=1)
    only = f"{ONLY_CERTSPOTTER}.{lab.domain}"
    assert set(collector.names()) == {*crt.names(), only}
    assert only not in crt.names()  # the negative twin: crt.sh does not know it
    assert answer.pages == -(-answer.rows // PAGE_SIZE) + 1  # the last page is the empty one
    assert answer.attempts == answer.pages
    assert answer.pages > 3


async def test_each_page_asks_after_the_last_id(
    session: aiohttp.ClientSession, lab: LabInfo
) -> None:
    before = len(logged(lab, lab.domain))
    answer, _ = await lab_fetch(session, lab, lab.domain)
    requests = logged(lab, lab.domain)[before:]
    assert len(requests) == answer.pages
    assert after_of(requests[0]) is None
    assert "include_subdomains=true" in requests[0]["query"]
    assert "expand=dns_names" in requests[0]["query"]
    ids = [await page_ids(session, lab, after_of(entry)) for entry in requests]
    for entry, previous in zip(requests[1:], ids, strict=False):
        assert after_of(entry) == previous[-1]
    assert ids[-1] == []


async def page_ids(session: aiohttp.ClientSession, lab: LabInfo, after: str | None) -> list[str]:
    page = await raw_page(session, lab, {"domain": lab.domain, "include_subdomains": "true"}, after)
    return [issuance["id"] for issuance in page]


async def raw_page(
    session: aiohttp.ClientSession, lab: LabInfo, params: dict[str, str], after: str | None = None
) -> Any:
    query = [*params.items(), *([("after", after)] if after else [])]
    async with session.get(f"{lab.ct_url}/v1/issuances", params=query) as response:
        assert response.status == 200
        return await response.json()


async def test_the_fake_speaks_cert_spotters_format(
    session: aiohttp.ClientSession, lab: LabInfo
) -> None:
    params = {"domain": lab.domain.upper() + ".", "include_subdomains": "true"}
    first = await raw_page(session, lab, {**params, "expand": "dns_names"})
    assert len(first) == PAGE_SIZE
    assert all(isinstance(issuance["id"], str) for issuance in first)
    assert all(issuance["not_before"].endswith("Z") for issuance in first)
    assert "dns_names" in first[0]
    assert "issuer" not in first[0]  # not asked to expand it
    bare = await raw_page(session, lab, params)
    assert "dns_names" not in bare[0]
    second = await raw_page(session, lab, params, after=first[-1]["id"])
    assert int(second[0]["id"]) > int(first[-1]["id"])


async def test_without_include_subdomains_only_the_domain_itself(
    session: aiohttp.ClientSession, lab: LabInfo
) -> None:
    params = {"domain": lab.domain, "expand": "dns_names"}
    page = await raw_page(session, lab, params)
    assert page
    assert all(lab.domain in [n.lower() for n in i["dns_names"]] for i in page)


async def test_names_found_by_both_sources_keep_both(
    session: aiohttp.ClientSession, lab: LabInfo
) -> None:
    collector = NameCollector(lab.domain)
    await crtsh.fetch(session, lab.ct_url, collector, attempts=1)
    await certspotter.fetch(session, lab.ct_url, collector, attempts=1)
    www = f"www.{lab.domain}"
    only = f"{ONLY_CERTSPOTTER}.{lab.domain}"
    assert collector.sources_of(www) == ("certspotter", "crt.sh")
    assert collector.sources_of(only) == ("certspotter",)
    facts = collector.ct_facts()
    assert facts[www].sources == ("certspotter", "crt.sh")
    assert facts[only].sources == ("certspotter",)
    # crt.sh lists the precertificate and the certificate, Cert Spotter one issuance: the
    # count is the larger of the two, not their sum.
    crt = NameCollector(lab.domain)
    await crtsh.fetch(session, lab.ct_url, crt, attempts=1)
    assert facts[www].certificates == crt.ct_facts()[www].certificates
    assert facts[www].issuers == crt.ct_facts()[www].issuers  # one issuer, not two spellings


async def test_honours_retry_after(session: aiohttp.ClientSession, lab: LabInfo) -> None:
    domain = "certspotter-429.test"
    started = time.monotonic()
    answer, collector = await lab_fetch(session, lab, domain)
    assert time.monotonic() - started >= 1.0
    assert answer.attempts == answer.pages + 1
    assert collector.names() == tuple(f"h{n}.{domain}" for n in range(1, 6))


async def test_a_failed_page_is_asked_for_again_not_the_listing(
    session: aiohttp.ClientSession, lab: LabInfo
) -> None:
    domain = "certspotter-error.test"
    before = len(logged(lab, domain))
    answer, collector = await lab_fetch(session, lab, domain)
    afters = [after_of(entry) for entry in logged(lab, domain)[before:]]
    assert afters[0] is None
    assert afters[1] == afters[2] is not None  # page 2, twice
    assert afters.count(None) == 1
    assert answer.attempts == answer.pages + 1 == 4
    assert len(collector.names()) == 5


async def test_an_error_object_gives_a_clear_error(
    session: aiohttp.ClientSession, lab: LabInfo
) -> None:
    domain = "certspotter-error.test"
    collector = NameCollector(domain)
    pattern = r"HTTP 429 .*: rate_limited: You have exceeded the rate limit \(after id \d+;"
    with pytest.raises(SourceError, match=pattern + r".*gave up after 1 attempts"):
        await certspotter.fetch(session, lab.ct_url, collector, attempts=1)
    assert collector.names() == ()  # page 1 arrived, but nothing is kept of a failed listing


async def test_forbidden_is_not_retried(session: aiohttp.ClientSession, lab: LabInfo) -> None:
    domain = "certspotter-forbidden.test"
    before = len(logged(lab, domain))
    with pytest.raises(SourceError, match=r"HTTP 403 Forbidden: forbidden: Your API key may not"):
        await lab_fetch(session, lab, domain, attempts=4)
    assert len(logged(lab, domain)) - before == 1


async def test_the_key_is_sent_and_never_logged(
    session: aiohttp.ClientSession, lab: LabInfo, caplog: pytest.LogCaptureFixture
) -> None:
    domain = "certspotter-key.test"
    before = len(logged(lab, domain))
    with caplog.at_level(logging.DEBUG):
        answer, collector = await lab_fetch(session, lab, domain, api_key=KEY)
    assert len(collector.names()) == 5
    entries = logged(lab, domain)[before:]
    assert len(entries) == answer.pages  # the key went with every page
    assert {entry["authorization"] for entry in entries} == {"Bearer [redacted]"}
    assert KEY not in (lab.state_dir / "ct-requests.log").read_text()
    assert KEY not in (lab.state_dir / "lab.stderr").read_text()
    assert KEY not in caplog.text


async def test_without_the_key_the_server_refuses(
    session: aiohttp.ClientSession, lab: LabInfo
) -> None:
    domain = "certspotter-key.test"
    before = len(logged(lab, domain))
    with pytest.raises(SourceError, match=r"HTTP 401 Unauthorized: unauthorized"):
        await lab_fetch(session, lab, domain)
    assert [entry["authorization"] for entry in logged(lab, domain)[before:]] == [""]


async def test_an_endless_listing_is_bounded(session: aiohttp.ClientSession, lab: LabInfo) -> None:
    domain = "certspotter-endless.test"
    before = len(logged(lab, domain))
    collector = NameCollector(domain)
    with pytest.raises(SourceError, match=r"did not end after 20 pages \(60 issuances\)"):
        await certspotter.fetch(session, lab.ct_url, collector, attempts=1, max_pages=20)
    assert len(logged(lab, domain)) - before == 20
    assert collector.names() == ()


# -- local servers that misbehave otherwise ----------------------------------------------------

Handler = Callable[[web.Request], web.StreamResponse]


async def serve(handler: Handler) -> tuple[web.AppRunner, str, list[web.Request]]:
    seen: list[web.Request] = []

    async def record(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return handler(request)

    app = web.Application()
    app.router.add_get("/v1/issuances", record)
    app.router.add_get("/elsewhere/v1/issuances", record)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}", seen


def issuance(n: int, *names: str) -> dict[str, Any]:
    return {
        "id": str(n),
        "dns_names": list(names) or [f"h{n}.example.com"],
        "issuer": {"friendly_name": "Test CA", "name": "C=US, O=Test, CN=Test CA"},
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2026-04-01T00:00:00Z",
    }


def pages(*listing: list[dict[str, Any]]) -> Handler:
    """Serve `listing` page by page, by the `after` asked for; then []."""
    by_after: dict[str | None, list[dict[str, Any]]] = {}
    after: str | None = None
    for page in listing:
        by_after[after] = page
        after = page[-1]["id"]

    def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(by_after.get(request.query.get("after"), []))

    return handler


async def run(
    session: aiohttp.ClientSession, handler: Handler, **options: Any
) -> tuple[certspotter.CertSpotterAnswer, NameCollector, list[web.Request]]:
    runner, url, seen = await serve(handler)
    collector = NameCollector("example.com")
    try:
        options = {"attempts": 3, "backoff": 0.01, **options}
        answer = await certspotter.fetch(session, url, collector, **options)
    finally:
        await runner.cleanup()
    return answer, collector, seen


async def run_failing(
    session: aiohttp.ClientSession, handler: Handler, match: str, **options: Any
) -> tuple[NameCollector, list[web.Request]]:
    runner, url, seen = await serve(handler)
    collector = NameCollector("example.com")
    options = {"attempts": 3, "backoff": 0.01, **options}
    try:
        with pytest.raises(SourceError, match=match):
            await certspotter.fetch(session, url, collector, **options)
    finally:
        await runner.cleanup()
    return collector, seen


async def test_the_bearer_key_is_sent(session: aiohttp.ClientSession) -> None:
    _, _, seen = await run(session, pages([issuance(1)]), api_key=KEY)
    assert [request.headers["Authorization"] for request in seen] == [f"Bearer {KEY}"] * 2
    _, _, seen = await run(session, pages([issuance(1)]))
    assert "Authorization" not in seen[0].headers  # the twin: no key, no header


async def test_a_key_echoed_by_the_server_is_redacted(session: aiohttp.ClientSession) -> None:
    def echo(request: web.Request) -> web.StreamResponse:
        message = f"invalid key {request.headers['Authorization']}"
        return web.json_response({"code": "bad_key", "message": message}, status=401)

    runner, url, _ = await serve(echo)
    try:
        with pytest.raises(SourceError) as raised:
            await certspotter.fetch(
                session, url, NameCollector("example.com"), attempts=2, api_key=KEY
            )
    finally:
        await runner.cleanup()
    assert "bad_key: invalid key Bearer [redacted]" in str(raised.value)
    assert KEY not in str(raised.value)
    assert KEY not in repr(raised.value)


async def test_a_failure_on_the_last_page_leaves_nothing_behind(
    session: aiohttp.ClientSession,
) -> None:
    listing = pages([issuance(1), issuance(2)], [issuance(3)])

    def broken_second(request: web.Request) -> web.StreamResponse:
        if request.query.get("after") == "2":
            return web.Response(status=503, text="<html>overloaded</html>")
        return listing(request)

    collector, seen = await run_failing(session, broken_second, r"HTTP 503 .*after id 2; gave up")
    assert collector.names() == ()
    assert [request.query.get("after") for request in seen] == [None, "2", "2", "2"]
    _, collector, _ = await run(session, listing)  # the twin: the same listing, served whole
    assert collector.names() == ("h1.example.com", "h2.example.com", "h3.example.com")


async def test_a_broken_page_is_retried(session: aiohttp.ClientSession) -> None:
    listing = pages([issuance(1)])
    answers = iter([web.Response(text="busy", content_type="text/plain")])

    def flaky(request: web.Request) -> web.StreamResponse:
        return next(answers, None) or listing(request)

    answer, collector, _ = await run(session, flaky)
    assert answer.attempts == 3
    assert collector.names() == ("h1.example.com",)


async def test_a_redirect_is_not_followed(session: aiohttp.ClientSession) -> None:
    def moved(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/elsewhere"):
            return pages([issuance(1)])(request)
        raise web.HTTPFound(f"/elsewhere{request.path_qs}")

    _, seen = await run_failing(session, moved, r"HTTP 302 Found: redirected to /elsewhere")
    assert len(seen) == 1  # the key is never sent where the user did not say


async def test_a_listing_that_does_not_advance_is_stopped(session: aiohttp.ClientSession) -> None:
    def stuck(request: web.Request) -> web.StreamResponse:
        return web.json_response([issuance(7)])

    _, seen = await run_failing(session, stuck, r"does not move past id 7")
    assert len(seen) == 2


async def test_issuances_without_dns_names_are_an_error(session: aiohttp.ClientSession) -> None:
    def unexpanded(request: web.Request) -> web.StreamResponse:
        return web.json_response([{"id": "1", "not_before": "2026-01-01T00:00:00Z"}])

    await run_failing(session, unexpanded, r"issuances without dns_names")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_page_is_refused(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    monkeypatch.setattr(certspotter, "MAX_PAGE_BODY", 4096)
    body = orjson.dumps([issuance(n) for n in range(200)])
    assert len(body) > 4096

    def large(request: web.Request) -> web.StreamResponse:
        response = web.Response(body=body if declared else iter_body(body))
        response.content_type = "application/json"
        return response

    _, seen = await run_failing(session, large, r"a page larger than \d+ MiB, refused")
    assert len(seen) == 1
    _, collector, _ = await run(session, pages([issuance(1)]))  # a small page passes
    assert collector.names() == ("h1.example.com",)


async def iter_body(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


async def test_a_silent_server_times_out(session: aiohttp.ClientSession) -> None:
    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_get("/v1/issuances", silent)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as client:
            with pytest.raises(SourceError, match=r"timed out \(the first page; gave up after 2"):
                await certspotter.fetch(client, url, NameCollector("example.com"), attempts=2)
    finally:
        await runner.cleanup()


# -- pure parts --------------------------------------------------------------------------------


def test_issuances_feed_the_collector() -> None:
    collector = NameCollector("example.com")
    found = [
        issuance(1, "example.com", "WWW.example.com.", "*.dev.example.com"),
        {"id": "2", "dns_names": "www.example.com"},  # not a list
        {"id": "3", "dns_names": [42]},
        "nonsense",
        issuance(4, "www.example.com", "mail.other.org"),
    ]
    assert certspotter.add_issuances(collector, found) == 2
    assert collector.names() == ("example.com", "dev.example.com", "www.example.com")
    assert collector.rejected == {"malformed_row": 3, "out_of_scope": 1}
    www = collector.ct_facts()["www.example.com"]
    assert www.certificates == 2
    assert www.issuers == ("C=US, O=Test, CN=Test CA",)
    assert www.first_not_before == datetime(2026, 1, 1, tzinfo=UTC)
    assert www.sources == ("certspotter",)


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        ({"friendly_name": "Let's Encrypt", "name": "C=US, CN=R3"}, "C=US, CN=R3"),
        ({"friendly_name": "Let's Encrypt"}, "Let's Encrypt"),
        ({"name": ""}, None),
        ("C=US", None),
        (None, None),
    ],
)
def test_issuer_name_prefers_the_distinguished_name(issuer: object, expected: str | None) -> None:
    assert certspotter.issuer_name(issuer) == expected


def test_sources_merge_and_counts_take_the_larger() -> None:
    crt, spotter = NameCollector("example.com"), NameCollector("example.com")
    for _ in range(2):  # a precertificate and its certificate
        crt.add_certificate("www.example.com", source="crt.sh")
    spotter.add_certificate("www.example.com\napi.example.com", source="certspotter")
    merged = NameCollector("example.com")
    merged.add_name("user.example.com")
    merged.merge(crt)
    merged.merge(spotter)
    assert merged.sources_of("www.example.com") == ("certspotter", "crt.sh")
    assert merged.sources_of("api.example.com") == ("certspotter",)
    assert merged.sources_of("user.example.com") == ()
    assert merged.ct_facts()["www.example.com"].certificates == 2
    merged.merge(crt)  # the same source again: its counts add up
    assert merged.ct_facts()["www.example.com"].certificates == 4


def test_a_certificate_without_a_source_counts_as_before() -> None:
    collector = NameCollector("example.com")
    collector.add_certificate("www.example.com")
    collector.add_certificate("www.example.com")
    assert collector.ct_facts()["www.example.com"].certificates == 2
    assert collector.sources_of("www.example.com") == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Wed, 21 Oct 2015 07:28:00 -0000", 0.0),  # parsed without a zone: GMT all the same
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert retry_after(value) == expected


def test_retry_after_as_a_future_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after(later)
    assert seconds is not None
    assert 25 <= seconds <= 30
