"""The crt.sh client against a real local HTTP server that misbehaves the way crt.sh does."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

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


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def local_server(handler: Handler) -> AsyncIterator[str]:
    """An HTTP server on loopback answering `/` with `handler`; yields its URL."""
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def answering(answers: list[Answer], seen: list[web.Request]) -> Handler:
    """Answer the n-th request with answers[n] (the last one again after that)."""

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1](len(seen))

    return handler


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


async def fetch(
    session: aiohttp.ClientSession, answers: list[Answer], attempts: int = 4
) -> tuple[crtsh.CtAnswer, NameCollector, list[web.Request]]:
    seen: list[web.Request] = []
    collector = NameCollector("example.com")
    async with local_server(answering(answers, seen)) as url:
        answer = await crtsh.fetch(session, url, collector, attempts=attempts, backoff=0.01)
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
    seen: list[web.Request] = []
    async with local_server(answering([lambda n: web.Response(status=403)], seen)) as url:
        with pytest.raises(crtsh.SourceError, match="HTTP 403"):
            await crtsh.fetch(session, url, NameCollector("example.com"), attempts=4)
    assert len(seen) == 1


async def test_json_that_is_not_an_array_is_retried(session: aiohttp.ClientSession) -> None:
    answers: list[Answer] = [
        lambda n: web.Response(body=b'{"error": "busy"}', content_type="application/json"),
        lambda n: json_rows(),
    ]
    answer, _, _ = await fetch(session, answers)
    assert answer.attempts == 2


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"ERROR: canceling statement due to statement timeout", "text/plain"),
        (b"", "application/json"),
        (b'[{"name_value": "a.example.com"}, {"name_value": "b.exa', "application/json"),
        (b'[{"name_value": "a.example.com"}', "application/json"),
        (b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"),
    ],
    ids=["plain-text-error", "empty", "cut-inside-a-row", "array-not-closed", "html-503"],
)
async def test_broken_answers_are_retried(
    session: aiohttp.ClientSession, body: bytes, content_type: str
) -> None:
    status = 503 if b"503" in body else 200
    answers: list[Answer] = [
        lambda n: web.Response(body=body, status=status, content_type=content_type),
        lambda n: json_rows(),
    ]
    answer, collector, _ = await fetch(session, answers)
    assert answer.attempts == 2
    assert collector.names() == ("mail.example.com", "www.example.com")


async def test_a_failed_attempt_leaves_nothing_behind(session: aiohttp.ClientSession) -> None:
    cut = b'[{"name_value": "ghost.example.com"}, {"name_value": "b.exa'
    answers: list[Answer] = [lambda n: web.Response(body=cut), lambda n: json_rows()]
    _, collector, _ = await fetch(session, answers)
    assert "ghost.example.com" not in collector.names()


async def test_legacy_concatenated_objects(session: aiohttp.ClientSession) -> None:
    legacy = b"".join(orjson.dumps(row) for row in [*ROWS, {"name_value": "old.example.com"}])
    answer, collector, _ = await fetch(session, [lambda n: web.Response(body=legacy)])
    assert answer.attempts == 1
    assert "old.example.com" in collector.names()


ENDLESS_ROW_SERVER = """
import http.server, sys
class Endless(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'[{"name_value": "')
        try:
            for _ in range(100_000):  # bounded: the client leaves long before
                self.wfile.write(b"a" * 65536)
        except OSError:
            pass
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Endless).serve_forever()
"""


async def test_a_row_that_never_ends_is_refused_in_bounded_memory() -> None:
    with python_server(["-c", ENDLESS_ROW_SERVER]) as url:
        tracemalloc.start()
        try:
            collector = NameCollector("example.com")
            async with aiohttp.ClientSession() as client:
                with pytest.raises(crtsh.SourceError, match="larger than 4 MiB"):
                    await crtsh.fetch(client, url, collector, attempts=2, backoff=0.01)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 32 << 20


async def test_a_large_answer_is_streamed(tmp_path: Path) -> None:
    # A separate server process, so that only the client's memory is traced.
    row = {"issuer_name": "CN=" + "x" * 400, "name_value": "www.example.com\nmail.example.com"}
    body = b"[" + b",".join([orjson.dumps(row)] * 80_000) + b"]"  # about 40 MB
    assert len(body) > 35 << 20
    (tmp_path / "index.html").write_bytes(body)
    del body
    with python_server(["-m", "http.server", "--directory", str(tmp_path)]) as url:
        collector = NameCollector("example.com")
        tracemalloc.start()
        try:
            async with aiohttp.ClientSession() as client:
                answer = await crtsh.fetch(client, url, collector, attempts=1)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answer.rows == 80_000
    assert collector.ct_facts()["www.example.com"].certificates == 80_000
    assert peak < 16 << 20  # the answer is never held whole


@contextmanager
def python_server(arguments: list[str]) -> Iterator[str]:
    """A server in its own process (its memory is not the client's); the port is appended."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, *arguments, str(port)]
    if "http.server" in arguments:
        command += ["--bind", "127.0.0.1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


async def test_a_server_that_never_answers_is_bounded_by_the_timeout() -> None:
    async def silent(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    started = time.monotonic()
    async with (
        local_server(silent) as url,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as client,
    ):
        with pytest.raises(crtsh.SourceError, match="timed out"):
            await crtsh.fetch(client, url, NameCollector("example.com"), attempts=2, backoff=0.01)
    assert time.monotonic() - started < 5


def capped_crtsh(names: list[str]) -> Handler:
    """A crt.sh over `names` (one row each) that caps its answers at 10,000 rows and reads `q`
    as SQL LIKE does (`%` for anything), and `exclude=expired` (nothing here is expired)."""

    def rows(query: str) -> list[dict[str, object]]:
        pattern = re.compile(".*".join(re.escape(part) for part in query.split("%")))
        found = [n for n in names if pattern.fullmatch(n)]
        return [{"name_value": n, "result_count": 1} for n in found][:10_000]

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(rows(request.query["q"])))

    return handler


async def fetch_capped(names: list[str]) -> tuple[crtsh.CtAnswer, NameCollector]:
    collector = NameCollector("example.com")
    async with local_server(capped_crtsh(names)) as url, aiohttp.ClientSession() as client:
        answer = await crtsh.fetch_uncapped(client, url, collector, attempts=1)
    return answer, collector


async def test_a_capped_answer_is_asked_again_in_slices() -> None:
    names = [f"h{i}.{label}.example.com" for label in "ab" for i in range(6500)]
    answer, collector = await fetch_capped(names)
    assert not answer.truncated
    assert len(collector.names()) == 13_000  # the first answer had only 10,000 of them
    assert answer.notes[-1] == "every slice answered in full: the enumeration is complete"


async def test_names_the_capped_answer_left_out_are_found_too() -> None:
    # 250 sub-labels of 50 names: the capped answer shows only 200 of the sub-labels.
    names = [f"h{i}.l{label}.example.com" for label in range(250) for i in range(50)]
    answer, collector = await fetch_capped(names)
    assert not answer.truncated
    assert len(collector.names()) == 12_500


async def test_a_slice_still_capped_keeps_it_truncated() -> None:
    names = [f"aaa{i}.example.com" for i in range(12_000)]
    answer, _ = await fetch_capped(names)
    assert answer.truncated  # never a false complete
    assert "still capped" in answer.notes[-1]
    assert "aaa%" in answer.notes[-1]


async def test_a_redirect_is_never_followed(session: aiohttp.ClientSession) -> None:
    elsewhere: list[web.Request] = []
    async with local_server(answering([lambda n: json_rows()], elsewhere)) as target:
        redirect: list[Answer] = [
            lambda n: web.Response(status=302, headers={"Location": f"{target}/"})
        ]  # in a cloud: http://169.254.169.254/latest/meta-data/
        with pytest.raises(crtsh.SourceError, match=r"HTTP 302: redirected to http://127\.0"):
            await fetch(session, redirect)
    assert elsewhere == []  # the target never got a request


async def test_a_body_that_is_not_json_is_never_copied_into_the_error(
    session: aiohttp.ClientSession,
) -> None:
    secret = "<html><body>internal metadata token=s3cr3t</body></html>"
    answers: list[Answer] = [lambda n: web.Response(text=secret, content_type="text/html")]
    with pytest.raises(crtsh.SourceError) as raised:
        await fetch(session, answers, attempts=2)
    assert "s3cr3t" not in str(raised.value)
    assert "HTML page" in str(raised.value)
