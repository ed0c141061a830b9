"""The crt.sh client against a real local HTTP server that misbehaves the way crt.sh does."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from hsts_coverage.sources import crtsh
from hsts_coverage.sources.collect import NameCollector

pytestmark = pytest.mark.e2e

ROWS = [{"name_value": "www.example.com\nmail.example.com", "issuer_name": "CN=CA"}]
Answer = Callable[[int], web.Response]


def json_rows() -> web.Response:
    return web.Response(body=orjson.dumps(ROWS), content_type="application/json")


async def serve(answers: list[Answer]) -> tuple[web.AppRunner, str, list[web.Request]]:
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1](len(seen))

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}", seen


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


async def fetch(
    session: aiohttp.ClientSession, answers: list[Answer], attempts: int = 4
) -> tuple[crtsh.CtAnswer, NameCollector, list[web.Request]]:
    runner, url, seen = await serve(answers)
    collector = NameCollector("example.com")
    try:
        answer = await crtsh.fetch(session, url, collector, attempts=attempts, backoff=0.01)
    finally:
        await runner.cleanup()
    return answer, collector, seen


async def test_recovers_after_server_errors(session: aiohttp.ClientSession) -> None:
    answers: list[Answer] = [
        lambda n: web.Response(status=502),
        lambda n: web.Response(status=504),
        lambda n: json_rows(),
    ]
    answer, collector, seen = await fetch(session, answers)
    assert answer.attempts == 3
    assert collector.names() == ("mail.example.com", "www.example.com")
    assert seen[0].query["q"] == "%.example.com"
    assert seen[0].query["output"] == "json"
    assert "%25.example.com" in seen[0].raw_path
    assert seen[0].headers["User-Agent"]


async def test_honours_retry_after(session: aiohttp.ClientSession) -> None:
    answers: list[Answer] = [
        lambda n: web.Response(status=429, headers={"Retry-After": "1"}),
        lambda n: json_rows(),
    ]
    started = time.monotonic()
    answer, _, _ = await fetch(session, answers)
    assert answer.attempts == 2
    assert time.monotonic() - started >= 1.0


async def test_html_error_page_with_status_200_is_retried(session: aiohttp.ClientSession) -> None:
    page = "<html><body>crt.sh is overloaded</body></html>"
    answers: list[Answer] = [
        lambda n: web.Response(text=page, content_type="text/html"),
        lambda n: json_rows(),
    ]
    answer, _, _ = await fetch(session, answers)
    assert answer.attempts == 2


async def test_gives_up_with_a_clear_error(session: aiohttp.ClientSession) -> None:
    answers: list[Answer] = [lambda n: web.Response(status=503, text="Service Unavailable")]
    with pytest.raises(crtsh.SourceError, match=r"HTTP 503 .*gave up after 3 attempts"):
        await fetch(session, answers, attempts=3)


async def test_forbidden_is_not_retried(session: aiohttp.ClientSession) -> None:
    answers: list[Answer] = [lambda n: web.Response(status=403)]
    runner, url, seen = await serve(answers)
    try:
        with pytest.raises(crtsh.SourceError, match="HTTP 403"):
            await crtsh.fetch(session, url, NameCollector("example.com"), attempts=4)
    finally:
        await runner.cleanup()
    assert len(seen) == 1


async def test_json_that_is_not_an_array_is_retried(session: aiohttp.ClientSession) -> None:
    answers: list[Answer] = [
        lambda n: web.Response(body=b'{"error": "busy"}', content_type="application/json"),
        lambda n: json_rows(),
    ]
    answer, _, _ = await fetch(session, answers)
    assert answer.attempts == 2
